"""Frozen feeder stages kept out of checkpoints: recorded by file and sha256, read back from that file.

A stage fed by a frozen earlier stage (stage 2's ``layout``, stage 3's ``layout`` and ``cloth_warper``, stage 4's
``flow_regressor``, the temporal stage's ``flow_estimator``) loads it from the checkpoint file a ``*_checkpoint``
argument names. Its own checkpoints keep that file's path and sha256 instead of the feeder's weights::

    checkpoint["vton_feeders"] = {"layout.": {"path": "/abs/stage1/last.ckpt", "sha256": "9f2c...", "source": ""}}

keyed by the feeder's state-dict prefix in the saving module; ``source`` is the prefix of the same weights in the
feeder's file (``"flow_regressor."`` for stage 4's regressor, ``""`` for a whole stage). Loading the checkpoint
(``--ckpt_path``, ``load_from_checkpoint``, a later stage or the chain) reads those weights back from the file, which
must still hold the recorded bytes; a feeder file that has feeders of its own is read back the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import Tensor

from contract.errors import StageCheckpointError

FEEDERS_KEY = "vton_feeders"

FeederEntry = dict[str, str]  # {"path", "sha256", "source"}

_hashes: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256 hex digest


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of ``path``, computed once per (path, modification time, size)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as file:  # in 1 MiB blocks (hashlib.file_digest needs Python 3.11; we support 3.10)
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def feeder_entry(path: str, source: str = "") -> FeederEntry:
    """The record of a feeder loaded from the checkpoint at ``path`` (absolute path and the sha256 of its bytes)."""
    file = Path(path).expanduser().resolve()
    return {"path": str(file), "sha256": file_sha256(file), "source": source}


def externalise(state: dict[str, Tensor], feeders: Mapping[str, FeederEntry]) -> dict[str, FeederEntry]:
    """Remove the feeders' keys from ``state`` (in place); returns the record for ``checkpoint[FEEDERS_KEY]``.

    A feeder inside another (stage 3's ``cloth_warper.layout.``) is left out of the record: the outer feeder's file
    holds it.
    """
    outer = {p: e for p, e in feeders.items() if not any(p != q and p.startswith(q) for q in feeders)}
    for key in [key for key in state if key.startswith(tuple(outer))]:
        del state[key]
    return outer


def verify_feeder(name: str, prefix: str, entry: Mapping[str, str]) -> Path:
    """The file of the feeder recorded under ``prefix`` in checkpoint ``name``, if it holds the recorded bytes."""
    file, feeder = Path(entry["path"]), prefix.rstrip(".")
    kept = "the checkpoint keeps the path and sha256 of its frozen feeders, not their weights"
    if not file.is_file():
        raise StageCheckpointError(f"{name}: frozen feeder {feeder!r} was loaded from {file}, which is missing; {kept}")
    digest = file_sha256(file)
    if digest != entry["sha256"]:
        raise StageCheckpointError(
            f"{name}: frozen feeder {feeder!r} file {file} has changed since (sha256 {digest[:12]}..., recorded "
            f"{entry['sha256'][:12]}...); {kept}"
        )
    return file


def restore_feeders(
    checkpoint: dict, name: str, wanted: Callable[[str], bool] = lambda prefix: True
) -> dict[str, FeederEntry]:
    """Put the weights of the recorded feeders whose prefix is ``wanted`` back into ``checkpoint["state_dict"]``,
    read from their files; returns the restored entries by prefix.

    Raises:
        StageCheckpointError: a feeder file is missing or changed (``verify_feeder``).
    """
    restored = {p: e for p, e in checkpoint.get(FEEDERS_KEY, {}).items() if wanted(p)}
    for prefix, entry in restored.items():
        file = verify_feeder(name, prefix, entry)
        feeder = torch.load(file, map_location="cpu", mmap=True, weights_only=False)
        restore_feeders(feeder, str(file))
        source = entry["source"]
        weights = feeder["state_dict"].items()
        checkpoint["state_dict"].update({prefix + k[len(source) :]: v for k, v in weights if k.startswith(source)})
    return restored
