"""Intrinsic appearance-flow regressor (seed 004, Sec. 3.3, Fig. 3): a U-Net from a pose pair to ``F`` and ``V``.

``(p_s, p_t)`` (keypoint maps, concatenated) -> flow ``F`` ``[B, 2, H, W]`` (target -> source offsets in pixels,
channel 0 = x: ``target(p) = source(p + F(p))``) and visibility logits ``V`` ``[B, 3, H, W]`` (0 background,
1 visible in the source, 2 occluded in the source). Trained with end-point error on ``F`` and cross entropy on
``V`` (``losses.flow``).

The paper only says "a U-Net"; we give it the layout of its image generator (Sec. 4.1 and supplementary A), built
from the same pieces (``models.unet``): ``num_levels`` levels with widths rising linearly from ``base_width`` to
``max_width`` (32 -> 128, N = 7 for DeepFashion), two residual blocks per level on each side, pixel-shuffle
upsampling, skip connections fused by a ``1x1`` conv (our choice), batch norm after every conv but the output conv,
which gives the 2 flow and 3 visibility channels. The flow head predicts offsets in
normalised units (1 = half the image width or height, as ``grid_sample`` counts) that are scaled to pixels, so the
network's outputs stay of order one at any resolution (our choice).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.unet import UNetDecoder, UNetEncoder, level_widths

NUM_VISIBILITY_CLASSES = 3


class FlowAndVisibility(NamedTuple):
    """``flow [B, 2, H, W]`` pixels, target -> source; ``vis_logits [B, 3, H, W]`` (background/visible/occluded)."""

    flow: Tensor
    vis_logits: Tensor


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
        self.encoder = UNetEncoder(2 * pose_channels, widths, blocks_per_level, norm)
        self.decoder = UNetDecoder(widths, widths, 2 + NUM_VISIBILITY_CLASSES, blocks_per_level, norm)

    def forward(self, src_pose: Tensor, tgt_pose: Tensor) -> FlowAndVisibility:
        """``src_pose``, ``tgt_pose``: ``[B, pose_channels, H, W]`` keypoint maps."""
        expected = (src_pose.shape[0], self.pose_channels, *src_pose.shape[-2:])
        if src_pose.dim() != 4 or tuple(src_pose.shape) != expected or tgt_pose.shape != src_pose.shape:
            raise ValueError(
                f"FlowRegressor: src_pose and tgt_pose must both be [B, {self.pose_channels}, H, W], got "
                f"{tuple(src_pose.shape)} and {tuple(tgt_pose.shape)}"
            )
        out = self.decoder(self.encoder(torch.cat([src_pose, tgt_pose], 1)))
        height, width = src_pose.shape[-2:]
        to_pixels = out.new_tensor([(width - 1) / 2, (height - 1) / 2]).view(1, 2, 1, 1)
        return FlowAndVisibility(out[:, :2] * to_pixels, out[:, 2:])
