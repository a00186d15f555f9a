"""Dataset roots: the one-line error for a root that is not there, with the fix for the built-in synthetic sets.

``make data`` writes the built-in synthetic sets to ``SYNTHETIC_ROOTS``, the roots ``configs/data/synthetic.yaml`` and
``configs/data/synthetic_deepfashion.yaml`` name (relative to the working directory, the checkout). A missing root
that is one of them, by absolute path, gets the hint to run ``make data``; a set written elsewhere (``make data
DATA_DIR=...``) is not recognised.
"""

from __future__ import annotations

import os
from pathlib import Path

from contract.errors import DatasetFormatError

SYNTHETIC_ROOTS = ("data/synthetic_mpv", "data/synthetic_deepfashion")
MAKE_DATA_HINT = "run `make data` to write the built-in synthetic set"


def is_synthetic_root(root: str | Path) -> bool:
    """Whether ``root`` is where ``make data`` writes a built-in synthetic set (one of ``SYNTHETIC_ROOTS``)."""
    return os.path.abspath(root) in {os.path.abspath(path) for path in SYNTHETIC_ROOTS}


def require_root(root: str | Path) -> None:
    """Raise ``DatasetFormatError`` unless ``root`` is a folder: ``<root>: does not exist`` (plus ``MAKE_DATA_HINT``
    for a synthetic root) or ``<root>: not a folder``."""
    path = Path(root)
    if path.is_dir():
        return
    if path.exists():
        raise DatasetFormatError(f"{path}: not a folder")
    hint = f"; {MAKE_DATA_HINT}" if is_synthetic_root(path) else ""
    raise DatasetFormatError(f"{path}: does not exist{hint}")
