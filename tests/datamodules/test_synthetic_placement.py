"""Local <-> pixel maps of body parts (``datamodules/synthetic/placement.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.placement import AffinePlacement, SpherePlacement


def test_affine_round_trip_and_known_answer() -> None:
    placement = AffinePlacement(((2.0, -1.0), (0.5, 3.0)), (10.0, 20.0))
    x, y = placement.to_image((np.float32([1.0, 0.0]), np.float32([0.0, 2.0])))[:2]
    np.testing.assert_allclose(np.stack([x, y], 1), [[12.0, 20.5], [8.0, 26.0]])
    (u, v), extra = placement.to_local(np.float32([[12.0, 8.0]]), np.float32([[20.5], [26.0]]))
    assert extra is None
    np.testing.assert_allclose(u[0, 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(v[1, 1], 2.0, atol=1e-5)
    assert placement.pixels_per_unit == pytest.approx(np.sqrt(6.5))


def test_singular_affine_is_rejected() -> None:
    with pytest.raises(ValueError, match="singular"):
        AffinePlacement(((1.0, 2.0), (2.0, 4.0)), (0.0, 0.0))


def test_sphere_front_point_moves_with_yaw() -> None:
    centre = np.array([40.0, 30.0])
    frontal = SpherePlacement(centre, radius=10.0, aspect=1.2, yaw=0.0, roll=0.0)
    turned = SpherePlacement(centre, radius=10.0, aspect=1.2, yaw=np.pi / 2, roll=0.0)
    xy, depth = frontal.point(0.0, 0.0, 1.0)
    np.testing.assert_allclose(xy, centre)
    assert depth == pytest.approx(1.0)
    xy, depth = turned.point(0.0, 0.0, 1.0)  # the face turned to image right, seen edge-on
    np.testing.assert_allclose(xy, [50.0, 30.0], atol=1e-9)
    assert depth == pytest.approx(0.0, abs=1e-9)
    xy, _ = frontal.point(0.0, -1.0, 0.0)  # the crown: aspect * radius above the centre
    np.testing.assert_allclose(xy, [40.0, 18.0])


def test_sphere_round_trip_and_silhouette_distance() -> None:
    head = SpherePlacement(np.array([40.0, 30.0]), radius=10.0, aspect=1.2, yaw=0.6, roll=0.2)
    xs = np.arange(25, 56, dtype=np.float32)[None, :]
    ys = np.arange(12, 49, dtype=np.float32)[:, None]
    (X, Y, Z), sdf = head.to_local(xs, ys)
    np.testing.assert_allclose(X * X + Y * Y + Z * Z, 1.0, atol=1e-4)
    inside = sdf < 0
    x, y, facing = head.to_image((X[inside], Y[inside], Z[inside]))
    gx, gy = np.broadcast_arrays(xs, ys)
    np.testing.assert_allclose(x, gx[inside], atol=1e-3)
    np.testing.assert_allclose(y, gy[inside], atol=1e-3)
    assert facing.all()  # every pixel sees the visible hemisphere
