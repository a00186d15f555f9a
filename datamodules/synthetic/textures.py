"""Procedural textures: colour as a function of 2D material coordinates (body units).

A texture is a callable ``(x [N], y [N]) -> rgb [3, N]`` float32 in [0, 1] (planar, see ``colours``).
Garments evaluate it at garment-canonical coordinates and backgrounds at image coordinates, so the same
material point has the same colour in every pose (what makes the synthetic flow ground truth exact).
Pattern edges are ramps of width ``EDGE_SOFTNESS`` body units (about two pixels at 256x192 whole-body
framing), a fixed material property rather than a per-image antialiasing, so both poses of a pair see
identical colours.

Families (issue 3): solid, stripes (any angle), checks, dots, print (logo or text decal), gradient, noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from datamodules.synthetic.colours import contrasting_colour, garment_colour, mix

Texture = Callable[[np.ndarray, np.ndarray], np.ndarray]

EDGE_SOFTNESS = 0.03  # body units; a body unit is the neck-to-hip length (about 60 px at 256 px whole body)
TEXTURE_FAMILIES: tuple[str, ...] = ("solid", "stripes", "checks", "dots", "print", "gradient", "noise")
PRINT_WORDS: tuple[str, ...] = (
    "VTON", "NYC", "LOVE", "SURF", "CITY", "WILD", "2019", "PARIS", "OK", "SUN", "ROCK", "MPV", "ZEN", "GO",
)  # fmt: skip


def _rotate(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return x * c + y * s, y * c - x * s


def _band(u: np.ndarray, duty: float, period: float) -> np.ndarray:
    """Soft coverage ``[N]`` of the periodic band ``frac(u) < duty`` (``u`` in periods)."""
    f = u - np.floor(u)
    inside = np.minimum(f, duty - f)  # > 0 inside the band: distance (in periods) to its nearer edge
    outside = -np.minimum(f - duty, 1.0 - f)
    d = np.where(f < duty, inside, outside) * np.float32(period / EDGE_SOFTNESS)
    return np.clip(d + 0.5, 0.0, 1.0)


@dataclass(frozen=True)
class Solid:
    colour: np.ndarray  # [3]

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.colour[:, None], (3, x.shape[0]))


@dataclass(frozen=True)
class Stripes:
    """Parallel stripes: ``colours[1]`` on the fraction ``duty`` of each ``period`` across direction ``angle``."""

    angle: float
    period: float
    duty: float
    colours: np.ndarray  # [2, 3]

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, _ = _rotate(x, y, self.angle)
        return mix(self.colours[0], self.colours[1], _band(u / np.float32(self.period), self.duty, self.period))


@dataclass(frozen=True)
class Checks:
    """Gingham / plaid: two crossing stripe sets; ``colours`` = [neither, one, both]."""

    angle: float
    period: float
    duty: float
    colours: np.ndarray  # [3, 3]

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = _rotate(x, y, self.angle)
        p = np.float32(self.period)
        wu, wv = _band(u / p, self.duty, self.period), _band(v / p, self.duty, self.period)
        one = wu + wv - 2 * wu * wv
        both = wu * wv
        c = self.colours[:, :, None]
        return c[0] + (c[1] - c[0]) * one + (c[2] - c[0]) * both


@dataclass(frozen=True)
class Dots:
    """Polka dots of ``radius`` on a staggered lattice of ``period``, rotated by ``angle``."""

    angle: float
    period: float
    radius: float
    colours: np.ndarray  # [2, 3] ground, dot

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = _rotate(x, y, self.angle)
        p = np.float32(self.period)
        u, v = u / p, v / p
        u = u + 0.5 * (np.floor(v) % 2)
        du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
        dist = np.sqrt(du * du + dv * dv) * p
        w = np.clip((np.float32(self.radius) - dist) / np.float32(EDGE_SOFTNESS) + 0.5, 0.0, 1.0)
        return mix(self.colours[0], self.colours[1], w)


@dataclass(frozen=True)
class Gradient:
    """Linear gradient from ``colours[0]`` at ``lo`` to ``colours[1]`` at ``hi`` along direction ``angle``."""

    angle: float
    lo: float
    hi: float
    colours: np.ndarray  # [2, 3]

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Weight of ``colours[1]`` in [0, 1], elementwise over broadcastable ``x``, ``y``."""
        u, _ = _rotate(x, y, self.angle)
        return np.clip((u - np.float32(self.lo)) / np.float32(self.hi - self.lo), 0.0, 1.0)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return mix(self.colours[0], self.colours[1], self.weight(x, y))


def _bilinear(
    flat: np.ndarray, width: int, iu: np.ndarray, iv: np.ndarray, fu: np.ndarray, fv: np.ndarray
) -> np.ndarray:
    """Bilinear interpolation in a row-major image ``flat`` of row length ``width`` between texel ``(iu, iv)``
    and its right / lower neighbours, at fractions ``(fu, fv)``."""
    k = iv * width + iu
    top = flat[k] * (1 - fu) + flat[k + 1] * fu
    bottom = flat[k + width] * (1 - fu) + flat[k + width + 1] * fu
    return top * (1 - fv) + bottom * fv


def value_noise_tile(lattice: np.ndarray, octaves: int, resolution: int) -> np.ndarray:
    """One period of fractal value noise on the periodic ``lattice`` ``[n, n]`` (``octaves`` halving in size,
    smoothstep interpolation), sampled on a ``[resolution + 1]^2`` grid whose last row and column repeat the
    first (so bilinear lookups need no wrap-around), normalised to [0, 1]. The grid is a product of two axes,
    so each octave interpolates along y on lattice columns, then along x."""
    n = lattice.shape[0]
    padded = np.pad(lattice, ((0, 1), (0, 1)), mode="wrap")
    grid = np.arange(resolution + 1, dtype=np.float32) * np.float32(n / resolution)
    total = np.zeros((resolution + 1, resolution + 1), np.float32)
    for octave in range(octaves):
        (iu, wu), (iv, wv) = (
            _smooth_cell((grid * 2**octave + np.float32(shift * octave)) % n) for shift in (17.3, 5.1)
        )
        columns = padded[iv] * (1 - wv)[:, None] + padded[iv + 1] * wv[:, None]  # [rows, n + 1]
        total += np.float32(0.5**octave) * (columns[:, iu] * (1 - wu) + columns[:, iu + 1] * wu)
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _smooth_cell(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lattice cell ``floor(u)`` and the smoothstep of the fraction within it."""
    cell = np.floor(u)
    f = u - cell
    return cell.astype(np.intp), f * f * (3 - 2 * f)


@dataclass(frozen=True)
class Noise:
    """Periodic fractal value noise of ``period`` body units, precomputed as a ``tile`` (``value_noise_tile``)
    and looked up bilinearly; ``threshold`` turns it into a two-tone camouflage pattern with soft edges,
    ``None`` keeps the smooth melange."""

    tile: np.ndarray  # [R + 1, R + 1] float32 in [0, 1], R a power of two
    period: float
    threshold: float | None
    colours: np.ndarray  # [2, 3]

    def value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Noise value in [0, 1], elementwise over broadcastable ``x``, ``y``."""
        res = self.tile.shape[0] - 1
        scale = np.float32(res / self.period)
        u, v = x * scale, y * scale
        iu, iv = np.floor(u), np.floor(v)
        fu, fv = u - iu, v - iv
        iu = iu.astype(np.int64) & (res - 1)
        iv = iv.astype(np.int64) & (res - 1)
        return _bilinear(self.tile.ravel(), res + 1, iu, iv, fu, fv)

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Weight of ``colours[1]`` in [0, 1], elementwise over broadcastable ``x``, ``y``."""
        w = self.value(x, y)
        if self.threshold is not None:
            w = np.clip((w - np.float32(self.threshold)) * np.float32(8.0) + 0.5, 0.0, 1.0)
        return w

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return mix(self.colours[0], self.colours[1], self.weight(x, y))


def sample_noise(rng: np.random.Generator, feature: float, colours: np.ndarray, threshold: float | None) -> Noise:
    """Three-octave noise whose largest features are ``feature`` body units (a 16x16 lattice per period)."""
    lattice = rng.random((16, 16), dtype=np.float32)
    return Noise(value_noise_tile(lattice, 3, 64), 16 * feature, threshold, colours)


@dataclass(frozen=True)
class Print:
    """A decal (text or logo bitmap ``alpha`` [h, w] in [0, 1]) printed in ``ink`` over a ``ground`` texture,
    centred at ``centre`` with ``width`` body units (bilinear sampling of the bitmap)."""

    ground: Texture
    alpha: np.ndarray
    ink: np.ndarray  # [3]
    centre: tuple[float, float]
    width: float

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.array(self.ground(x, y), dtype=np.float32)
        h, w = self.alpha.shape
        px = np.float32((w - 1) / self.width)
        u = (x - np.float32(self.centre[0])) * px + np.float32((w - 1) / 2)
        v = (y - np.float32(self.centre[1])) * px + np.float32((h - 1) / 2)
        sel = np.flatnonzero((u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1))
        if sel.size == 0:
            return out
        u, v = u[sel], v[sel]
        iu = np.minimum(u.astype(np.int64), w - 2)
        iv = np.minimum(v.astype(np.int64), h - 2)
        a = _bilinear(self.alpha.ravel(), w, iu, iv, u - iu, v - iv)
        out[:, sel] = mix(out[:, sel], self.ink, a)
        return out


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_bitmap(text: str, size: int = 48) -> np.ndarray:
    """Alpha bitmap ``[h, w]`` float32 of ``text`` in Pillow's built-in font, cropped with a 2 px margin."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, fill=255, font=font)
    return np.asarray(image, dtype=np.float32) / 255.0


def logo_bitmap(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """Alpha bitmap ``[size, size]`` of a random geometric logo (ring, star, triangle or diamond)."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    c, r = (size - 1) / 2, size / 2 - 2
    shape = rng.integers(4)
    if shape == 0:
        draw.ellipse((c - r, c - r, c + r, c + r), fill=255)
        draw.ellipse((c - 0.55 * r, c - 0.55 * r, c + 0.55 * r, c + 0.55 * r), fill=0)
    else:
        count = {1: 10, 2: 3, 3: 4}[int(shape)]  # star (alternating radii), triangle, diamond
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
    angle = float(rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4, rng.uniform(-np.pi, np.pi)]))
    if family == "solid":
        return Solid(base)
    if family == "stripes":
        return Stripes(angle, rng.uniform(0.08, 0.3), rng.uniform(0.25, 0.6), np.stack([base, other]))
    if family == "checks":
        third = 0.5 * (base + other) if rng.random() < 0.5 else contrasting_colour(rng, base)
        angle = float(rng.choice([0.0, np.pi / 4]))
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
