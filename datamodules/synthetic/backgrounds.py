"""Studio backgrounds for the synthetic images: plain, gradient or smooth noise (issue 3), mostly light."""

from __future__ import annotations

import numpy as np

from datamodules.synthetic.colours import light_colour
from datamodules.synthetic.textures import Gradient, sample_noise

BACKGROUND_KINDS: tuple[str, ...] = ("plain", "gradient", "noise")


def sample_background(rng: np.random.Generator, height: int, width: int, kind: str | None = None) -> np.ndarray:
    """Planar ``[3, H, W]`` float32 in [0, 1]; textures are evaluated at image coordinates in units of the height,
    so a background looks the same at any resolution."""
    kind = kind if kind is not None else BACKGROUND_KINDS[rng.integers(len(BACKGROUND_KINDS))]
    if kind not in BACKGROUND_KINDS:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {BACKGROUND_KINDS}")
    first = light_colour(rng)
    if kind == "plain":
        return np.broadcast_to(first[:, None, None], (3, height, width)).copy()
    colours = np.stack([first, light_colour(rng) * np.float32(rng.uniform(0.75, 1.0))])
    if kind == "gradient":
        texture = Gradient(float(rng.uniform(-np.pi, np.pi)), -0.4, 0.6, colours)
    else:
        texture = sample_noise(rng, float(rng.uniform(0.15, 0.4)), colours, None)
    # Evaluated on the broadcast grid (a row of x times a column of y) in one compiled pass.
    x = np.arange(width, dtype=np.float32)[None, :] / np.float32(height) - np.float32(0.5 * width / height)
    y = np.arange(height, dtype=np.float32)[:, None] / np.float32(height) - np.float32(0.5)
    return texture(x, y)
