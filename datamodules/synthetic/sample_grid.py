"""The picture grid of synthetic samples shown in the README (``vton-data grid``).

One row per triplet (train samples ``0..n-1`` of a seed): source, target, in-shop cloth, both parsings in
LIP colours, the ground-truth flow (Middlebury colours, one scale per row), visibility (green visible, red
occluded in the source, black background) and the source warped by the flow with the project's ``warp``
where visible, which should reproduce the target.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from contract.flow import warp
from datamodules.synthetic.generate import Triplet, generate_triplet, sample_rng
from datamodules.visualize import flow_to_color, make_grid, parse_to_color, vis_to_color

COLUMNS: tuple[str, ...] = (
    "source", "target (wears cloth)", "in-shop cloth", "source parsing", "target parsing", "flow target->source",
    "visibility", "warp(source, flow)",
)  # fmt: skip
HEADER_HEIGHT = 22
PADDING = 2


def triplet_row(triplet: Triplet) -> list[Tensor]:
    """The ``COLUMNS`` images of one triplet, ``[3, H, W]`` each in [0, 1]."""
    source = torch.from_numpy(triplet.source.image).float() / 255
    target = torch.from_numpy(triplet.target.image).float() / 255
    flow = torch.from_numpy(triplet.flow)[None]
    vis = torch.from_numpy(triplet.vis.astype(np.int64))[None]
    parses = torch.from_numpy(np.stack([triplet.source.parse, triplet.target.parse]).astype(np.int64))
    warped = warp(source[None], flow)[0] * (vis == 1).float()
    return [
        source, target, torch.from_numpy(triplet.cloth).float() / 255, *parse_to_color(parses),
        flow_to_color(flow * (vis[:, None] > 0))[0], vis_to_color(vis)[0], warped,
    ]  # fmt: skip


def sample_grid(n: int, height: int, width: int, seed: int, cross_garment_fraction: float = 0.5) -> Image.Image:
    """An RGB picture of ``n`` triplet rows under a header naming the columns."""
    rows = [
        triplet_row(generate_triplet(sample_rng(seed, "train", i), height, width, cross_garment_fraction))
        for i in range(n)
    ]
    grid = make_grid(rows, padding=PADDING)
    body = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    picture = Image.new("RGB", (body.width, body.height + HEADER_HEIGHT), "white")
    picture.paste(body, (0, HEADER_HEIGHT))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=13)
    for j, title in enumerate(COLUMNS):
        centre = PADDING + j * (width + PADDING) + width / 2
        draw.text((centre, HEADER_HEIGHT / 2 + 1), title, fill="black", font=font, anchor="mm")
    return picture
