"""Real-layout writers (``datamodules/synthetic/writer.py``): file names, formats, contents."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from datamodules.readers.base import read_ground_truth
from datamodules.synthetic.generate import generate_sequence, generate_triplet, sample_rng
from datamodules.synthetic.writer import (
    TEST_ID_OFFSET,
    encode_png,
    person_id,
    write_deepfashion_lists,
    write_deepfashion_triplet,
    write_ground_truth,
    write_mpv_triplet,
    write_openpose,
    write_sequence,
)

H, W = 64, 48


def _triplet(kind_fraction: float, index: int = 0):
    return generate_triplet(sample_rng(0, "train", index), H, W, kind_fraction)


def test_mpv_triplet_files(tmp_path: Path) -> None:
    triplet = _triplet(1.0)
    line = write_mpv_triplet(tmp_path, "test", 3, triplet)
    source, target, cloth, split = line.split("\t")
    assert (
        split == "test"
        and source.startswith("SYN500003-C500003B@0=person_")
        and target.startswith("SYN500003-C500003A@1=")
    )
    assert cloth == "SYNC500003A@0=cloth_front.jpg"  # the target's (listed) garment
    for name in (source, target):
        stem = name[:-4]
        image = Image.open(tmp_path / "images" / name)
        assert image.size == (W, H) and image.mode == "RGB"
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4 chroma
        parse = Image.open(tmp_path / "parse_cihp" / f"{stem}.png")
        assert parse.mode == "L" and np.asarray(parse).max() <= 19
        people = json.loads((tmp_path / "pose_coco" / f"{stem}_keypoints.json").read_text())["people"]
        assert len(people[0]["pose_keypoints_2d"]) == 54
    mask = np.asarray(Image.open(tmp_path / "cloth_mask" / "SYNC500003A@0=cloth_front_mask.png"))
    assert set(np.unique(mask).tolist()) == {0, 255}
    np.testing.assert_array_equal(mask == 255, triplet.cloth_mask)
    flow, vis = read_ground_truth(tmp_path / "synthetic_gt" / f"{source[:-4]}__{target[:-4]}.npz")
    np.testing.assert_array_equal(flow.numpy(), triplet.flow)
    np.testing.assert_array_equal(vis.numpy(), triplet.vis)
    # Same-garment triplets name the listed garment (A) on both sides.
    same = write_mpv_triplet(tmp_path, "train", 0, _triplet(0.0)).split("\t")
    assert "C000000A@0" in same[0] and "C000000A@1" in same[1]


def test_openpose_json_marks_missing_joints_with_zeros(tmp_path: Path) -> None:
    kpts = np.zeros((18, 3), np.float32)
    kpts[:, 0], kpts[:, 1] = np.arange(18) + 10.25, 20.5
    kpts[::2, 2] = 1
    write_openpose(tmp_path / "k.json", kpts)
    values = np.array(json.loads((tmp_path / "k.json").read_text())["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    np.testing.assert_allclose(values[::2], np.c_[np.arange(0, 18, 2) + 10.25, np.full(9, 20.5), np.ones(9)])
    assert (values[1::2] == 0).all()


def test_deepfashion_triplet_rows(tmp_path: Path) -> None:
    annotations, pairs, names = [], [], []
    for index, fraction in enumerate((0.0, 1.0)):
        rows, pair, listed = write_deepfashion_triplet(tmp_path, "train", index, _triplet(fraction, index))
        annotations += rows
        pairs.append(pair)
        names += listed
    write_deepfashion_lists(tmp_path, "train", annotations, pairs, names)
    header, *lines = (tmp_path / "fasion-resize-annotation-train.csv").read_text().splitlines()
    assert header == "name:keypoints_y:keypoints_x" and len(lines) == 4
    name, ys, xs = lines[0].split(": ")
    ys, xs = json.loads(ys), json.loads(xs)
    assert len(ys) == len(xs) == 18 and all(isinstance(v, int) for v in ys + xs)
    assert all((y == -1) == (x == -1) for y, x in zip(ys, xs, strict=True))
    header, *rows = (tmp_path / "fasion-resize-pairs-train.csv").read_text().splitlines()
    assert header == "from,to,garment"
    for row in rows:
        source, target, garment = row.split(",")
        assert garment == f"{target.rsplit('_', 1)[0]}_6flat.jpg"  # the target's outfit, laid flat
        for image in (source, target, garment):
            assert (tmp_path / "train" / image).is_file()
        for image in (source, target):
            assert (tmp_path / "trainM_lip" / f"{image[:-4]}.png").is_file()
        assert (tmp_path / "synthetic_gt" / f"{source[:-4]}__{target[:-4]}.npz").is_file()
    same, cross = (r.split(",") for r in rows)
    assert same[0].rsplit("_", 1)[0] == same[1].rsplit("_", 1)[0]  # one person and outfit
    assert cross[0].rsplit("_", 1)[0] != cross[1].rsplit("_", 1)[0]  # the source wears another outfit
    assert (tmp_path / "train.lst").read_text().splitlines() == names


def test_ground_truth_is_a_deterministic_numpy_archive(tmp_path: Path) -> None:
    # Like real ground truth: zero on the background, arbitrary floats on the person.
    vis = np.zeros((H, W), np.uint8)
    vis[10:50, 12:36] = np.random.default_rng(1).integers(1, 3, (40, 24))
    flow = np.zeros((2, H, W), np.float32)
    flow[:, 10:50, 12:36] = np.random.default_rng(0).normal(size=(2, 40, 24))
    write_ground_truth(tmp_path / "a.npz", flow, vis)
    write_ground_truth(tmp_path / "b.npz", flow, vis)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = np.load(tmp_path / "a.npz")
    assert sorted(loaded.files) == ["flow_foreground", "vis"]
    assert loaded["flow_foreground"].shape == (2, 40 * 24)  # only the foreground is stored
    restored, restored_vis = read_ground_truth(tmp_path / "a.npz")
    np.testing.assert_array_equal(restored.numpy(), flow)
    np.testing.assert_array_equal(restored_vis.numpy(), vis)
    # A well-formed zip (the archive is written by hand): CRCs check, the fixed date, vis deflated, flow stored.
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert archive.testzip() is None
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        assert methods == {"vis.npy": zipfile.ZIP_DEFLATED, "flow_foreground.npy": zipfile.ZIP_STORED}
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert (tmp_path / "a.npz").stat().st_size < 0.6 * (flow.nbytes + vis.nbytes)


def test_ground_truth_refuses_flow_on_the_background(tmp_path: Path) -> None:
    vis = np.ones((H, W), np.uint8)
    vis[0, 5] = 0
    flow = np.zeros((2, H, W), np.float32)
    flow[1, 0, 5] = 0.25  # would be lost: only the foreground is stored
    with pytest.raises(ValueError, match="a.npz: the flow must be zero on the background"):
        write_ground_truth(tmp_path / "a.npz", flow, vis)


@pytest.mark.parametrize("shape", [(64, 48), (7, 3), (1, 1)])
def test_png_encoder_round_trips_through_pillow(tmp_path: Path, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    labels = np.repeat(rng.integers(0, 20, (shape[0], 1)), shape[1], axis=1).astype(np.uint8)  # runs along rows
    labels[rng.random(shape) < 0.1] = 255  # and isolated values
    (tmp_path / "labels.png").write_bytes(encode_png(labels))
    image = Image.open(tmp_path / "labels.png")
    assert image.mode == "L" and image.size == (shape[1], shape[0])
    np.testing.assert_array_equal(np.asarray(image), labels)


def test_sequence_layout(tmp_path: Path) -> None:
    sequence = generate_sequence(sample_rng(0, "sequence_test", 2), H, W, "walk", 3)
    line = write_sequence(tmp_path, "test", 2, sequence)
    assert line == f"SEQ{TEST_ID_OFFSET + 2:06d} 3 walk test"
    base = tmp_path / "sequences" / f"SEQ{TEST_ID_OFFSET + 2:06d}"
    for t in range(3):
        assert (base / "image" / f"{t:04d}.jpg").is_file() and (base / "parse" / f"{t:04d}.png").is_file()
        assert (base / "pose" / f"{t:04d}_keypoints.json").is_file()
    assert sorted(p.name for p in (base / "synthetic_gt").iterdir()) == ["0000__0001.npz", "0001__0002.npz"]
    assert (base / "cloth.jpg").is_file() and (base / "cloth_mask.png").is_file()


def test_person_ids_keep_splits_apart() -> None:
    assert person_id("train", 7) == 7 and person_id("test", 7) == TEST_ID_OFFSET + 7
    with pytest.raises(ValueError, match="at most"):
        person_id("train", TEST_ID_OFFSET)
