"""U-Net pieces of Dense Intrinsic Appearance Flow (seed 004, Sec. 4.1 and supplementary A), shared by the stage-2
flow regressor (``models.flow_regressor``) and the stage-4 image generator (``models.intrinsic_generator``).

Encoder: per level, residual blocks then a stride-2 conv; decoder: per level, conv + pixel-shuffle upsampling, skip
fusion, residual blocks; batch norm after every conv but the output conv (Sec. 4.1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.blocks import ConvNormAct, DownBlock, ResidualBlock


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


class UNetEncoder(nn.Module):
    """``[B, in, H, W]`` -> features ``c^k [B, widths[k], H / 2^k, W / 2^k]`` for ``k = 0 .. N-1``.

    Sec. 4.1: "at each feature level, the encoder has two cascaded residual blocks followed by a stride-2
    convolution layer for downsampling", batch norm after each convolution; an input ``3x3`` conv maps ``in`` to
    ``widths[0]`` (our choice). ``c^k`` is read after the residual blocks of level ``k``.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], blocks_per_level: int = 2, norm: str = "batch") -> None:
        super().__init__()
        self.stem = ConvNormAct(in_channels, widths[0], 3, norm=norm)
        self.levels = nn.ModuleList(
            nn.Sequential(*(ResidualBlock(w, norm=norm) for _ in range(blocks_per_level))) for w in widths
        )
        self.downs = nn.ModuleList(DownBlock(widths[k], widths[k + 1], norm=norm) for k in range(len(widths) - 1))

    def forward(self, x: Tensor) -> list[Tensor]:
        features, x = [], self.stem(x)
        for k, level in enumerate(self.levels):
            x = level(x)
            features.append(x)
            if k < len(self.downs):
                x = self.downs[k](x)
        return features


class UNetDecoder(nn.Module):
    """Skip features ``s^k [B, skip_channels[k], H / 2^k, W / 2^k]`` -> ``[B, out, H, W]`` (no output activation).

    Sec. 4.1: the decoder is symmetric, "an upsampling layer followed by two residual blocks" per level, the
    upsampling a convolution followed by pixel shuffling (``PixelShuffleUp``);
    where an odd size did not halve evenly the upsampled map is resized (bilinear) to the skip's size. At each level
    the upsampled features and the skip are concatenated and mapped to ``widths[k]`` by a ``1x1`` conv + BN + ReLU
    (our choice); the last ``3x3`` conv has no normalisation ("batch normalization ... after each convolutional
    layer (except the last one)").
    """

    def __init__(
        self,
        skip_channels: Sequence[int],
        widths: Sequence[int],
        out_channels: int,
        blocks_per_level: int = 2,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        levels = range(len(widths))
        self.ups = nn.ModuleList(PixelShuffleUp(widths[k + 1], widths[k], norm) for k in range(len(widths) - 1))
        self.merges = nn.ModuleList(
            ConvNormAct(skip_channels[k] + (widths[k] if k < len(widths) - 1 else 0), widths[k], 1, norm=norm)
            for k in levels
        )
        self.levels = nn.ModuleList(
            nn.Sequential(*(ResidualBlock(widths[k], norm=norm) for _ in range(blocks_per_level))) for k in levels
        )
        self.out = nn.Conv2d(widths[0], out_channels, 3, padding=1)

    def forward(self, skips: Sequence[Tensor]) -> Tensor:
        x = self.levels[-1](self.merges[-1](skips[-1]))
        for k in reversed(range(len(skips) - 1)):
            x = self.ups[k](x)
            if x.shape[-2:] != skips[k].shape[-2:]:  # odd sizes do not halve evenly (e.g. 176 -> ... -> 11 -> 6)
                x = F.interpolate(x, size=skips[k].shape[-2:], mode="bilinear", align_corners=False)
            x = self.levels[k](self.merges[k](torch.cat([x, skips[k]], 1)))
        return self.out(x)
