"""MPV demo lists, the pose-only try-on targets public MPV code ships, as prediction-list rows.

The format is that of ``demo/demo.txt`` in Down-to-the-Last-Detail (JDAI-CV/Down-to-the-Last-Detail-Virtual-Try-on-
with-Detail-Carving @ 2ea1eab, read by its ``data/demo_dataset.py``; a copy in ``shared/data/mpv/demo/``): one
try-on per line, ``person_image keypoint_json cloth_image [split]``, TAB or space separated, no header. The first
line of DTLD's list, one column a line::

    person_image   1LJ21D005-G11@10=person_half_front.jpg
    keypoint_json  AD121D0G7-A11@10=person_half_front_keypoints.json
    cloth_image    CO121D08G-O11@10=cloth_front.jpg
    split          test

``keypoint_json`` is the target pose: the OpenPose COCO-18 file of another MPV person. The fourth column, ``train``
or ``test`` as in ``data_pair.txt``, is optional and ignored (DTLD's loader reads the first three); every line has
as many columns as the first. Names are those of an MPV root in the DTLD layout and resolve as ``MPVReader`` resolves
them (a product folder in a name is ignored, the flat folders are searched by base name):

===========  =================================================================================
row column   file
===========  =================================================================================
person       ``<root>/images/<person_image>``
person_pose  ``<root>/pose_coco/<person_image stem>_keypoints.json``
parsing      ``<root>/parse_cihp/<person_image stem>.png`` (CIHP ids: detected as ``cihp``)
pose         ``<root>/pose_coco/<keypoint_json>``
cloth        ``<root>/cloth_image/<cloth_image>``
cloth_mask   ``<root>/cloth_mask/<cloth_image stem>_mask.png`` (or ``.jpg``)
===========  =================================================================================

The root is the list's folder when it holds ``images/`` (a list kept in the MPV root), else ``dataset/`` beside the
list's folder (DTLD's repository: ``demo/demo.txt`` next to ``dataset/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from contract.errors import DatasetFormatError
from datamodules.readers.base import SPLITS, FileIndex, Scan, first_existing, list_rows
from datamodules.readers.mpv import MPVReader

DEMO_COLUMNS = ("person_image", "keypoint_json", "cloth_image", "split")
DTLD_ROOT = "dataset"


def demo_root(list_file: Path) -> Path:
    """The MPV root of a demo list (module docstring); raises when neither candidate holds ``images/``."""
    candidates = (list_file.parent, list_file.parent.parent / DTLD_ROOT)
    for root in candidates:
        if (root / "images").is_dir():
            return root
    raise DatasetFormatError(
        f"{list_file}: an MPV demo list ({' '.join(DEMO_COLUMNS[:3])}) names files of an MPV root in the DTLD layout, "
        f"but neither {candidates[0]} nor {candidates[1]} holds images/"
    )


def demo_rows(list_file: Path, lines: list[str], scan: Scan) -> Iterator[tuple[str, dict[str, str]]]:
    """``(entry, row)`` per demo line, ``row`` holding prediction-list columns (absolute paths); a line with another
    column count or split is recorded in ``scan`` and skipped."""
    root = demo_root(list_file.absolute())
    reader, files = MPVReader(root, "test"), FileIndex()
    width = len(next(line for line in lines if line.strip()).split())
    for entry, fields in list_rows(list_file, lines, DEMO_COLUMNS[:width], scan):
        if width == len(DEMO_COLUMNS) and fields[3] not in SPLITS:
            scan.problems.append(f"{entry}: split {fields[3]!r} is not 'train' or 'test'")
            scan.dropped += 1
            continue
        person = reader.person(fields[0])
        cloth, masks = reader.cloth_files(fields[2], files)
        row = {
            "person": person.image,
            "person_pose": person.pose_json,
            "parsing": person.parse,
            "pose": person.pose_json.parent / PurePosixPath(fields[1]).name,
            "cloth": cloth,
            "cloth_mask": first_existing(masks, files),
        }
        yield entry, {column: str(path) for column, path in row.items()}
