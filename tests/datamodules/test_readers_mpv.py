"""MPV reader on real DTLD files (``tests/fixtures/mpv``: 3 persons, 3 clothes from ``shared/data/mpv``, with a
``data_pair.txt`` of real-format rows naming them), the competition layout, synthetic ground truth and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contract.errors import DatasetFormatError
from contract.sample import SAMPLE_KEYS
from datamodules.pose import read_openpose_json
from datamodules.readers.mpv import MPVReader

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mpv"
PERSON_A = "1LJ21D005-G11@10=person_half_front"
PERSON_B = "1VJ21D02K-Q11@8=person_half_front"
CLOTH = "CO121D08G-O11@10=cloth_front"


def pixels(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A writable copy of the MPV fixture."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "mpv"))


def test_real_triplet_loads_exactly_at_native_size():
    reader = MPVReader(FIXTURE, "train", image_size=(256, 192))
    assert len(reader.records) == 2
    sample = reader.load(reader.records[0])
    assert set(sample) == set(SAMPLE_KEYS)

    image = torch.from_numpy(pixels(FIXTURE / f"images/{PERSON_A}.jpg")).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(sample["src_img"], image)
    assert torch.equal(sample["src_kpts"], read_openpose_json(FIXTURE / f"pose_coco/{PERSON_A}_keypoints.json"))
    assert torch.equal(sample["tgt_kpts"], read_openpose_json(FIXTURE / f"pose_coco/{PERSON_B}_keypoints.json"))

    raw_parse = torch.from_numpy(pixels(FIXTURE / f"parse_cihp/{PERSON_A}.png").astype(np.int64))
    assert torch.equal(sample["src_parse"], raw_parse.masked_fill(raw_parse == 10, 0))  # CIHP torso skin -> 0
    mask = pixels(FIXTURE / f"cloth_mask/{CLOTH}_mask.png") >= 128
    assert torch.equal(sample["cloth_mask"][0].bool(), torch.from_numpy(mask))

    nose_x, nose_y = sample["src_kpts"][0, :2].round().long().tolist()
    assert sample["src_pose"][0, nose_y, nose_x] == 1 and sample["src_pose"][9].sum() == 0  # r_knee is missing
    cloth_region = sample["src_masks"]["cloth"][0].bool()
    assert torch.equal(cloth_region, torch.isin(sample["src_parse"], torch.tensor([5, 6, 7])))
    assert (sample["src_agnostic"][:, cloth_region] == 0).all()
    assert torch.equal(sample["src_agnostic"][:, ~cloth_region], sample["src_img"][:, ~cloth_region])
    assert sample["meta"]["source"] == f"1LJ21D005/{PERSON_A}.jpg"
    assert sample["meta"]["cloth"] == f"{CLOTH}.jpg"
    assert sample["meta"]["entry"] == f"{FIXTURE}/data_pair.txt:1"
    assert (sample["meta"]["same_pose"], sample["meta"]["has_cloth"], sample["meta"]["has_parse"]) == ("0", "1", "1")


def test_resized_sample_keeps_keypoints_parsing_and_images_aligned():
    native = MPVReader(FIXTURE, "train", image_size=(256, 192))
    half = MPVReader(FIXTURE, "train", image_size=(128, 96))
    big, small = native.load(native.records[0]), half.load(half.records[0])
    visible = big["src_kpts"][:, 2] > 0
    assert torch.allclose(small["src_kpts"][visible, :2], (big["src_kpts"][visible, :2] + 0.5) / 2 - 0.5)
    assert torch.equal(small["src_parse"], big["src_parse"][1::2, 1::2])  # nearest with image edges aligned
    pooled = torch.nn.functional.avg_pool2d(big["src_img"][None], 2)[0]
    assert (small["src_img"] - pooled).abs().mean() < 0.02
    assert small["src_pose"].shape == (18, 128, 96) and small["cloth"].shape == (3, 128, 96)


def test_test_split_rows_and_same_person_row():
    reader = MPVReader(FIXTURE, "test", image_size=(64, 48))
    assert [record.entry.rsplit(":", 1)[1] for record in reader.records] == ["3", "4"]
    same = reader.load(reader.records[1])
    assert same["meta"]["same_pose"] == "1"
    assert torch.equal(same["src_img"], same["tgt_img"]) and torch.equal(same["src_kpts"], same["tgt_kpts"])


def test_competition_layout_with_pose_keypoints_key_and_jpeg_masks(tmp_path):
    root = tmp_path / "mpv_competition"
    lines = []
    for row in (FIXTURE / "data_pair.txt").read_text().splitlines():
        lines.append(row)
        for name in row.split("\t")[:3]:
            product, stem = name.split("/")[0], Path(name).stem
            (root / "all" / product).mkdir(parents=True, exist_ok=True)
            if "cloth" in stem:
                shutil.copy(FIXTURE / "cloth_image" / f"{stem}.jpg", root / "all" / product)
                Image.open(FIXTURE / "cloth_mask" / f"{stem}_mask.png").save(
                    root / "all" / product / f"{stem}_mask.jpg"
                )
                continue
            shutil.copy(FIXTURE / "images" / f"{stem}.jpg", root / "all" / product)
            (root / "all_parsing" / product).mkdir(parents=True, exist_ok=True)
            shutil.copy(FIXTURE / "parse_cihp" / f"{stem}.png", root / "all_parsing" / product)
            pose = json.loads((FIXTURE / "pose_coco" / f"{stem}_keypoints.json").read_text())
            pose["people"][0]["pose_keypoints"] = pose["people"][0].pop("pose_keypoints_2d")
            (root / "all_person_clothes_keypoints" / product).mkdir(parents=True, exist_ok=True)
            (root / "all_person_clothes_keypoints" / product / f"{stem}_keypoints.json").write_text(json.dumps(pose))
    (root / "all_poseA_poseB_clothes_0607.txt").write_text("\n".join(lines) + "\n")

    reader = MPVReader(root, "train", image_size=(256, 192))
    assert reader.layout == "competition" and reader.parse_label_set == "lip"
    sample = reader.load(reader.records[0])
    assert torch.equal(sample["src_kpts"], read_openpose_json(FIXTURE / f"pose_coco/{PERSON_A}_keypoints.json"))
    assert (sample["src_parse"] == 10).any()  # LIP parsing: 10 is a label, not torso skin
    jpeg_mask = pixels(root / f"all/CO121D08G/{CLOTH}_mask.jpg")
    assert len(np.unique(jpeg_mask)) > 2  # JPEG noise: thresholding matters
    assert torch.equal(sample["cloth_mask"][0].bool(), torch.from_numpy(jpeg_mask >= 128))


def test_synthetic_ground_truth_is_attached_and_resized(root):
    flow = np.zeros((2, 256, 192), np.float32)
    flow[0], flow[1] = 3.0, -2.0
    vis = np.zeros((256, 192), np.uint8)
    vis[:, 96:] = 1
    vis[128:, :] = 2
    (root / "synthetic_gt").mkdir()
    np.savez_compressed(root / "synthetic_gt" / f"{PERSON_A}__{PERSON_B}.npz", flow=flow, vis=vis)
    reader = MPVReader(root, "train", image_size=(128, 96))
    sample = reader.load(reader.scan().records[0])
    assert torch.allclose(sample["flow_gt"][0], torch.full((128, 96), 3.0 * 96 / 192))  # half-pixel convention: W / w
    assert torch.allclose(sample["flow_gt"][1], torch.full((128, 96), -2.0 * 128 / 256))
    assert sample["vis_gt"].dtype == torch.long
    assert torch.equal(sample["vis_gt"], torch.from_numpy(vis[1::2, 1::2].astype(np.int64)))
    # The second train row has no ground-truth file although the dataset has a synthetic_gt folder.
    missing = root / "synthetic_gt" / f"{PERSON_B}__4HI21D003-C11@10=person_half_front.npz"
    assert reader.scan().problems == [f"{root}/data_pair.txt:2: ground truth not found: {missing}"]


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


LIST_PROBLEMS = {
    "three columns": (
        lambda root: replace_line(root / "data_pair.txt", 2, "a.jpg\tb.jpg\ttrain"),
        "{root}/data_pair.txt:2: expected 4 columns (personA personB cloth split), got 3",
    ),
    "unknown split": (
        lambda root: replace_line(root / "data_pair.txt", 1, "a.jpg\tb.jpg\tc.jpg\tval"),
        "{root}/data_pair.txt:1: split 'val' is not 'train' or 'test'",
    ),
    "missing image": (
        lambda root: (root / f"images/{PERSON_B}.jpg").unlink(),
        f"{{root}}/data_pair.txt:1: personB image not found: {{root}}/images/{PERSON_B}.jpg",
    ),
    "missing mask": (
        lambda root: (root / f"cloth_mask/{CLOTH}_mask.png").unlink(),
        f"{{root}}/data_pair.txt:1: cloth mask not found: {{root}}/cloth_mask/{CLOTH}_mask.png or "
        f"{{root}}/cloth_mask/{CLOTH}_mask.jpg",
    ),
    "no layout": (
        lambda root: shutil.rmtree(root / "images"),
        "{root}: not an MPV root: expected images/ (with data_pair.txt, parse_cihp/, pose_coco/, cloth_image/,"
        " cloth_mask/) or all/ (with all_poseA_poseB_clothes*.txt, all_parsing/, all_person_clothes_keypoints/)",
    ),
}


@pytest.mark.parametrize("case", sorted(LIST_PROBLEMS))
def test_list_problems_raise_at_scan_with_file_and_line(root, case):
    breaker, message = LIST_PROBLEMS[case]
    breaker(root)
    with pytest.raises(DatasetFormatError) as info:
        _ = MPVReader(root, "train").records
    assert str(info.value) == message.format(root=root)


def test_a_root_that_does_not_exist_is_not_called_a_wrong_layout(tmp_path):
    for reader in (MPVReader(tmp_path / "absent", "train"), MPVReader(tmp_path / "absent", "test", pair_list="x.txt")):
        with pytest.raises(DatasetFormatError) as info:
            _ = reader.records
        assert str(info.value) == f"{tmp_path}/absent: does not exist"


def write_json_values(path: Path, count: int) -> None:
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": [10.0] * count}]}))


FILE_PROBLEMS = {
    "corrupt image": (
        lambda root: (root / f"images/{PERSON_A}.jpg").write_bytes(b"\xff\xd8 truncated"),
        f"{{root}}/images/{PERSON_A}.jpg: unreadable or corrupt image file",
    ),
    "wrong image size": (
        lambda root: Image.new("RGB", (96, 128)).save(root / f"images/{PERSON_B}.jpg"),
        f"{{root}}/images/{PERSON_B}.jpg: size 96x128 (WxH) differs from the dataset's image size 192x256 (WxH)",
    ),
    "keypoint count": (
        lambda root: write_json_values(root / f"pose_coco/{PERSON_B}_keypoints.json", 51),
        f"{{root}}/pose_coco/{PERSON_B}_keypoints.json: expected 54 (COCO-18) or 75 (BODY_25) pose values, got 51",
    ),
    "label out of range": (
        lambda root: Image.fromarray(np.full((256, 192), 25, np.uint8)).save(root / f"parse_cihp/{PERSON_A}.png"),
        f"{{root}}/parse_cihp/{PERSON_A}.png: labels [25] out of range 0..19 (LIP-20 ids expected)",
    ),
    "parsing size": (
        lambda root: Image.fromarray(np.zeros((128, 96), np.uint8)).save(root / f"parse_cihp/{PERSON_A}.png"),
        f"{{root}}/parse_cihp/{PERSON_A}.png: size 96x128 (WxH) differs from its person image 192x256 (WxH)",
    ),
    "mask size": (
        lambda root: Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / f"cloth_mask/{CLOTH}_mask.png"),
        f"{{root}}/cloth_mask/{CLOTH}_mask.png: size 10x10 (WxH) differs from its cloth image 192x256 (WxH)",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_PROBLEMS))
def test_file_problems_raise_when_the_sample_loads(root, case):
    breaker, message = FILE_PROBLEMS[case]
    breaker(root)
    reader = MPVReader(root, "train", image_size=(64, 48))
    records = reader.records  # the lists are fine
    with pytest.raises(DatasetFormatError) as info:
        reader.load(records[0])
    assert str(info.value) == message.format(root=root)
