"""Seed 004's generator: dual-path U-Net, feature warping with visibility gating, pixel warping (Sec. 3.2-3.5)."""

from __future__ import annotations

import pytest
import torch

from contract.flow import warp
from models.intrinsic_generator import FeatureWarping, IntrinsicGenerator


def tiny_generator(guide_channels: int = 0, num_levels: int = 3) -> IntrinsicGenerator:
    torch.manual_seed(0)
    return IntrinsicGenerator(
        18, guide_channels, num_levels=num_levels, base_width=8, max_width=16, blocks_per_level=1,
        weighting_levels=2, weighting_width=4,
    ).eval()  # fmt: skip


def inputs(height: int = 32, width: int = 24) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(1)
    source = torch.rand(2, 3, height, width) * 2 - 1
    return (
        source,
        torch.rand(2, 18, height, width),
        3 * torch.randn(2, 2, height, width),
        torch.randn(2, 3, height, width),
    )


@pytest.mark.parametrize("size", [(32, 24), (64, 44)])  # 44 does not halve evenly three times: resized skips
def test_pixel_warping_blends_the_warped_source_and_the_feature_image(size) -> None:
    generator = tiny_generator(num_levels=4)
    source, pose, flow, vis_logits = inputs(*size)
    with torch.no_grad():
        out = generator(source, pose, flow, vis_logits)
    torch.testing.assert_close(out.warped, warp(source, flow))
    torch.testing.assert_close(out.image, out.weight * out.warped + (1 - out.weight) * out.feature_image)  # Eq. 3
    assert out.weight.min() > 0 and out.weight.max() < 1 and out.feature_image.abs().max() <= 1


def test_feature_warping_is_a_warp_plus_a_visibility_gated_residual() -> None:
    torch.manual_seed(0)
    module = FeatureWarping(4).eval()
    features = torch.randn(1, 4, 8, 6)
    flow = torch.zeros(1, 2, 32, 24)
    flow[:, 1] = -8.0  # 8 image pixels up = 2 feature pixels at a quarter of the size
    vis = torch.softmax(torch.randn(1, 3, 32, 24), 1)
    with torch.no_grad():
        out = module(features, flow, vis)
        module.body[-1][0].weight.zero_()  # no residual: the output is the warped features alone
        plain = module(features, flow, vis)
    torch.testing.assert_close(plain[:, :, 2:], features[:, :, :-2])
    assert (out - plain).abs().max() > 1e-3  # the gated branch contributes ...
    with torch.no_grad():
        module2 = FeatureWarping(4).eval()
        only_visible = module2(features, flow, torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 32, 24))
        only_invisible = module2(features, flow, torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 32, 24))
    assert (only_visible - only_invisible).abs().max() > 1e-3  # ... and depends on the visibility class


def test_visibility_and_fusion_guide_change_the_result() -> None:
    generator = tiny_generator(guide_channels=3)
    source, pose, flow, vis_logits = inputs()
    with torch.no_grad():
        a = generator(source, pose, flow, vis_logits, torch.zeros(2, 3, 32, 24)).feature_image
        b = generator(source, pose, flow, vis_logits, torch.ones(2, 3, 32, 24)).feature_image
        c = generator(source, pose, flow, -vis_logits, torch.zeros(2, 3, 32, 24)).feature_image
    assert (a - b).abs().max() > 1e-3 and (a - c).abs().max() > 1e-3


def test_bad_inputs_are_named() -> None:
    generator = tiny_generator()
    source, pose, flow, vis_logits = inputs()
    with pytest.raises(ValueError, match="expects 18 pose \\(\\+ guide\\) channels, got 21"):
        generator(source, pose, flow, vis_logits, torch.zeros(2, 3, 32, 24))
    with pytest.raises(ValueError, match=r"vis_logits must be \[B, 3, 32, 24\], got \(2, 2, 32, 24\)"):
        generator(source, pose, flow, vis_logits[:, :2])
    with pytest.raises(ValueError, match=r"source image \[B, 3, H, W\], got \(2, 1, 32, 24\)"):
        generator(source[:, :1], pose, flow, vis_logits)
