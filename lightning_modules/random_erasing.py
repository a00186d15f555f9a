"""Random erasing (Zhong et al., AAAI 2020) of a batch, drawn and applied on the batch's device without a host sync.

kornia's ``RandomErasing`` reads its drawn boxes back to the host (four synchronisations a step on a GPU); this draws
the same distribution with tensor arithmetic only. Per sample, with probability ``p``: an area fraction
``s ~ U(scale)`` and a log aspect ratio ``log r ~ U(log ratio)``; the box is ``h = round(sqrt(s H W r))`` by
``w = round(sqrt(s H W / r))`` pixels, clamped to ``1..H`` and ``1..W`` (torchvision redraws a box that does not fit
ten times; clamping is our choice), at a uniformly drawn position where it fits; its pixels are set to ``value``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def random_erasing(
    images: Tensor,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``images [B, C, H, W]`` with one rectangle per chosen sample set to ``value`` (a new tensor; the defaults are
    torchvision's). ``generator`` must live on the images' device when given."""
    if images.dim() != 4:
        raise ValueError(f"random_erasing: images must be [B, C, H, W], got {tuple(images.shape)}")
    batch, _, height, width = images.shape
    device = images.device

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(batch, device=device, generator=generator)

    area = uniform(*scale) * height * width
    aspect = torch.exp(uniform(math.log(ratio[0]), math.log(ratio[1])))
    box_h = torch.sqrt(area * aspect).round().clamp(1, height)
    box_w = torch.sqrt(area / aspect).round().clamp(1, width)
    top = (uniform(0.0, 1.0) * (height - box_h + 1)).floor().clamp(max=height - box_h)
    left = (uniform(0.0, 1.0) * (width - box_w + 1)).floor().clamp(max=width - box_w)
    chosen = uniform(0.0, 1.0) < p
    ys = torch.arange(height, device=device).view(1, height, 1)
    xs = torch.arange(width, device=device).view(1, 1, width)
    inside = (
        (ys >= top.view(-1, 1, 1))
        & (ys < (top + box_h).view(-1, 1, 1))
        & (xs >= left.view(-1, 1, 1))
        & (xs < (left + box_w).view(-1, 1, 1))
        & chosen.view(-1, 1, 1)
    )
    return images.masked_fill(inside.unsqueeze(1), value)
