"""SPG-VTON's PatchGAN discriminator (seed 003, Table I) and its pix2pixHD multi-scale wrapper."""

from __future__ import annotations

from torch import Tensor, nn

from models.blocks import ConvNormAct


class PatchDiscriminator(nn.Module):
    """SPG-VTON's discriminator D_i (seed 003, Table I): ``[B, in, H, W] -> [B, 1, H / 2**n_down, W / 2**n_down]``.

    Layers (``b = base_width``; defaults give Table I, a 256x192 input scored on a 64x48 map):

    - Conv1 ``1x1`` in -> b + LeakyReLU, no norm;
    - per level ``l = 1..n_down``: a ``3x3`` stride-1 conv ``w(l-1) -> w(l-1)`` then a ``3x3`` stride-2 conv
      ``w(l-1) -> w(l)`` with ``w(0) = w(1) = b`` and ``w(l) = b * 2**(l-1)`` (Table I: Conv2-Conv5, widths
      32, 32, 32, 64), each with ``norm`` and LeakyReLU(0.2);
    - Conv6 ``1x1`` -> 1 score channel, no activation (LSGAN scores).

    Table I is inconsistent in two places, resolved by its own output sizes: Conv1 is printed "3x1, 1, 0"
    but keeps the 256x192 size, so it is read as ``1x1`` (padding 0); Conv4 is printed with stride 2 but
    keeps 128x96, so it has stride 1. The LeakyReLU slope 0.2 and the un-normalised first layer follow
    pix2pixHD (the paper's reference [3] for this discriminator); the norm is instance norm (Sec. IV-C).
    """

    def __init__(self, in_channels: int, base_width: int = 32, n_down: int = 2, norm: str = "instance") -> None:
        super().__init__()
        widths = [base_width * 2 ** max(level - 1, 0) for level in range(n_down + 1)]
        layers: list[nn.Module] = [ConvNormAct(in_channels, base_width, 1, norm="none", act="leaky_relu")]
        for level in range(1, n_down + 1):
            layers.append(ConvNormAct(widths[level - 1], widths[level - 1], 3, 1, norm=norm, act="leaky_relu"))
            layers.append(ConvNormAct(widths[level - 1], widths[level], 3, 2, norm=norm, act="leaky_relu"))
        layers.append(nn.Conv2d(widths[-1], 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MultiScaleDiscriminator(nn.Module):
    """pix2pixHD's multi-scale discriminator (seed 003 Sec. IV-C: "all the discriminators ... apply the
    multi-scale structure from pix2pixHD [3]").

    ``num_scales`` independent ``PatchDiscriminator``s; scale ``s`` sees the input average-pooled ``s`` times
    with pix2pixHD's ``AvgPool2d(3, stride=2, padding=1, count_include_pad=False)``.
    ``num_scales`` defaults to 3, the number in the pix2pixHD paper (its code defaults to 2; SPG-VTON gives none).

    ``forward``: ``[B, in, H, W]`` -> list of ``num_scales`` score maps, finest first; map ``s`` is
    ``[B, 1, h_s / 2**n_down, w_s / 2**n_down]`` with ``h_0 = H`` and ``h_{s+1} = ceil(h_s / 2)``.
    """

    def __init__(
        self, in_channels: int, num_scales: int = 3, base_width: int = 32, n_down: int = 2, norm: str = "instance"
    ) -> None:
        super().__init__()
        if num_scales < 1:
            raise ValueError(f"num_scales must be >= 1, got {num_scales}")
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(in_channels, base_width, n_down, norm) for _ in range(num_scales)
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> list[Tensor]:
        scores = []
        for index, discriminator in enumerate(self.discriminators):
            if index > 0:
                x = self.downsample(x)
            scores.append(discriminator(x))
        return scores
