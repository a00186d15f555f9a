"""Keypoint reading (OpenPose JSON, DeepFashion lists), rescaling and keypoint maps, on real fixture files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from contract.errors import DatasetFormatError
from datamodules.pose import (
    KeypointMapEncoder,
    coco18_from_openpose,
    keypoints_from_yx,
    read_openpose_json,
    rescale_keypoints,
    shift_keypoints,
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


def dense_keypoint_maps(encoder: KeypointMapEncoder, kpts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The reference: the encoder's formula evaluated on every pixel of every map ``[J, H, W]``."""
    ys = torch.arange(size[0], dtype=torch.float32).view(1, -1, 1)
    xs = torch.arange(size[1], dtype=torch.float32).view(1, 1, -1)
    dist2 = (xs - kpts[:, 0].view(-1, 1, 1)) ** 2 + (ys - kpts[:, 1].view(-1, 1, 1)) ** 2
    missing = (kpts[:, 2] <= 0).view(-1, 1, 1)
    if encoder.kind == "disk":
        return ((dist2 <= encoder.radius**2) & ~missing).float()
    return torch.exp(-dist2 / (2.0 * encoder.sigma**2)).masked_fill_(missing, 0.0)


@pytest.mark.parametrize(
    "encoder",
    [KeypointMapEncoder("disk", radius=4.0), KeypointMapEncoder("disk", radius=2.5), KeypointMapEncoder("gaussian")]
    + [KeypointMapEncoder("gaussian", sigma=1.3)],
)
def test_boxed_maps_equal_the_dense_formula_bit_for_bit(encoder: KeypointMapEncoder):
    generator = torch.Generator().manual_seed(0)
    for size in ((64, 48), (9, 40), (5, 5)):
        kpts = torch.rand(18, 3, generator=generator)
        kpts[:, 0] = kpts[:, 0] * (size[1] + 30) - 15  # some joints off the image, near every edge
        kpts[:, 1] = kpts[:, 1] * (size[0] + 30) - 15
        kpts[:4, :2] = torch.tensor([[0.5, 0.5], [size[1] - 0.5, 3.0], [4.0 + 2e-6, 6.0], [-4.0, -0.5]])
        kpts[:, 2] = (kpts[:, 2] > 0.2).float()
        kpts[4] = torch.tensor([float("inf"), 3.0, 1.0])  # infinitely far away: a zero map, as the formula gives
        assert torch.equal(encoder(kpts, size), dense_keypoint_maps(encoder, kpts, size)), size


@pytest.mark.parametrize("encoder", [KeypointMapEncoder("disk", radius=3.0), KeypointMapEncoder("gaussian", sigma=2.0)])
def test_a_batch_of_keypoints_draws_its_samples_maps_stacked(encoder: KeypointMapEncoder):
    """``[B, T, J, 3]`` -> ``[B, T, J, H, W]``, bit for bit the per-sample maps, missing and far joints included."""
    generator = torch.Generator().manual_seed(1)
    kpts = torch.rand(3, 2, 18, 3, generator=generator) * torch.tensor([60.0, 80.0, 1.0]) - torch.tensor([6, 8, 0])
    kpts[..., 2] = (kpts[..., 2] > 0.3).float()
    kpts[0, 0, 5] = torch.tensor([float("inf"), 2.0, 1.0])
    kpts[1, 1, 6] = torch.tensor([float("nan"), 2.0, 0.0])  # missing
    maps = encoder(kpts, (64, 48))
    assert maps.shape == (3, 2, 18, 64, 48)
    for b in range(3):
        for t in range(2):
            assert torch.equal(maps[b, t], encoder(kpts[b, t], (64, 48)))
            assert torch.equal(maps[b, t], dense_keypoint_maps(encoder, kpts[b, t].nan_to_num(), (64, 48)))
    assert encoder(torch.zeros(0, 18, 3), (8, 6)).shape == (0, 18, 8, 6)


def test_draw_does_not_check_so_a_visible_nan_joint_draws_nothing():
    kpts = torch.zeros(18, 3)
    kpts[2] = torch.tensor([float("nan"), 1.0, 1.0])
    assert KeypointMapEncoder().draw(kpts, (8, 6)).abs().sum() == 0  # no host sync for a check on a GPU
    with pytest.raises(ValueError, match="visible keypoints must not be NaN"):
        KeypointMapEncoder.check(kpts)


def test_gaussian_is_not_truncated_near_the_joint():
    kpts = torch.zeros(18, 3)
    kpts[0] = torch.tensor([24.0, 32.0, 1.0])
    maps = KeypointMapEncoder("gaussian", sigma=2.0)(kpts, (64, 48))
    # exp(-d^2 / 8) at d = 24 px is exp(-72) ~ 5e-32: kept, far beyond any 3-sigma cut
    assert maps[0, 32, 0].item() == pytest.approx(math.exp(-72.0), rel=1e-5)
    assert torch.equal(maps, dense_keypoint_maps(KeypointMapEncoder("gaussian", sigma=2.0), kpts, (64, 48)))


def test_encoder_rejects_visible_nan_keypoints_but_not_missing_ones():
    kpts = torch.zeros(18, 3)
    kpts[2] = torch.tensor([float("nan"), 1.0, 0.0])  # missing: ignored
    assert KeypointMapEncoder()(kpts, (8, 6)).abs().sum() == 0
    kpts[2, 2] = 1.0
    with pytest.raises(ValueError, match="visible keypoints must not be NaN"):
        KeypointMapEncoder()(kpts, (8, 6))


def test_shift_moves_visible_joints_exactly_like_the_float_formula():
    kpts = torch.tensor([[10.25, 20.5, 1.0], [3.0, 4.0, 0.0], [-1.5, 7.75, 2.0]] + [[0.0, 0.0, 0.0]] * 15)
    out = shift_keypoints(kpts, dx=0.1, dy=-0.3, sx=0.7, sy=1.3)
    assert out[0].tolist() == [(kpts[0, 0] * 0.7 + 0.1).item(), (kpts[0, 1] * 1.3 - 0.3).item(), 1.0]
    assert out[2].tolist() == [(kpts[2, 0] * 0.7 + 0.1).item(), (kpts[2, 1] * 1.3 - 0.3).item(), 2.0]
    assert out[1].tolist() == [3.0, 4.0, 0.0]  # missing joints keep their values
    double = shift_keypoints(kpts.double(), sx=1 / 3)
    assert double.dtype == torch.float64 and double[0, 0].item() == 10.25 / 3  # computed in the input's precision
