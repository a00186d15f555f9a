"""SPG-VTON's conductible cycle loss (``losses/cycle.py``): zero when GMM 2 inverts GMM 1 exactly."""

import pytest
import torch

from losses.cycle import conductible_cycle_loss
from models.tps import pixels_to_normalized, regular_grid, tps_warp


def test_by_hand() -> None:
    ones, zeros = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    torch.testing.assert_close(conductible_cycle_loss(ones, zeros, zeros, 0.5 * ones), torch.tensor(1.5))


def test_zero_when_the_second_tps_inverts_the_first_exactly() -> None:
    """GMM 1 shifts the cloth by whole pixels onto the target, GMM 2 shifts it back: both terms vanish. A wrong
    second warp (no shift back) leaves the reconstruction term."""
    height, width = 24, 18
    cloth = torch.zeros(1, 3, height, width)
    cloth[..., 6:18, 5:13] = torch.rand(1, 3, 12, 8) * 2 - 1  # a garment on a zero background
    rest = regular_grid(4)
    shift = pixels_to_normalized(torch.tensor([3.0, 2.0]), (height, width)) + 1  # (3, 2) px in normalised units
    warped = tps_warp(cloth, rest - shift, rest)  # content moves by +3 px in x, +2 px in y
    target = torch.zeros_like(cloth)
    target[..., 8:20, 8:16] = cloth[..., 6:18, 5:13]
    torch.testing.assert_close(warped, target, atol=1e-4, rtol=0)
    reconstructed = tps_warp(warped, rest + shift, rest)
    assert conductible_cycle_loss(warped, target, reconstructed, cloth) < 1e-4
    assert conductible_cycle_loss(warped, target, warped, cloth) > 0.05


def test_shape_mismatch_is_named() -> None:
    a, b = torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"must share one shape, got \(1, 3, 4, 4\), \(1, 3, 4, 4\), \(1, 1, 4, 4\)"):
        conductible_cycle_loss(a, a, b, a)
