"""Seed 002's affine-preserving task: random affine draws of the target pose and L_aff (Sec. 3.1.1, Eq. 7)."""

from __future__ import annotations

import math

import pytest
import torch

from contract.flow import warp
from losses.affine import AffineRanges, affine_flow, affine_loss, affine_pose_pair, invert_affine, random_affine


def smooth_pose(batch: int = 2, size: tuple[int, int] = (48, 40)) -> torch.Tensor:
    """Broad Gaussian blobs (smooth, so two bilinear resamplings are nearly exact)."""
    ys, xs = torch.meshgrid(torch.arange(size[0]).float(), torch.arange(size[1]).float(), indexing="ij")
    blob = torch.exp(-((xs - 20) ** 2 + (ys - 22) ** 2) / (2 * 6.0**2))
    return torch.stack([blob, blob.flip(1)]).unsqueeze(0).expand(batch, 2, *size).contiguous()


def test_affine_flow_of_a_translation_is_constant_and_its_inverse_negates_it() -> None:
    translation = torch.tensor([[[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]]])
    flow = affine_flow(translation, (4, 5))
    torch.testing.assert_close(flow, torch.tensor([3.0, -2.0]).view(1, 2, 1, 1).expand(1, 2, 4, 5))
    torch.testing.assert_close(affine_flow(invert_affine(translation), (4, 5)), -flow)


def test_inverse_composes_to_the_identity() -> None:
    matrix = random_affine(8, (64, 48), torch.Generator().manual_seed(0), AffineRanges())
    inverse = invert_affine(matrix)
    composed = matrix[:, :, :2] @ inverse[:, :, :2]
    torch.testing.assert_close(composed, torch.eye(2).expand(8, 2, 2))
    torch.testing.assert_close(matrix[:, :, :2] @ inverse[:, :, 2:] + matrix[:, :, 2:], torch.zeros(8, 2, 1))


def test_draws_stay_in_their_ranges_and_keep_skeletons_upright() -> None:
    ranges = AffineRanges(rotation_deg=10.0, scale=(0.85, 1.15), shear=0.1, translate=0.1)
    matrix = random_affine(2000, (64, 48), torch.Generator().manual_seed(1), ranges)
    up = matrix[:, :, :2] @ torch.tensor([0.0, 1.0])  # where the vertical axis goes
    tilt = torch.rad2deg(torch.atan2(up[:, 0].abs(), up[:, 1]))
    assert tilt.max() < 10.0 + math.degrees(math.atan(0.1 * 1.15 / 0.85)) + 1e-3  # rotation + shear bound
    assert tilt.max() > 5.0  # the draws do use the range
    centre = torch.tensor([23.5, 31.5])
    shift = matrix[:, :, :2] @ centre + matrix[:, :, 2] - centre  # T(c) - c = b
    assert shift[:, 0].abs().max() <= 0.1 * 48 + 1e-4 and shift[:, 1].abs().max() <= 0.1 * 64 + 1e-4
    again = random_affine(2000, (64, 48), torch.Generator().manual_seed(1), ranges)
    torch.testing.assert_close(again, matrix)  # reproducible from the generator


def test_l_aff_is_zero_for_the_exact_affine_flow() -> None:
    target_pose = smooth_pose()
    shifted, target_flow = affine_pose_pair(target_pose, torch.Generator().manual_seed(2), AffineRanges())
    assert affine_loss(target_flow, target_flow).item() == 0.0
    # The target flow is the right one: it warps p_st back onto p_t (away from the borders) ...
    recovered = warp(shifted, target_flow)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert (recovered - target_pose)[inner].abs().max() < 0.03
    # ... and a wrong flow (zero motion) is worse and has a positive loss.
    assert (shifted - target_pose)[inner].abs().max() > 0.1
    assert affine_loss(torch.zeros_like(target_flow), target_flow).item() > 0.5


def test_l_aff_is_the_mean_absolute_flow_error_and_rejects_bad_shapes() -> None:
    target = torch.zeros(1, 2, 2, 2)
    flow = torch.tensor([1.0, -3.0]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    assert affine_loss(flow, target).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"must both be \[B, 2, H, W\], got \(1, 2, 2, 2\) and \(1, 2, 3, 3\)"):
        affine_loss(flow, torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"expects a target pose \[B, K, H, W\], got \(18, 4, 4\)"):
        affine_pose_pair(torch.zeros(18, 4, 4), torch.Generator())
