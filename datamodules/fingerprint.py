"""``records_fingerprint``: one sha256 that says which files a split is made of, for comparing runs.

It hashes, for every record in order, the list entry and each file the record names (images, parsings, pose JSONs,
cloth, ground truth): its path relative to the data root and its size in bytes, plus inline keypoints. Sizes, not
bytes: reading a 3 GB set at every run's start would cost minutes; a file rewritten to the same size goes unseen
(our choice; a changed synthetic set changes sizes: its PNGs are compressed).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from datamodules.readers.base import SampleRecord


def _relative(path: Path, root: Path) -> str:
    path = path.resolve()
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()


def _fields(value: Any, root: Path) -> list[str]:
    if dataclasses.is_dataclass(value):
        return [part for field in dataclasses.fields(value) for part in _fields(getattr(value, field.name), root)]
    if isinstance(value, Path):
        return [f"{_relative(value, root)}:{value.stat().st_size if value.is_file() else 'missing'}"]
    return [repr(value)]


def records_fingerprint(records: list[SampleRecord], root: str | Path) -> str:
    """The sha256 hex digest of ``records`` (module docstring): equal for the same list over the same files, different
    when an entry, a file name or a file's size changes; the same set moved to another root keeps its digest."""
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for record in records:
        list_file, _, line = record.entry.rpartition(":")  # "<list file>:<line>", the list file relative to root
        entry = f"{_relative(Path(list_file), root)}:{line}"
        parts = [entry, *_fields(dataclasses.replace(record, entry=""), root)]
        digest.update("\x1f".join(parts).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()
