"""Feature pyramid encoder of ClothFlow's two-stream flow estimator (seed 000, Sec. 3.2).

ClothFlow encodes the source (cloth and its mask) and the target (the target cloth region) with one FPN each,
without shared weights, and reads N = 5 pyramid levels. The seed does not give the layers; we follow the open
ClothFlow-style encoder of PF-AFN (Ge et al. CVPR 2021, its ``FeatureEncoder`` + ``RefinePyramid``): per level a
stride-2 ``3x3`` conv and ``blocks_per_level`` residual blocks (widths 64, 128, 256, 256, 256), then a top-down
path: ``1x1`` lateral convs to ``fpn_width`` (256), each coarser map upsampled (nearest) to the finer one's size and
added, and a ``3x3`` smoothing conv per level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from models.blocks import DownBlock, ResidualBlock


class FPNEncoder(nn.Module):
    """``[B, in, H, W]`` -> ``len(widths)`` maps, finest first: level ``n`` (1-based) is ``[B, fpn_width, H_n, W_n]``
    with ``H_n = ceil(H / 2^n)`` (stride-2 convs with padding 1, so odd sizes round up).

    Args:
        in_channels: input channels.
        widths: bottom-up widths per level (PF-AFN: 64, 128, 256, 256, 256; N = 5 levels as ClothFlow).
        fpn_width: width of every pyramid output (256).
        blocks_per_level: residual blocks after each downsampling (PF-AFN: 2).
        norm: of the bottom-up path (PF-AFN: batch norm); the lateral and smoothing convs have none.
    """

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int] = (64, 128, 256, 256, 256),
        fpn_width: int = 256,
        blocks_per_level: int = 2,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("FPNEncoder: widths must name at least one level")
        self.down = nn.ModuleList()
        channels = in_channels
        for width in widths:
            blocks = [ResidualBlock(width, norm=norm) for _ in range(blocks_per_level)]
            self.down.append(nn.Sequential(DownBlock(channels, width, norm=norm), *blocks))
            channels = width
        self.lateral = nn.ModuleList(nn.Conv2d(width, fpn_width, 1) for width in widths)
        self.smooth = nn.ModuleList(nn.Conv2d(fpn_width, fpn_width, 3, padding=1) for _ in widths)

    def forward(self, x: Tensor) -> list[Tensor]:
        bottom_up = []
        for level in self.down:
            x = level(x)
            bottom_up.append(x)
        outputs: list[Tensor] = []
        top = None
        levels = zip(reversed(bottom_up), reversed(self.lateral), reversed(self.smooth), strict=True)
        for features, lateral, smooth in levels:
            merged = lateral(features)
            if top is not None:
                merged = merged + F.interpolate(top, size=merged.shape[-2:], mode="nearest")
            top = merged
            outputs.append(smooth(merged))
        return outputs[::-1]
