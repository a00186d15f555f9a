"""Write synthetic samples in the real on-disk layouts (MPV / DeepFashion) plus ground-truth side files.

Layouts are those the readers load (``docs/DATA.md``; real formats in the project's FORMATS research note):

MPV (DTLD flavour): ``images/<stem>.jpg``, ``parse_cihp/<stem>.png`` (mode L, LIP ids),
``pose_coco/<stem>_keypoints.json`` (OpenPose 1.3, ``pose_keypoints_2d``, missing = 0, 0, 0),
``cloth_image/<cloth>.jpg``, ``cloth_mask/<cloth>_mask.png`` ({0, 255}) and ``data_pair.txt`` (TAB separated
``personA personB cloth split``: source, target, the target's garment). Person stems are
``SYN<person id>-C<person id><A|B>@<0|1>=person_<whole|half>_front`` (A: the listed garment, B: the source's
other garment in a cross-garment triplet; @0 source pose, @1 target pose), cloth stems
``SYNC<person id>A@0=cloth_front``.

DeepFashion: ``<split>/<name>.jpg``, ``fasion-resize-annotation-<split>.csv`` (``name:keypoints_y:keypoints_x``,
integer pixels of the written image, y first, -1 = missing), ``fasion-resize-pairs-<split>.csv``
(``from,to,garment``), ``<split>M_lip/<stem>.png``, ``<split>.lst`` (person images). Names follow the In-shop
flattening ``fashion<GENDER><Category>id<8-digit person id><2-digit outfit>_<view>.jpg``; the garment column
names the flat image ``<target person and outfit>_6flat.jpg`` in the split folder.

Both: ``synthetic_gt/<source stem>__<target stem>.npz`` (``vis`` uint8 [H, W] and ``flow_foreground`` float32
[2, N], the flow at the N foreground pixels ``vis > 0`` in row-major order, zero elsewhere: the readers expand it
to ``flow`` [2, H, W]), ``synthetic_gt/<source stem>__<target stem>.json`` (the garments' kind and pattern,
``attributes``) and, with sequences, ``sequences/<seq id>/{image/<t>.jpg, pose/<t>_keypoints.json,
parse/<t>.png, synthetic_gt/<t-1>__<t>.npz, cloth.jpg, cloth_mask.png}`` and ``sequences/sequences.txt``
(``<seq id> <T> <kind> <split>``).

Bytes are a function of the sample alone: JPEG quality 95 with 4:4:4 chroma (``subsampling=0``, so the flow
test is not spoiled by chroma blur); PNGs encoded here (``encode_png``: grey 8-bit, no row filter, no metadata,
one run-length deflate stream: label maps are runs along rows, so this is smaller than Pillow's level-1 PNG and
five times faster); ``.npz`` archives with the fixed 1980 timestamp ``numpy.savez_compressed`` also uses. The
``.npz`` is a plain zip archive of ``.npy`` members (what ``numpy.load`` reads) written here rather than by
``zipfile``, because ``zipfile`` cannot choose deflate's strategy: ``vis`` is run-length deflated
(``zlib.Z_RLE``), ``flow_foreground`` stored: the background, where a dense flow is zero, is not stored at all,
and deflate would shrink the foreground's floats by only a tenth for some 2 ms per file (about 110 kB on
average at 256x192).
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from contract.sample import SYNTHETIC_GT_DIR
from datamodules.synthetic.attributes import attributes_path, encode_attributes
from datamodules.synthetic.generate import PersonImage, PoseSequence, Triplet

JPEG_OPTIONS = {"quality": 95, "subsampling": 0}
TEST_ID_OFFSET = 500_000  # test persons are numbered from here, so both splits share flat folders safely
MPV_DIRS = ("images", "parse_cihp", "pose_coco", "cloth_image", "cloth_mask")
DEEPFASHION_CATEGORY = {
    "tank": "TeesTanks",
    "short_sleeve": "BlousesShirts",
    "long_sleeve": "Sweaters",
    "dress": "Dresses",
}
DEEPFASHION_VIEW_INDEX = {"front": 1, "side": 2, "full": 4, "additional": 7}
SIDE_VIEW_YAW = np.radians(35.0)  # |yaw| above which a DeepFashion view is called "side"


def person_id(split: str, index: int) -> int:
    """Numeric person id of sample ``index`` of ``split`` (test ids start at ``TEST_ID_OFFSET``)."""
    if index >= TEST_ID_OFFSET:
        raise ValueError(f"sample index {index} too large: at most {TEST_ID_OFFSET - 1} samples per split")
    return index + (TEST_ID_OFFSET if split == "test" else 0)


# --- file writers ---------------------------------------------------------------------------------


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder on first need (one system call per file otherwise)."""
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    """Planar ``[3, H, W]`` uint8 -> JPEG (quality 95, 4:4:4)."""
    encoded = io.BytesIO()
    Image.merge("RGB", [Image.fromarray(c) for c in image]).save(encoded, "JPEG", **JPEG_OPTIONS)
    write_file(path, encoded.getvalue())


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data (PNG spec, section 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(array: np.ndarray) -> bytes:
    """``[H, W]`` uint8 -> 8-bit greyscale PNG bytes: every row with filter type 0 (none), one zlib stream,
    run-length deflate level 1 (Pillow decodes it like any PNG)."""
    height, width = array.shape
    rows = np.empty((height, width + 1), np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = array
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    stream = compressor.compress(rows) + compressor.flush()
    header = struct.pack(">2I5B", width, height, 8, 0, 0, 0, 0)  # bit depth 8, greyscale, deflate, no interlace
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")


def write_png(path: Path, array: np.ndarray) -> None:
    """``[H, W]`` uint8 (label ids or a {0, 255} mask) -> 8-bit grey PNG (``encode_png``)."""
    write_file(path, encode_png(np.asarray(array, np.uint8)))


def write_openpose(path: Path, keypoints: np.ndarray) -> None:
    """``[18, 3]`` (x, y, visible) -> OpenPose 1.3 JSON; missing joints are ``0, 0, 0``."""
    values = []
    for x, y, visible in keypoints.tolist():
        values += [round(x, 3), round(y, 3), 1.0] if visible > 0 else [0, 0, 0]
    person = {"person_id": [-1], "pose_keypoints_2d": values, "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
              "hand_right_keypoints_2d": []}  # fmt: skip
    write_file(path, json.dumps({"version": 1.3, "people": [person]}, separators=(",", ":")).encode())


def _zip(members: dict[str, tuple[bytes, bool]]) -> bytes:
    """A zip archive (PKWARE APPNOTE 4.3/4.4) of ``members`` (name -> bytes, whether to run-length deflate
    them; stored otherwise), dated 1980-01-01 00:00 (DOS date 33, time 0) like ``numpy.savez_compressed``'s."""
    local, central = [], []
    offset = 0
    for name, (data, deflate) in members.items():
        payload = data
        if deflate:
            compressor = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
            payload = compressor.compress(data) + compressor.flush()
        key = name.encode()
        # version 2.0, no flags, method 8 (deflate) or 0 (stored), time 0, date 33, crc, sizes, name length, no extra
        fields = (20, 0, 8 if deflate else 0, 0, 33, zlib.crc32(data), len(payload), len(data), len(key), 0)
        header = struct.pack("<I5H3I2H", 0x04034B50, *fields) + key
        # made by / needed version 2.0, ..., no comment, disk 0, no internal attributes, mode rw-------, offset
        central.append(struct.pack("<I6H3I5HII", 0x02014B50, 20, *fields, 0, 0, 0, 0o600 << 16, offset) + key)
        local += [header, payload]
        offset += len(header) + len(payload)
    directory = b"".join(central)
    end = struct.pack("<I4H2IH", 0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0)
    return b"".join(local) + directory + end


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_ground_truth(path: Path, flow: np.ndarray, vis: np.ndarray) -> None:
    """``flow`` ``[2, H, W]`` float32 and ``vis`` ``[H, W]`` uint8 -> ``.npz`` (``numpy.load`` format) of ``vis``
    and ``flow_foreground`` ``[2, N]``, the flow where ``vis > 0`` (row-major); the flow must be zero elsewhere,
    so ``readers.base.read_ground_truth`` restores it exactly."""
    vis = np.asarray(vis, np.uint8)
    flow = np.asarray(flow, np.float32).reshape(2, -1)
    foreground = flow.compress(vis.reshape(-1) > 0, axis=1)
    if np.count_nonzero(foreground) != np.count_nonzero(flow):
        raise ValueError(f"{path}: the flow must be zero on the background (vis == 0)")
    members = {"vis.npy": (_npy(vis), True), "flow_foreground.npy": (_npy(foreground), False)}
    write_file(path, _zip(members))


def write_triplet_attributes(ground_truth: Path, split: str, triplet: Triplet, images: dict[str, str]) -> None:
    """The triplet's garment attribute file beside its flow file (``attributes``); ``images``: role -> image path
    relative to the dataset root. The cloth is the garment the target wears."""
    garments = {
        role: (images[role], person.top_kind, person.top_pattern)
        for role, person in (("source", triplet.source), ("target", triplet.target), ("cloth", triplet.target))
    }
    write_file(attributes_path(ground_truth), encode_attributes(split, garments))


# --- MPV ---------------------------------------------------------------------------------------


def _mpv_stem(pid: int, garment: str, pose: int, person: PersonImage) -> str:
    framing = "half" if person.framing == "half" else "whole"
    return f"SYN{pid:06d}-C{pid:06d}{garment}@{pose}=person_{framing}_front"


def write_mpv_triplet(root: Path, split: str, index: int, triplet: Triplet) -> str:
    """Write one triplet in the MPV layout; returns its ``data_pair.txt`` line (no newline)."""
    pid = person_id(split, index)
    source = _mpv_stem(pid, "B" if triplet.kind == "cross" else "A", 0, triplet.source)
    target = _mpv_stem(pid, "A", 1, triplet.target)
    cloth = f"SYNC{pid:06d}A@0=cloth_front"
    for stem, person in ((source, triplet.source), (target, triplet.target)):
        write_jpeg(root / "images" / f"{stem}.jpg", person.image)
        write_png(root / "parse_cihp" / f"{stem}.png", person.parse)
        write_openpose(root / "pose_coco" / f"{stem}_keypoints.json", person.keypoints)
    write_jpeg(root / "cloth_image" / f"{cloth}.jpg", triplet.cloth)
    write_png(root / "cloth_mask" / f"{cloth}_mask.png", triplet.cloth_mask.astype(np.uint8) * 255)
    ground_truth = root / SYNTHETIC_GT_DIR / f"{source}__{target}.npz"
    write_ground_truth(ground_truth, triplet.flow, triplet.vis)
    images = {"source": f"images/{source}.jpg", "target": f"images/{target}.jpg", "cloth": f"cloth_image/{cloth}.jpg"}
    write_triplet_attributes(ground_truth, split, triplet, images)
    return f"{source}.jpg\t{target}.jpg\t{cloth}.jpg\t{split}"


# --- DeepFashion ---------------------------------------------------------------------------------


def _view(person: PersonImage) -> str:
    if abs(person.yaw) > SIDE_VIEW_YAW:
        return "side"
    return "full" if person.framing != "half" else "front"


def _annotation_row(name: str, keypoints: np.ndarray) -> str:
    """``name: [ys]: [xs]`` with integer pixels, -1 for missing joints (PATN writer format)."""
    visible = keypoints[:, 2] > 0
    ys = np.where(visible, np.rint(keypoints[:, 1]), -1).astype(int).tolist()
    xs = np.where(visible, np.rint(keypoints[:, 0]), -1).astype(int).tolist()
    return f"{name}: {ys}: {xs}"


def write_deepfashion_triplet(root: Path, split: str, index: int, triplet: Triplet) -> tuple[list[str], str, list[str]]:
    """Write one triplet in the DeepFashion layout; returns (annotation rows, pairs row, list names)."""
    pid = person_id(split, index)
    views = [_view(triplet.source), _view(triplet.target)]
    outfits = [2 if triplet.kind == "cross" else 1, 1]
    if views[0] == views[1] and outfits[0] == outfits[1]:
        views[1] = "additional"
    gender = "WOMEN" if triplet.target.top_kind == "dress" else "MEN"
    names, rows = [], []
    for person, view, outfit in zip((triplet.source, triplet.target), views, outfits, strict=True):
        prefix = f"fashion{gender}{DEEPFASHION_CATEGORY[person.top_kind]}id{pid:08d}{outfit:02d}"
        name = f"{prefix}_{DEEPFASHION_VIEW_INDEX[view]}{view}.jpg"
        write_jpeg(root / split / name, person.image)
        write_png(root / f"{split}M_lip" / f"{name[:-4]}.png", person.parse)
        names.append(name)
        rows.append(_annotation_row(name, person.keypoints))
    garment = f"{names[1].rsplit('_', 1)[0]}_6flat.jpg"
    write_jpeg(root / split / garment, triplet.cloth)
    ground_truth = root / SYNTHETIC_GT_DIR / f"{names[0][:-4]}__{names[1][:-4]}.npz"
    write_ground_truth(ground_truth, triplet.flow, triplet.vis)
    images = {"source": f"{split}/{names[0]}", "target": f"{split}/{names[1]}", "cloth": f"{split}/{garment}"}
    write_triplet_attributes(ground_truth, split, triplet, images)
    return rows, f"{names[0]},{names[1]},{garment}", names


def write_deepfashion_lists(root: Path, split: str, annotations: list[str], pairs: list[str], names: list[str]) -> None:
    """The split's annotation CSV, pairs CSV and ``.lst`` file."""
    (root / f"fasion-resize-annotation-{split}.csv").write_text(
        "name:keypoints_y:keypoints_x\n" + "".join(f"{r}\n" for r in annotations)
    )
    (root / f"fasion-resize-pairs-{split}.csv").write_text("from,to,garment\n" + "".join(f"{p}\n" for p in pairs))
    (root / f"{split}.lst").write_text("".join(f"{n}\n" for n in names))


# --- sequences -----------------------------------------------------------------------------------


def sequence_id(split: str, index: int) -> str:
    return f"SEQ{person_id(split, index):06d}"


def write_sequence(root: Path, split: str, index: int, sequence: PoseSequence) -> str:
    """Write one pose sequence under ``root/sequences``; returns its ``sequences.txt`` line."""
    seq_id = sequence_id(split, index)
    base = root / "sequences" / seq_id
    for t, frame in enumerate(sequence.frames):
        write_jpeg(base / "image" / f"{t:04d}.jpg", frame.image)
        write_openpose(base / "pose" / f"{t:04d}_keypoints.json", frame.keypoints)
        write_png(base / "parse" / f"{t:04d}.png", frame.parse)
    for t, (flow, vis) in enumerate(sequence.flows, start=1):
        write_ground_truth(base / SYNTHETIC_GT_DIR / f"{t - 1:04d}__{t:04d}.npz", flow, vis)
    write_jpeg(base / "cloth.jpg", sequence.cloth)
    write_png(base / "cloth_mask.png", sequence.cloth_mask.astype(np.uint8) * 255)
    return f"{seq_id} {len(sequence.frames)} {sequence.kind} {split}"
