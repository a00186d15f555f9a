"""Maps between a body part's material (local) coordinates and image pixels, for one pose.

Every part is rendered by inverse mapping: a pixel ``p`` is taken to local coordinates ``u = to_local(p)``,
the part's look decides coverage and colour from ``u``, and the ground-truth flow from a target pose to a
source pose is ``to_image_source(to_local_target(p)) - p`` for the part in front at ``p``. Two kinds:

- ``AffinePlacement``: ``p = A u + b`` (torso and skirt in the body plane, foreshortened by the body's yaw;
  limbs along their projected bone, foreshortened along it; the hair behind the head).
- ``SpherePlacement``: the head, an ellipsoid seen in orthographic projection, local coordinates = a point
  on the unit sphere in the head's own frame, so turning the head moves the face across the silhouette.

Pixel coordinates: x right, y down, pixel centres at integers (the convention of ``contract.flow``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from datamodules.synthetic.kernels import PLACEMENT_CODE, image_points, local_points

Coords = tuple[np.ndarray, ...]


def rotation_2d(angle: float) -> np.ndarray:
    """``[2, 2]`` rotation by ``angle`` radians (counter-clockwise in a y-down image = clockwise on screen)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


class AffinePlacement:
    """``p = A u + b``; ``A`` ``[2, 2]`` (columns: image direction of local axes, pixels per unit), ``b`` ``[2]``.

    The coefficients and the inverse are computed in Python floats (numpy's per-call overhead on 2x2 matrices
    would dominate, once per part and image) and kept as the ``kernels`` code.
    """

    def __init__(self, A: np.ndarray | tuple, b: np.ndarray | tuple) -> None:
        (a, c), (d, e) = A
        a, c, d, e = float(a), float(c), float(d), float(e)
        det = a * e - c * d
        if abs(det) < 1e-12:
            raise ValueError(f"AffinePlacement: singular matrix {A!r}")
        inverse = (e / det, -c / det, -d / det, a / det)
        self.pixels_per_unit = abs(det) ** 0.5  # geometric-mean scale: local distance -> pixels (antialiasing)
        self.code = np.array([0.0, *inverse, float(b[0]), float(b[1]), a, c, d, e, self.pixels_per_unit], np.float64)

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[Coords, None]:
        """Pixel grids ``x`` ``[1, w]`` / ``y`` ``[h, 1]`` -> local ``(u, v)`` ``[h, w]`` each; no silhouette term."""
        u, v, _, _ = _local(self.code, x, y)
        return (u, v), None

    def to_image(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, None]:
        """Local ``(u, v)`` -> pixel ``(x, y)``; every point faces the camera (``None``)."""
        x, y, _ = _image(self.code, *coords)
        return x, y, None


def _local(code: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """``kernels.to_local`` over broadcastable pixel arrays: three coordinates and the placement's sdf."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    out = np.empty((4, x.size), np.float32)
    local_points(code, np.ravel(x), np.ravel(y), out)
    return tuple(out.reshape(4, *x.shape))


def _image(code: np.ndarray, *coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kernels.to_image`` over local points ``[N]`` (two or three arrays): pixel x, y and facing."""
    c = [np.ravel(np.asarray(v, np.float64)) for v in coords]
    xy, facing = np.empty((2, c[0].size), np.float32), np.empty(c[0].size, bool)
    image_points(code, c[0], c[1], c[2] if len(c) > 2 else np.zeros(c[0].size), xy, facing)
    return xy[0], xy[1], facing


@dataclass(frozen=True)
class SpherePlacement:
    """The head: unit sphere in the head frame, turned by ``yaw``, seen orthographically as an ellipse of
    horizontal radius ``radius`` pixels and vertical radius ``aspect * radius``, tilted by ``roll``, centred at
    ``centre``. Local coordinates: ``(X, Y, Z)`` on the unit sphere in the head frame (``Z`` = the face)."""

    centre: np.ndarray  # [2] pixels
    radius: float
    aspect: float
    yaw: float
    roll: float

    @property
    def pixels_per_unit(self) -> float:
        return float(self.radius)

    @cached_property
    def code(self) -> np.ndarray:
        """``kernels`` placement code: kind 1, centre, radius, aspect, cos / sin of roll and of yaw."""
        angles = (np.cos(self.roll), np.sin(self.roll), np.cos(self.yaw), np.sin(self.yaw))
        params = [1.0, *map(float, self.centre), self.radius, self.aspect, *angles]
        return np.array(params + [0.0] * (PLACEMENT_CODE - len(params)), np.float64)

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[Coords, np.ndarray]:
        """Pixel grids -> ``(X, Y, Z)`` ``[h, w]`` on the visible hemisphere and the silhouette's signed distance
        in pixels (negative inside). Points outside the silhouette are clamped onto its rim."""
        X, Y, Z, sdf = _local(self.code, x, y)
        return (X, Y, Z), sdf

    def to_image(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Head-frame ``(X, Y, Z)`` -> pixel ``(x, y)`` and whether the point faces the camera (view z > 0)."""
        return _image(self.code, *coords)

    def point(self, X: float, Y: float, Z: float) -> tuple[tuple[float, float], float]:
        """One head-frame point -> pixel ``(x, y)`` and its view depth (``> 0`` faces the camera), as ``to_image``
        maps it: the yaw about the vertical axis (``yaw > 0`` turns the face towards image right), then the aspect,
        roll, radius and centre; in Python floats (one point: numpy's per-call overhead would be all the cost)."""
        cy, sy, cr, sr = math.cos(self.yaw), math.sin(self.yaw), math.cos(self.roll), math.sin(self.roll)
        vx, vy, vz = cy * X + sy * Z, self.aspect * Y, cy * Z - sy * X
        x = (cr * vx - sr * vy) * self.radius + float(self.centre[0])
        y = (sr * vx + cr * vy) * self.radius + float(self.centre[1])
        return (x, y), vz
