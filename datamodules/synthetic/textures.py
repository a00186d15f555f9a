"""Procedural textures: colour as a function of 2D material coordinates (body units).

A texture is a callable ``(x [N], y [N]) -> rgb [3, N]`` float32 in [0, 1] (planar, see ``colours``),
evaluated by the compiled ``kernels.texture_at`` from its ``code`` (the renderer calls that per pixel).
Garments evaluate it at garment-canonical coordinates and backgrounds at image coordinates, so the same
material point has the same colour in every pose (what makes the synthetic flow ground truth exact).
Pattern edges are ramps of width ``EDGE_SOFTNESS`` body units (about two pixels at 256x192 whole-body
framing), a fixed material property rather than a per-image antialiasing, so both poses of a pair see
identical colours.

Families (issue 3): solid, stripes (any angle), checks, dots, print (logo or text decal), gradient, noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from datamodules.synthetic.colours import contrasting_colour, garment_colour
from datamodules.synthetic.kernels import EDGE_SOFTNESS as EDGE_SOFTNESS  # the textures' edge ramp, re-exported
from datamodules.synthetic.kernels import (
    EMPTY,
    GROUND,
    TEXTURE_CODE,
    TEXTURE_KINDS,
    noise_points,
    texture_grid,
    value_noise_octaves,
)
from datamodules.synthetic.sampling import pick

Texture = Callable[[np.ndarray, np.ndarray], np.ndarray]
FAMILY_OF_KIND = {code: family for family, code in TEXTURE_KINDS.items()}

TEXTURE_FAMILIES: tuple[str, ...] = ("solid", "stripes", "checks", "dots", "print", "gradient", "noise")
PRINT_WORDS: tuple[str, ...] = (
    "VTON", "NYC", "LOVE", "SURF", "CITY", "WILD", "2019", "PARIS", "OK", "SUN", "ROCK", "MPV", "ZEN", "GO",
)  # fmt: skip


def _points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Broadcast ``x``, ``y`` and flatten them to float64 ``[N]`` (what the kernels take), with their shape."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.ravel(x), np.ravel(y), x.shape


class _Coded:
    """A texture evaluated by ``kernels.texture_at`` from its ``code`` (``kernels`` module docstring)."""

    def _params(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def image(self) -> np.ndarray:
        return EMPTY

    @cached_property
    def code(self) -> np.ndarray:
        """The texture's code ``[TEXTURE_CODE]`` float64."""
        return self._params()

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colour ``[3, *shape]`` float32 at material points ``x``, ``y`` of broadcastable shapes (a row of x
        times a column of y is evaluated without materialising the grid)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        shape = np.broadcast_shapes(x.shape, y.shape)
        x, y = np.broadcast_to(x, shape), np.broadcast_to(y, shape)  # read-only views, not copies
        grid = x.shape[-1] if x.ndim else 1
        out = np.empty((3, *shape), np.float32)
        texture_grid(self.code, self.image, x.reshape(-1, grid), y.reshape(-1, grid), out.reshape(3, -1, grid))
        return out


def texture_family(texture: Texture) -> str:
    """The family (``TEXTURE_FAMILIES``) of a garment texture, read from its code (a print counts as ``print``
    whatever its ground)."""
    return FAMILY_OF_KIND[int(texture.code[0])]


def _code(family: str, colours: np.ndarray, angle: float = 0.0, *scalars: float) -> np.ndarray:
    code = np.zeros(TEXTURE_CODE, np.float64)
    code[0] = TEXTURE_KINDS[family]
    flat = np.asarray(colours, np.float64).ravel()
    code[1 : 1 + flat.size] = flat
    code[10:12] = math.cos(angle), math.sin(angle)
    code[12 : 12 + len(scalars)] = scalars
    return code


@dataclass(frozen=True)
class Solid(_Coded):
    colour: np.ndarray  # [3]

    def _params(self) -> np.ndarray:
        return _code("solid", self.colour)


@dataclass(frozen=True)
class Stripes(_Coded):
    """Parallel stripes: ``colours[1]`` on the fraction ``duty`` of each ``period`` across direction ``angle``;
    band edges are ramps of ``EDGE_SOFTNESS``."""

    angle: float
    period: float
    duty: float
    colours: np.ndarray  # [2, 3]

    def _params(self) -> np.ndarray:
        return _code("stripes", self.colours, self.angle, self.period, self.duty)


@dataclass(frozen=True)
class Checks(_Coded):
    """Gingham / plaid: two crossing stripe sets; ``colours`` = [neither, one, both]."""

    angle: float
    period: float
    duty: float
    colours: np.ndarray  # [3, 3]

    def _params(self) -> np.ndarray:
        return _code("checks", self.colours, self.angle, self.period, self.duty)


@dataclass(frozen=True)
class Dots(_Coded):
    """Polka dots of ``radius`` on a staggered lattice of ``period``, rotated by ``angle``."""

    angle: float
    period: float
    radius: float
    colours: np.ndarray  # [2, 3] ground, dot

    def _params(self) -> np.ndarray:
        return _code("dots", self.colours, self.angle, self.period, self.radius)


@dataclass(frozen=True)
class Gradient(_Coded):
    """Linear gradient from ``colours[0]`` at ``lo`` to ``colours[1]`` at ``hi`` along direction ``angle``."""

    angle: float
    lo: float
    hi: float
    colours: np.ndarray  # [2, 3]

    def _params(self) -> np.ndarray:
        return _code("gradient", self.colours, self.angle, self.lo, self.hi)


def value_noise_tile(lattice: np.ndarray, octaves: int, resolution: int) -> np.ndarray:
    """One period of fractal value noise on the periodic ``lattice`` ``[n, n]`` (``octaves`` halving in size,
    smoothstep interpolation, ``kernels.value_noise_octaves``), sampled on a ``[resolution + 1]^2`` grid whose
    last row and column repeat the first (so bilinear lookups need no wrap-around), normalised to [0, 1]."""
    n = lattice.shape[0]
    padded = np.pad(np.asarray(lattice, np.float32), ((0, 1), (0, 1)), mode="wrap")
    grid = np.arange(resolution + 1, dtype=np.float32) * np.float32(n / resolution)
    total = np.zeros((resolution + 1, resolution + 1), np.float32)
    value_noise_octaves(padded, grid, octaves, total, np.empty(grid.size, np.int64), np.empty(grid.size, np.float32))
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


@dataclass(frozen=True)
class Noise(_Coded):
    """Periodic fractal value noise of ``period`` body units, precomputed as a ``tile`` (``value_noise_tile``)
    and looked up bilinearly; ``threshold`` turns it into a two-tone camouflage pattern with soft edges
    (``(value - threshold) * 8 + 0.5``, clipped), ``None`` keeps the smooth melange."""

    tile: np.ndarray  # [R + 1, R + 1] float32 in [0, 1], R a power of two
    period: float
    threshold: float | None
    colours: np.ndarray  # [2, 3]

    @property
    def image(self) -> np.ndarray:
        return self.tile

    @property
    def _scale(self) -> float:
        return (self.tile.shape[0] - 1) / self.period

    def _params(self) -> np.ndarray:
        threshold = np.nan if self.threshold is None else self.threshold
        return _code("noise", self.colours, 0.0, self._scale, threshold)

    def value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Noise value in [0, 1], elementwise over broadcastable ``x``, ``y``."""
        xs, ys, shape = _points(x, y)
        out = np.empty(xs.size, np.float32)
        noise_points(self.tile, self._scale, xs, ys, out)
        return out.reshape(shape)


def sample_noise(rng: np.random.Generator, feature: float, colours: np.ndarray, threshold: float | None) -> Noise:
    """Three-octave noise whose largest features are ``feature`` body units (a 16x16 lattice per period)."""
    lattice = rng.random((16, 16), dtype=np.float32)
    return Noise(value_noise_tile(lattice, 3, 64), 16 * feature, threshold, colours)


@dataclass(frozen=True)
class Print(_Coded):
    """A decal (text or logo bitmap ``alpha`` [h, w] in [0, 1]) printed in ``ink`` over a ``ground`` texture
    (solid or stripes), centred at ``centre`` with ``width`` body units (bilinear sampling of the bitmap)."""

    ground: Solid | Stripes
    alpha: np.ndarray
    ink: np.ndarray  # [3]
    centre: tuple[float, float]
    width: float

    @property
    def image(self) -> np.ndarray:
        return self.alpha

    def _params(self) -> np.ndarray:
        if not isinstance(self.ground, Solid | Stripes):
            raise ValueError(f"a print's ground must be Solid or Stripes, got {type(self.ground).__name__}")
        code = _code("print", self.ink, 0.0, *self.centre, (self.alpha.shape[1] - 1) / self.width)
        code[GROUND:] = self.ground.code[:GROUND]
        return code


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_bitmap(text: str, size: int = 48) -> np.ndarray:
    """Alpha bitmap ``[h, w]`` float32 of ``text`` in Pillow's built-in font, cropped with a 2 px margin (a
    copy of the one drawn at the first call: there are few words)."""
    return _text_bitmap(text, size).copy()


@lru_cache(maxsize=64)
def _text_bitmap(text: str, size: int) -> np.ndarray:
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, fill=255, font=font)
    return np.asarray(image, dtype=np.float32) / 255.0


def logo_bitmap(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """Alpha bitmap ``[size, size]`` of a random geometric logo (ring, star, triangle or diamond)."""
    return _logo_bitmap(int(rng.integers(4)), size).copy()


@lru_cache(maxsize=16)
def _logo_bitmap(shape: int, size: int) -> np.ndarray:
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    c, r = (size - 1) / 2, size / 2 - 2
    if shape == 0:
        draw.ellipse((c - r, c - r, c + r, c + r), fill=255)
        draw.ellipse((c - 0.55 * r, c - 0.55 * r, c + 0.55 * r, c + 0.55 * r), fill=0)
    else:
        count = {1: 10, 2: 3, 3: 4}[shape]  # star (alternating radii), triangle, diamond
        angles = -np.pi / 2 + 2 * np.pi * np.arange(count) / count
        radii = np.where((np.arange(count) % 2 == 1) & (shape == 1), 0.45 * r, r)
        draw.polygon([(c + q * np.cos(a), c + q * np.sin(a)) for q, a in zip(radii, angles, strict=True)], fill=255)
    return np.asarray(image, dtype=np.float32) / 255.0


def sample_texture(
    rng: np.random.Generator, family: str | None = None, chest: tuple[float, float] = (0.0, 0.4)
) -> Texture:
    """Draw a garment texture. ``family`` in ``TEXTURE_FAMILIES`` (uniform when ``None``); ``chest`` is where a
    print decal is centred (garment coordinates, body units). Scales are chosen so patterns stay legible at
    256x192: stripe and check periods 0.08-0.3 units (5-18 px), dots 0.1-0.25 units."""
    family = family if family is not None else TEXTURE_FAMILIES[rng.integers(len(TEXTURE_FAMILIES))]
    base = garment_colour(rng)
    other = contrasting_colour(rng, base)
    angle = float(pick(rng, (0.0, np.pi / 2, np.pi / 4, -np.pi / 4, rng.uniform(-np.pi, np.pi))))
    if family == "solid":
        return Solid(base)
    if family == "stripes":
        return Stripes(angle, rng.uniform(0.08, 0.3), rng.uniform(0.25, 0.6), np.stack([base, other]))
    if family == "checks":
        third = 0.5 * (base + other) if rng.random() < 0.5 else contrasting_colour(rng, base)
        angle = float(pick(rng, (0.0, np.pi / 4)))
        return Checks(angle, rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.5), np.stack([base, third, other]))
    if family == "dots":
        period = rng.uniform(0.1, 0.25)
        return Dots(angle, period, period * rng.uniform(0.18, 0.35), np.stack([base, other]))
    if family == "gradient":
        lo = rng.uniform(-0.6, 0.2)
        return Gradient(angle, lo, lo + rng.uniform(0.6, 1.6), np.stack([base, other]))
    if family == "noise":
        threshold = float(rng.uniform(0.4, 0.6)) if rng.random() < 0.5 else None
        return sample_noise(rng, rng.uniform(0.08, 0.25), np.stack([base, other]), threshold)
    if family == "print":
        if rng.random() < 0.6:
            alpha = text_bitmap(PRINT_WORDS[rng.integers(len(PRINT_WORDS))])
            width = rng.uniform(0.35, 0.55)
        else:
            alpha = logo_bitmap(rng)
            width = rng.uniform(0.22, 0.35)
        ground = Solid(base) if rng.random() < 0.7 else sample_texture(rng, "stripes")
        return Print(ground, alpha, other, chest, width)
    raise ValueError(f"unknown texture family {family!r}; expected one of {TEXTURE_FAMILIES}")
