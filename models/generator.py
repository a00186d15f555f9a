"""The ResNet-like encoder-decoder generator of SPG-VTON (seed 003, Table I), shared by the stages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from models.blocks import ConvNormAct, DownBlock, ResidualBlock, UpBlock

HEADS = ("plain", "image", "image_mask")


class ImageMask(NamedTuple):
    """The ``"image_mask"`` head's output: ``image [B, out-1, H, W]`` in [-1, 1], ``mask [B, 1, H, W]`` in (0, 1)."""

    image: Tensor
    mask: Tensor


class ResNetGenerator(nn.Module):
    """SPG-VTON's generator G_i (seed 003, Table I and Sec. IV-C), with the defaults of the table.

    Layers (``b = base_width``, defaults give Table I at 256x192):

    - Conv1 ``3x3`` in -> b, Conv2 ``3x3`` b -> 2b (full resolution);
    - ``n_down`` stride-2 convolutions (Conv3-Conv5): 2b -> 2b -> 4b -> 8b, each followed by
      ``n_level_blocks`` residual blocks, except the last, followed by ``n_blocks`` (Table I: 1, 1 and 4);
    - ``n_down`` x (Upsample + ``3x3`` conv) (Conv6-Conv8): 8b -> 4b -> 2b -> b;
    - output layers Conv9 ``3x3`` b -> out + ReLU, Conv10 ``3x3`` out -> out + Tanh, Conv11 ``1x1`` out -> out.

    Every layer up to Conv8 and every residual block uses ``norm`` (instance norm in the paper) and ReLU;
    the output layers Conv9-Conv11 have no normalisation (our choice: a norm there would fix the output
    statistics). Table I's ``128 x 92`` after the second upsampling is a typo for ``128 x 96``. Weights keep
    PyTorch's default initialisation (the paper names none).

    ``head`` applies the output activation on top of Conv11 (SPG-VTON Sec. IV-C: G2 and G3 return a 4-channel
    tensor split into a 3-channel RGB image and a 1-channel mask):

    - ``"plain"``: Conv11 as is (e.g. parsing logits) -> ``Tensor [B, out, H, W]``;
    - ``"image"``: ``tanh`` -> ``Tensor [B, out, H, W]`` in [-1, 1];
    - ``"image_mask"``: ``ImageMask(tanh(Conv11), sigmoid(mask_head))``: Conv9-Conv11 as Table I, at ``out - 1``
      channels, give the image; the mask comes from its own unbounded logit head, one ``3x3`` conv ``b -> 1`` on
      Conv8's output (``mask_head``). Our deviation from Table I, which runs the mask channel through Conv9-Conv11
      too: there its logit is ``sum_j w11_j tanh(.) + b11``, confined to ``b11 +- sum_j |w11_j|``, and Adam at the
      paper's 2e-4 widens that range only slowly: after 200 copy-the-mask steps the mask still lay in 0.16-0.80
      everywhere (5 seeds; with the logit head 0.01-1.00; ``tests/models/test_generator.py``,
      ``docs/results/mask_heads_copy_the_mask.json``).

    Args:
        in_channels: channels of the concatenated inputs.
        out_channels: output channels (``>= 2`` for ``"image_mask"``; 4 gives RGB + mask).
        base_width: ``b`` above (Table I: 64).
        n_down: number of stride-2 convolutions (Table I: 3); H and W must be divisible by ``2**n_down``.
        n_blocks: residual blocks at the bottleneck (Table I: 4).
        n_level_blocks: residual blocks after each earlier downsampling (Table I: 1).
        norm: ``"instance" | "batch" | "none"`` (paper: instance).
        upsample_mode: ``nn.Upsample`` mode (Table I does not say; nearest).
        head: ``"plain" | "image" | "image_mask"`` as above.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_width: int = 64,
        n_down: int = 3,
        n_blocks: int = 4,
        n_level_blocks: int = 1,
        norm: str = "instance",
        upsample_mode: str = "nearest",
        head: str = "plain",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; expected one of {HEADS}")
        if head == "image_mask" and out_channels < 2:
            raise ValueError(f"head 'image_mask' needs out_channels >= 2 (image + 1 mask channel), got {out_channels}")
        if n_down < 1:
            raise ValueError(f"n_down must be >= 1, got {n_down}")
        self.in_channels = in_channels
        self.n_down = n_down
        self.head = head

        widths = [2 * base_width * 2**level for level in range(n_down)]  # Table I: 128, 256, 512
        encoder: list[nn.Module] = [
            ConvNormAct(in_channels, base_width, norm=norm),  # Conv1
            ConvNormAct(base_width, widths[0], norm=norm),  # Conv2
        ]
        for level, width in enumerate(widths):
            encoder.append(DownBlock(widths[max(level - 1, 0)], width, norm=norm))  # Conv3-Conv5
            n_res = n_blocks if level == n_down - 1 else n_level_blocks
            encoder.extend(ResidualBlock(width, norm=norm) for _ in range(n_res))
        self.encoder = nn.Sequential(*encoder)

        up_widths = [base_width, *widths[:-1]]  # Table I: 64, 128, 256
        self.decoder = nn.Sequential(
            *(
                UpBlock(widths[level], up_widths[level], norm=norm, mode=upsample_mode)  # Conv6-Conv8
                for level in reversed(range(n_down))
            )
        )
        image_channels = out_channels - 1 if head == "image_mask" else out_channels
        self.output_layers = nn.Sequential(
            ConvNormAct(base_width, image_channels, 3, norm="none", act="relu"),  # Conv9
            ConvNormAct(image_channels, image_channels, 3, norm="none", act="tanh"),  # Conv10
            nn.Conv2d(image_channels, image_channels, 1),  # Conv11
        )
        self.mask_head = nn.Conv2d(base_width, 1, 3, padding=1) if head == "image_mask" else None

    @staticmethod
    def size_multiple(args: Mapping[str, Any]) -> int:
        """What ``H`` and ``W`` must be multiples of for the constructor arguments ``args`` (defaults filled in)."""
        return 2 ** int(args["n_down"])

    def forward(self, x: Tensor) -> Tensor | ImageMask:
        """``x [B, in_channels, H, W]`` -> see ``head`` in the class docstring (same ``H, W``)."""
        factor = 2**self.n_down
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNetGenerator expects [B, {self.in_channels}, H, W], got {tuple(x.shape)}")
        if x.shape[-2] % factor or x.shape[-1] % factor:
            size = tuple(x.shape[-2:])
            raise ValueError(
                f"ResNetGenerator with n_down={self.n_down} needs H and W divisible by {factor}, got {size}"
            )
        features = self.decoder(self.encoder(x))
        out = self.output_layers(features)
        if self.head == "plain":
            return out
        if self.head == "image":
            return torch.tanh(out)
        return ImageMask(torch.tanh(out), torch.sigmoid(self.mask_head(features)))
