"""Garments and their coverage (``datamodules/synthetic/garments.py``): known answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from contract.sample import LIP_LABELS
from datamodules.synthetic.garments import (
    SLEEVE_FLAT_ANGLE,
    neckline_y,
    sample_lower,
    sample_outfit,
    sample_top,
    skirt_sdf,
    sleeve_frame,
    sleeve_to_garment,
    top_panel_sdf,
)
from datamodules.synthetic.skeleton import BodyShape

SHAPE = BodyShape()


def _top(kind: str, **fields):
    return replace(sample_top(np.random.default_rng(0), SHAPE, kind), **fields)


@pytest.mark.parametrize("neckline", ["crew", "v", "scoop"])
def test_neckline_dips_at_the_centre_and_meets_the_shoulders(neckline: str) -> None:
    top = _top("short_sleeve", neckline=neckline, neck_half=0.15, neck_depth=0.2)
    ax = np.float32([0.0, 0.15, 0.3])
    line = neckline_y(SHAPE, top, ax)
    np.testing.assert_allclose(line, SHAPE.shoulder_line(ax) + np.float32([0.2, 0.0, 0.0]), atol=1e-6)
    if neckline == "v":  # straight sides
        assert neckline_y(SHAPE, top, np.float32([0.075]))[0] == pytest.approx(
            SHAPE.shoulder_line(np.float32(0.075)) + 0.1
        )


def test_tank_top_leaves_the_shoulders_bare_but_keeps_the_straps() -> None:
    tank = _top("tank", neck_half=0.15, strap_half=0.25, ease=0.0, hem=1.0)
    sleeved = replace(tank, kind="short_sleeve", sleeve_length=0.3)
    ax, y = np.float32([0.2, 0.35, 0.3, 0.0]), np.float32([0.1, 0.1, 0.5, 1.05])
    half = SHAPE.torso_half_width(y)
    inside_tank = top_panel_sdf(SHAPE, tank, ax, y, half) < 0
    inside_tee = top_panel_sdf(SHAPE, sleeved, ax, y, half) < 0
    np.testing.assert_array_equal(inside_tank, [True, False, True, False])  # strap, bare shoulder, side, below hem
    np.testing.assert_array_equal(inside_tee, [True, True, True, False])


def test_skirt_flares_from_its_top_to_its_hem() -> None:
    x, y = np.float32([0.3, 0.6, 0.3, 0.6, 0.0]), np.float32([0.8, 1.8, 1.3, 1.3, 1.9])
    sdf = skirt_sdf(x, y, top_y=0.8, hem=1.8, top_half=0.35, hem_half=0.6)
    # top edge, hem corner, inside (half-width 0.475 halfway down), outside the side, below the hem
    np.testing.assert_allclose(sdf, [0.0, 0.0, -0.175, 0.125, 0.1], atol=1e-6)


def test_sleeve_frame_is_the_flat_layout() -> None:
    top = _top("long_sleeve")
    origin, axis, normal = sleeve_frame(top, -1.0)
    angle = SLEEVE_FLAT_ANGLE["long_sleeve"]
    np.testing.assert_allclose(origin, [-SHAPE.shoulder_half, SHAPE.shoulder_drop], atol=1e-6)
    np.testing.assert_allclose(axis, [-np.sin(angle), np.cos(angle)], atol=1e-6)  # down and out to the wearer's right
    assert float(axis @ normal) == pytest.approx(0.0, abs=1e-7)
    gx, gy = sleeve_to_garment(top, -1.0, np.float32([0.5]), np.float32([0.1]))
    np.testing.assert_allclose([gx[0], gy[0]], origin + 0.5 * axis + 0.1 * normal, atol=1e-6)


def test_samplers_and_labels() -> None:
    rng = np.random.default_rng(1)
    assert sample_top(rng, SHAPE, "dress").label == LIP_LABELS.index("dress")
    assert sample_top(rng, SHAPE, "tank").label == LIP_LABELS.index("upper_clothes")
    assert sample_top(rng, SHAPE, "tank").sleeve_length == 0
    assert sample_top(rng, SHAPE, "long_sleeve").sleeve_length > SHAPE.upper_arm
    assert sample_lower(rng, "trousers").label == LIP_LABELS.index("pants")
    assert sample_lower(rng, "skirt").label == LIP_LABELS.index("skirt")
    assert all(sample_outfit(rng, SHAPE, "dress").lower is None for _ in range(5))
    with pytest.raises(ValueError, match="unknown top kind 'cape'"):
        sample_top(rng, SHAPE, "cape")
    with pytest.raises(ValueError, match="unknown lower garment 'kilt'"):
        sample_lower(rng, "kilt")
