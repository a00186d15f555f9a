"""VITON (CP-VTON layout) and VITON-HD readers on real units copied from ``shared/data`` (``tests/fixtures/viton``:
3 test units with their own clothes, ``tests/fixtures/viton-hd``: one 768x1024 pair)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contract.errors import DatasetFormatError
from contract.sample import BODY25_TO_COCO18
from datamodules.pose import rescale_keypoints
from datamodules.readers.viton import VitonHDReader, VitonReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VITON, VITON_HD = FIXTURES / "viton", FIXTURES / "viton-hd"


def test_viton_pairs_are_same_pose_try_on_samples():
    reader = VitonReader(VITON, "test", image_size=(256, 192))
    assert reader.splits_present() == ["test"]
    records = reader.records
    assert [(r.source.name, r.cloth.name) for r in records] == [
        ("000001_0.jpg", "000001_1.jpg"),
        ("000010_0.jpg", "000010_1.jpg"),
        ("000020_0.jpg", "000020_1.jpg"),
        ("000001_0.jpg", "000020_1.jpg"),  # an unpaired row: another person's garment
    ]
    sample = reader.load(records[3])
    assert sample["meta"]["same_pose"] == "1" and sample["meta"]["cloth"] == "000020_1.jpg"
    assert torch.equal(sample["src_img"], sample["tgt_img"]) and torch.equal(sample["src_parse"], sample["tgt_parse"])
    raw = json.loads((VITON / "test/pose/000001_0_keypoints.json").read_text())["people"][0]["pose_keypoints"]
    assert sample["src_kpts"][2].tolist() == pytest.approx([raw[6], raw[7], 1.0])  # `pose_keypoints` (OpenPose 1.0)
    # LIP parsing from a palette PNG, read as indices.
    parse = np.array(Image.open(VITON / "test/image-parse/000001_0.png")).astype(np.int64)
    assert torch.equal(sample["src_parse"], torch.from_numpy(parse))
    # Grey JPEG mask thresholded at 128.
    mask = np.array(Image.open(VITON / "test/cloth-mask/000020_1.jpg"))
    assert len(np.unique(mask)) > 2
    assert torch.equal(sample["cloth_mask"][0].bool(), torch.from_numpy(mask >= 128))


def test_viton_hd_body25_keypoints_cihp_parsing_and_resizing():
    reader = VitonHDReader(VITON_HD, "test", image_size=(256, 192))
    assert reader.parse_label_set == "cihp"
    sample = reader.load(reader.records[0])
    raw = np.array(
        json.loads((VITON_HD / "test/openpose-json/00891_00_keypoints.json").read_text())["people"][0][
            "pose_keypoints_2d"
        ]
    ).reshape(25, 3)[list(BODY25_TO_COCO18)]
    visible = (raw[:, 2] > 0) & (raw[:, 0] > 1) & (raw[:, 1] > 1)
    expected = torch.from_numpy(np.concatenate([raw[:, :2], visible[:, None]], 1)).float()
    expected[~torch.from_numpy(visible)] = 0
    assert torch.allclose(sample["src_kpts"], rescale_keypoints(expected, (1024, 768), (256, 192)))
    assert torch.allclose(sample["src_kpts"][0, :2], (expected[0, :2] + 0.5) / 4 - 0.5)
    parse = np.array(Image.open(VITON_HD / "test/image-parse/00891_00.png"))
    assert (parse == 10).any() and not (sample["src_parse"] == 10).any()  # neck (CIHP 10) -> background
    assert torch.equal(sample["src_parse"], torch.from_numpy(np.where(parse == 10, 0, parse)[2::4, 2::4]).long())
    assert sample["cloth"].shape == (3, 256, 192) and sample["cloth"].min() >= -1 and sample["cloth"].max() <= 1


@pytest.fixture
def viton_root(tmp_path: Path) -> Path:
    return Path(shutil.copytree(VITON, tmp_path / "viton"))


def test_missing_pose_folder_is_reported(viton_root):
    shutil.rmtree(viton_root / "test/pose")
    with pytest.raises(DatasetFormatError) as info:
        _ = VitonReader(viton_root, "test").records
    assert str(info.value) == (
        f"{viton_root}/test: no folder pose/ or openpose-json/ or openpose_json/ (the person keypoints of 4 entries, "
        f"the first {viton_root}/test_pairs.txt:1)"
    )


def test_bad_pair_lines_name_file_and_line(viton_root):
    lines = (viton_root / "test_pairs.txt").read_text().splitlines()
    lines[1] = "000010_0.jpg"
    lines[2] = "000020_0.jpg 999999_1.jpg"
    (viton_root / "test_pairs.txt").write_text("\n".join(lines) + "\n")
    scan = VitonReader(viton_root, "test").scan()
    pairs = viton_root / "test_pairs.txt"
    assert scan.problems == [
        f"{pairs}:2: expected 2 columns (person cloth), got 1",
        f"{pairs}:3: cloth image not found: {viton_root}/test/cloth/999999_1.jpg",
        f"{pairs}:3: cloth mask not found: {viton_root}/test/cloth-mask/999999_1.jpg",
    ]
    assert [record.entry for record in scan.records] == [f"{pairs}:1", f"{pairs}:4"] and scan.dropped == 2


def test_missing_train_list_is_reported_when_asked_for():
    with pytest.raises(DatasetFormatError) as info:
        _ = VitonReader(VITON, "train").records
    assert str(info.value) == f"{VITON}/train_pairs.txt: file not found"
