"""Seed 002's L_per at several resolutions (Sec. 3.3, Eq. 5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losses.perceptual import PerceptualLoss
from losses.pyramid_perceptual import PyramidPerceptualLoss
from models.vgg import VGG19Features


@pytest.fixture(scope="module")
def perceptual() -> PerceptualLoss:
    torch.manual_seed(0)
    return PerceptualLoss(
        VGG19Features(layers=("relu1_1", "relu2_1"), weights="random"), {"relu1_1": 1.0, "relu2_1": 1.0}
    )


def test_sums_the_per_scale_losses_of_downsampled_images(perceptual) -> None:
    torch.manual_seed(1)
    pred, target = torch.rand(2, 3, 32, 24) * 2 - 1, torch.rand(2, 3, 32, 24) * 2 - 1
    loss = PyramidPerceptualLoss(perceptual, scales=(1.0, 0.5))(pred, target)

    def half(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(16, 12), mode="bilinear", antialias=True, align_corners=False)

    expected = perceptual(pred, target) + perceptual(half(pred), half(target))
    torch.testing.assert_close(loss, expected)
    assert PyramidPerceptualLoss(perceptual, scales=(1.0, 0.5))(pred, pred).item() == 0.0


def test_scales_are_checked(perceptual) -> None:
    with pytest.raises(ValueError, match=r"scales must lie in \(0, 1\], got \[1.0, 2.0\]"):
        PyramidPerceptualLoss(perceptual, scales=(1.0, 2.0))
