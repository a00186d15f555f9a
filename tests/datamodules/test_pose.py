"""Keypoint reading (OpenPose JSON, DeepFashion lists), rescaling and keypoint maps, on real fixture files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from datamodules.contract import DatasetFormatError
from datamodules.pose import (
    KeypointMapEncoder,
    coco18_from_openpose,
    keypoints_from_yx,
    read_openpose_json,
    rescale_keypoints,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MPV_JSON = FIXTURES / "mpv/pose_coco/1LJ21D005-G11@10=person_half_front_keypoints.json"
VITON_JSON = FIXTURES / "viton/test/pose/000001_0_keypoints.json"
VITON_HD_JSON = FIXTURES / "viton-hd/test/openpose-json/00891_00_keypoints.json"


def test_openpose_2d_key_from_real_mpv_file():
    kpts = read_openpose_json(MPV_JSON)
    assert kpts.shape == (18, 3)
    # First triple of the file: nose at (96.998, 44.8756) with confidence 0.77.
    assert kpts[0].tolist() == pytest.approx([96.998, 44.8756, 1.0])
    # r_knee and r_ankle are (0, 0, 0) in the file: missing; r_hip has confidence 0.31: visible.
    assert kpts[9].tolist() == [0.0, 0.0, 0.0] and kpts[10].tolist() == [0.0, 0.0, 0.0]
    assert kpts[8].tolist() == pytest.approx([80.7869, 212.535, 1.0])


def test_openpose_1_0_key_from_real_viton_file():
    kpts = read_openpose_json(VITON_JSON)
    raw = json.loads(VITON_JSON.read_text())["people"][0]["pose_keypoints"]
    assert kpts[0].tolist() == pytest.approx([raw[0], raw[1], 1.0])
    assert kpts[17, :2].tolist() == pytest.approx(raw[51:53])


def test_body25_maps_hips_and_skips_midhip():
    kpts = read_openpose_json(VITON_HD_JSON)
    raw = json.loads(VITON_HD_JSON.read_text())["people"][0]["pose_keypoints_2d"]
    assert len(raw) == 75
    # COCO r_hip (8) is BODY_25 RHip (9), not MidHip (8); COCO l_ear (17) is BODY_25 LEar (18).
    assert kpts[8, :2].tolist() == pytest.approx(raw[27:29])
    assert kpts[17, :2].tolist() == pytest.approx(raw[54:56])
    assert kpts[1, :2].tolist() == pytest.approx(raw[3:5])


def test_empty_people_means_all_missing(tmp_path):
    path = tmp_path / "p_keypoints.json"
    path.write_text(json.dumps({"version": 1.3, "people": []}))
    assert torch.equal(read_openpose_json(path), torch.zeros(18, 3))


def test_missing_by_confidence_or_small_coordinates():
    values = [50.0, 60.0, 0.9] * 18
    values[0:3] = [0.5, 60.0, 0.9]  # x <= 1: missing (CP-VTON rule)
    values[3:6] = [50.0, 1.0, 0.9]  # y <= 1: missing
    values[6:9] = [50.0, 60.0, 0.0]  # confidence 0: missing
    kpts = coco18_from_openpose(values, "x.json")
    assert kpts[:3].tolist() == [[0.0, 0.0, 0.0]] * 3
    assert kpts[3].tolist() == [50.0, 60.0, 1.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"people": [{"pose_keypoints_2d": [1.0] * 51}]}, "expected 54 (COCO-18) or 75 (BODY_25) pose values, got 51"),
        ({"people": [{"face_keypoints_2d": []}]}, "people[0] has neither 'pose_keypoints_2d' nor 'pose_keypoints'"),
        ({"version": 1.3}, "no 'people' list"),
        ({"people": [{"pose_keypoints": ["a"] * 54}]}, "pose values must be numbers"),
    ],
)
def test_bad_json_content_names_the_file(tmp_path, content, message):
    path = tmp_path / "bad_keypoints.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DatasetFormatError) as info:
        read_openpose_json(path)
    assert str(info.value) == f"{path}: {message}"


def test_invalid_json_and_missing_file(tmp_path):
    path = tmp_path / "broken_keypoints.json"
    path.write_text('{"people": [')
    with pytest.raises(DatasetFormatError) as info:
        read_openpose_json(path)
    assert str(info.value) == f"{path}: invalid JSON (Expecting value at line 1)"
    with pytest.raises(DatasetFormatError, match="file not found"):
        read_openpose_json(tmp_path / "absent.json")


def test_deepfashion_lists_are_y_first_with_minus_one_missing():
    ys = [24, -1] + [10] * 16
    xs = [129, -1] + [20] * 16
    kpts = keypoints_from_yx(ys, xs)
    assert kpts[0].tolist() == [129.0, 24.0, 1.0]
    assert kpts[1].tolist() == [0.0, 0.0, 0.0]


def test_rescale_maps_image_edges_and_centres():
    kpts = torch.tensor([[95.5, 127.5, 1.0], [-0.5, -0.5, 1.0], [3.0, 4.0, 0.0]] + [[0.0, 0.0, 0.0]] * 15)
    out = rescale_keypoints(kpts, (256, 192), (128, 96))
    assert out[0].tolist() == [47.5, 63.5, 1.0]  # image centre -> image centre
    assert out[1].tolist() == [-0.5, -0.5, 1.0]  # top-left image corner -> top-left corner
    assert out[2].tolist() == [3.0, 4.0, 0.0]  # missing joints are not moved


def test_disk_maps_count_lattice_points_and_zero_for_missing():
    kpts = torch.zeros(18, 3)
    kpts[0] = torch.tensor([5.0, 6.0, 1.0])
    kpts[1] = torch.tensor([5.0, 6.0, 0.0])  # missing: zero map even with coordinates
    maps = KeypointMapEncoder("disk", radius=2.0)(kpts, (12, 10))
    assert maps.shape == (18, 12, 10)
    assert maps[0].sum() == 13  # integer points with x^2 + y^2 <= 4
    assert maps[0, 6, 5] == 1 and maps[0, 6, 8] == 0 and maps[0, 8, 5] == 1
    assert maps[1:].abs().sum() == 0


def test_gaussian_map_values():
    kpts = torch.zeros(18, 3)
    kpts[3] = torch.tensor([4.0, 4.0, 1.0])
    maps = KeypointMapEncoder("gaussian", sigma=2.0)(kpts, (9, 9))
    assert maps[3, 4, 4] == 1.0
    assert maps[3, 4, 7].item() == pytest.approx(math.exp(-9 / 8))
    assert maps[3, 7, 8].item() == pytest.approx(math.exp(-25 / 8))


def test_encoder_rejects_bad_options():
    with pytest.raises(ValueError, match="kind must be 'disk' or 'gaussian', got 'square'"):
        KeypointMapEncoder("square")
    with pytest.raises(ValueError, match="radius and sigma must be > 0"):
        KeypointMapEncoder("disk", radius=0.0)
