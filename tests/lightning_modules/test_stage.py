"""``StageModule`` plumbing (``lightning_modules/stage.py``): the discriminator loss with its lazy R1 penalty."""

import pytest
import torch
from torch import nn

from lightning_modules.stage import StageModule
from losses.adversarial import gradient_penalty, lsgan_d_loss


class BatchIndexed(StageModule):
    """A stage without networks whose training-batch index the test sets."""

    training_batch_index = 0  # replaces the trainer-backed property


def tiny_discriminator() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 3, padding=1))


def d_loss_and_gradient(stage: StageModule, discriminator: nn.Module, real, fake) -> tuple[float, list[torch.Tensor]]:  # noqa: ANN001
    discriminator.zero_grad(set_to_none=True)
    loss = stage.discriminator_loss(discriminator, real, fake, gp_weight=1.0)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in discriminator.parameters()]


@pytest.mark.parametrize("interval", [4, 16])
def test_lazy_r1_gives_the_eager_loss_and_d_gradient_in_expectation_over_its_interval(interval: int) -> None:
    """With D and the batch fixed, the mean over ``interval`` consecutive batches of the lazy loss and of its gradient
    in D's weights equals the every-batch (paper) loss and gradient: the same expected penalty."""
    torch.manual_seed(1)
    real, fake = torch.randn(2, 3, 12, 10), torch.randn(2, 3, 12, 10)
    discriminator = tiny_discriminator()
    eager = BatchIndexed()
    eager_loss, eager_grad = d_loss_and_gradient(eager, discriminator, real, fake)
    lazy = BatchIndexed()
    lazy.r1_interval = interval
    losses, grads = [], []
    for index in range(5, 5 + interval):  # any window of `interval` batches
        lazy.training_batch_index = index
        loss, grad = d_loss_and_gradient(lazy, discriminator, real, fake)
        losses.append(loss)
        grads.append(grad)
    assert sum(losses) / interval == pytest.approx(eager_loss, rel=1e-5)
    for eager_g, lazy_g in zip(eager_grad, zip(*grads, strict=True), strict=True):
        torch.testing.assert_close(torch.stack(lazy_g).mean(0), eager_g, rtol=1e-4, atol=1e-6)
    # and the penalty is really there: without it the eager loss would be smaller
    assert eager_loss > lsgan_d_loss(discriminator(real), discriminator(fake)).item() + 1e-4


def test_r1_batches_carry_interval_times_the_penalty_and_other_batches_none() -> None:
    torch.manual_seed(2)
    real, fake = torch.randn(2, 3, 12, 10), torch.randn(2, 3, 12, 10)
    discriminator = tiny_discriminator()
    stage = BatchIndexed()
    stage.r1_interval = 8
    plain = lsgan_d_loss(discriminator(real), discriminator(fake)).item()
    x = real.clone().requires_grad_()
    penalty = gradient_penalty(discriminator(x), x, 1.0).item()
    stage.training_batch_index = 16
    expected = plain + 8 * penalty
    assert stage.discriminator_loss(discriminator, real, fake, 1.0).item() == pytest.approx(expected, rel=1e-5)
    stage.training_batch_index = 17
    assert stage.discriminator_loss(discriminator, real, fake, 1.0).item() == pytest.approx(plain, rel=1e-6)


def test_a_zero_gp_weight_never_computes_the_penalty() -> None:
    real, fake = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    discriminator = tiny_discriminator()
    loss = BatchIndexed().discriminator_loss(discriminator, real, fake, gp_weight=0.0)
    assert loss.item() == pytest.approx(lsgan_d_loss(discriminator(real), discriminator(fake)).item())
    assert not real.requires_grad  # the caller's tensor is left alone
