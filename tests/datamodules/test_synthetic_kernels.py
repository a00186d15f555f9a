"""Pixel boxes and row spans of the compiled rasteriser (``datamodules/synthetic/kernels.py``)."""

from __future__ import annotations

import numpy as np

from datamodules.synthetic.kernels import SPAN_MARGIN, part_box, row_span
from datamodules.synthetic.placement import AffinePlacement, SpherePlacement


def test_part_box_is_the_image_box_of_the_local_box_with_a_pixel_of_margin() -> None:
    placement = AffinePlacement(((0.0, -4.0), (4.0, 0.0)), (50.0, 50.0))  # 90 deg rotation, 4 px per unit
    # local (0, -1)..(2, 1) -> image x in [46, 54], y in [50, 58]; boxes are half-open (y0, y1, x0, x1)
    assert part_box(placement.code, np.array([0.0, -1.0, 2.0, 1.0]), 100, 100) == (49, 60, 45, 56)
    assert part_box(placement.code, np.array([0.0, -1.0, 2.0, 1.0]), 55, 50) == (49, 55, 45, 50)  # clipped
    assert part_box(placement.code, np.array([30.0, -1.0, 40.0, 1.0]), 100, 100)[:2] == (169, 100)  # empty


def test_part_box_of_the_head_holds_its_whole_silhouette() -> None:
    head = SpherePlacement(np.array([40.0, 30.0]), radius=10.0, aspect=1.3, yaw=0.4, roll=0.5)
    xs, ys = np.arange(80, dtype=np.float32)[None, :], np.arange(60, dtype=np.float32)[:, None]
    _, sdf = head.to_local(xs, ys)
    rows, cols = np.nonzero(sdf < 0.5)  # every pixel the head's antialiased edge reaches
    y0, y1, x0, x1 = part_box(head.code, np.zeros(4), 60, 80)
    assert y0 <= rows.min() and rows.max() < y1 and x0 <= cols.min() and cols.max() < x1
    assert y1 - y0 <= np.ptp(rows) + 5 and x1 - x0 <= np.ptp(cols) + 5  # and not much more


def test_row_span_keeps_the_pixels_over_the_local_box_and_drops_the_far_ones() -> None:
    # A slanted, foreshortened limb: its pixel box is mostly outside it, the row spans are not.
    placement = AffinePlacement(((3.0, -5.0), (4.0, 2.0)), (20.0, 10.0))
    bounds = np.array([0.0, -0.5, 10.0, 0.5])
    y0, y1, x0, x1 = part_box(placement.code, bounds, 200, 200)
    xs, ys = np.arange(x0, x1, dtype=np.float32)[None, :], np.arange(y0, y1, dtype=np.float32)[:, None]
    (u, v), _ = placement.to_local(xs, ys)
    # distance in pixels from each pixel to the parallelogram, per local axis (gradient norms of u and v)
    inverse = np.linalg.inv([[3.0, -5.0], [4.0, 2.0]])
    grow_u, grow_v = np.linalg.norm(inverse, axis=1)
    outside_u = np.maximum(bounds[0] - u, u - bounds[2]) / grow_u
    outside_v = np.maximum(bounds[1] - v, v - bounds[3]) / grow_v
    outside = np.maximum(outside_u, outside_v)  # pixels; <= 0 over the local box
    visited = np.zeros(outside.shape, bool)
    for i, y in enumerate(range(y0, y1)):
        start, end = row_span(placement.code, bounds, float(y), x0, x1)
        visited[i, start - x0 : end - x0] = True
    assert visited[outside <= SPAN_MARGIN - 1e-4].all()  # everything within the margin is visited
    assert not visited[outside > SPAN_MARGIN + 1e-4].any()  # nothing beyond it
    assert visited.mean() < 0.5  # the box is mostly empty
