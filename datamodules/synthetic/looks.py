"""What each body part looks like in its own material coordinates: shape, colour and LIP label.

A look never sees a pose: ``evaluate(coords)`` gives, at material points ``coords`` (a tuple of ``[N]``
arrays), the signed distance (body units, < 0 inside) of the part's silhouette, its colour ``[3, N]``
(planar) and its LIP label ``[N]`` uint8. Shading is baked into the material (a function of local
coordinates: limbs darker towards their edges, the face lit from the front of the head), so a material
point has the same colour in every pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, Protocol

import numpy as np

from contract.sample import LIP_LABELS
from datamodules.synthetic.garments import WAIST_Y, Lower, Top, top_code
from datamodules.synthetic.identity import Identity
from datamodules.synthetic.kernels import EMPTY, LOOK_KINDS, NO_MARKS, TEXTURE_CODE, look_points
from datamodules.synthetic.placement import Coords
from datamodules.synthetic.skeleton import BodyShape
from datamodules.synthetic.textures import Texture

HAIR, FACE = LIP_LABELS.index("hair"), LIP_LABELS.index("face")
NO_TEXTURE = np.zeros(TEXTURE_CODE, np.float64)


class LookCode(NamedTuple):
    """What ``kernels.look_at`` evaluates: kind, params (the kind's own, laid out at its ``kernels._look_*``
    function), two textures with their images, the face marks ``[K, 4]``."""

    kind: int
    params: np.ndarray
    texture0: np.ndarray
    image0: np.ndarray
    texture1: np.ndarray
    image1: np.ndarray
    marks: np.ndarray


def look_code(kind: str, params: list[float], *textures: Texture, marks: np.ndarray = NO_MARKS) -> LookCode:
    """Pack a look's parameters (layouts at the ``kernels._look_*`` functions) and up to two textures."""
    packed = np.array(params, np.float64)
    coded = [(t.code, t.image) for t in textures] + [(NO_TEXTURE, EMPTY)] * (2 - len(textures))
    return LookCode(LOOK_KINDS[kind], packed, *coded[0], *coded[1], np.asarray(marks, np.float64))


class CodedLook:
    """A look evaluated by ``kernels.look_at`` from its ``code``."""

    def _code(self) -> LookCode:
        raise NotImplementedError

    @cached_property
    def code(self) -> LookCode:
        return self._code()

    @cached_property
    def bounds_code(self) -> np.ndarray:
        """``bounds`` as the float64 ``[4]`` array the rasteriser takes."""
        return np.array(self.bounds, np.float64)

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance ``[N]`` (body units, < 0 inside), colour ``[3, N]`` and LIP label ``[N]`` uint8 at the
        local points ``coords`` (two or three arrays ``[N]``)."""
        c = [np.ravel(np.asarray(v, np.float64)) for v in coords]
        n = c[0].size
        sdf, rgb, label = np.empty(n, np.float32), np.empty((3, n), np.float32), np.empty(n, np.uint8)
        look_points(*self.code, c[0], c[1], c[2] if len(c) > 2 else np.zeros(n), n, math.inf, sdf, rgb, label)
        return sdf, rgb, label


class Look(Protocol):
    bounds: tuple[float, float, float, float]  # local box (u0, v0, u1, v1) containing the silhouette
    bounds_code: np.ndarray  # the same, float64 [4]
    code: LookCode

    def evaluate(self, coords: Coords) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class GarmentFrame:
    """Affine map from limb coordinates ``(s, t)`` to garment coordinates: ``origin + (s + offset) * axis +
    t * normal`` (see ``garments.sleeve_frame``)."""

    origin: np.ndarray
    axis: np.ndarray
    normal: np.ndarray
    offset: float = 0.0

    @property
    def code(self) -> list[float]:
        """origin [2], axis [2], normal [2], offset (``kernels._frame``)."""
        return [*map(float, self.origin), *map(float, self.axis), *map(float, self.normal), float(self.offset)]


@dataclass(frozen=True)
class Cover:
    """A garment tube on a limb: covers ``s <= end`` (and the round start cap), ``ease`` wider than the limb."""

    end: float
    ease: float
    texture: Texture
    label: int
    frame: GarmentFrame


@dataclass(frozen=True)
class LimbLook(CodedLook):
    """A tapered capsule along ``s`` in [0, length] of radius ``radius[0] -> radius[1]`` (body units), of plain
    ``colour`` and ``label`` (skin, or a shoe), optionally covered by a garment tube; shaded darker towards its
    edges (``1 - 0.35 (t / r)^2``)."""

    length: float
    radius: tuple[float, float]
    colour: np.ndarray
    label: int
    cover: Cover | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.radius) + (self.cover.ease if self.cover else 0.0) + 0.02
        return -r, -r, self.length + r, r

    def _code(self) -> LookCode:
        params = [self.length, *self.radius, *map(float, self.colour), self.label]
        if self.cover is None:
            return look_code("limb", [*params, 0.0])
        c = self.cover
        return look_code("limb", [*params, 1.0, c.end, c.ease, c.label, *c.frame.code], c.texture)


@dataclass(frozen=True)
class TorsoLook(CodedLook):
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

    def _code(self) -> LookCode:
        params = [*self.shape.code, *top_code(self.shape, self.top), *map(float, self.skin), self.skin_label]
        params.append(self.top.label)
        if self.lower is None:
            return look_code("torso", [*params, 0.0], self.top.texture)
        lower = [1.0, self.lower.ease, self.lower.label, WAIST_Y]
        return look_code("torso", [*params, *lower], self.top.texture, self.lower.texture)


@dataclass(frozen=True)
class SkirtLook(CodedLook):
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

    def _code(self) -> LookCode:
        return look_code("skirt", [self.label, self.top_y, self.hem, self.top_half, self.hem_half], self.texture)


# Hair on the head sphere: front and back hairline heights (head-frame Y, -1 = crown) per style.
HAIRLINES: dict[str, tuple[float, float]] = {
    "short": (-0.5, 0.15), "buzz": (-0.55, 0.3), "bob": (-0.5, 0.55), "long": (-0.5, 1.0), "bun": (-0.55, 0.2),
}  # fmt: skip
EYE_X, EYE_Y = 0.34, -0.06  # head-frame position of the eyes (X mirrored)
NOSE = (0.0, 0.16)
MOUTH = (0.0, 0.46)


@dataclass(frozen=True)
class HeadLook(CodedLook):
    """The head sphere: skin lit from the face side, hair cap, eyes, brows, nose, mouth, ears and face marks.
    Local coordinates: ``(X, Y, Z)`` on the unit sphere (``placement.SpherePlacement``); the silhouette comes
    from the placement, so the look's sdf is ``kernels.INSIDE`` everywhere."""

    identity: Identity
    bounds: tuple[float, float, float, float] = (-1.0, -1.0, 1.0, 1.0)

    def _code(self) -> LookCode:
        ident = self.identity
        hair = [0.0, 0.0, 0.0, 0.0]
        if ident.hair_style in HAIRLINES:
            front_line, back_line = HAIRLINES[ident.hair_style]
            if ident.fringe and ident.hair_style != "buzz":
                front_line = -0.3
            hair = [1.0, front_line, back_line, float(ident.hair_style == "buzz")]
        colours = [ident.skin, [ident.blush], ident.lip_colour, ident.eye_colour, ident.hair_colour]
        params = [float(v) for c in colours for v in c] + hair + [EYE_X, EYE_Y, *NOSE, *MOUTH, FACE, HAIR]
        return look_code("head", params, marks=ident.marks)


# Hair volume around and behind the head, in the head's image-plane frame (units of head radius):
# rounded boxes (centre x, centre y, half width, half height, corner radius).
HAIR_VOLUMES: dict[str, tuple[float, float, float, float, float]] = {
    "short": (0.0, -0.12, 1.08, 1.16, 0.9),
    "bob": (0.0, 0.02, 1.25, 1.28, 0.7),
    "long": (0.0, 0.95, 1.25, 2.15, 0.6),
    "bun": (0.0, -1.05, 0.5, 0.45, 0.45),
}


@dataclass(frozen=True)
class HairBackLook(CodedLook):
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

    def _code(self) -> LookCode:
        colour = map(float, self.identity.hair_colour)
        return look_code("hair_back", [*self._box, self.identity.shape.head_radius, *colour, HAIR])
