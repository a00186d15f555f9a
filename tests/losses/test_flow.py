"""Stage-2 flow losses (``losses/flow.py``) against hand-computed values."""

import math

import pytest
import torch
import torch.nn.functional as F

from losses.flow import (
    end_point_error,
    roi_perceptual_loss,
    shared_labels,
    smoothness_loss,
    structure_loss,
    visibility_cross_entropy,
)
from losses.perceptual import PerceptualLoss
from models.vgg import VGG19Features


def test_smoothness_of_a_ramp_is_its_slope_summed_over_levels() -> None:
    xs = torch.arange(6.0).view(1, 1, 1, 6).expand(2, 1, 4, 6)
    ramp = torch.cat([0.5 * xs, torch.zeros_like(xs)], 1)  # F_x = 0.5 x, F_y = 0
    steps = torch.zeros(1, 2, 3, 3)
    steps[:, 1, 1:] = 2.0  # F_y jumps by 2 between rows 0 and 1: |dy| = 2 on 3 of 6 vertical differences
    torch.testing.assert_close(smoothness_loss([ramp]), torch.tensor(0.5))
    torch.testing.assert_close(smoothness_loss([ramp, steps]), torch.tensor(0.5 + 1.0))
    assert smoothness_loss([torch.full((1, 2, 5, 5), 7.0)]) == 0  # constant flows are free
    with pytest.raises(ValueError, match=r"flows must be \[B, 2, H, W\], got \(1, 3, 4, 4\)"):
        smoothness_loss([torch.zeros(1, 3, 4, 4)])


def test_end_point_error_by_hand_with_and_without_a_validity_mask() -> None:
    pred = torch.zeros(1, 2, 1, 3)
    target = torch.tensor([[3.0, 0.0, 1.0], [4.0, 0.0, 0.0]]).view(1, 2, 1, 3)  # errors 5, 0, 1
    torch.testing.assert_close(end_point_error(pred, target), torch.tensor(2.0))
    valid = torch.tensor([[[True, False, True]]])
    torch.testing.assert_close(end_point_error(pred, target, valid), torch.tensor(3.0))
    torch.testing.assert_close(end_point_error(pred, target, valid.unsqueeze(1).float()), torch.tensor(3.0))
    assert end_point_error(pred, target, torch.zeros(1, 1, 3, dtype=torch.bool)) == 0


def test_end_point_error_gradient_is_finite_at_zero_error() -> None:
    pred = torch.zeros(1, 2, 2, 2, requires_grad=True)
    end_point_error(pred, torch.zeros(1, 2, 2, 2)).backward()
    assert torch.isfinite(pred.grad).all()


def test_end_point_error_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"flows \[B, 2, H, W\] of one shape, got \(1, 3, 2, 2\)"):
        end_point_error(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"valid must be \[B, H, W\] = \(1, 2, 2\), got \(1, 2, 3\)"):
        end_point_error(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2), torch.ones(1, 2, 3))


def test_visibility_cross_entropy_by_hand() -> None:
    logits = torch.zeros(1, 3, 1, 2)
    logits[0, :, 0, 0] = torch.tensor([0.0, math.log(2.0), 0.0])  # softmax = (1/4, 1/2, 1/4)
    target = torch.tensor([[[1, 2]]])
    expected = (-math.log(0.5) - math.log(1 / 3)) / 2  # second pixel: uniform
    torch.testing.assert_close(visibility_cross_entropy(logits, target), torch.tensor(expected))


def test_visibility_cross_entropy_names_bad_labels_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"target labels span 0..3, outside 0..2"):
        visibility_cross_entropy(torch.zeros(1, 3, 1, 2), torch.tensor([[[0, 3]]]))
    with pytest.raises(ValueError, match="must hold integer labels"):
        visibility_cross_entropy(torch.zeros(1, 3, 1, 2), torch.zeros(1, 1, 2))
    with pytest.raises(ValueError, match=r"expected logits \[B, 3, H, W\] and target \[B, H, W\]"):
        visibility_cross_entropy(torch.zeros(1, 20, 1, 2), torch.zeros(1, 1, 2, dtype=torch.long))


def test_structure_loss_counts_only_labels_present_in_both_maps() -> None:
    source = torch.zeros(2, 2, 2, 2)
    target = torch.zeros(2, 2, 2, 2)
    warped = torch.zeros(2, 2, 2, 2)
    source[0, 0, 0, 0] = source[0, 1, 0, 0] = source[1, 0, 0, 0] = 1  # sample 1 lacks label 1 in the source
    target[:, :, 1, 1] = 1  # both labels exist in both targets
    warped[:, :, 0, 0] = 1  # every warped mask misses its target: |diff| = 2 of 4 pixels -> 0.5 per label
    assert shared_labels(source, target).tolist() == [[1.0, 1.0], [1.0, 0.0]]
    # sample 0: 0.5 + 0.5, sample 1: 0.5 (label 1 not counted) -> mean 0.75
    torch.testing.assert_close(structure_loss(warped, target, source), torch.tensor(0.75))
    assert structure_loss(target, target, source) == 0


def test_roi_perceptual_loss_is_the_masked_perceptual_loss_averaged_with_absent_samples_as_zero() -> None:
    torch.manual_seed(0)
    perceptual = PerceptualLoss(VGG19Features(layers=("relu1_1", "relu2_1"), weights="random"), {"relu1_1": 1.0})
    warped, target = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    masks = torch.zeros(2, 1, 16, 16)
    masks[:, :, 4:12, 4:12] = 1
    source = masks.clone()
    source[1] = 0  # the label is missing from sample 1's source segmentation
    got = roi_perceptual_loss(perceptual, warped, target, masks, masks, source)
    expected = perceptual(warped[:1] * masks[:1], target[:1] * masks[:1]) / 2
    torch.testing.assert_close(got, expected)
    vgg = perceptual.vgg
    by_hand = F.l1_loss(vgg(warped[:1] * masks[:1])["relu1_1"], vgg(target[:1] * masks[:1])["relu1_1"]) / 2
    torch.testing.assert_close(got, by_hand)
    assert roi_perceptual_loss(perceptual, warped, warped, masks, masks, masks) == 0


def test_roi_perceptual_loss_over_all_pairs_at_once_equals_the_per_label_subsets_and_their_gradient() -> None:
    """Several labels, some absent per sample: the one-batch form (no data-dependent shapes) gives the per-label sum
    over the samples that have the label, divided by B, and the same gradient in the warped image."""
    torch.manual_seed(1)
    perceptual = PerceptualLoss(
        VGG19Features(layers=("relu1_1", "relu2_1"), weights="random"), {"relu1_1": 1.0, "relu2_1": 0.5}
    )
    batch, labels = 4, 3
    target = torch.rand(batch, 3, 16, 12) * 2 - 1
    warped_masks = (torch.rand(batch, labels, 16, 12) > 0.5).float()
    target_masks = (torch.rand(batch, labels, 16, 12) > 0.5).float()
    source_masks = (torch.rand(batch, labels, 16, 12) > 0.5).float()
    source_masks[0, 1] = 0  # label 1 missing from sample 0, label 2 from samples 1 and 3
    source_masks[[1, 3], 2] = 0
    present = shared_labels(source_masks, target_masks)
    warped = (torch.rand(batch, 3, 16, 12) * 2 - 1).requires_grad_()
    expected = sum(
        perceptual(warped[rows] * warped_masks[rows, i : i + 1], target[rows] * target_masks[rows, i : i + 1])
        * rows.float().mean()
        for i in range(labels)
        if (rows := present[:, i] > 0).any()
    )
    (expected_grad,) = torch.autograd.grad(expected, warped)
    got = roi_perceptual_loss(perceptual, warped, target, warped_masks, target_masks, source_masks)
    (got_grad,) = torch.autograd.grad(got, warped)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got_grad, expected_grad, rtol=1e-4, atol=1e-8)
