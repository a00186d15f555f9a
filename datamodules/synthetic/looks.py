"""What each body part looks like in its own material coordinates: shape, colour and LIP label.

A look never sees a pose: ``evaluate(coords)`` gives, at material points ``coords`` (a tuple of ``[N]``
arrays), the signed distance (body units, < 0 inside) of the part's silhouette, its colour ``[3, N]``
(planar) and its LIP label ``[N]`` uint8. Shading is baked into the material (a function of local
coordinates: limbs darker towards their edges, the face lit from the front of the head), so a material
point has the same colour in every pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from datamodules.contract import LIP_LABELS
from datamodules.synthetic.colours import mix
from datamodules.synthetic.garments import (
    WAIST_Y,
    Lower,
    Top,
    coverage,
    skirt_sdf,
    top_panel_sdf,
)
from datamodules.synthetic.identity import Identity
from datamodules.synthetic.placement import Coords
from datamodules.synthetic.skeleton import BodyShape
from datamodules.synthetic.textures import Texture

HAIR, FACE = LIP_LABELS.index("hair"), LIP_LABELS.index("face")
INSIDE = np.float32(-1e3)  # sdf of a look whose silhouette comes from its placement (the head)


class Look(Protocol):
    bounds: tuple[float, float, float, float]  # local box (u0, v0, u1, v1) containing the silhouette

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class GarmentFrame:
    """Affine map from limb coordinates ``(s, t)`` to garment coordinates: ``origin + (s + offset) * axis +
    t * normal`` (see ``garments.sleeve_frame``)."""

    origin: np.ndarray
    axis: np.ndarray
    normal: np.ndarray
    offset: float = 0.0

    def __call__(self, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = s + np.float32(self.offset)
        o, a, n = self.origin, self.axis, self.normal
        return o[0] + s * a[0] + t * n[0], o[1] + s * a[1] + t * n[1]


@dataclass(frozen=True)
class Cover:
    """A garment tube on a limb: covers ``s <= end`` (and the round start cap), ``ease`` wider than the limb."""

    end: float
    ease: float
    texture: Texture
    label: int
    frame: GarmentFrame


@dataclass(frozen=True)
class LimbLook:
    """A tapered capsule along ``s`` in [0, length] of radius ``radius[0] -> radius[1]`` (body units), of plain
    ``colour`` and ``label`` (skin, or a shoe), optionally covered by a garment tube."""

    length: float
    radius: tuple[float, float]
    colour: np.ndarray
    label: int
    cover: Cover | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.radius) + (self.cover.ease if self.cover else 0.0) + 0.02
        return -r, -r, self.length + r, r

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, t = coords
        along = np.clip(s, 0.0, np.float32(self.length))
        cap = s - along
        r0, r1 = self.radius
        radius = np.float32(r0) + np.float32((r1 - r0) / self.length) * along
        dist = np.sqrt(cap * cap + t * t)
        sdf = dist - radius
        label = np.full(s.shape, self.label, np.uint8)
        if self.cover is None:
            shade = 1.0 - 0.35 * np.minimum(t * t / (radius * radius), 1.0)
            return sdf, self.colour[:, None] * shade, label
        width = radius + np.float32(self.cover.ease)
        shade = 1.0 - 0.35 * np.minimum(t * t / (width * width), 1.0)
        cover_sdf = np.maximum(dist - width, s - np.float32(self.cover.end))
        rgb = mix(self.colour, self.cover.texture(*self.cover.frame(s, t)), coverage(cover_sdf))
        label[cover_sdf <= 0] = self.cover.label
        return np.minimum(sdf, cover_sdf), rgb * shade, label


@dataclass(frozen=True)
class TorsoLook:
    """The torso in the body plane: skin, under the lower garment below the waist, under the top."""

    shape: BodyShape
    skin: np.ndarray
    skin_label: int
    top: Top
    lower: Lower | None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        w = self.shape.shoulder_half + 0.15
        return -w, -0.1, w, self.shape.torso_bottom + 0.02

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = coords
        ax = np.abs(x)
        half = self.shape.torso_half_width(y)
        bottom = np.float32(self.shape.torso_bottom)
        sdf = np.maximum(np.maximum(ax - half, self.shape.shoulder_line(ax) - y), y - bottom)
        rgb = np.broadcast_to(self.skin[:, None], (3, x.shape[0]))
        label = np.full(x.shape, self.skin_label, np.uint8)
        if self.lower is not None:
            lower = np.maximum(
                np.maximum(ax - (half + np.float32(self.lower.ease)), np.float32(WAIST_Y) - y), y - bottom
            )
            rgb = mix(rgb, self.lower.texture(x, y), coverage(lower))
            label[lower <= 0] = self.lower.label
            sdf = np.minimum(sdf, lower)
        top = top_panel_sdf(self.shape, self.top, ax, y, half)
        rgb = mix(rgb, self.top.texture(x, y), coverage(top))
        label[top <= 0] = self.top.label
        shade = 1.0 - 0.25 * np.minimum((ax / (half + 0.06)) ** 2, 1.0)
        return np.minimum(sdf, top), rgb * shade, label


@dataclass(frozen=True)
class SkirtLook:
    """A flared skirt panel in the body plane (a skirt, or the lower part of a dress), with soft pleats."""

    texture: Texture
    label: int
    top_y: float
    hem: float
    top_half: float
    hem_half: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        w = max(self.top_half, self.hem_half) + 0.02
        return -w, self.top_y - 0.02, w, self.hem + 0.02

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = coords
        depth = np.clip((y - np.float32(self.top_y)) / np.float32(self.hem - self.top_y), 0.0, 1.0)
        pleats = 1.0 - 0.08 * depth * (0.5 + 0.5 * np.cos(x * np.float32(2 * np.pi / 0.22)))
        shade = (1.0 - 0.2 * np.minimum((x / np.float32(self.hem_half)) ** 2, 1.0)) * pleats
        sdf = skirt_sdf(x, y, self.top_y, self.hem, self.top_half, self.hem_half)
        return sdf, self.texture(x, y) * shade, np.full(x.shape, self.label, np.uint8)


# Hair on the head sphere: front and back hairline heights (head-frame Y, -1 = crown) per style.
HAIRLINES: dict[str, tuple[float, float]] = {
    "short": (-0.5, 0.15), "buzz": (-0.55, 0.3), "bob": (-0.5, 0.55), "long": (-0.5, 1.0), "bun": (-0.55, 0.2),
}  # fmt: skip
EYE_X, EYE_Y = 0.34, -0.06  # head-frame position of the eyes (X mirrored)
NOSE = (0.0, 0.16)
MOUTH = (0.0, 0.46)


def _ellipse(x: np.ndarray, y: np.ndarray, rx: float, ry: float, soft: float = 0.15) -> np.ndarray:
    """Soft coverage of the ellipse ``(x/rx)^2 + (y/ry)^2 <= 1`` (``soft``: ramp width, relative)."""
    d = np.sqrt((x / np.float32(rx)) ** 2 + (y / np.float32(ry)) ** 2)
    return np.clip((1.0 - d) / np.float32(soft) + 0.5, 0.0, 1.0)


@dataclass(frozen=True)
class HeadLook:
    """The head sphere: skin lit from the face side, hair cap, eyes, brows, nose, mouth, ears and face marks."""

    identity: Identity
    bounds: tuple[float, float, float, float] = (-1.0, -1.0, 1.0, 1.0)

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ident = self.identity
        X, Y, Z = coords
        ax = np.abs(X)
        front = np.clip((Z - 0.45) * 8.0, 0.0, 1.0)  # features fade out towards the sides of the head
        rgb = np.broadcast_to(ident.skin[:, None], (3, X.shape[0]))
        if ident.blush > 0:
            rgb = mix(
                rgb,
                ident.skin * np.float32([1.0, 0.7, 0.7]),
                ident.blush * front * _ellipse(ax - 0.45, Y - 0.25, 0.16, 0.1, 1.0),
            )
        ear = _ellipse(Z, Y - 0.05, 0.22, 0.2) * (ax > 0.85)
        rgb = mix(rgb, ident.skin * np.float32(0.8), 0.6 * ear)
        if len(ident.marks):
            mx, my, mr, dark = (ident.marks[:, i] for i in range(4))
            d2 = (X - mx[:, None]) ** 2 + (Y - my[:, None]) ** 2  # [K, N]
            spots = (np.clip(1.0 - d2 / (mr * mr)[:, None], 0.0, 1 / 3) * 3.0 * dark[:, None]).max(axis=0)
            rgb = mix(rgb, ident.skin * np.float32([0.45, 0.32, 0.25]), spots * front)
        rgb = mix(rgb, ident.skin * np.float32(0.82), 0.7 * front * _ellipse(X - NOSE[0], Y - NOSE[1], 0.06, 0.1, 0.6))
        rgb = mix(rgb, ident.lip_colour, front * _ellipse(X - MOUTH[0], Y - MOUTH[1], 0.15, 0.05))
        ex, ey = ax - EYE_X, Y - EYE_Y
        rgb = mix(rgb, np.float32([0.95, 0.95, 0.93]), front * _ellipse(ex, ey, 0.12, 0.06))
        rgb = mix(rgb, ident.eye_colour, front * _ellipse(ex, ey, 0.05, 0.05))
        rgb = mix(rgb, np.float32([0.05, 0.05, 0.05]), front * _ellipse(ex, ey, 0.022, 0.022))
        brow = _ellipse(ex + 0.01, ey + 0.15 - 0.3 * ex * ex, 0.14, 0.028)
        rgb = mix(rgb, ident.hair_colour * np.float32(0.8), front * brow)
        shade = 0.72 + 0.28 * np.clip(Z, 0.0, 1.0) - 0.06 * Y
        label = np.full(X.shape, FACE, np.uint8)
        if ident.hair_style in HAIRLINES:
            front_line, back_line = HAIRLINES[ident.hair_style]
            if ident.fringe and ident.hair_style != "buzz":
                front_line = -0.3
            towards_back = np.clip((0.45 - Z) / 0.9, 0.0, 1.0)
            line = np.float32(front_line) + np.float32(back_line - front_line) * towards_back
            hair = np.clip((line - Y) / 0.05 + 0.5, 0.0, 1.0)
            strands = 0.9 + 0.1 * np.cos(X * 40.0 + Y * 6.0)
            tone = 0.45 * ident.skin + 0.55 * ident.hair_colour if ident.hair_style == "buzz" else ident.hair_colour
            rgb = mix(rgb, tone[:, None] * strands, hair)
            label[hair >= 0.5] = HAIR
        return np.full(X.shape, INSIDE, np.float32), rgb * shade, label


# Hair volume around and behind the head, in the head's image-plane frame (units of head radius):
# rounded boxes (centre x, centre y, half width, half height, corner radius).
HAIR_VOLUMES: dict[str, tuple[float, float, float, float, float]] = {
    "short": (0.0, -0.12, 1.08, 1.16, 0.9),
    "bob": (0.0, 0.02, 1.25, 1.28, 0.7),
    "long": (0.0, 0.95, 1.25, 2.15, 0.6),
    "bun": (0.0, -1.05, 0.5, 0.45, 0.45),
}


@dataclass(frozen=True)
class HairBackLook:
    """Hair volume behind the head (styles in ``HAIR_VOLUMES``); local coordinates in body units."""

    identity: Identity

    @property
    def _box(self) -> tuple[float, float, float, float, float]:
        r = self.identity.shape.head_radius
        cx, cy, hx, hy, rc = HAIR_VOLUMES[self.identity.hair_style]
        a = self.identity.shape.head_aspect
        return cx * r, cy * r * a, hx * r, hy * r * a, rc * r

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        cx, cy, hx, hy, _ = self._box
        return cx - hx - 0.02, cy - hy - 0.02, cx + hx + 0.02, cy + hy + 0.02

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = coords
        cx, cy, hx, hy, rc = self._box
        qx = np.abs(x - np.float32(cx)) - np.float32(hx - rc)
        qy = np.abs(y - np.float32(cy)) - np.float32(hy - rc)
        outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
        sdf = outside + np.minimum(np.maximum(qx, qy), 0.0) - np.float32(rc)
        r = np.float32(self.identity.shape.head_radius)
        shade = 0.8 * (0.88 + 0.12 * np.cos(x / r * 9.0 + np.sin(y / r * 2.0)))
        return sdf, self.identity.hair_colour[:, None] * shade, np.full(x.shape, HAIR, np.uint8)
