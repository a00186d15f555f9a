"""Seed 004's vanilla conditional GAN loss (Sec. 3.6, Eq. 4)."""

from __future__ import annotations

import math

import pytest
import torch

from losses.vanilla_gan import bce_d_loss, bce_g_loss


def test_known_answers() -> None:
    undecided = torch.zeros(2, 1, 4, 4)  # D(x) = sigmoid(0) = 1/2 everywhere
    assert bce_d_loss(undecided, undecided).item() == pytest.approx(2 * math.log(2))
    assert bce_g_loss(undecided).item() == pytest.approx(math.log(2))
    assert bce_g_loss([undecided, undecided]).item() == pytest.approx(2 * math.log(2))  # summed over scales
    confident = torch.full((1, 1, 2, 2), 20.0)
    assert bce_d_loss(confident, -confident).item() < 1e-6  # real scored real, fake scored fake
    assert bce_g_loss(-confident).item() == pytest.approx(20.0, rel=1e-3)  # non-saturating: large when D wins


def test_mismatched_scale_lists_and_empty_inputs_fail() -> None:
    with pytest.raises(ValueError, match="1 real but 2 fake score maps"):
        bce_d_loss([torch.zeros(1)], [torch.zeros(1), torch.zeros(1)])
    with pytest.raises(ValueError, match="empty list"):
        bce_g_loss([])
