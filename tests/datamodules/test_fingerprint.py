"""``datamodules/fingerprint.py``: a split's fingerprint follows its entries, file names and sizes, not its root."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from datamodules.fashion_datamodule import FashionDataModule
from datamodules.fingerprint import records_fingerprint


def train_records(root: Path) -> list:
    return FashionDataModule(dataset="mpv", root=str(root), image_size=(64, 48)).split_records("train")[1]


def test_the_same_set_elsewhere_keeps_its_digest_and_a_changed_file_or_entry_changes_it(
    tiny_synthetic_roots: dict[str, Path], tmp_path: Path
) -> None:
    root = tiny_synthetic_roots["mpv"]
    digest = records_fingerprint(train_records(root), root)
    assert len(digest) == 64 and digest == records_fingerprint(train_records(root), root)
    copy = tmp_path / "moved"
    shutil.copytree(root, copy)
    records = train_records(copy)
    assert records_fingerprint(records, copy) == digest
    image = records[0].target.image
    image.write_bytes(image.read_bytes() + b"\0")  # one byte longer
    assert records_fingerprint(records, copy) != digest
    image.write_bytes(image.read_bytes()[:-1])
    assert records_fingerprint(records, copy) == digest
    assert records_fingerprint(records[1:], copy) != digest  # an entry fewer
    swapped = [dataclasses.replace(records[0], source=records[0].target, target=records[0].source), *records[1:]]
    assert records_fingerprint(swapped, copy) != digest  # the same files in another role
