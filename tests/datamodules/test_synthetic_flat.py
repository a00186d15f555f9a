"""The in-shop garment image (``datamodules/synthetic/flat.py``): same texture as on the person, white around."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from datamodules.synthetic.flat import FLAT_FILL, SLEEVE_SHADE, flat_extent, render_flat
from datamodules.synthetic.garments import TOP_KINDS, sample_top, sleeve_to_garment
from datamodules.synthetic.skeleton import BodyShape
from datamodules.synthetic.textures import Stripes

H, W = 256, 192


def _top(kind: str):
    top = sample_top(np.random.default_rng(0), BodyShape(), kind)
    colours = np.float32([[0.8, 0.2, 0.1], [0.1, 0.3, 0.7]])
    return replace(top, texture=Stripes(angle=0.5, period=0.15, duty=0.4, colours=colours))


def _pixel_to_garment(top):
    x0, y0, x1, y1 = flat_extent(top, BodyShape())
    ppu = FLAT_FILL * min(H / (y1 - y0), W / (x1 - x0))
    return lambda px, py: ((px - (W - 1) / 2) / ppu + (x0 + x1) / 2, (py - (H - 1) / 2) / ppu + (y0 + y1) / 2)


@pytest.mark.parametrize("kind", TOP_KINDS)
def test_flat_garment_on_white_spans_the_frame(kind: str) -> None:
    image, mask = render_flat(_top(kind), H, W)
    assert image.shape == (3, H, W) and mask.shape == (H, W)
    far = ~ndimage.binary_dilation(mask, iterations=2)
    assert (image[:, far] == 1.0).all()
    rows, cols = np.nonzero(mask)
    extent = max((rows.max() - rows.min()) / H, (cols.max() - cols.min()) / W)
    assert 0.7 < extent <= FLAT_FILL + 0.01  # fills the frame along its limiting axis, with a margin
    assert abs(cols.mean() - (W - 1) / 2) < 3  # front view: left-right symmetric outline
    np.testing.assert_array_equal(mask, mask[:, ::-1] | mask)  # mirror of the outline is inside the outline


def test_flat_panel_shows_the_garment_texture_at_garment_coordinates() -> None:
    top = _top("short_sleeve")
    image, mask = render_flat(top, H, W)
    to_garment = _pixel_to_garment(top)
    py, px = np.nonzero(ndimage.binary_erosion(mask, iterations=3))
    gx, gy = to_garment(px.astype(np.float32), py.astype(np.float32))
    panel = (np.abs(gx) < 0.2) & (gy > 0.3) & (gy < 0.9)  # the chest: front panel, unshaded
    expected = top.texture(np.float32(gx[panel]), np.float32(gy[panel]))
    np.testing.assert_allclose(image[:, py[panel], px[panel]], expected, atol=1e-5)


def test_flat_sleeve_uses_the_sleeve_frame_of_the_person() -> None:
    # A sleeve point (s, t) has colour texture(sleeve_to_garment(s, t)) both on the arm and in the shop image.
    top = _top("long_sleeve")
    image, mask = render_flat(top, H, W)
    to_garment = _pixel_to_garment(top)
    py, px = np.nonzero(ndimage.binary_erosion(mask, iterations=3))
    gx, gy = to_garment(px.astype(np.float32), py.astype(np.float32))
    s = np.linspace(0.3, 0.9, 7, dtype=np.float32)
    sx, sy = sleeve_to_garment(top, 1.0, s, np.zeros_like(s))
    hits = 0
    for x, y in zip(sx, sy, strict=True):
        k = np.argmin((gx - x) ** 2 + (gy - y) ** 2)
        expected = top.texture(np.float32([gx[k]]), np.float32([gy[k]]))[:, 0] * SLEEVE_SHADE
        np.testing.assert_allclose(image[:, py[k], px[k]], expected, atol=1e-5)
        hits += 1
    assert hits == 7
