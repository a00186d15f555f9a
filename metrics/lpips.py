"""LPIPS, only from real ImageNet backbones (DESIGN.md: a metric without its weights is reported unavailable,
never computed from random weights, never downloaded), and ``find_weights``, where every metric looks for its
pretrained file.

Where weights are looked for: a ``weights_dir`` argument (a plain folder holding the files, e.g. the project's
``weights/``) or, without one, torch's cache ``$TORCH_HOME/hub/checkpoints`` (default
``~/.cache/torch/hub/checkpoints``), where torchvision and torch-fidelity would download them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch
from torchmetrics import Metric

# LPIPS backbones (torchvision files that torchmetrics' LPIPS would otherwise try to download).
LPIPS_BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}


def weights_folder(weights_dir: str | Path | None = None) -> Path:
    """``weights_dir``, or torch's cache of downloaded weights ``$TORCH_HOME/hub/checkpoints`` when it is None."""
    return Path(weights_dir) if weights_dir is not None else Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(file: str, weights_dir: str | Path | None = None) -> tuple[Path | None, str]:
    """``(path, "")`` when ``file`` is in ``weights_folder(weights_dir)``; else ``(None, "unavailable: <file> not
    found in <dir>")``."""
    folder = weights_folder(weights_dir)
    if not (folder / file).is_file():
        return None, f"unavailable: {file} not found in {folder}"
    return folder / file, ""


@contextmanager
def torchvision_weights_from(folder: Path) -> Iterator[None]:
    """While active, torchvision's ``weights=...`` loads ``<folder>/<file name of the URL>`` and never downloads
    (the file must exist; a missing one raises ``FileNotFoundError`` instead of opening a connection)."""

    def load_local(url: str, *args, **kwargs) -> dict:
        path = folder / Path(url).name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (downloads are disabled)")
        return torch.load(path, map_location="cpu", weights_only=True)

    with mock.patch("torchvision.models._api.load_state_dict_from_url", load_local):
        yield


def lpips_or_reason(net: str, weights_dir: str | Path | None = None) -> tuple[Metric | None, str]:
    """torchmetrics LPIPS (inputs in [-1, 1]) with ``net``'s ImageNet backbone if its file is in
    ``weights_folder(weights_dir)``, with ``"imagenet:<path>"``; else ``None`` and ``"unavailable: <file> not found
    in <dir>"`` (never random weights, never a download). The LPIPS linear heads ship inside torchmetrics."""
    if net not in LPIPS_BACKBONE_FILES:
        raise ValueError(f"lpips_net must be one of {sorted(LPIPS_BACKBONE_FILES)}, got {net!r}")
    path, reason = find_weights(LPIPS_BACKBONE_FILES[net], weights_dir)
    if path is None:
        return None, reason
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    with torchvision_weights_from(path.parent):
        return LearnedPerceptualImagePatchSimilarity(net_type=net), f"imagenet:{path}"
