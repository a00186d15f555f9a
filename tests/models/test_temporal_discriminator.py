"""Temporal discriminator ``D_t`` (``models/temporal_discriminator.py``): it sees the frames in order."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from losses.adversarial import lsgan_d_loss
from models.discriminator import MultiScaleDiscriminator
from models.temporal_discriminator import TemporalDiscriminator

TINY = partial(MultiScaleDiscriminator, num_scales=1, base_width=8, n_down=1)


def moving_texture(steps: int = 4, size: tuple[int, int] = (16, 12)) -> torch.Tensor:
    """``[1, steps, 3, H, W]``: a random texture moving right by 1 px per frame (every patch sees the motion)."""
    texture = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return torch.stack([texture.roll(t, dims=-1) for t in range(steps)], 1)


def test_a_shuffled_stack_scores_differently_after_a_few_steps() -> None:
    torch.manual_seed(0)
    d_t = TemporalDiscriminator(3, 4, TINY)
    optimizer = torch.optim.Adam(d_t.parameters(), lr=5e-3)
    ordered = moving_texture()
    shuffled = ordered[:, [2, 0, 3, 1]]  # the same frames, out of order
    for _ in range(60):  # real = in order, fake = shuffled
        loss = lsgan_d_loss(d_t(ordered), d_t(shuffled))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert not torch.allclose(d_t(ordered)[0], d_t(shuffled)[0])
        real, fake = d_t(ordered)[0].mean(), d_t(shuffled)[0].mean()
    assert real - fake > 0.5, (real, fake)  # LSGAN targets: 1 for real, 0 for fake


def test_frames_are_stacked_on_channels_in_time_order() -> None:
    net = torch.nn.Identity()
    d_t = TemporalDiscriminator(3, 4, lambda channels: net)
    frames = torch.rand(2, 4, 3, 8, 6)
    out = d_t(frames)
    assert out.shape == (2, 12, 8, 6)
    torch.testing.assert_close(out[:, 3:6], frames[:, 1])


def test_bad_input_is_named() -> None:
    d_t = TemporalDiscriminator(3, 4, TINY)
    with pytest.raises(ValueError, match=r"\[B, 4, 3, H, W\]"):
        d_t(torch.rand(1, 3, 3, 16, 12))
    with pytest.raises(ValueError, match="n_frames"):
        TemporalDiscriminator(3, 1, TINY)
