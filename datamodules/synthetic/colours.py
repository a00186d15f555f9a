"""Colour sampling for the synthetic people: garments, skin, hair, backgrounds (RGB float32 in [0, 1]).

Colours of many points are planar, ``[3, N]`` (channel first): numpy broadcasting over a trailing axis of
length 3 runs a length-3 inner loop and is several times slower.
"""

from __future__ import annotations

import colorsys

import numpy as np

# Every garment colour keeps at least one channel at or below this value, so a flat garment on a white
# background is always "non-white" (the rule the DeepFashion reader uses to derive a garment mask).
GARMENT_MAX_MIN_CHANNEL = 0.8


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """One colour ``[3]`` float32 from hue, saturation, value in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def garment_colour(rng: np.random.Generator) -> np.ndarray:
    """A fabric colour ``[3]``: any hue; muted, saturated, dark or pastel; never near-white."""
    style = rng.integers(4)
    if style == 0:  # muted
        s, v = rng.uniform(0.15, 0.45), rng.uniform(0.35, 0.8)
    elif style == 1:  # saturated
        s, v = rng.uniform(0.6, 0.95), rng.uniform(0.5, 0.95)
    elif style == 2:  # dark (navy, black, bottle green ...)
        s, v = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.35)
    else:  # pastel
        s, v = rng.uniform(0.25, 0.45), rng.uniform(0.85, 1.0)
    colour = hsv(rng.random(), s, v)
    excess = colour.min() - GARMENT_MAX_MIN_CHANNEL
    return colour - max(excess, 0.0)


def contrasting_colour(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A garment colour whose luminance differs from ``base`` by at least 0.25 (legible patterns)."""
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for _ in range(16):
        colour = garment_colour(rng)
        if abs(float(luma @ colour - luma @ base)) >= 0.25:
            return colour
    return np.where(luma @ base > 0.5, np.float32(0.1), np.float32(0.8)) * np.ones(3, np.float32)


def light_colour(rng: np.random.Generator) -> np.ndarray:
    """A studio-background colour ``[3]``: light, low saturation."""
    return hsv(rng.random(), rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0))
