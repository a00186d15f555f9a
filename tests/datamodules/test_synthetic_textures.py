"""Procedural textures (``datamodules/synthetic/textures.py``): known answers."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.textures import (
    EDGE_SOFTNESS,
    TEXTURE_FAMILIES,
    Checks,
    Dots,
    Gradient,
    Print,
    Solid,
    Stripes,
    sample_noise,
    sample_texture,
    text_bitmap,
    value_noise_tile,
)

A, B, C = np.float32([1, 0, 0]), np.float32([0, 0, 1]), np.float32([0, 1, 0])


def _at(texture, x, y) -> np.ndarray:
    return texture(np.float32(np.atleast_1d(x)), np.float32(np.atleast_1d(y))).T


def test_stripes_alternate_with_the_period_and_duty() -> None:
    stripes = Stripes(angle=0.0, period=0.2, duty=0.25, colours=np.stack([A, B]))
    # Band [0, 0.05) of every 0.2 is colour B; away from the soft edges the colours are exact.
    np.testing.assert_allclose(_at(stripes, [0.025, 0.225, -0.175], 0.0), [B, B, B], atol=1e-6)
    np.testing.assert_allclose(_at(stripes, [0.12, 0.32, -0.08], 3.0), [A, A, A], atol=1e-6)
    # Exactly on an edge the two colours are mixed half and half.
    np.testing.assert_allclose(_at(stripes, 0.05, 0.0)[0], 0.5 * (A + B), atol=1e-5)
    # Rotated by 90 deg, stripes depend on y instead of x.
    turned = Stripes(angle=np.pi / 2, period=0.2, duty=0.25, colours=np.stack([A, B]))
    np.testing.assert_allclose(_at(turned, [0.0, 0.3], 0.025), [B, B], atol=1e-5)


def test_checks_colour_where_bands_cross() -> None:
    checks = Checks(angle=0.0, period=0.2, duty=0.25, colours=np.stack([A, B, C]))
    np.testing.assert_allclose(_at(checks, [0.12, 0.025, 0.025], [0.12, 0.12, 0.025]), [A, B, C], atol=1e-5)


def test_dots_on_a_staggered_lattice() -> None:
    dots = Dots(angle=0.0, period=0.2, radius=0.05, colours=np.stack([A, B]))
    # Dot centres at (0.1 + 0.2 i, 0.1 + 0.2 j) in even rows, shifted by half a period in odd rows.
    np.testing.assert_allclose(_at(dots, [0.1, 0.3, 0.2], [0.1, 0.1, 0.3]), [B, B, B], atol=1e-5)
    np.testing.assert_allclose(_at(dots, [0.0, 0.1], [0.1, 0.3]), [A, A], atol=1e-5)


def test_gradient_endpoints_and_midpoint() -> None:
    gradient = Gradient(angle=0.0, lo=0.0, hi=1.0, colours=np.stack([A, B]))
    np.testing.assert_allclose(_at(gradient, [-1.0, 0.5, 2.0], 0.0), [A, 0.5 * (A + B), B], atol=1e-6)


def test_noise_is_periodic_smooth_and_in_range() -> None:
    noise = sample_noise(np.random.default_rng(0), 0.1, np.stack([A, B]), None)
    x = np.random.default_rng(1).uniform(-3, 3, 500).astype(np.float32)
    y = np.random.default_rng(2).uniform(-3, 3, 500).astype(np.float32)
    values = noise.value(x, y)
    assert values.min() >= 0.0 and values.max() <= 1.0 and values.std() > 0.05
    np.testing.assert_allclose(noise.value(x + np.float32(noise.period), y), values, atol=1e-4)
    step = noise.value(x + np.float32(EDGE_SOFTNESS / 10), y) - values
    assert np.abs(step).max() < 0.05  # no jumps below the pattern's own scale


def test_value_noise_tile_is_the_bilinear_smoothstep_octave_sum() -> None:
    # Reference, point by point: octave o samples the periodic lattice at (g 2^o + 17.3 o, g 2^o + 5.1 o) mod n
    # for grid step g = n / resolution, blending the four neighbours with smoothstep weights, weight 0.5^o.
    n, octaves, resolution = 4, 2, 8
    lattice = np.random.default_rng(5).random((n, n), dtype=np.float32)
    expected = np.zeros((resolution + 1, resolution + 1))
    for row in range(resolution + 1):
        for col in range(resolution + 1):
            for octave in range(octaves):
                u = (col * n / resolution * 2**octave + 17.3 * octave) % n
                v = (row * n / resolution * 2**octave + 5.1 * octave) % n
                iu, iv = int(u), int(v)
                wu, wv = (f * f * (3 - 2 * f) for f in (u - iu, v - iv))
                corners = [lattice[(iv + dv) % n, (iu + du) % n] for dv in (0, 1) for du in (0, 1)]
                top, bottom = corners[0] * (1 - wu) + corners[1] * wu, corners[2] * (1 - wu) + corners[3] * wu
                expected[row, col] += 0.5**octave * (top * (1 - wv) + bottom * wv)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    tile = value_noise_tile(lattice, octaves, resolution)
    assert tile.dtype == np.float32
    np.testing.assert_allclose(tile, expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["gradient", "noise"])
def test_colours_on_a_broadcast_grid_match_the_texture_at_points(kind: str) -> None:
    # Backgrounds evaluate a texture on a row of x times a column of y; it must be the texture at every point, the
    # two colours mixed by a weight in [0, 1].
    colours = np.stack([A, B])
    if kind == "gradient":
        texture = Gradient(angle=0.7, lo=-0.4, hi=0.6, colours=colours)
    else:
        texture = sample_noise(np.random.default_rng(3), 0.2, colours, 0.5)
    x, y = np.linspace(-0.5, 0.5, 7, dtype=np.float32), np.linspace(-0.5, 0.5, 5, dtype=np.float32)
    grid = texture(x[None, :], y[:, None])
    assert grid.shape == (3, 5, 7)
    xs, ys = np.meshgrid(x, y)
    np.testing.assert_array_equal(grid.reshape(3, -1), texture(xs.ravel(), ys.ravel()))
    weight = (grid[[0, 2]] - A[[0, 2], None, None]) / (B - A)[[0, 2], None, None]  # red and blue change
    np.testing.assert_allclose(weight[0], weight[1], atol=1e-5)  # one weight mixes every channel
    assert weight.min() > -1e-5 and weight.max() < 1 + 1e-5 and np.ptp(weight[0]) > 0.05


def test_print_decal_only_changes_its_rectangle() -> None:
    alpha = text_bitmap("VTON")
    assert alpha.max() == pytest.approx(1.0) and 0.05 < alpha.mean() < 0.6
    decal = Print(Solid(A), alpha, B, centre=(0.0, 0.4), width=0.4)
    height = 0.4 * (alpha.shape[0] - 1) / (alpha.shape[1] - 1)
    x, y = np.meshgrid(np.linspace(-0.5, 0.5, 101), np.linspace(0.0, 0.8, 81))
    rgb = _at(decal, x.ravel(), y.ravel())
    inside = (np.abs(x.ravel()) <= 0.2) & (np.abs(y.ravel() - 0.4) <= height / 2)
    np.testing.assert_allclose(rgb[~inside], np.broadcast_to(A, rgb[~inside].shape))
    assert (np.abs(rgb[inside] - B).max(axis=1) < 0.05).sum() > 20  # solid ink inside the letters


@pytest.mark.parametrize("family", TEXTURE_FAMILIES)
def test_every_family_gives_valid_colours(family: str) -> None:
    rng = np.random.default_rng(4)
    texture = sample_texture(rng, family)
    x, y = rng.uniform(-1, 1, (2, 300)).astype(np.float32)
    rgb = texture(x, y)
    assert rgb.shape == (3, 300) and rgb.dtype == np.float32
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    np.testing.assert_array_equal(rgb, texture(x, y))  # a material property: same point, same colour


def test_unknown_family_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown texture family 'plaid'"):
        sample_texture(np.random.default_rng(0), "plaid")
