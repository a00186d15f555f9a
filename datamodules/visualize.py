"""Colour codings for logged image grids: parsing, flow, visibility; and a grid builder.

Torch in, torch out, values in [0, 1], on the input's device. Used by the stages' validation grids and by
``vton-data grid``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from contract.sample import LIP_PALETTE

# Visibility classes (0 background, 1 visible in the source, 2 occluded in the source): black, green, red.
VIS_PALETTE: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (0, 200, 0), (220, 0, 0))

# Middlebury colour wheel (Baker et al., "A Database and Evaluation Methodology for Optical Flow", IJCV 2011):
# number of hues between red, yellow, green, cyan, blue, magenta and back to red.
WHEEL_SEGMENTS: tuple[int, ...] = (15, 6, 4, 11, 13, 6)


def _palette_lookup(labels: Tensor, palette: Sequence[tuple[int, int, int]], name: str) -> Tensor:
    if labels.dim() != 3:
        raise ValueError(f"{name} expects labels [B, H, W], got shape {tuple(labels.shape)}")
    labels = labels.long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(palette)):
        raise ValueError(
            f"{name}: labels must lie in 0..{len(palette) - 1}, got {int(labels.min())}..{int(labels.max())}"
        )
    table = torch.tensor(palette, dtype=torch.float32, device=labels.device) / 255.0
    return table[labels].permute(0, 3, 1, 2)


def parse_to_color(parse: Tensor) -> Tensor:
    """LIP-20 parsing ``[B, H, W]`` (long, 0..19) -> ``[B, 3, H, W]`` in [0, 1] with ``contract.sample.LIP_PALETTE``."""
    return _palette_lookup(parse, LIP_PALETTE, "parse_to_color")


def pose_to_image(pose: Tensor) -> Tensor:
    """Keypoint maps ``[B, J, H, W]`` -> ``[B, 3, H, W]`` grey: each pixel the brightest joint map there."""
    return pose.amax(1, keepdim=True).expand(-1, 3, -1, -1)


def vis_to_color(vis: Tensor) -> Tensor:
    """Visibility ``[B, H, W]`` (0 background / 1 visible / 2 occluded) -> ``[B, 3, H, W]`` (``VIS_PALETTE``)."""
    return _palette_lookup(vis, VIS_PALETTE, "vis_to_color")


def _colour_wheel(device: torch.device) -> Tensor:
    """``[55, 3]`` Middlebury wheel colours in [0, 1], hue by hue."""
    ry, yg, gc, cb, bm, mr = WHEEL_SEGMENTS
    ramps = []
    for n, start, channel, rising in (
        (ry, (1, 0, 0), 1, True), (yg, (1, 1, 0), 0, False), (gc, (0, 1, 0), 2, True),
        (cb, (0, 1, 1), 1, False), (bm, (0, 0, 1), 0, True), (mr, (1, 0, 1), 2, False),
    ):  # fmt: skip
        seg = torch.tensor(start, dtype=torch.float32, device=device).repeat(n, 1)
        ramp = torch.arange(n, dtype=torch.float32, device=device) / n
        seg[:, channel] = ramp if rising else 1 - ramp
        ramps.append(seg)
    return torch.cat(ramps)


def flow_to_color(flow: Tensor, max_norm: float | None = None) -> Tensor:
    """Flow ``[B, 2, H, W]`` (channel 0 = x) -> ``[B, 3, H, W]`` in [0, 1], Middlebury colour coding.

    Hue = direction, saturation = magnitude / ``max_norm`` (white = no motion). ``max_norm = None`` normalises
    each image by its own largest magnitude; vectors longer than ``max_norm`` are drawn at 75% brightness.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow_to_color expects flow [B, 2, H, W], got shape {tuple(flow.shape)}")
    flow = flow.float()
    u, v = flow[:, 0], flow[:, 1]
    radius = torch.sqrt(u * u + v * v)
    if max_norm is None:
        norm = radius.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1)
    else:
        if max_norm <= 0:
            raise ValueError(f"flow_to_color: max_norm must be positive, got {max_norm}")
        norm = torch.full_like(radius[:, :1, :1], float(max_norm))
    radius = radius / norm
    wheel = _colour_wheel(flow.device)
    n = wheel.shape[0]
    angle = torch.atan2(-v, -u) / torch.pi  # in [-1, 1]
    position = (angle + 1) / 2 * (n - 1)
    k0 = position.floor().long().clamp(0, n - 1)
    k1 = (k0 + 1) % n
    frac = (position - k0.float()).unsqueeze(-1)
    colour = wheel[k0] * (1 - frac) + wheel[k1] * frac  # [B, H, W, 3]
    r = radius.unsqueeze(-1)
    inside = 1 - r.clamp(max=1) * (1 - colour)
    colour = torch.where(r <= 1, inside, colour * 0.75)
    return colour.permute(0, 3, 1, 2).clamp(0, 1)


def make_grid(rows: Sequence[Sequence[Tensor]], padding: int = 2, pad_value: float = 1.0) -> Tensor:
    """Tile rows of images ``[C, H, W]`` (C = 1 or 3, values in [0, 1], all the same H and W) into one
    ``[3, H', W']`` image with ``padding`` pixels of ``pad_value`` between and around them. Rows may have
    different lengths (short rows are padded on the right)."""
    if not rows or not all(rows):
        raise ValueError("make_grid needs at least one non-empty row")
    first = rows[0][0]
    height, width = first.shape[-2:]
    columns = max(len(row) for row in rows)
    grid = torch.full(
        (3, padding + len(rows) * (height + padding), padding + columns * (width + padding)),
        pad_value,
        dtype=torch.float32,
        device=first.device,
    )
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            if image.dim() != 3 or image.shape[0] not in (1, 3) or tuple(image.shape[-2:]) != (height, width):
                raise ValueError(
                    f"make_grid: image ({i}, {j}) has shape {tuple(image.shape)}; expected [1 or 3, {height}, {width}]"
                )
            y, x = padding + i * (height + padding), padding + j * (width + padding)
            grid[:, y : y + height, x : x + width] = image.float().expand(3, -1, -1)
    return grid
