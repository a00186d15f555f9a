"""The refinement network ``R`` of seed 002 (Sec. 3.2, Appendix A and E)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from contract.flow import resize_flow, warp
from models.blocks import ConvNormAct, ResidualBlock, UpBlock


class RefinerOutput(NamedTuple):
    """``image`` ``y_o [B, 3, H, W]`` in [-1, 1]; ``warped`` the source sampled directly by the flow (same shape)."""

    image: Tensor
    warped: Tensor


def _encoder(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """Per width ``3x3 conv -> BN -> ReLU -> 2x2 avg pool``: ``[B, in, H, W] -> [B, widths[-1], H / 2^n, W / 2^n]``."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [ConvNormAct(in_channels, width, 3, norm="batch"), nn.AvgPool2d(2)]
        in_channels = width
    return nn.Sequential(*layers)


class Refiner(nn.Module):
    """``y_o = D_ref(T(E_ref(I_s), f_{s,t}))`` and the direct sampling ``T(I_s, f_{s,t})`` (seed 002, Sec. 3.2).

    Appendix A: the encoder has "two convolutional layers each followed by a down-sampling operation", its output is
    ``256 x 64 x 64`` (at 256 x 256); the decoder has "6 residual blocks along with 2 upsampling layers" with batch
    norm after each upsampling layer. No skip connections (Appendix E: they let the decoder copy source patches and
    duplicate them). Our choices: 3x3 convolutions, 2x2 average pooling, encoder widths (128, 256), residual blocks
    ``models.blocks.ResidualBlock`` with batch norm (Fig. 3 is not in the text), nearest upsampling + 3x3 conv + BN +
    ReLU, a 3x3 output convolution with tanh. The flow (image pixels) is resized to the feature map with
    ``resize_flow`` before the feature warping.

    Fusion (the try-on chain, ``guide_channels > 0``): a second encoder of the same shape encodes a target-aligned
    guide (stage 3's try-on result ``I_t_hat``); its features are concatenated with the warped source features and
    mixed by a 1x1 conv + BN + ReLU before the decoder. This departs from the paper's "no guiding map" on purpose:
    the guide carries the new garment, which the source cannot provide.

    Args:
        guide_channels: channels of the fusion guide (0: plain pose transfer).
        widths: encoder widths, one per downsampling (paper: two layers, the last 256 wide).
        num_blocks: residual blocks of the decoder (6).
        image_channels: channels of ``I_s`` and of ``y_o`` (3).
    """

    def __init__(
        self,
        guide_channels: int = 0,
        widths: Sequence[int] = (128, 256),
        num_blocks: int = 6,
        image_channels: int = 3,
    ) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        self.n_down = len(widths)
        self.guide_channels = guide_channels
        self.encoder = _encoder(image_channels, widths)
        bottleneck = widths[-1]
        if guide_channels:
            self.guide_encoder = _encoder(guide_channels, widths)
            self.fuse = ConvNormAct(2 * bottleneck, bottleneck, 1, norm="batch")
        up_widths = [*reversed(widths[:-1]), widths[0] // 2 or 1]  # paper: 256 -> 128 -> 64
        ups, in_ch = [], bottleneck
        for width in up_widths:
            ups.append(UpBlock(in_ch, width, norm="batch"))
            in_ch = width
        self.decoder = nn.Sequential(
            *(ResidualBlock(bottleneck, norm="batch") for _ in range(num_blocks)),
            *ups,
            ConvNormAct(in_ch, image_channels, 3, norm="none", act="tanh"),
        )

    @staticmethod
    def size_multiple(args: Mapping[str, Any]) -> int:
        """What ``H`` and ``W`` must be multiples of for the constructor arguments ``args`` (defaults filled in):
        one halving per entry of ``widths``."""
        return 2 ** len(args["widths"])

    def forward(self, source: Tensor, flow: Tensor, guide: Tensor | None = None) -> RefinerOutput:
        """``source [B, 3, H, W]`` in [-1, 1], ``flow [B, 2, H, W]`` pixels (target -> source), ``guide
        [B, guide_channels, H, W]`` (fusion only) -> ``RefinerOutput``."""
        factor = 2**self.n_down
        if source.shape[-2] % factor or source.shape[-1] % factor:
            raise ValueError(f"Refiner: H, W must be divisible by {factor}, got {tuple(source.shape[-2:])}")
        if (guide is None) != (self.guide_channels == 0):
            raise ValueError(
                f"Refiner built with guide_channels={self.guide_channels} was given "
                f"{'no guide' if guide is None else 'a guide'}"
            )
        features = self.encoder(source)
        warped_features = warp(features, resize_flow(flow, tuple(features.shape[-2:])))
        if guide is not None:
            warped_features = self.fuse(torch.cat([warped_features, self.guide_encoder(guide)], 1))
        return RefinerOutput(image=self.decoder(warped_features), warped=warp(source, flow))
