"""Warping error (``metrics/temporal.py``): known answers, batching independence, bad input."""

from __future__ import annotations

import pytest
import torch

from metrics.temporal import WarpingError


def test_zero_along_the_true_flow_and_the_squared_difference_without_it() -> None:
    texture = torch.rand(1, 3, 16, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    frames = torch.stack([texture.roll(2 * t, dims=-1) for t in range(3)], 1)  # moving right 2 px per frame
    flows = torch.zeros(1, 2, 2, 16, 12)
    flows[:, :, 0] = -2
    valid = torch.ones(1, 2, 16, 12, dtype=torch.bool)
    valid[..., :2] = False
    metric = WarpingError()
    metric.update(frames, flows, valid)
    assert metric.compute() < 1e-10
    still = WarpingError()
    still.update(frames, torch.zeros_like(flows), valid)
    unit = (frames + 1) / 2  # errors are on the [0, 1] scale, squared and summed over channels
    expected = (unit[:, 1:] - unit[:, :-1]).pow(2).sum(2)[..., 2:].mean()
    torch.testing.assert_close(still.compute(), expected.float())


def test_mean_over_frame_pairs_whatever_the_batching() -> None:
    """Two pairs with errors 0.25 and 1 (grey levels 0.5 and 1 apart on one channel): the mean is 0.625 whether they
    come in one update or two; a pair without valid pixels is not counted."""
    frames = -torch.ones(2, 2, 1, 8, 6)
    frames[0, 1] = 0.0  # [0, 1] scale: 0 -> 0.5
    frames[1, 1] = 1.0  # 0 -> 1
    flows = torch.zeros(2, 1, 2, 8, 6)
    together = WarpingError()
    together.update(frames, flows)
    split = WarpingError()
    split.update(frames[:1], flows[:1])
    split.update(frames[1:], flows[1:])
    split.update(frames[1:], flows[1:], torch.zeros(1, 1, 8, 6))  # nothing valid: not counted
    assert together.compute().item() == pytest.approx(0.625)
    assert split.compute().item() == pytest.approx(0.625)
    assert split.num_pairs == 2


def test_bad_input_is_named() -> None:
    metric = WarpingError()
    with pytest.raises(ValueError, match="T >= 2"):
        metric.update(torch.rand(1, 1, 3, 8, 6), torch.zeros(1, 0, 2, 8, 6))
    with pytest.raises(ValueError, match="flows"):
        metric.update(torch.rand(1, 3, 3, 8, 6), torch.zeros(1, 3, 2, 8, 6))
    with pytest.raises(ValueError, match="valid"):
        metric.update(torch.rand(1, 3, 3, 8, 6), torch.zeros(1, 2, 2, 8, 6), torch.ones(1, 2, 1, 8, 6))
    with pytest.raises(ValueError, match="data_range"):
        WarpingError(data_range=(1.0, 1.0))
