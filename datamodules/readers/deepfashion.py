"""DeepFashion pose-transfer reader (FORMATS.md section 1).

::

    <root>/{train,test}/<name>.jpg                     images (176x256 crop, 256x256 frame, or any size)
    <root>/fa(s)hion-[resize-]annotation-<split>.csv   name:keypoints_y:keypoints_x  (y first, -1 = missing)
    <root>/fa(s)hion-[resize-]pairs-<split>.csv        from,to [+ leading index column] [+ garment column]
    <root>/<split>M_lip/<stem>.png                     optional LIP-20 parsing (DiOr layout)
    <root>/<split>.lst                                 optional split list (checked by vton-data check only)

Names are joined after ``normalize_name`` (``fashion``/``fasion`` spellings, category underscores). Keypoint frames
(``annotation_frame``): plain ``fa(s)hion-annotation`` CSVs (pose-gan) are in the 256x256 In-shop frame, ``*resize*``
CSVs in PATN's 176x256 crop, which is the 256x256 frame's columns 40..215, so keypoints move by -40 (or +40) in x
between the two; ``*resize*`` CSVs next to images of another size, or in a synthetic dataset, are read in the image's
own pixels (the synthetic generator writes them so). ``crop_176`` crops 256-wide images (and parsing, garment, ground
truth) to those columns and shifts the keypoints by -40.

Cloth: with a ``garment`` column, ``cloth`` is that image (same split folder) and ``cloth_mask`` its non-white area
(any channel below ``white_threshold``); without, both are zeros and ``meta["has_cloth"] = "0"``. Without a parsing
folder, the parsing is all zeros (background) and ``meta["has_parse"] = "0"``.
"""

from __future__ import annotations

import csv
import json
import re
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import torch
from torch import Tensor

from contract.errors import DatasetFormatError
from contract.sample import NUM_JOINTS, SYNTHETIC_GT_DIR
from datamodules.pose import keypoints_from_yx, shift_keypoints
from datamodules.readers.base import (
    PARSE_SUFFIXES,
    SPLITS,
    DatasetReader,
    FileIndex,
    PersonRecord,
    SampleRecord,
    Scan,
    check_listed_files,
    describe_size,
    ground_truth_path,
    group_renamed_parsing,
    keypoint_rows,
    other_parse_suffix,
    read_list_lines,
)

ANNOTATION_HEADER = "name:keypoints_y:keypoints_x"
FULL_FRAME = (256, 256)  # (H, W) of the low-resolution In-shop images (pose-gan annotation frame)
CROP_FRAME = (256, 176)  # (H, W) of PATN's crop: columns 40..215 of the full frame
CROP_LEFT = 40
FRAMES = {"256x256": FULL_FRAME, "176x256": CROP_FRAME}
ANNOTATION_FRAMES = ("auto", "image", *FRAMES)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
INDEX_COLUMN_NAMES = ("", "Unnamed: 0", "index")


def normalize_name(name: str) -> str:
    """Join key of a DeepFashion image name: no folder or extension, no ``fashion``/``fasion`` prefix, no underscore
    before the view, e.g. ``fashionWOMENBlouses_Shirtsid0000069302_3back.jpg`` and
    ``fasionWOMENBlousesShirtsid0000069302_3back.jpg`` -> ``WOMENBlousesShirtsid0000069302_3back``."""
    stem = PurePosixPath(name).stem
    for prefix in ("fashion", "fasion"):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
            break
    head, separator, view = stem.rpartition("_")
    return head.replace("_", "") + separator + view


def csv_pattern(kind: str, split: str) -> re.Pattern[str]:
    """File names of the annotation or pairs CSV of a split, in every spelling FORMATS.md lists."""
    return re.compile(rf"^fa(?:sh|s)ion-(?:resize-)?{kind}-{split}\.csv$")


def to_image_frame(kpts: Tensor, frame: str, image_size: tuple[int, int], image: Path) -> Tensor:
    """Keypoints given in ``frame`` (``image``, ``256x256`` or ``176x256``) -> pixels of an ``image_size`` image."""
    if frame == "image":
        return kpts
    if tuple(image_size) not in (FULL_FRAME, CROP_FRAME):
        raise DatasetFormatError(
            f"{image}: size {describe_size(image_size)} is neither the 256x256 In-shop frame nor its 176x256 crop, "
            f"so keypoints given in the {frame} frame cannot be placed (annotation_frame='image' reads them in the "
            "image's own pixels)"
        )
    frame_size = FRAMES[frame]
    if tuple(image_size) == frame_size:
        return kpts
    return shift_keypoints(kpts, dx=-CROP_LEFT if frame_size == FULL_FRAME else CROP_LEFT)


class SplitIndex(NamedTuple):
    """What a split's pairs are joined against, keyed by ``normalize_name``."""

    images: dict[str, str]  # -> file name in the split folder
    parses: dict[str, str] | None  # -> file name in <split>M_lip/ (None: no parsing folder)
    annotations: dict[str, tuple[Tensor, str]]  # -> (keypoints [18, 3] in the annotation frame, "<csv>:<line>")
    malformed: dict[str, str]  # -> "<csv>:<line>" of a malformed annotation row
    annotation_problem: str | None  # why there is no annotation CSV to join (its entries are counted under it)


class DeepFashionReader(DatasetReader):
    """DeepFashion pose-transfer pairs -> contract samples (see ``DatasetReader`` for the shared arguments).

    Args:
        annotation_frame: frame of the CSV keypoints: ``auto`` (by file name, see ``keypoint_frame``), ``image``
            (the stored image's own pixels), ``256x256`` or ``176x256``.
        crop_176: crop 256-wide images to columns 40..215 (PATN's 176x256 crop) and shift keypoints by -40.
        white_threshold: a garment pixel with every channel at or above this is background (JPEG noise keeps the
            studio white a few levels below 255).
        annotation_csv, pairs_csv: file names under ``root`` when the defaults (matched by pattern) do not apply.
        parse_suffix: what follows a person's stem in its parsing file name (default ``.png``).
    """

    format_name = "deepfashion"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        annotation_frame: str = "auto",
        crop_176: bool = False,
        white_threshold: int = 240,
        annotation_csv: str | None = None,
        pairs_csv: str | None = None,
        parse_suffix: str = PARSE_SUFFIXES[0],
        **kwargs,
    ) -> None:
        super().__init__(root, split, **kwargs)
        if annotation_frame not in ANNOTATION_FRAMES:
            raise ValueError(f"DeepFashionReader: annotation_frame must be one of {ANNOTATION_FRAMES}")
        self.annotation_frame_option = annotation_frame
        self.crop_176 = crop_176
        self.white_threshold = white_threshold
        self.annotation_csv = annotation_csv
        self.pairs_csv = pairs_csv
        self.parse_suffix = parse_suffix

    # -- files --

    def find_csv(self, kind: str, split: str, option: str | None) -> Path:
        """The one annotation or pairs CSV of a split (raises when none or several match)."""
        if option is not None:
            return self.root / option
        pattern = csv_pattern(kind, split)
        matches = sorted(path for path in self.root.glob(f"*{kind}-{split}.csv") if pattern.match(path.name))
        if len(matches) != 1:
            found = ", ".join(path.name for path in matches) or "none"
            raise DatasetFormatError(
                f"{self.root}: expected one fa(s)hion-[resize-]{kind}-{split}.csv (found: {found}); choose with the "
                f"reader option {kind}_csv"
            )
        return matches[0]

    @cached_property
    def annotation_path(self) -> Path:
        return self.find_csv("annotation", self.split, self.annotation_csv)

    def keypoint_frame(self, image_size: tuple[int, int]) -> str:
        """The frame of the CSV keypoints for an image of ``image_size = (H, W)`` as stored.

        ``auto``: plain ``fa(s)hion-annotation`` CSVs (pose-gan) are in the 256x256 frame; ``*resize*`` CSVs are in
        PATN's 176x256 crop frame when the image is 176x256 or 256x256, else in the image's own pixels, and always
        in the image's own pixels in a synthetic dataset (one with a ``synthetic_gt`` folder: the generator writes
        them so at any size).
        """
        if self.annotation_frame_option != "auto":
            return self.annotation_frame_option
        if "resize" not in self.annotation_path.name:
            return "256x256"
        if (self.root / SYNTHETIC_GT_DIR).is_dir() or tuple(image_size) not in (FULL_FRAME, CROP_FRAME):
            return "image"
        return "176x256"

    @property
    def split_dir(self) -> Path:
        return self.root / self.split

    @property
    def parse_dir(self) -> Path:
        return self.root / f"{self.split}M_lip"

    def list_names(self) -> list[str]:
        return [self.pairs_csv or f"fa(s)hion-[resize-]pairs-{split}.csv" for split in SPLITS]

    def splits_present(self) -> list[str]:
        present = []
        for split in SPLITS:
            try:
                self.find_csv("pairs", split, self.pairs_csv if split == self.split else None)
                present.append(split)
            except DatasetFormatError:
                pass
        return present

    # -- scanning --

    def index_folder(self, directory: Path, files: FileIndex, scan: Scan, suffix: str | None = None) -> dict[str, str]:
        """Normalised name -> file name of the images in ``directory`` (with ``suffix``: of the files named
        ``<stem><suffix>``, keyed by the stem); clashing names are problems."""
        index: dict[str, str] = {}
        for name in sorted(files.names(directory)):
            if not name.lower().endswith(IMAGE_SUFFIXES) or (suffix is not None and not name.endswith(suffix)):
                continue
            key = normalize_name(name if suffix is None else name[: len(name) - len(suffix)])
            if key in index:
                scan.problems.append(
                    f"{directory / name}: same name as {directory / index[key]} once fashion/fasion spellings and "
                    "underscores are normalised"
                )
                continue
            index[key] = name
        return index

    def read_annotations(self, scan: Scan) -> tuple[dict[str, tuple[Tensor, str]], dict[str, str]]:
        """Annotation rows: normalised name -> (keypoints ``[18, 3]`` in the annotation frame, "<csv>:<line>"), and
        normalised name -> "<csv>:<line>" of malformed rows (their problems go to ``scan``)."""
        path = self.annotation_path
        lines = read_list_lines(path)
        if not lines or lines[0].replace(" ", "") != ANNOTATION_HEADER:
            raise DatasetFormatError(f"{path}:1: expected the header '{ANNOTATION_HEADER}', got {lines[0][:80]!r}")
        rows: dict[str, tuple[Tensor, str]] = {}
        malformed: dict[str, str] = {}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            entry = f"{path}:{number}"
            name = line.split(":", 1)[0].strip()
            key = normalize_name(name)
            try:
                kpts = parse_annotation_row(line, entry)
            except DatasetFormatError as exc:
                scan.problems.append(str(exc))
                malformed.setdefault(key, entry)
                continue
            if key in rows:
                scan.problems.append(f"{entry}: second row for '{name}' (first at {rows[key][1]})")
                continue
            rows[key] = (kpts, entry)
        return rows, malformed

    def read_pairs(self, scan: Scan) -> tuple[list[tuple[str, list[str]]], bool]:
        """Pairs CSV rows: ("<csv>:<line>", [from, to(, garment)]); also whether it has a garment column."""
        path = self.find_csv("pairs", self.split, self.pairs_csv)
        lines = read_list_lines(path)
        rows = list(csv.reader(lines))
        header = [cell.strip() for cell in rows[0]] if rows else []
        offset = 1 if header[:1] and header[0] in INDEX_COLUMN_NAMES else 0
        columns = header[offset:]
        if columns not in (["from", "to"], ["from", "to", "garment"]):
            raise DatasetFormatError(
                f"{path}:1: expected the header 'from,to' or 'from,to,garment' (optionally after an index column), "
                f"got {lines[0][:80] if lines else ''!r}"
            )
        entries = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            entry = f"{path}:{number}"
            if len(row) != len(header):
                scan.problems.append(f"{entry}: expected {len(header)} columns ({','.join(header)}), got {len(row)}")
                scan.dropped += 1
                continue
            entries.append((entry, [cell.strip() for cell in row[offset:]]))
        return entries, len(columns) == 3

    def scan_lists(self) -> Scan:
        """The pairs joined with images, keypoint rows and parsings. Without a usable annotation CSV the pairs are
        still checked, their keypoints counted under the CSV's problem (one line)."""
        scan = Scan()
        annotation_problem = None
        try:
            annotations, malformed = self.read_annotations(scan)
        except DatasetFormatError as exc:
            annotation_problem, annotations, malformed = str(exc), {}, {}
            scan.group(annotation_problem)
        try:
            pairs, has_garment = self.read_pairs(scan)
        except DatasetFormatError as exc:
            scan.problems.append(str(exc))
            return scan
        files = FileIndex()
        if not self.split_dir.is_dir():
            scan.problems.append(f"{self.split_dir}: image folder not found")
            scan.dropped += len(pairs)
            return scan
        index = SplitIndex(
            images=self.index_folder(self.split_dir, files, scan),
            parses=self.index_folder(self.parse_dir, files, scan, self.parse_suffix)
            if self.parse_dir.is_dir()
            else None,
            annotations=annotations,
            malformed=malformed,
            annotation_problem=annotation_problem,
        )
        for entry, fields in pairs:
            problems: list[str] = []
            source = self.person(fields[0], entry, index, problems, scan, files)
            target = self.person(fields[1], entry, index, problems, scan, files)
            cloth = self.image_path(fields[2], entry, "garment image", index, problems) if has_garment else None
            if annotation_problem is not None:
                scan.group(annotation_problem, "keypoints", entry)
            ground_truth = None if problems else ground_truth_path(self.root, source.image, target.image)
            if ground_truth is not None:
                problems += check_listed_files(entry, {"ground truth": ground_truth}, files)
            record = SampleRecord(source, target, self.split, entry, cloth=cloth, ground_truth=ground_truth)
            scan.add(record, problems)
        return scan

    def image_path(self, name: str, entry: str, what: str, index: SplitIndex, problems: list[str]) -> Path:
        """The split-folder file of a listed name (a problem when there is none)."""
        found = index.images.get(normalize_name(name))
        if found is None:
            problems.append(f"{entry}: {what} '{name}' not found in {self.split_dir}")
            return self.split_dir / name
        return self.split_dir / found

    def person(
        self, name: str, entry: str, index: SplitIndex, problems: list[str], scan: Scan, files: FileIndex
    ) -> PersonRecord:
        """The record of a listed person name; every missing piece is appended to ``problems`` (or counted in
        ``scan``'s group of its shared cause: no annotation CSV, parsing files with another suffix)."""
        key = normalize_name(name)
        image = self.image_path(name, entry, "image", index, problems)
        if key in index.malformed:
            problems.append(f"{entry}: keypoints of '{name}' unusable: {index.malformed[key]} is malformed")
        elif index.annotation_problem is None and key not in index.annotations:
            problems.append(f"{entry}: '{name}' has no keypoint row in {self.annotation_path}")
        parse = None
        if index.parses is not None:
            parse = self.parse_dir / index.parses.get(key, f"{PurePosixPath(name).stem}{self.parse_suffix}")
            found = None if key in index.parses else other_parse_suffix(parse, self.parse_suffix, files)
            if found is not None:
                group_renamed_parsing(scan, self.parse_dir, found, self.parse_suffix, "parsing", entry)
            elif key not in index.parses:
                problems.append(f"{entry}: parsing of '{name}' not found in {self.parse_dir}")
        kpts = index.annotations[key][0] if key in index.annotations else torch.zeros(NUM_JOINTS, 3)
        return PersonRecord(name, image, parse, keypoints=keypoint_rows(kpts))

    def auxiliary_problems(self) -> list[str]:
        """Entries of ``<root>/<split>.lst`` naming no image of the split folder."""
        path = self.root / f"{self.split}.lst"
        if not path.is_file() or not self.split_dir.is_dir():  # a missing folder is reported by scan()
            return []
        try:
            lines = read_list_lines(path)
        except DatasetFormatError as exc:
            return [str(exc)]
        images = {normalize_name(name) for name in FileIndex().names(self.split_dir)}
        return [
            f"{path}:{number}: image '{line.strip()}' not found in {self.split_dir}"
            for number, line in enumerate(lines, start=1)
            if line.strip() and normalize_name(line.strip()) not in images
        ]

    # -- loading --

    def crops(self, width: int) -> bool:
        return self.crop_176 and width == FULL_FRAME[1]

    def crop(self, tensor: Tensor) -> Tensor:
        if self.crops(tensor.shape[-1]):
            return tensor[..., CROP_LEFT : CROP_LEFT + CROP_FRAME[1]]
        return tensor

    def read_keypoints(self, person: PersonRecord, raw_size: tuple[int, int] | None) -> Tensor | None:
        if raw_size is None:  # the image is unreadable (reported); the row itself was checked when scanning
            return None
        frame = self.keypoint_frame(raw_size)
        kpts = to_image_frame(torch.tensor(person.keypoints), frame, raw_size, person.image)
        return shift_keypoints(kpts, dx=-CROP_LEFT) if self.crops(raw_size[1]) else kpts

    def read_cloth_mask(self, record: SampleRecord, cloth: Tensor | None) -> Tensor | None:
        """The garment's non-white area: any channel below ``white_threshold``."""
        return None if cloth is None else (cloth < self.white_threshold).any(dim=0)


def parse_annotation_row(line: str, entry: str) -> Tensor:
    """One ``name: [ys]: [xs]`` row -> ``[18, 3]`` keypoints (x, y, vis) in the annotation frame."""
    fields = line.split(":")
    if len(fields) != 3:
        raise DatasetFormatError(
            f"{entry}: expected 3 ':'-separated fields (name:keypoints_y:keypoints_x), got {len(fields)}"
        )
    try:
        ys, xs = json.loads(fields[1]), json.loads(fields[2])
    except json.JSONDecodeError:
        ys = xs = None
    numbers = (int, float)
    if not all(isinstance(v, list) and all(isinstance(c, numbers) for c in v) for v in (ys, xs)):
        raise DatasetFormatError(f"{entry}: keypoints_y and keypoints_x must be JSON lists of numbers")
    if len(ys) != NUM_JOINTS or len(xs) != NUM_JOINTS:
        raise DatasetFormatError(f"{entry}: expected {NUM_JOINTS} keypoints, got {len(ys)} y and {len(xs)} x values")
    return keypoints_from_yx(ys, xs)
