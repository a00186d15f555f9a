"""Colour sampling (``datamodules/synthetic/colours.py``)."""

from __future__ import annotations

import numpy as np

from datamodules.synthetic.colours import GARMENT_MAX_MIN_CHANNEL, contrasting_colour, garment_colour, light_colour

A, B, C = np.float32([1, 0, 0]), np.float32([0, 0, 1]), np.float32([0, 1, 0])
LUMA = np.float32([0.299, 0.587, 0.114])


def test_garment_colours_are_never_near_white() -> None:
    rng = np.random.default_rng(5)
    colours = np.stack([garment_colour(rng) for _ in range(500)])
    assert (colours.min(axis=1) <= GARMENT_MAX_MIN_CHANNEL + 1e-6).all()
    assert colours.min() >= 0.0 and colours.max() <= 1.0


def test_contrasting_colours_differ_in_luminance() -> None:
    rng = np.random.default_rng(6)
    for _ in range(100):
        base = garment_colour(rng)
        assert abs(float(LUMA @ contrasting_colour(rng, base) - LUMA @ base)) >= 0.25 - 1e-6


def test_light_colours_are_light() -> None:
    rng = np.random.default_rng(7)
    assert min(float(light_colour(rng).max()) for _ in range(100)) >= 0.75 - 1e-6
