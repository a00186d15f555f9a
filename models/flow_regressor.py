"""Intrinsic appearance-flow regressor (seed 004, Sec. 3.3, Fig. 3): a U-Net from a pose pair to ``F`` and ``V``.

``(p_s, p_t)`` (keypoint maps, concatenated) -> flow ``F`` ``[B, 2, H, W]`` (target -> source offsets in pixels,
channel 0 = x: ``target(p) = source(p + F(p))``) and visibility logits ``V`` ``[B, 3, H, W]`` (0 background,
1 visible in the source, 2 occluded in the source). Trained with end-point error on ``F`` and cross entropy on
``V`` (``losses.flow``).

The paper only says "a U-Net"; we give it the layout of its image generator (Sec. 4.1 and supplementary A):
``num_levels`` levels with widths rising linearly from ``base_width`` to ``max_width`` (32 -> 128, N = 7 for
DeepFashion), two residual blocks per level in the encoder followed by a stride-2 conv, a decoder of upsampling
(conv + pixel shuffle) followed by two residual blocks, skip connections between matching levels (concatenated, then a
``1x1`` conv back to the level's width: our choice), batch norm after every conv but the ``3x3`` heads. Decoder maps
are resized (bilinear) to the skip's size where odd sizes do not halve evenly. The flow head predicts offsets in
normalised units (1 = half the image width or height, as ``grid_sample`` counts) that are scaled to pixels, so the
network's outputs stay of order one at any resolution (our choice).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.contract import NUM_JOINTS
from models.blocks import ConvNormAct, DownBlock, ResidualBlock

NUM_VISIBILITY_CLASSES = 3


class FlowAndVisibility(NamedTuple):
    """``flow [B, 2, H, W]`` pixels, target -> source; ``vis_logits [B, 3, H, W]`` (background/visible/occluded)."""

    flow: Tensor
    vis_logits: Tensor


class PixelShuffleUp(nn.Sequential):
    """``3x3`` conv to ``4 out`` channels, norm, ReLU, pixel shuffle: ``[B, in, h, w] -> [B, out, 2h, 2w]``."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__(ConvNormAct(in_channels, 4 * out_channels, 3, norm=norm), nn.PixelShuffle(2))


def level_widths(base_width: int, max_width: int, num_levels: int) -> list[int]:
    """Widths rising linearly from ``base_width`` to ``max_width`` over ``num_levels`` (seed 004, supp. A)."""
    if num_levels < 2:
        return [base_width]
    step = (max_width - base_width) / (num_levels - 1)
    return [round(base_width + i * step) for i in range(num_levels)]


class FlowRegressor(nn.Module):
    """U-Net ``(src_pose, tgt_pose) -> FlowAndVisibility``; see the module docstring.

    Args:
        pose_channels: keypoint maps per pose (18, COCO-18).
        base_width: width of the finest level (seed 004 supp. A: 32).
        max_width: width of the coarsest level (128).
        num_levels: U-Net levels, ``num_levels - 1`` downsamplings (seed 004 Sec. 4.1: 7 on DeepFashion, 5 on
            Market-1501).
        blocks_per_level: residual blocks per level on each side (2).
        norm: ``"batch"`` (seed 004 Sec. 4.1) | ``"instance"`` | ``"none"``.
    """

    def __init__(
        self,
        pose_channels: int = NUM_JOINTS,
        base_width: int = 32,
        max_width: int = 128,
        num_levels: int = 7,
        blocks_per_level: int = 2,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        widths = level_widths(base_width, max_width, num_levels)
        self.pose_channels = pose_channels

        def blocks(width: int) -> nn.Sequential:
            return nn.Sequential(*(ResidualBlock(width, norm=norm) for _ in range(blocks_per_level)))

        self.stem = ConvNormAct(2 * pose_channels, widths[0], 3, norm=norm)
        self.encoder = nn.ModuleList(blocks(width) for width in widths)
        self.down = nn.ModuleList(DownBlock(a, b, norm=norm) for a, b in zip(widths, widths[1:], strict=False))
        self.up = nn.ModuleList(PixelShuffleUp(b, a, norm) for a, b in zip(widths, widths[1:], strict=False))
        self.fuse = nn.ModuleList(ConvNormAct(2 * a, a, 1, norm=norm) for a in widths[:-1])
        self.decoder = nn.ModuleList(blocks(width) for width in widths[:-1])
        self.flow_head = nn.Conv2d(widths[0], 2, 3, padding=1)
        self.vis_head = nn.Conv2d(widths[0], NUM_VISIBILITY_CLASSES, 3, padding=1)

    def forward(self, src_pose: Tensor, tgt_pose: Tensor) -> FlowAndVisibility:
        """``src_pose``, ``tgt_pose``: ``[B, pose_channels, H, W]`` keypoint maps."""
        expected = (src_pose.shape[0], self.pose_channels, *src_pose.shape[-2:])
        if src_pose.dim() != 4 or tuple(src_pose.shape) != expected or tgt_pose.shape != src_pose.shape:
            raise ValueError(
                f"FlowRegressor: src_pose and tgt_pose must both be [B, {self.pose_channels}, H, W], got "
                f"{tuple(src_pose.shape)} and {tuple(tgt_pose.shape)}"
            )
        x = self.stem(torch.cat([src_pose, tgt_pose], 1))
        skips = []
        for i, encode in enumerate(self.encoder):
            x = encode(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        for i in reversed(range(len(skips))):
            x = self.up[i](x)
            if x.shape[-2:] != skips[i].shape[-2:]:
                x = F.interpolate(x, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.decoder[i](self.fuse[i](torch.cat([x, skips[i]], 1)))
        height, width = src_pose.shape[-2:]
        to_pixels = x.new_tensor([(width - 1) / 2, (height - 1) / 2]).view(1, 2, 1, 1)
        return FlowAndVisibility(self.flow_head(x) * to_pixels, self.vis_head(x))
