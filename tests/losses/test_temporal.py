"""Temporal losses (``losses/temporal.py``): flow consistency against known answers, temporal patch stacks."""

from __future__ import annotations

import pytest
import torch

from losses.mask import PatchBoxes
from losses.temporal import crop_temporal_patches, flow_consistency_loss, temporal_patches


def shifted(steps: int = 3, shift: int = 2, size: tuple[int, int] = (16, 12)) -> tuple[torch.Tensor, torch.Tensor]:
    """A random texture moving right by ``shift`` px per frame ``[1, T, 3, H, W]`` and its flow from frame t+1 to t."""
    texture = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    frames = torch.stack([texture.roll(shift * t, dims=-1) for t in range(steps)], 1)
    flows = torch.zeros(1, steps - 1, 2, *size)
    flows[:, :, 0] = -shift  # frame t+1 at x shows frame t at x - shift
    return frames, flows


def test_consistency_is_zero_for_a_static_scene() -> None:
    frames = torch.rand(2, 1, 3, 16, 12).expand(2, 4, 3, 16, 12)
    # zero up to grid_sample's float32 rounding of the identity warp
    assert flow_consistency_loss(frames, torch.zeros(2, 3, 2, 16, 12)) < 1e-6
    assert flow_consistency_loss(frames + torch.rand_like(frames) * 0.1, torch.zeros(2, 3, 2, 16, 12)) > 1e-2


def test_consistency_follows_the_flow() -> None:
    frames, flows = shifted()
    valid = torch.ones(1, 2, 16, 12)
    valid[..., :2] = 0  # the columns entering from the left are not in the previous frame
    assert flow_consistency_loss(frames, flows, valid) < 1e-6  # the right flow: no error
    still = flow_consistency_loss(frames, torch.zeros_like(flows), valid)
    expected = (frames[:, 1:] - frames[:, :-1]).abs()[..., 2:].mean()
    torch.testing.assert_close(still, expected)  # no flow: the plain frame difference


def test_consistency_gradient_reaches_both_frames_and_invalid_pixels_do_not_count() -> None:
    frames = torch.zeros(1, 2, 1, 4, 4, requires_grad=True)
    target = frames + torch.tensor([0.0, 1.0]).view(1, 2, 1, 1, 1)
    valid = torch.zeros(1, 1, 4, 4)
    valid[..., 0, 0] = 1
    loss = flow_consistency_loss(target, torch.zeros(1, 1, 2, 4, 4), valid)
    assert loss.item() == pytest.approx(1.0)  # mean over the one valid pixel only
    loss.backward()
    assert frames.grad[0, 0, 0, 0, 0] == -1 and frames.grad[0, 1, 0, 0, 0] == 1
    assert frames.grad.abs().sum() == 2
    nothing = flow_consistency_loss(target, torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 1, 4, 4))
    assert nothing == 0


def test_temporal_patches_cut_the_same_box_from_every_masked_frame() -> None:
    frames = torch.arange(2 * 3 * 1 * 8 * 6, dtype=torch.float).view(2, 3, 1, 8, 6)
    masks = torch.zeros(2, 3, 1, 8, 6)
    masks[0, 1, :, 2:5, 1:4] = 1  # only frame 1 of window 0 has clothing; window 1 none
    patches = temporal_patches(masks, torch.Generator().manual_seed(0), num_patches=2, patch_size=4)
    assert patches.valid.tolist() == [True, False]
    boxes = PatchBoxes(torch.tensor([[[1, 0], [2, 2]], [[0, 0], [0, 0]]]), (4, 4), patches.valid)
    crops = crop_temporal_patches(frames, masks, boxes)
    assert crops.shape == (2, 3, 1, 4, 4)  # 2 boxes of window 0, 3 frames each
    torch.testing.assert_close(crops[0, 1], (frames * masks)[0, 1, :, 1:5, 0:4])
    assert crops[:, [0, 2]].abs().sum() == 0  # frames without clothing are blank


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="T >= 2"):
        flow_consistency_loss(torch.rand(1, 1, 3, 8, 6), torch.zeros(1, 0, 2, 8, 6))
    with pytest.raises(ValueError, match="flows"):
        flow_consistency_loss(torch.rand(1, 3, 3, 8, 6), torch.zeros(1, 3, 2, 8, 6))
    with pytest.raises(ValueError, match="valid"):
        flow_consistency_loss(torch.rand(1, 3, 3, 8, 6), torch.zeros(1, 2, 2, 8, 6), torch.ones(1, 3, 8, 6))
    with pytest.raises(ValueError, match="cloth_masks"):
        crop_temporal_patches(torch.rand(1, 3, 3, 8, 6), torch.rand(1, 2, 1, 8, 6), None)
