"""Multi-frame co-attention mask network (``models/sequence_mask.py``): inputs it depends on, rollout, learning to
carry a mask to the next frame at the temporal config's optimiser, bad input."""

from __future__ import annotations

import pytest
import torch

from losses.mask import coattention_mask_terms
from models.sequence_mask import MultiFrameCoAttentionMaskNet

from config_hparams import config_optimizer

H, W = 64, 48
MASK_OPTIMIZER = config_optimizer("temporal", "mask_optimizer")


def tiny_net(n_previous: int = 2) -> MultiFrameCoAttentionMaskNet:
    torch.manual_seed(0)
    return MultiFrameCoAttentionMaskNet(n_previous, base_width=4, num_levels=2).eval()


def blob_masks(generator: torch.Generator, batch: int) -> torch.Tensor:
    """``[batch, 1, H, W]`` {0, 1}: one ellipse per image, radii 8-18 pixels (as ``tests/models/test_generator.py``)."""
    rows, cols = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    centre = torch.rand(batch, 2, 1, 1, generator=generator) * torch.tensor([H, W]).view(1, 2, 1, 1)
    radius = 8 + 10 * torch.rand(batch, 2, 1, 1, generator=generator)
    inside = ((rows - centre[:, 0]) / radius[:, 0]) ** 2 + ((cols - centre[:, 1]) / radius[:, 1]) ** 2 <= 1
    return inside.float().unsqueeze(1)


def test_prediction_is_a_probability_map_that_depends_on_masks_and_poses() -> None:
    net = tiny_net()
    masks, pose, following = torch.rand(2, 2, 1, 16, 12), torch.rand(2, 18, 16, 12), torch.rand(2, 18, 16, 12)
    with torch.no_grad():
        out = net(masks, pose, following)
        assert ((out > 0) & (out < 1)).all()
        assert not torch.allclose(net(masks.flip(1), pose, following), out)  # the order of the previous masks matters
        assert not torch.allclose(net(masks, pose, torch.zeros_like(following)), out)
        assert not torch.allclose(net(masks, torch.zeros_like(pose), following), out)
        # samples are independent: the first sample's prediction does not change with the second's inputs
        other = net(
            torch.cat([masks[:1], torch.rand(1, 2, 1, 16, 12)]),
            torch.cat([pose[:1], torch.rand(1, 18, 16, 12)]),
            torch.cat([following[:1], torch.rand(1, 18, 16, 12)]),
        )
    torch.testing.assert_close(other[:1], out[:1])


def test_rollout_feeds_predictions_back() -> None:
    net = tiny_net()
    first, poses = torch.rand(1, 2, 1, 16, 12), torch.rand(1, 5, 18, 16, 12)
    with torch.no_grad():
        rolled = net.rollout(first, poses)
        step2 = net(first, poses[:, 1], poses[:, 2])
        step3 = net(torch.stack([first[:, 1], step2], 1), poses[:, 2], poses[:, 3])
        step4 = net(torch.stack([step2, step3], 1), poses[:, 3], poses[:, 4])
    torch.testing.assert_close(rolled, torch.stack([step2, step3, step4], 1))


@pytest.mark.parametrize("seed", range(5))
def test_learns_to_carry_the_last_mask_to_the_next_frame_at_the_configs_optimizer(seed) -> None:
    """``M_c^{t+1} = M_c^t`` (a still pose, noise keypoint maps), Eq. 2-4 on ``M_c^{t+1}`` (32x32 patches, the tiny
    preset's) at the tiny preset's width (8) and ``configs/temporal.yaml``'s mask optimiser (Adam 2e-4, betas
    (0, 0.999)), 200 steps of 4 fresh windows. Measured on torch 2.14.1 CPU, seeds 0-4: IoU 0.90-0.95."""
    torch.manual_seed(seed)
    data = torch.Generator().manual_seed(100 + seed)
    net = MultiFrameCoAttentionMaskNet(2, base_width=8)
    optimizer = MASK_OPTIMIZER(net.parameters())

    def window(generator: torch.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        masks = torch.stack([blob_masks(generator, batch), blob_masks(generator, batch)], 1)
        return masks, torch.rand(batch, 18, H, W, generator=generator), masks[:, -1]

    for step in range(200):
        masks, pose, target = window(data, 4)
        loss = sum(
            coattention_mask_terms(net(masks, pose, pose), target, torch.Generator().manual_seed(step), patch_size=32)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        masks, pose, target = window(torch.Generator().manual_seed(999), 16)
        hit = net(masks, pose, pose) > 0.5
    iou = ((hit & (target > 0.5)).sum() / (hit | (target > 0.5)).sum()).item()
    assert iou >= 0.8, iou


def test_bad_input_is_named() -> None:
    net = tiny_net()
    pose = torch.rand(1, 18, 16, 12)
    with pytest.raises(ValueError, match="previous_masks"):
        net(torch.rand(1, 3, 1, 16, 12), pose, pose)
    with pytest.raises(ValueError, match="next_pose"):
        net(torch.rand(1, 2, 1, 16, 12), pose, torch.rand(1, 17, 16, 12))
    with pytest.raises(ValueError, match="previous_pose"):
        net(torch.rand(1, 2, 1, 16, 12), torch.rand(1, 18, 8, 12), pose)
    with pytest.raises(ValueError, match="T > n_previous"):
        net.rollout(torch.rand(1, 2, 1, 16, 12), torch.rand(1, 2, 18, 16, 12))
    with pytest.raises(ValueError, match="n_previous"):
        MultiFrameCoAttentionMaskNet(0)
