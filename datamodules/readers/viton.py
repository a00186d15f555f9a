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
    PARSE_SUFFIXES,
    SPLITS,
    DatasetReader,
    FileIndex,
    ParseFile,
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
    """VITON pairs -> contract samples (see ``DatasetReader`` for the shared arguments; parsing is LIP-20 by
    default).

    Args:
        parse_suffix: what follows a person's stem in its parsing file name (default ``.png``).
    """

    format_name = "viton"

    def __init__(self, root: str | Path, split: str = "train", parse_suffix: str = PARSE_SUFFIXES[0], **kwargs):
        super().__init__(root, split, **kwargs)
        self.parse_suffix = parse_suffix

    def splits_present(self) -> list[str]:
        return [split for split in SPLITS if self.list_path(split).is_file()]

    def list_path(self, split: str) -> Path:
        return self.root / f"{split}_pairs.txt"

    def list_names(self) -> list[str]:
        return [self.list_path(split).name for split in SPLITS]

    def split_folders(self, names: tuple[str, ...], files: FileIndex) -> tuple[Path, ...]:
        """The first existing of several alternative folder names under ``<root>/<split>/``, or all of them when
        none exists (its entries are then counted under one "folder not found" line, ``check_listed_files``)."""
        folders = tuple(self.root / self.split / name for name in names)
        return next(((folder,) for folder in folders if files.is_dir(folder)), folders)

    def scan_lists(self) -> Scan:
        scan = Scan()
        path = self.list_path(self.split)
        try:
            lines = read_list_lines(path)
        except DatasetFormatError as exc:
            scan.problems.append(str(exc))
            return scan
        split_dir = self.root / self.split
        files = FileIndex()
        parse_dirs, pose_dirs = self.split_folders(PARSE_DIRS, files), self.split_folders(POSE_DIRS, files)
        for entry, (person_name, cloth_name) in list_rows(path, lines, COLUMNS, scan):
            stem = PurePosixPath(person_name).stem
            parses = tuple(folder / f"{stem}{self.parse_suffix}" for folder in parse_dirs)
            poses = tuple(folder / f"{stem}_keypoints.json" for folder in pose_dirs)
            person = PersonRecord(
                name=person_name,
                image=split_dir / "image" / person_name,
                parse=parses[0],
                pose_json=poses[0],
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
                "person parsing": ParseFile(parses, self.parse_suffix),
                "person keypoints": poses,
                "cloth image": record.cloth,
                "cloth mask": record.cloth_mask,
            }
            scan.add(record, check_listed_files(entry, named, files, scan))
        return scan


class VitonHDReader(VitonReader):
    """VITON-HD pairs (768x1024, BODY_25 keypoints mapped to COCO-18, CIHP parsing with 10 = neck)."""

    format_name = "viton-hd"

    def default_label_set(self) -> str:
        return "cihp"
