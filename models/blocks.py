"""Convolutional building blocks shared by every generator and discriminator of the project.

Normalisation is chosen by name (``"instance" | "batch" | "none"``), activation likewise
(``"relu" | "leaky_relu" | "tanh" | "sigmoid" | "none"``), so a network's config can switch them.
SPG-VTON (seed 003, Sec. IV-C) uses instance norm in generators and discriminators, ReLU in generators
and LeakyReLU in discriminators.
"""

from __future__ import annotations

from torch import Tensor, nn

NORMS = ("instance", "batch", "none")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "none")


def norm_layer(norm: str, channels: int) -> nn.Module:
    """A 2-d normalisation layer by name.

    ``"instance"`` is ``InstanceNorm2d(affine=False)`` (the pix2pixHD choice; SPG-VTON does not say),
    ``"batch"`` is ``BatchNorm2d`` and ``"none"`` is the identity.
    """
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS}")


def activation_layer(act: str, negative_slope: float = 0.2) -> nn.Module:
    """An activation by name; ``negative_slope`` applies to ``"leaky_relu"`` (0.2 as in pix2pixHD)."""
    if act == "relu":
        return nn.ReLU()
    if act == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if act == "tanh":
        return nn.Tanh()
    if act == "sigmoid":
        return nn.Sigmoid()
    if act == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {act!r}; expected one of {ACTIVATIONS}")


class ConvNormAct(nn.Sequential):
    """``Conv2d -> norm -> activation``: ``[B, in, H, W] -> [B, out, H', W']``.

    ``padding`` defaults to ``kernel_size // 2`` ("same" size at stride 1, halved at stride 2 for even sizes).
    The convolution has a bias only without normalisation (a norm's mean subtraction cancels it).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        norm: str = "instance",
        act: str = "relu",
    ) -> None:
        padding = kernel_size // 2 if padding is None else padding
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=norm == "none"),
            norm_layer(norm, out_channels),
            activation_layer(act),
        )


class ResidualBlock(nn.Module):
    """``x + norm(conv3x3(act(norm(conv3x3(x)))))``: ``[B, C, H, W] -> [B, C, H, W]``.

    SPG-VTON Table I ("Resblock: 3x3, 3x3, 1, 1, ReLU"); as in pix2pixHD's ``ResnetBlock`` there is no
    activation after the addition.
    """

    def __init__(self, channels: int, norm: str = "instance", act: str = "relu") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, 3, norm=norm, act=act),
            ConvNormAct(channels, channels, 3, norm=norm, act="none"),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class DownBlock(ConvNormAct):
    """A stride-2 ``3x3`` ConvNormAct: ``[B, in, H, W] -> [B, out, H/2, W/2]`` (SPG-VTON Table I, Conv3-Conv5)."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "instance", act: str = "relu") -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, stride=2, norm=norm, act=act)


class UpBlock(nn.Sequential):
    """``Upsample(x2) -> 3x3 ConvNormAct``: ``[B, in, H, W] -> [B, out, 2H, 2W]`` (SPG-VTON Table I, Conv6-Conv8).

    Table I names the upsampling without its kind; ``mode`` defaults to ``"nearest"`` (our choice: it avoids
    the checkerboard artefacts of transposed convolutions, and bilinear can be picked instead).
    """

    def __init__(
        self, in_channels: int, out_channels: int, norm: str = "instance", act: str = "relu", mode: str = "nearest"
    ) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode=mode),
            ConvNormAct(in_channels, out_channels, kernel_size=3, norm=norm, act=act),
        )
