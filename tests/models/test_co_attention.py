"""FashionMirror's co-attention and single-frame CMN (``models/co_attention.py``): attention weights that sum to 1 on
each side and follow the target pose, both masks learning a copy-the-mask task at the config's optimiser, bad input."""

from __future__ import annotations

import pytest
import torch

from losses.mask import coattention_mask_terms
from models.co_attention import CoAttention, CoAttentionMaskNet

from config_hparams import config_optimizer

H, W = 64, 48
MASK_OPTIMIZER = config_optimizer("stage3_fashionmirror", "mask_optimizer")
LOSS_WEIGHTS = 1.0  # configs/stage3_fashionmirror.yaml: loss_weights null = every Eq. 1 lambda 1


def blob_masks(generator: torch.Generator, batch: int) -> torch.Tensor:
    """``[batch, 1, H, W]`` {0, 1}: one axis-aligned ellipse per image, centre anywhere, radii 8-18 pixels (a garment's
    share of a 64x48 person), as ``tests/models/test_generator.py``."""
    rows, cols = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    centre = torch.rand(batch, 2, 1, 1, generator=generator) * torch.tensor([H, W]).view(1, 2, 1, 1)
    radius = 8 + 10 * torch.rand(batch, 2, 1, 1, generator=generator)
    inside = ((rows - centre[:, 0]) / radius[:, 0]) ** 2 + ((cols - centre[:, 1]) / radius[:, 1]) ** 2 <= 1
    return inside.float().unsqueeze(1)


def pose_maps(points: list[tuple[int, int]], radius: int = 3) -> torch.Tensor:
    """``[1, 18, H, W]``: a disk per joint at ``(y, x)``."""
    rows, cols = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    return torch.stack([((rows - y) ** 2 + (cols - x) ** 2 <= radius**2).float() for y, x in points]).unsqueeze(0)


def iou(predicted: torch.Tensor, target: torch.Tensor) -> float:
    hit, true = predicted > 0.5, target > 0.5
    return ((hit & true).sum() / (hit | true).sum()).item()


def test_each_side_attends_with_weights_that_sum_to_one_and_find_the_matching_feature() -> None:
    torch.manual_seed(0)
    attention = CoAttention(8)
    source, target = torch.randn(2, 8, 4, 3), torch.randn(2, 8, 5, 2)
    out = attention(source, target, target_values=torch.randn(2, 5, 5, 2))
    torch.testing.assert_close(out.target_weights.sum(-1), torch.ones(2, 12))
    torch.testing.assert_close(out.source_weights.sum(-1), torch.ones(2, 10))
    assert out.to_target.shape == (2, 8, 5, 2) and out.to_source.shape == (2, 5, 4, 3)
    # one strong feature at source location (1, 2) and at target location (t // 2, t % 2): W starts as the identity,
    # so the source location looks there, and follows it when it moves
    peak = 10 * torch.nn.functional.normalize(torch.randn(8), dim=0)
    for t in range(10):
        moved = target.clone()
        moved[0, :, t // 2, t % 2] = peak
        src = source.clone()
        src[0, :, 1, 2] = peak
        weights = attention(src, moved).target_weights[0, 1 * 3 + 2]
        assert weights.argmax().item() == t and weights[t] > 0.9
        # the values gathered at the target location are the source's there
        gathered = attention(src, moved).to_target[0, :, t // 2, t % 2]
        torch.testing.assert_close(gathered, src[0, :, 1, 2], atol=0.5, rtol=0.1)


def test_the_masks_attention_follows_the_target_pose() -> None:
    """The CMN's co-attention: a source location at a joint looks at that joint in the target pose, and its weights
    (which sum to 1) move by the same number of feature cells when the target pose moves (1/4 of the image)."""
    torch.manual_seed(0)
    net = CoAttentionMaskNet(base_width=8).eval()
    generator = torch.Generator().manual_seed(1)
    points = [tuple(int(v) for v in torch.randint(12, 30, (2,), generator=generator)) for _ in range(18)]
    source_pose, blank = pose_maps(points), torch.zeros(1, 3, H, W)
    y, x = points[0]
    location = (y // 4) * (W // 4) + x // 4
    rows, cols = torch.meshgrid(torch.arange(H // 4).float(), torch.arange(W // 4).float(), indexing="ij")
    centres = {}
    for shift in ((0, 0), (8, 0), (0, 8), (8, 8)):
        target_pose = pose_maps([(py + shift[0], px + shift[1]) for py, px in points])
        with torch.no_grad():
            out = net(blank, source_pose, blank, blank[:, :1], target_pose)
        weights = out.attention.target_weights[0, location].view(H // 4, W // 4)
        torch.testing.assert_close(weights.sum(), torch.tensor(1.0))
        centres[shift] = torch.stack([(weights * rows).sum(), (weights * cols).sum()])
    for shift, centre in centres.items():
        torch.testing.assert_close(centre - centres[(0, 0)], torch.tensor(shift) / 4, atol=0.25, rtol=0)


def copy_the_masks_batch(
    generator: torch.Generator, batch: int
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    """Inputs and ``(M_r, M_c)``: ``M_r`` is the first channel of the source image (in [-1, 1]), ``M_c`` the first
    channel of the target pose; every other input is noise."""
    removed, cloth = blob_masks(generator, batch), blob_masks(generator, batch)
    src_img = torch.cat([2 * removed - 1, torch.randn(batch, 2, H, W, generator=generator)], 1)
    src_pose = torch.rand(batch, 18, H, W, generator=generator)
    tgt_pose = torch.cat([cloth, torch.rand(batch, 17, H, W, generator=generator)], 1)
    garment, garment_mask = (
        torch.randn(batch, 3, H, W, generator=generator),
        torch.rand(batch, 1, H, W, generator=generator),
    )
    return (src_img, src_pose, garment, garment_mask, tgt_pose), removed, cloth


@pytest.mark.parametrize("seed", range(5))
def test_both_masks_learn_to_copy_a_mask_at_the_configs_optimizer(seed) -> None:
    """Eq. 1-4 on ``M_r`` and ``M_c`` (32x32 patches, the tiny preset's), the CMN at the tiny preset's width (8),
    ``configs/stage3_fashionmirror.yaml``'s mask optimiser (Adam 2e-4, betas (0, 0.999)), 200 steps of 4 fresh images.
    Measured on torch 2.14.1 CPU, seeds 0-4: IoU 0.95-0.96 (M_r), 0.90-0.95 (M_c)."""
    torch.manual_seed(seed)
    data = torch.Generator().manual_seed(100 + seed)
    net = CoAttentionMaskNet(base_width=8)
    optimizer = MASK_OPTIMIZER(net.parameters())
    for step in range(200):
        inputs, removed, cloth = copy_the_masks_batch(data, 4)
        out = net(*inputs)
        patches = torch.Generator().manual_seed(step)
        terms = [
            coattention_mask_terms(p, m, patches, patch_size=32)
            for p, m in ((out.removed, removed), (out.cloth, cloth))
        ]
        loss = LOSS_WEIGHTS * sum(sum(t) for t in terms)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        inputs, removed, cloth = copy_the_masks_batch(torch.Generator().manual_seed(999), 16)
        out = net(*inputs)
    scores = iou(out.removed, removed), iou(out.cloth, cloth)
    assert min(scores) >= 0.8, scores


def test_bad_input_is_named() -> None:
    net = CoAttentionMaskNet(base_width=4)
    image, pose, mask = torch.zeros(1, 3, 16, 12), torch.zeros(1, 18, 16, 12), torch.zeros(1, 1, 16, 12)
    with pytest.raises(ValueError, match="tgt_pose must be"):
        net(image, pose, image, mask, pose[:, :17])
    with pytest.raises(ValueError, match="src_pose must be"):
        net(image, pose[:, :17], image, mask, pose)
    attention = CoAttention(4)
    with pytest.raises(ValueError, match="source must be"):
        attention(torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2))
    with pytest.raises(ValueError, match="batch sizes differ"):
        attention(torch.zeros(1, 4, 2, 2), torch.zeros(2, 4, 2, 2))
    with pytest.raises(ValueError, match="values must have"):
        attention(torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 2, 2), source_values=torch.zeros(1, 4, 3, 2))
