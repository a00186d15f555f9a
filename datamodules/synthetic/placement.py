"""Maps between a body part's material (local) coordinates and image pixels, for one pose.

Every part is rendered by inverse mapping: a pixel ``p`` is taken to local coordinates ``u = to_local(p)``,
the part's look decides coverage and colour from ``u``, and the ground-truth flow from a target pose to a
source pose is ``to_image_source(to_local_target(p)) - p`` for the part in front at ``p``. Two kinds:

- ``AffinePlacement``: ``p = A u + b`` (torso and skirt in the body plane, foreshortened by the body's yaw;
  limbs along their projected bone, foreshortened along it; the hair behind the head).
- ``SpherePlacement``: the head, an ellipsoid seen in orthographic projection, local coordinates = a point
  on the unit sphere in the head's own frame, so turning the head moves the face across the silhouette.

Pixel coordinates: x right, y down, pixel centres at integers (the convention of ``models.warp``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Coords = tuple[np.ndarray, ...]


def rotation_2d(angle: float) -> np.ndarray:
    """``[2, 2]`` rotation by ``angle`` radians (counter-clockwise in a y-down image = clockwise on screen)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


class AffinePlacement:
    """``p = A u + b``; ``A`` ``[2, 2]`` (columns: image direction of local axes, pixels per unit), ``b`` ``[2]``.

    The coefficients and the inverse are kept as Python floats: these maps are applied to small pixel boxes
    many times per image, where numpy's per-call overhead on 2x2 matrices would dominate.
    """

    def __init__(self, A: np.ndarray | tuple, b: np.ndarray | tuple) -> None:
        (a, c), (d, e) = ((float(v) for v in row) for row in A)
        det = a * e - c * d
        if abs(det) < 1e-12:
            raise ValueError(f"AffinePlacement: singular matrix {A!r}")
        self.A = (a, c, d, e)
        self.b = tuple(float(v) for v in b)
        self.inverse = (e / det, -c / det, -d / det, a / det)
        self.pixels_per_unit = abs(det) ** 0.5  # geometric-mean scale: local distance -> pixels (antialiasing)

    def bbox(self, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """Image box ``(x0, y0, x1, y1)`` of the local box ``bounds = (u0, v0, u1, v1)``."""
        u0, v0, u1, v1 = bounds
        a, c, d, e = self.A
        xs = [a * u + c * v + self.b[0] for u, v in ((u0, v0), (u1, v0), (u0, v1), (u1, v1))]
        ys = [d * u + e * v + self.b[1] for u, v in ((u0, v0), (u1, v0), (u0, v1), (u1, v1))]
        return min(xs), min(ys), max(xs), max(ys)

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[Coords, None]:
        """Pixel grids ``x`` ``[1, w]`` / ``y`` ``[h, 1]`` -> local ``(u, v)`` ``[h, w]`` each; no silhouette term."""
        i00, i01, i10, i11 = (np.float32(v) for v in self.inverse)
        dx, dy = x - np.float32(self.b[0]), y - np.float32(self.b[1])
        return (i00 * dx + i01 * dy, i10 * dx + i11 * dy), None

    def to_image(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, None]:
        """Local ``(u, v)`` -> pixel ``(x, y)``; every point faces the camera (``None``)."""
        u, v = coords
        a, c, d, e = (np.float32(v) for v in self.A)
        return a * u + c * v + np.float32(self.b[0]), d * u + e * v + np.float32(self.b[1]), None


def yaw_matrix(yaw: float) -> np.ndarray:
    """``[3, 3]`` rotation about the vertical (y) axis taking body or head frame to view frame.

    Frames: x = the person's left (image right when facing the camera), y = down, z = towards the camera.
    ``yaw > 0`` turns the front towards image right and the person's left side away from the camera.
    """
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


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

    def bbox(self, bounds: tuple[float, float, float, float] | None = None) -> tuple[float, float, float, float]:
        """Image box of the silhouette (``bounds`` unused: the sphere's extent is fixed)."""
        c, s = abs(np.cos(self.roll)), abs(np.sin(self.roll))
        hx = self.radius * np.hypot(c, self.aspect * s)
        hy = self.radius * np.hypot(s, self.aspect * c)
        return self.centre[0] - hx, self.centre[1] - hy, self.centre[0] + hx, self.centre[1] + hy

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[Coords, np.ndarray]:
        """Pixel grids -> ``(X, Y, Z)`` ``[h, w]`` on the visible hemisphere and the silhouette's signed distance
        in pixels (negative inside). Points outside the silhouette are clamped onto its rim."""
        inv = rotation_2d(-self.roll).astype(np.float32) / np.float32(self.radius)
        dx = (x - np.float32(self.centre[0])).astype(np.float32)
        dy = (y - np.float32(self.centre[1])).astype(np.float32)
        vx = inv[0, 0] * dx + inv[0, 1] * dy
        vy = (inv[1, 0] * dx + inv[1, 1] * dy) / np.float32(self.aspect)
        rho = np.sqrt(vx * vx + vy * vy)
        sdf = (rho - 1.0) * np.float32(self.radius)
        scale = 1.0 / np.maximum(rho, 1.0)
        vx, vy = vx * scale, vy * scale
        vz = np.sqrt(np.maximum(1.0 - vx * vx - vy * vy, 0.0))
        rot = yaw_matrix(self.yaw).T.astype(np.float32)  # view -> head frame
        X = rot[0, 0] * vx + rot[0, 2] * vz
        Z = rot[2, 0] * vx + rot[2, 2] * vz
        return (X, vy, Z), sdf

    def to_image(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Head-frame ``(X, Y, Z)`` -> pixel ``(x, y)`` and whether the point faces the camera (view z > 0)."""
        X, Y, Z = coords
        rot = yaw_matrix(self.yaw).astype(np.float32)
        vx = rot[0, 0] * X + rot[0, 2] * Z
        vz = rot[2, 0] * X + rot[2, 2] * Z
        r = rotation_2d(self.roll).astype(np.float32) * np.float32(self.radius)
        vy = Y * np.float32(self.aspect)
        x = r[0, 0] * vx + r[0, 1] * vy + np.float32(self.centre[0])
        y = r[1, 0] * vx + r[1, 1] * vy + np.float32(self.centre[1])
        return x, y, vz > 0

    def point(self, X: float, Y: float, Z: float) -> tuple[np.ndarray, float]:
        """One head-frame point -> pixel ``[2]`` and its view depth (``> 0`` faces the camera)."""
        vx, vy, vz = yaw_matrix(self.yaw) @ np.array([X, Y, Z])
        return rotation_2d(self.roll) @ np.array([vx, self.aspect * vy]) * self.radius + self.centre, float(vz)
