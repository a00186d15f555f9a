"""The intrinsic-flow regressor (``models/flow_regressor.py``): widths, both poses used, odd sizes, bad input."""

import pytest
import torch

from models.flow_regressor import FlowAndVisibility, FlowRegressor


def tiny_regressor() -> FlowRegressor:
    torch.manual_seed(0)
    return FlowRegressor(base_width=8, max_width=16, num_levels=4, blocks_per_level=1).eval()


def test_outputs_depend_on_both_poses_and_keep_the_input_size_at_odd_sizes() -> None:
    """44 and 11 do not halve evenly (DeepFashion's 176 width does the same at depth 4): the decoder must still
    meet every skip connection and return the input size."""
    regressor = tiny_regressor()
    src, tgt = torch.rand(2, 18, 64, 44), torch.rand(2, 18, 64, 44)
    with torch.no_grad():
        out = regressor(src, tgt)
        moved_target = regressor(src, tgt.roll(5, dims=-1))
        moved_source = regressor(src.roll(5, dims=-1), tgt)
    assert isinstance(out, FlowAndVisibility)
    assert out.flow.shape == (2, 2, 64, 44) and out.vis_logits.shape == (2, 3, 64, 44)
    assert not torch.allclose(moved_target.flow, out.flow)
    assert not torch.allclose(moved_source.flow, out.flow)


def test_a_few_steps_fit_a_constant_flow_and_a_visibility_map() -> None:
    torch.manual_seed(0)
    regressor = FlowRegressor(base_width=8, max_width=16, num_levels=3, blocks_per_level=1)
    src, tgt = torch.rand(2, 18, 32, 24), torch.rand(2, 18, 32, 24)
    flow_gt = torch.tensor([3.0, -2.0]).view(1, 2, 1, 1).expand(2, 2, 32, 24)
    vis_gt = torch.zeros(2, 32, 24, dtype=torch.long)
    vis_gt[:, 8:24] = 1
    vis_gt[:, 14:18, 8:16] = 2
    optimizer = torch.optim.Adam(regressor.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        out = regressor(src, tgt)
        epe = (out.flow - flow_gt).norm(dim=1).mean()
        return epe + torch.nn.functional.cross_entropy(out.vis_logits, vis_gt)

    first = loss().item()
    for _ in range(40):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.3 * first


def test_wrong_channel_counts_are_named() -> None:
    regressor = tiny_regressor()
    with pytest.raises(ValueError, match=r"must both be \[B, 18, H, W\], got \(1, 17, 32, 24\) and \(1, 18, 32, 24\)"):
        regressor(torch.zeros(1, 17, 32, 24), torch.zeros(1, 18, 32, 24))
