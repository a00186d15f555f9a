"""ClothFlow's cascaded flow estimator (``models/flow_estimator.py``): identity at zero E, offsets rescaled by U."""

import pytest
import torch

from contract.flow import resize_flow, warp
from models.flow_estimator import CascadedFlowEstimator


def tiny_estimator() -> CascadedFlowEstimator:
    torch.manual_seed(0)
    return CascadedFlowEstimator(widths=(4, 8, 8, 8, 8), fpn_width=8, blocks_per_level=1).eval()


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(2, 3, 64, 48) * 2 - 1, (torch.rand(2, 1, 64, 48) > 0.5).float(), torch.rand(2, 1, 64, 48)


def perturb_fpns(estimator: CascadedFlowEstimator) -> None:
    """Random (non-zero) FPN weights, so only the E layers decide the flow."""
    for fpn in (estimator.source_fpn, estimator.target_fpn):
        for parameter in fpn.parameters():
            parameter.data.normal_(0, 0.2)


def test_all_zero_e_layers_return_the_identity_warp() -> None:
    estimator = tiny_estimator()
    perturb_fpns(estimator)
    for conv in estimator.flow_convs:
        conv.weight.data.zero_()
        conv.bias.data.zero_()
    cloth, mask, target = inputs()
    with torch.no_grad():
        out = estimator(cloth, mask, target)
    assert len(out.level_flows) == 5
    assert all(flow.abs().max() == 0 for flow in out.level_flows)
    torch.testing.assert_close(out.warped_cloth, cloth, atol=5e-5, rtol=0)
    torch.testing.assert_close(out.warped_mask, mask, atol=5e-5, rtol=0)


def test_a_coarsest_level_shift_is_upsampled_with_rescaled_offsets() -> None:
    """Only E_N predicts a constant flow at the 2x2 coarsest level; U must rescale it level by level
    (``resize_flow``), so at 64x48 it becomes ``(48 / 2, 64 / 2)`` times larger: (1/12, 3/32) -> (2, 3) pixels."""
    estimator = tiny_estimator()
    perturb_fpns(estimator)
    coarse = estimator.flow_convs[-1]
    coarse.weight.data.zero_()
    coarse.bias.data = torch.tensor([1 / 12, 3 / 32])
    cloth, mask, target = inputs()
    with torch.no_grad():
        out = estimator(cloth, mask, target)
    sizes = [tuple(f.shape[-2:]) for f in out.level_flows]
    assert sizes == [(2, 2), (4, 3), (8, 6), (16, 12), (32, 24)]
    for coarser, finer in zip(out.level_flows, out.level_flows[1:], strict=False):
        torch.testing.assert_close(finer, resize_flow(coarser, tuple(finer.shape[-2:])))
    torch.testing.assert_close(out.flow[:, 0], torch.full((2, 64, 48), 2.0), atol=5e-5, rtol=0)
    torch.testing.assert_close(out.flow[:, 1], torch.full((2, 64, 48), 3.0), atol=5e-5, rtol=0)
    # the cloth is read 2 px to the right and 3 px below: out(y, x) = cloth(y + 3, x + 2)
    torch.testing.assert_close(out.warped_cloth[..., :-3, :-2], cloth[..., 3:, 2:], atol=5e-5, rtol=0)
    torch.testing.assert_close(out.warped_mask, warp(mask, out.flow))


def test_finer_e_layers_refine_with_the_warped_source_features() -> None:
    """E_{n-1} sees the source features warped by U(F_n): with a non-zero E_1, a different coarse flow changes
    the refinement (not just the upsampled flow)."""
    estimator = tiny_estimator()
    perturb_fpns(estimator)
    estimator.flow_convs[0].weight.data.normal_(0, 0.01)
    cloth, mask, target = inputs()
    with torch.no_grad():
        base = estimator(cloth, mask, target)
        estimator.flow_convs[-1].bias.data = torch.tensor([0.5, 0.0])
        shifted = estimator(cloth, mask, target)
    upsampled = resize_flow(shifted.level_flows[-2], (32, 24))
    refinement, base_refinement = shifted.level_flows[-1] - upsampled, base.level_flows[-1]
    assert (refinement - base_refinement).abs().max() > 1e-4


def test_mismatched_sizes_are_named() -> None:
    estimator = tiny_estimator()
    with pytest.raises(
        ValueError, match=r"must share H and W, got \(1, 3, 64, 48\), \(1, 1, 64, 48\), \(1, 1, 32, 24\)"
    ):
        estimator(torch.zeros(1, 3, 64, 48), torch.zeros(1, 1, 64, 48), torch.zeros(1, 1, 32, 24))
