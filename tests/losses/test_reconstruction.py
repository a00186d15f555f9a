"""Masked L1 (``losses/reconstruction.py``) against hand-computed values."""

import pytest
import torch

from losses.reconstruction import l1_loss


def test_unmasked_is_the_mean_absolute_error() -> None:
    pred = torch.tensor([1.0, -2.0, 0.0, 3.0]).view(1, 1, 2, 2)
    assert l1_loss(pred, torch.zeros_like(pred)).item() == pytest.approx(1.5)


def test_mask_averages_inside_the_mask_only() -> None:
    pred = torch.tensor([[1.0, 5.0], [2.0, 7.0]]).view(1, 2, 1, 2)  # channel 0: 1, 5; channel 1: 2, 7
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)  # keeps the first pixel of both channels
    assert l1_loss(pred, torch.zeros_like(pred), mask).item() == pytest.approx((1 + 2) / 2)
    soft = torch.tensor([0.5, 0.5]).view(1, 1, 1, 2)
    assert l1_loss(pred, torch.zeros_like(pred), soft).item() == pytest.approx((1 + 5 + 2 + 7) / 4)


def test_empty_mask_gives_zero_and_a_gradient() -> None:
    pred = torch.ones(1, 3, 2, 2, requires_grad=True)
    loss = l1_loss(pred, torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None and pred.grad.abs().sum() == 0


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"pred \(1, 3, 2, 2\) and target \(1, 1, 2, 2\) differ"):
        l1_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"mask \(1, 2, 2, 2\) does not broadcast to pred \(1, 3, 2, 2\)"):
        l1_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.ones(1, 2, 2, 2))
