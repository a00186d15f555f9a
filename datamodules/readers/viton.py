"""VITON (CP-VTON layout, FORMATS.md section 3) and VITON-HD (section 4) readers.

::

    <root>/<split>_pairs.txt                         person cloth   (space separated)
    <root>/<split>/image/<person>.jpg
    <root>/<split>/image-parse/<stem>.png            (VITON-HD full release: image-parse-v3/)
    <root>/<split>/pose/<stem>_keypoints.json        (VITON-HD: openpose-json/ or openpose_json/, BODY_25)
    <root>/<split>/cloth/<cloth>.jpg
    <root>/<split>/cloth-mask/<cloth>.jpg            grey JPEG, thresholded

VITON has one pose per person: source = target = the person image (a same-pose try-on pair, ``meta["same_pose"]``
= ``"1"``); ``cloth`` is the listed garment (the person's own in ``train_pairs.txt``, another one in VITON's unpaired
``test_pairs.txt``).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from contract.errors import DatasetFormatError
from datamodules.readers.base import (
    SPLITS,
    DatasetReader,
    FileIndex,
    PersonRecord,
    SampleRecord,
    Scan,
    check_listed_files,
    list_rows,
    read_list_lines,
)

COLUMNS = ("person", "cloth")
PARSE_DIRS = ("image-parse", "image-parse-v3")
POSE_DIRS = ("pose", "openpose-json", "openpose_json")


class VitonReader(DatasetReader):
    """VITON pairs -> contract samples (see ``DatasetReader`` for the arguments; parsing is LIP-20 by default)."""

    format_name = "viton"

    def splits_present(self) -> list[str]:
        return [split for split in SPLITS if self.list_path(split).is_file()]

    def list_path(self, split: str) -> Path:
        return self.root / f"{split}_pairs.txt"

    def split_folder(self, names: tuple[str, ...], what: str) -> Path:
        """The first existing of several alternative folder names under ``<root>/<split>/``."""
        split_dir = self.root / self.split
        for name in names:
            if (split_dir / name).is_dir():
                return split_dir / name
        raise DatasetFormatError(f"{split_dir}: no {what} folder ({' or '.join(f'{n}/' for n in names)})")

    def scan_lists(self) -> Scan:
        scan = Scan()
        path = self.list_path(self.split)
        try:
            lines = read_list_lines(path)
            parse_dir = self.split_folder(PARSE_DIRS, "parsing")
            pose_dir = self.split_folder(POSE_DIRS, "pose")
        except DatasetFormatError as exc:
            scan.problems.append(str(exc))
            return scan
        split_dir = self.root / self.split
        files = FileIndex()
        for entry, (person_name, cloth_name) in list_rows(path, lines, COLUMNS, scan):
            stem = PurePosixPath(person_name).stem
            person = PersonRecord(
                name=person_name,
                image=split_dir / "image" / person_name,
                parse=parse_dir / f"{stem}.png",
                pose_json=pose_dir / f"{stem}_keypoints.json",
            )
            record = SampleRecord(
                source=person,
                target=person,
                split=self.split,
                entry=entry,
                cloth=split_dir / "cloth" / cloth_name,
                cloth_mask=split_dir / "cloth-mask" / cloth_name,
            )
            named = {
                "person image": person.image,
                "person parsing": person.parse,
                "person keypoints": person.pose_json,
                "cloth image": record.cloth,
                "cloth mask": record.cloth_mask,
            }
            scan.add(record, check_listed_files(entry, named, files))
        return scan


class VitonHDReader(VitonReader):
    """VITON-HD pairs (768x1024, BODY_25 keypoints mapped to COCO-18, CIHP parsing with 10 = neck)."""

    format_name = "viton-hd"

    def default_label_set(self) -> str:
        return "cihp"
