"""Seed 004's generator: dual-path U-Net, feature warping with visibility gating at the first 5 levels, pixel
warping with the learned weighting map ``z`` (Sec. 3.2-3.5, supplement A)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from contract.errors import ConfigError
from contract.flow import warp
from models.intrinsic_generator import FeatureWarping, IntrinsicGenerator

from config_hparams import config_optimizer


def tiny_generator(guide_channels: int = 0, num_levels: int = 3, **kwargs) -> IntrinsicGenerator:
    torch.manual_seed(0)
    arguments = {"num_levels": num_levels, "base_width": 8, "max_width": 16, "warped_levels": num_levels - 1}
    arguments |= {"blocks_per_level": 1, "weighting_levels": 2, "weighting_width": 4} | kwargs
    return IntrinsicGenerator(18, guide_channels, **arguments).eval()


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


def test_the_paper_generator_warps_exactly_the_first_5_of_its_7_levels() -> None:
    """Supplement A: N = 7 levels, widths 32 -> 128, feature warping at the first 5 levels, the bottleneck's
    appearance features concatenated unwarped. A shifted flow against the zero flow changes the appearance half of
    the skips at levels 0-4 only; at levels 5-6 it is the appearance encoder's own output, at every level the pose
    half is the pose encoder's."""
    paper = IntrinsicGenerator()
    assert len(paper.feature_warping) == 5 and paper.num_levels == 7
    assert [level[0].body[0][0].in_channels for level in paper.appearance_encoder.levels] == [
        32,
        48,
        64,
        80,
        96,
        112,
        128,
    ]
    generator = IntrinsicGenerator(base_width=4, max_width=8, blocks_per_level=1).eval()  # the paper's 7 and 5
    source, pose, _, vis_logits = inputs(64, 48)  # levels 64x48 .. 1x1
    visibility = vis_logits.softmax(1)
    shifted = torch.zeros(2, 2, 64, 48)
    shifted[:, 0] = 16.0  # one feature pixel even at level 4 (1/16 of the image)
    with torch.no_grad():
        still = generator.skip_features(source, pose, torch.zeros_like(shifted), visibility)
        moved = generator.skip_features(source, pose, shifted, visibility)
        appearance, pose_features = generator.appearance_encoder(source), generator.pose_encoder(pose)
    changed = []
    for k, (a, b) in enumerate(zip(still, moved, strict=True)):
        width = appearance[k].shape[1]
        torch.testing.assert_close(a[:, width:], pose_features[k])
        torch.testing.assert_close(b[:, width:], pose_features[k])
        if (a[:, :width] - b[:, :width]).abs().max() > 1e-4:
            changed.append(k)
        else:
            torch.testing.assert_close(a[:, :width], appearance[k])
    assert changed == [0, 1, 2, 3, 4]


def test_warped_levels_below_num_levels_and_zero_is_the_no_flow_ablation() -> None:
    with pytest.raises(ConfigError, match=r"warped_levels must be in 0\.\.2 .*bottleneck is never warped.*got 3"):
        IntrinsicGenerator(num_levels=3, warped_levels=3)
    generator = tiny_generator(warped_levels=0)  # Sec. 4.6 "w/o. flow": c_a^k and c_p^k concatenated directly
    source, pose, flow, vis_logits = inputs()
    with torch.no_grad():
        a = generator(source, pose, flow, vis_logits).feature_image
        b = generator(source, pose, -flow, vis_logits).feature_image
    torch.testing.assert_close(a, b)


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


def test_z_comes_from_an_unbounded_logit_head_and_moves_the_final_image() -> None:
    """``z = sigmoid(logits)``, the logits straight from the weighting U-Net's last conv (no tanh, no norm): a shift
    of that conv's bias shifts every logit by exactly that much, and the final image moves by ``dz (x_w - x_tilde)``
    (Eq. 3) while ``x_tilde`` stays."""
    generator = tiny_generator()
    source, pose, flow, vis_logits = inputs()
    head = generator.weighting_decoder.out
    assert isinstance(head, torch.nn.Conv2d) and head.kernel_size == (3, 3) and head.out_channels == 1
    with torch.no_grad():
        before = generator(source, pose, flow, vis_logits)
        logits = generator.pixel_weight_logits(before.warped, before.feature_image, flow, vis_logits.softmax(1))
        head.bias += 5.0
        after = generator(source, pose, flow, vis_logits)
        shifted = generator.pixel_weight_logits(after.warped, after.feature_image, flow, vis_logits.softmax(1))
    torch.testing.assert_close(shifted, logits + 5.0)
    torch.testing.assert_close(before.weight, torch.sigmoid(logits))
    torch.testing.assert_close(after.feature_image, before.feature_image)
    moved = (after.weight - before.weight) * (before.warped - before.feature_image)
    torch.testing.assert_close(after.image - before.image, moved)
    assert moved.abs().max() > 0.1


def ellipses(data: torch.Generator, batch: int, radii: tuple[float, float], height: int, width: int) -> torch.Tensor:
    """``[batch, 1, H, W]`` bool: one axis-aligned ellipse per image, centred in the middle 40 % of each axis."""
    rows, cols = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    centre = (0.3 + 0.4 * torch.rand(batch, 2, 1, 1, generator=data)) * torch.tensor([height, width]).view(1, 2, 1, 1)
    radius = radii[0] + (radii[1] - radii[0]) * torch.rand(batch, 2, 1, 1, generator=data)
    return (((rows - centre[:, 0]) / radius[:, 0]) ** 2 + ((cols - centre[:, 1]) / radius[:, 1]) ** 2 <= 1).unsqueeze(1)


def copy_the_visible_region(data: torch.Generator, batch: int, height: int = 32, width: int = 24) -> tuple:
    """``(x_w, x_tilde, F, V, target z)``: a person ellipse holding a smaller invisible ellipse, elsewhere background
    (``V`` one-hot: 0 background, 1 visible, 2 invisible); two unrelated smooth images as ``x_w`` and ``x_tilde``;
    the known weighting is 1 on the visible region (copy the source's pixels there) and 0 elsewhere."""
    person = ellipses(data, batch, (7.0, 12.0), height, width)
    invisible = ellipses(data, batch, (3.0, 6.0), height, width) & person
    visible = person & ~invisible
    labels = torch.where(visible, 1, torch.where(invisible, 2, 0)).squeeze(1)
    visibility = F.one_hot(labels, 3).permute(0, 3, 1, 2).float()
    images = [torch.rand(batch, 3, height // 4, width // 4, generator=data) * 2 - 1 for _ in range(2)]
    warped, feature_image = (F.interpolate(x, size=(height, width), mode="bilinear") for x in images)
    flow = 2 * torch.randn(batch, 2, height, width, generator=data)
    return warped, feature_image, flow, visibility, visible.float()


@pytest.mark.parametrize("seed", range(5))
def test_z_learns_to_copy_the_visible_region_at_the_configs_optimizer(seed) -> None:
    """Phase 2 of Sec. 4.1 in miniature: only the weighting U-Net trains (the tiny preset's 3 levels from 8
    channels), on L1 of ``x_hat`` (Eq. 3, Eq. 5) against the image the known map composes, at the config's Adam
    (lr 2e-4, betas (0.5, 0.999)); 150 steps of 4 fresh 32x24 samples. Measured on torch 2.14.1, seeds 0-4: IoU of
    ``z > 0.5`` 0.89-0.94 and mean |z - target| 0.075-0.10 (at the start 0-0.27 and 0.49-0.50; after 100 steps
    0.86-0.90 and 0.11-0.14)."""
    torch.manual_seed(seed)
    generator = IntrinsicGenerator(num_levels=2, base_width=4, max_width=4, warped_levels=1, blocks_per_level=1,
                                   weighting_levels=3, weighting_width=8)  # fmt: skip
    weighting = [*generator.weighting_encoder.parameters(), *generator.weighting_decoder.parameters()]
    optimizer = config_optimizer("stage4_refine_intrinsic", "g_optimizer")(weighting)
    data = torch.Generator().manual_seed(100 + seed)
    for _ in range(150):
        warped, feature_image, flow, visibility, target = copy_the_visible_region(data, 4)
        z = generator.pixel_weight(warped, feature_image, flow, visibility)
        image, wanted = (m * warped + (1 - m) * feature_image for m in (z, target))
        loss = (image - wanted).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    generator.eval()
    with torch.no_grad():
        warped, feature_image, flow, visibility, target = copy_the_visible_region(
            torch.Generator().manual_seed(999), 16
        )
        z = generator.pixel_weight(warped, feature_image, flow, visibility)
    hit, truth = z > 0.5, target > 0.5
    iou = (hit & truth).sum() / (hit | truth).sum()
    error = (z - target).abs().mean()
    assert iou >= 0.8 and error <= 0.15, (iou.item(), error.item())


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
