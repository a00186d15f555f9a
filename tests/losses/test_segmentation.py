"""Focal loss and pixel-wise cross entropy (``losses/segmentation.py``) against hand-computed values."""

import math

import pytest
import torch

from losses.segmentation import focal_loss, pixel_cross_entropy


def two_pixels() -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel 0: logits (0, 0), label 0 -> p_t = 1/2. Pixel 1: logits (ln 3, 0), label 1 -> p_t = 1/4."""
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]]).view(1, 2, 1, 2)
    target = torch.tensor([[[0, 1]]])
    return logits, target


def test_cross_entropy_by_hand() -> None:
    logits, target = two_pixels()
    assert pixel_cross_entropy(logits, target).item() == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_focal_loss_by_hand() -> None:
    logits, target = two_pixels()
    expected = ((1 - 0.5) ** 2 * math.log(2) + (1 - 0.25) ** 2 * math.log(4)) / 2
    assert focal_loss(logits, target).item() == pytest.approx(expected)
    assert focal_loss(logits, target, gamma=1.0).item() == pytest.approx((0.5 * math.log(2) + 0.75 * math.log(4)) / 2)


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 20, 8, 6)
    target = torch.randint(0, 20, (2, 8, 6))
    torch.testing.assert_close(focal_loss(logits, target, gamma=0.0), pixel_cross_entropy(logits, target))


def test_focal_loss_down_weights_confident_pixels() -> None:
    confident = torch.tensor([5.0, 0.0]).view(1, 2, 1, 1)
    target = torch.zeros(1, 1, 1, dtype=torch.long)
    ratio = focal_loss(confident, target) / pixel_cross_entropy(confident, target)
    p_t = torch.softmax(confident.flatten(), 0)[0]
    assert ratio.item() == pytest.approx(((1 - p_t) ** 2).item())


@pytest.mark.parametrize("loss", [focal_loss, pixel_cross_entropy])
def test_bad_labels_raise_naming_the_range(loss) -> None:
    logits = torch.zeros(1, 20, 2, 2)
    with pytest.raises(ValueError, match=r"target labels span 0\.\.20, outside 0\.\.19"):
        loss(logits, torch.tensor([[[0, 20], [1, 2]]]))
    with pytest.raises(ValueError, match=r"span -1\.\.2"):
        loss(logits, torch.tensor([[[0, -1], [1, 2]]]))
    with pytest.raises(ValueError, match="integer labels, got dtype torch.float32"):
        loss(logits, torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"differ in B, H or W"):
        loss(logits, torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected logits \[B, K, H, W\] and target \[B, H, W\]"):
        loss(logits, torch.zeros(1, 1, 2, 2, dtype=torch.long))
