"""LSGAN losses and the R1 gradient penalty (``losses/adversarial.py``) against hand-computed values."""

import pytest
import torch
from torch import nn

from losses.adversarial import gradient_penalty, lazy_r1_weight, lsgan_d_loss, lsgan_g_loss


def test_lsgan_discriminator_loss_by_hand() -> None:
    real = torch.tensor([1.0, 0.0]).view(2, 1, 1, 1)  # mean (r - 1)^2 = (0 + 1) / 2 = 0.5
    fake = torch.tensor([0.5, -0.5]).view(2, 1, 1, 1)  # mean f^2 = 0.25
    assert lsgan_d_loss(real, fake).item() == pytest.approx(0.5 * (0.5 + 0.25))
    # Two scales add up: the second is perfect (real 1, fake 0) and adds nothing, then a bad one adds 0.5 * (1 + 1).
    perfect = (torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2))
    assert lsgan_d_loss([real, perfect[0]], [fake, perfect[1]]).item() == pytest.approx(0.375)
    assert lsgan_d_loss([real, perfect[1]], [fake, perfect[0]]).item() == pytest.approx(0.375 + 1.0)


def test_lsgan_generator_loss_by_hand() -> None:
    fake = [torch.tensor([1.0, 0.0, 3.0]).view(1, 1, 1, 3), torch.full((1, 1, 2, 2), 0.5)]
    # scale 0: (0 + 1 + 4) / 3; scale 1: 0.25
    assert lsgan_g_loss(fake).item() == pytest.approx(5 / 3 + 0.25)


def test_mismatched_scale_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 real but 1 fake score maps"):
        lsgan_d_loss([torch.zeros(1), torch.zeros(1)], [torch.zeros(1)])
    with pytest.raises(ValueError, match="empty list"):
        lsgan_g_loss([])


class ConstantDiscriminator(nn.Module):
    """Ignores its input: a learned score map."""

    def __init__(self) -> None:
        super().__init__()
        self.score = nn.Parameter(torch.randn(1, 1, 4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score.expand(x.shape[0], -1, -1, -1)


def test_penalty_is_exactly_zero_for_a_discriminator_that_ignores_its_input() -> None:
    x = torch.randn(3, 2, 4, 4).requires_grad_()
    assert gradient_penalty(ConstantDiscriminator()(x), x).item() == 0.0
    assert gradient_penalty([ConstantDiscriminator()(x), 0.0 * x.sum(1, keepdim=True)], x).item() == 0.0


def test_penalty_of_a_linear_discriminator_by_hand() -> None:
    # D(x) = 1x1 conv with weight w, no bias: d(mean of the map)/dx = w / (H W) at every pixel,
    # so ||grad||^2 = H W ||w||^2 / (H W)^2 = ||w||^2 / (H W).
    height, width = 4, 3
    d1 = nn.Conv2d(2, 1, 1, bias=False)
    d2 = nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        d1.weight.copy_(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1))  # ||w||^2 = 5
        d2.weight.copy_(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1))
    x = torch.randn(2, 2, height, width).requires_grad_()
    penalty = gradient_penalty(d1(x), x, weight=0.5)
    assert penalty.item() == pytest.approx(0.5 * 5 / (height * width))
    # Scales are penalised one by one and summed (DG-Net), not through the gradient of their sum (that gives 4x).
    assert gradient_penalty([d1(x), d2(x)], x).item() == pytest.approx(2 * 5 / (height * width))
    # create_graph: the penalty trains D, d/dw (||w||^2 / (H W)) = 2 w / (H W).
    penalty.backward()
    torch.testing.assert_close(d1.weight.grad.flatten(), 0.5 * 2 / (height * width) * torch.tensor([1.0, 2.0]))


def test_penalty_needs_inputs_that_require_grad() -> None:
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"real_inputs must require grad; call x = real.detach\(\).requires_grad_\(\)"):
        gradient_penalty(nn.Conv2d(2, 1, 1)(x), x)


@pytest.mark.parametrize("interval", [1, 4, 16])
def test_lazy_r1_weight_has_the_eager_weight_as_its_mean_over_any_interval_of_batches(interval: int) -> None:
    weight = 2.5
    weights = [lazy_r1_weight(i, interval, weight) for i in range(3 * interval + 5)]
    for start in range(len(weights) - interval + 1):
        window = weights[start : start + interval]
        assert sum(window) / interval == pytest.approx(weight)
        assert sum(w > 0 for w in window) == 1  # exactly one penalised batch per window


def test_lazy_r1_weight_rejects_an_interval_below_one() -> None:
    with pytest.raises(ValueError, match="interval must be >= 1"):
        lazy_r1_weight(0, 0, 1.0)
