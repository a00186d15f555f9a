"""``PredictionList``: the inputs of ``vton predict`` from a list file, as contract samples.

The list is a CSV file with a header; paths are relative to the list file's folder (absolute paths also work)::

    person,cloth,pose,person_pose,parsing,cloth_mask,name,label_set
    people/a.jpg,clothes/shirt.jpg,poses/walk_keypoints.json,people/a_keypoints.json,people/a_parse.png,,a_shirt,cihp

or an MPV demo list, the ``person_image keypoint_json cloth_image [split]`` lines public MPV code ships (DTLD's
``demo/demo.txt``), over an MPV root in the DTLD layout (``datamodules.mpv_demo_list``: where the names resolve); a
list whose first line has 3 or 4 whitespace-separated names, the second a ``.json``, is read as one.

============  ========  =====================================================================================
column        needed    meaning
============  ========  =====================================================================================
person        yes       the source person image ``I_s`` (any size; resized to ``image_size``)
cloth         yes       the in-shop garment image ``C``
pose          yes       the target pose ``p_t``: OpenPose JSON (COCO-18 or BODY_25, ``datamodules.pose``) or a
                        keypoint CSV (below), in pixels of an image the size of ``person``; or a folder of
                        OpenPose JSONs, a pose sequence (below)
person_pose   optional  the source pose ``p_s`` (a JSON or CSV file); without it every source joint is missing
parsing       optional  LIP or CIHP index PNG of ``person`` (gives ``src_parse``, masks and the cloth-agnostic
                        image); without it the parsing is all background and ``meta["has_parse"] = "0"``
cloth_mask    optional  grey mask of ``cloth`` (cloth where >= ``mask_threshold``, 128 as CP-VTON); without it
                        the mask is the garment's non-white area: any channel below ``white_threshold`` (240),
                        the rule of the DeepFashion reader, for garments shot on a white background
name          optional  output name (no extension; unique); default ``<person stem>_<cloth stem>_<pose stem>``
label_set     optional  the label set of ``parsing``, ``lip`` or ``cihp`` (``datamodules.parsing``: CIHP's 10,
                        torso skin, becomes ``torso_skin_label``); empty: chosen as below
============  ========  =====================================================================================

Label sets: each row's parsing is read with the first of (1) its ``label_set`` column, (2) the set of the dataset
layout its file lies in (``datamodules.parsing_layouts``: ``parse_cihp/`` is ``cihp``, VITON's ``image-parse/``
``lip``, ...), (3) the list's ``parse_label_set`` (``FashionDataModule`` passes the data config's: its
``reader_options.parse_label_set``, ``auto`` resolved as its reader does, e.g. ``cihp`` for an MPV root in the DTLD
layout and for VITON-HD), (4) ``lip``. ``meta["parse_label_set"]`` says which set was used (``""`` without a
parsing). Every parsing is read when the list is, and one holding a label its set does not expect
(``datamodules.parsing.UNEXPECTED_LABELS``: 10 under ``lip``, the CIHP torso skin that LIP calls jumpsuits) gets a
warning naming the list line, the file, the labels and where the set came from.

Pose sequences: ``pose`` may name a FOLDER of OpenPose ``.json`` files, one per frame, in file-name order (zero-pad
frame numbers: ``0009.json`` before ``0010.json``). The row then expands to one sample per frame, named
``<name>/<frame file stem>``, all with the row's person, cloth, person_pose, parsing and cloth_mask; ``vton predict``
writes ``<name>/<stem>.png`` per frame and the animated ``<name>.gif`` (``lightning_modules.prediction_writer``). The
folder must hold only ``.json`` files (no keypoint CSVs, no sub-folders), at least one, each valid; every frame's
JSON is read when the list is, so a bad one fails before any prediction. ``meta["sequence"]`` is the row's name and
``meta["frame"]`` the frame index (``"0"``, ``"1"``, ...); both are ``""`` for a single-pose row.

Keypoint CSV: 18 rows ``x,y,visibility`` in OpenPose COCO-18 order (``contract.sample.COCO18_JOINTS``), x and y in
pixels, visibility 1 (present) or 0 (missing), optionally after a header line ``x,y,visibility``.

A sample carries ``src_img``, ``src_kpts``, ``src_pose``, ``src_parse``, ``src_masks``, ``src_agnostic``,
``cloth``, ``cloth_mask``, ``tgt_kpts``, ``tgt_pose`` and ``meta`` (with ``meta["name"]`` the output name); there
is no target image, parsing or masks. ``required`` names optional columns the chain cannot do without (e.g.
``("person_pose", "parsing")``): a list or row without them is an error. Every error names the list file and line.

Samples are built by ``DatasetReader.load``: the target person is the source image with the target pose's
keypoints, whose image, parsing and masks are dropped.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from contract.errors import DatasetFormatError
from contract.sample import CIHP_TORSO_SKIN_DEFAULT, NUM_JOINTS
from datamodules.mpv_demo_list import demo_rows
from datamodules.parsing import LABEL_SETS, read_parsing, unexpected_labels
from datamodules.parsing_layouts import layout_label_set
from datamodules.pose import KeypointMapEncoder, read_openpose_json
from datamodules.readers.base import (
    DatasetReader,
    FileIndex,
    PersonRecord,
    RawPerson,
    SampleRecord,
    Scan,
    check_listed_files,
    read_image,
    read_list_lines,
)
from datamodules.readers.mpv import is_demo_list

REQUIRED_COLUMNS = ("person", "cloth", "pose")
FILE_COLUMNS = ("person_pose", "parsing", "cloth_mask")
OPTIONAL_COLUMNS = (*FILE_COLUMNS, "name", "label_set")
TARGET_ONLY_KEYS = ("tgt_img", "tgt_parse", "tgt_masks")
KEYPOINT_CSV_HEADER = ("x", "y", "visibility")
OUT_OF_FRAME_MARGIN = 0.25  # visible joints may lie this fraction of the image size outside it (detector slack)


def read_keypoint_csv(path: Path) -> Tensor:
    """A keypoint CSV (18 rows ``x,y,visibility``, optional header) -> ``[18, 3]``; missing joints ``(0, 0, 0)``."""
    rows = [(number, line) for number, line in enumerate(read_list_lines(path), start=1) if line.strip()]
    if rows and tuple(field.strip() for field in rows[0][1].split(",")) == KEYPOINT_CSV_HEADER:
        rows = rows[1:]
    if len(rows) != NUM_JOINTS:
        raise DatasetFormatError(f"{path}: expected {NUM_JOINTS} keypoint rows (x,y,visibility), got {len(rows)}")
    values = []
    for number, line in rows:
        fields = line.split(",")
        try:
            x, y, visibility = (float(field) for field in fields)
        except ValueError as exc:
            raise DatasetFormatError(f"{path}:{number}: expected three numbers x,y,visibility, got {line!r}") from exc
        if visibility not in (0.0, 1.0) or not (abs(x) < float("inf") and abs(y) < float("inf")):
            raise DatasetFormatError(f"{path}:{number}: expected finite x, y and visibility 0 or 1, got {line!r}")
        values.append((x, y, 1.0) if visibility else (0.0, 0.0, 0.0))
    return torch.tensor(values, dtype=torch.float32)


def read_keypoints_file(path: Path) -> Tensor:
    """``[18, 3]`` keypoints from an OpenPose ``.json`` or a keypoint ``.csv``."""
    if path.suffix.lower() == ".json":
        return read_openpose_json(path)
    if path.suffix.lower() == ".csv":
        return read_keypoint_csv(path)
    raise DatasetFormatError(f"{path}: a pose must be an OpenPose .json or a keypoint .csv file")


def sequence_frames(entry: str, folder: Path) -> tuple[list[Path], list[str]]:
    """The OpenPose JSONs of a pose-sequence folder in file-name order, and the problems of the folder: empty, a
    file that is not ``.json``, a JSON ``read_openpose_json`` rejects (each named with the list ``entry``)."""
    files = sorted(folder.iterdir(), key=lambda path: path.name)
    if not files:
        return [], [f"{entry}: pose folder {folder} is empty (expected OpenPose .json files, one per frame)"]
    others = [path.name for path in files if path.suffix.lower() != ".json" or not path.is_file()]
    if others:
        return [], [f"{entry}: pose folder {folder} holds {others[0]!r}; a pose sequence folder holds only OpenPose "
                    ".json files, one per frame"]  # fmt: skip
    problems = []
    for path in files:
        try:
            read_openpose_json(path)
        except DatasetFormatError as exc:
            problems.append(f"{entry}: {exc}")
    return files, problems


def check_in_frame(path: Path, kpts: Tensor, size: tuple[int, int]) -> None:
    """Raise when visible joints lie far outside an image of ``size = (H, W)``: a pose of another image size."""
    visible = kpts[kpts[:, 2] > 0]
    if not visible.numel():
        return
    height, width = size
    x_max, y_max = float(visible[:, 0].max()), float(visible[:, 1].max())
    x_min, y_min = float(visible[:, 0].min()), float(visible[:, 1].min())
    mx, my = OUT_OF_FRAME_MARGIN * width, OUT_OF_FRAME_MARGIN * height
    if x_min < -mx or y_min < -my or x_max > width - 1 + mx or y_max > height - 1 + my:
        raise DatasetFormatError(
            f"{path}: keypoints span x {x_min:.0f}..{x_max:.0f}, y {y_min:.0f}..{y_max:.0f}, outside the person "
            f"image ({width}x{height}); the pose must be in pixels of an image of the person's size"
        )


class PredictionListReader(DatasetReader):
    """Reads a prediction list (module docstring) into records and contract samples.

    Args:
        list_file: the CSV or MPV demo list.
        required: optional columns every row must fill (``person_pose``, ``parsing``, ``cloth_mask``).
        white_threshold: without a ``cloth_mask``, a garment pixel with every channel at or above this is background.
        **kwargs: ``DatasetReader`` arguments (``image_size``, ``keypoint_maps``, ``parse_label_set`` -- the label
            set of rows that name none and lie in no known layout; ``auto``: ``lip`` --, ``torso_skin_label``,
            ``mask_threshold``).
    """

    format_name = "predict"

    def __init__(
        self, list_file: str | Path, required: tuple[str, ...] = (), white_threshold: int = 240, **kwargs
    ) -> None:
        self.list_file = Path(list_file)
        super().__init__(self.list_file.parent, "test", **kwargs)
        bad = [column for column in required if column not in OPTIONAL_COLUMNS]
        if bad:
            raise ValueError(f"PredictionList: required columns must be among {OPTIONAL_COLUMNS}, got {bad}")
        self.required = tuple(required)
        self.white_threshold = white_threshold
        self.names: dict[SampleRecord, str] = {}
        self.frames: dict[SampleRecord, tuple[str, int]] = {}  # a sequence frame's record -> (row name, index)

    def require_root(self) -> None:
        """Nothing: the root is the list's folder, and a missing list is reported naming the list file."""

    def splits_present(self) -> list[str]:
        return ["test"] if self.list_file.is_file() else []

    def scan_lists(self) -> Scan:
        scan, files = Scan(), FileIndex()
        lines = read_list_lines(self.list_file)
        rows = demo_rows(self.list_file, lines, scan) if is_demo_list(lines) else self.csv_rows(lines, scan)
        seen: dict[str, str] = {}
        for entry, row in rows:
            record, name, problems = self.make_record(entry, row, files)
            if name in seen:
                problems.append(f"{entry}: output name {name!r} repeats {seen[name]}")
            seen.setdefault(name, entry)
            if problems or not record.target.pose_json.is_dir():
                scan.add(record, problems)
                self.names[record] = name
                continue
            frames, problems = sequence_frames(entry, record.target.pose_json)
            if problems:
                scan.add(record, problems)
                continue
            for index, frame in enumerate(frames):
                target = replace(record.target, name=str(Path(row["pose"]) / frame.name), pose_json=frame)
                frame_record = replace(record, target=target)
                scan.add(frame_record, [])
                self.names[frame_record] = f"{name}/{frame.stem}"
                self.frames[frame_record] = (name, index)
        return scan

    def csv_rows(self, lines: list[str], scan: Scan) -> Iterator[tuple[str, dict[str, str]]]:
        """``(entry, row)`` per CSV line after the header (raises on a bad header); a line with another column count
        is recorded in ``scan`` and skipped."""
        rows = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
        if not rows:
            raise DatasetFormatError(f"{self.list_file}: empty list (expected a header {','.join(REQUIRED_COLUMNS)})")
        header = [field.strip() for field in next(csv.reader([rows[0][1]]))]
        head = f"{self.list_file}:{rows[0][0]}"
        missing = [column for column in (*REQUIRED_COLUMNS, *self.required) if column not in header]
        unknown = [column for column in header if column not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
        if missing or unknown or len(set(header)) != len(header):
            raise DatasetFormatError(
                f"{head}: header {header} must name the columns {list(REQUIRED_COLUMNS)} and optionally "
                f"{list(OPTIONAL_COLUMNS)} once each (missing {missing}, unknown {unknown})"
            )
        for number, line in rows[1:]:
            entry = f"{self.list_file}:{number}"
            fields = next(csv.reader([line]))
            if len(fields) != len(header):
                scan.problems.append(f"{entry}: expected {len(header)} columns ({','.join(header)}), got {len(fields)}")
                scan.dropped += 1
                continue
            yield entry, {column: value.strip() for column, value in zip(header, fields, strict=True)}

    def make_record(self, entry: str, row: dict[str, str], files: FileIndex) -> tuple[SampleRecord, str, list[str]]:
        """The record, output name and problems of one row."""
        problems = [f"{entry}: column {column!r} is empty" for column in REQUIRED_COLUMNS if not row[column]]
        empty = [column for column in self.required if not row.get(column)]
        problems += [f"{entry}: column {column!r} is empty; this chain needs it" for column in empty]
        columns = (*REQUIRED_COLUMNS, *FILE_COLUMNS)
        path = {column: self.root / row[column] if row.get(column) else None for column in columns}
        named = {column: p for column, p in path.items() if p is not None}
        problems += check_listed_files(entry, named, files) if not problems else []
        label_set, origin = self.choose_label_set(row, path["parsing"])
        if label_set not in LABEL_SETS:
            problems.append(f"{entry}: label_set {label_set!r} must be one of {', '.join(LABEL_SETS)} (or empty)")
        elif path["parsing"] is not None and not problems:
            problems += self.check_labels(entry, path["parsing"], label_set, origin)
        stems = "_".join(Path(row[column]).stem for column in REQUIRED_COLUMNS)
        name = row.get("name") or stems
        if "/" in name or "\\" in name or name in (".", ".."):
            problems.append(f"{entry}: output name {name!r} must be a plain file name")
        source = PersonRecord(
            name=row["person"],
            image=path["person"],
            parse=path["parsing"],
            pose_json=path["person_pose"],
            parse_label_set=label_set if path["parsing"] is not None else None,
        )
        target = PersonRecord(name=row["pose"], image=path["person"], pose_json=path["pose"])
        record = SampleRecord(source, target, "test", entry, cloth=path["cloth"], cloth_mask=path["cloth_mask"])
        return record, name, problems

    def choose_label_set(self, row: dict[str, str], parse: Path | None) -> tuple[str, str]:
        """The label set of a row's parsing and where it comes from (module docstring; the name is not checked)."""
        if row.get("label_set"):
            return row["label_set"], "the row's label_set column"
        detected = layout_label_set(parse) if parse is not None else None
        if detected is not None:
            return detected, f"its folder {parse.parent.name}/"
        if self.parse_label_set_option != "auto":
            return self.parse_label_set_option, "the list's parse_label_set"
        return "lip", "the default for parse_label_set auto"

    def check_labels(self, entry: str, parse: Path, label_set: str, origin: str) -> list[str]:
        """Read a row's parsing: its problem if it does not read, else ``[]`` after warning about the labels its
        label set does not expect."""
        try:
            labels = read_parsing(parse, "lip")  # the ids as stored
        except DatasetFormatError as exc:
            return [f"{entry}: {exc}"]
        unexpected = unexpected_labels(labels, label_set)
        if unexpected:
            warnings.warn(
                f"{entry}: parsing {parse} holds labels {unexpected}, which label set {label_set} ({origin}) does not "
                "expect (10: LIP jumpsuits, CIHP torso skin); if this is a CIHP parsing, write cihp in the row's "
                "label_set column",
                stacklevel=2,
            )
        return []

    def read_person_image(self, path: Path) -> Tensor:
        """Person images may have any size (each is resized to ``image_size``)."""
        return read_image(path)

    def read_keypoints(self, person: PersonRecord, raw_size: tuple[int, int] | None) -> Tensor | None:
        if person.pose_json is None:
            return torch.zeros(NUM_JOINTS, 3)
        kpts = read_keypoints_file(person.pose_json)
        if raw_size is not None:
            check_in_frame(person.pose_json, kpts, raw_size)
        return kpts

    def read_cloth_mask(self, record: SampleRecord, cloth: Tensor | None) -> Tensor | None:
        if record.cloth_mask is not None:
            return super().read_cloth_mask(record, cloth)
        return None if cloth is None else (cloth < self.white_threshold).any(dim=0)

    def load(self, record: SampleRecord) -> dict:
        """The sample of one row, without target image, parsing or masks; errors name the list file and line."""
        try:
            sample = super().load(record)
        except DatasetFormatError as exc:
            raise DatasetFormatError(f"{record.entry}: {exc}") from exc
        for key in TARGET_ONLY_KEYS:
            del sample[key]
        return sample

    def meta(self, record: SampleRecord, source: RawPerson) -> dict[str, str]:
        return {
            **super().meta(record, source),
            "name": self.names[record],
            "pose_path": str(record.target.pose_json),
            "has_src_pose": "0" if record.source.pose_json is None else "1",
            "parse_label_set": record.source.parse_label_set or "",
            "sequence": self.frames[record][0] if record in self.frames else "",
            "frame": str(self.frames[record][1]) if record in self.frames else "",
        }


class PredictionList(Dataset):
    """The samples of a prediction list (module docstring); the list is read, and every named file checked, when
    the dataset is built, raising the first problem as ``DatasetFormatError``.

    Args:
        list_file: the CSV or MPV demo list.
        image_size: ``(H, W)`` of the samples (the chain's training size).
        pose_map, pose_radius, pose_sigma: keypoint map encoding, as ``FashionDataModule``.
        required: optional columns the chain needs (``person_pose``, ``parsing``, ``cloth_mask``).
        parse_label_set: the label set of rows that name none and lie in no known layout (module docstring),
            ``"lip"``, ``"cihp"`` or ``"auto"`` (default: ``lip`` for those rows).
        torso_skin_label: the LIP-20 id CIHP's 10 becomes (``datamodules.parsing``; default background).
        mask_threshold: grey level from which a ``cloth_mask`` pixel is cloth (128).
        white_threshold: without a mask, garment pixels with every channel >= this are background (240).
    """

    def __init__(
        self,
        list_file: str | Path,
        image_size: tuple[int, int] = (256, 192),
        pose_map: str = "disk",
        pose_radius: float = 4.0,
        pose_sigma: float = 6.0,
        required: tuple[str, ...] = (),
        parse_label_set: str = "auto",
        torso_skin_label: int = CIHP_TORSO_SKIN_DEFAULT,
        mask_threshold: int = 128,
        white_threshold: int = 240,
    ) -> None:
        self.reader = PredictionListReader(
            list_file,
            required=tuple(required),
            white_threshold=white_threshold,
            image_size=tuple(image_size),
            keypoint_maps=KeypointMapEncoder(pose_map, pose_radius, pose_sigma),
            parse_label_set=parse_label_set,
            torso_skin_label=torso_skin_label,
            mask_threshold=mask_threshold,
        )
        self.records = self.reader.records
        if not self.records:
            raise DatasetFormatError(f"{self.reader.list_file}: no rows after the header")

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        return self.reader.load(self.records[index])


__all__ = ["PredictionList", "PredictionListReader", "read_keypoint_csv", "read_keypoints_file"]
