"""Compiled per-pixel kernels of the synthetic generator (numba ``njit``, ``cache=True``, fastmath off).

The textures, looks and placements of ``textures.py``, ``looks.py``, ``flat.py`` and ``placement.py`` are
encoded as small float64 parameter vectors ("codes", built by their ``code`` properties) and evaluated here one
point at a time, in float64 (a two-colour texture mixes its colours in float32): the
rasteriser draws each part over its image box in one pass per pixel (local coordinates, silhouette, texture
only where the coverage is positive, compositing) instead of dozens of numpy passes over the whole box. The
numpy-facing methods (``texture(x, y)``, ``look.evaluate``, ``placement.to_local`` ...) call the same kernels,
so there is one implementation. Without fastmath the arithmetic is IEEE in program order: a seed gives the same
bytes in every process. Compiled code is cached in ``__pycache__`` next to this file: the first run after a
change compiles for about 20 s of CPU, later runs load it in well under a second.

Codes (float64 vectors):

- texture ``[TEXTURE_CODE]``: kind (``TEXTURE_KINDS``), three colours, cos / sin of the angle, four scalars; a
  print keeps its ink as colour 0 and its ground texture (solid or stripes) at ``GROUND``. Image: the noise
  tile or the print bitmap (``EMPTY`` otherwise).
- look params: per kind, documented at each ``_look_*`` function (only the kind's own); up to two textures.
- placement ``[PLACEMENT_CODE]``: ``(0, inverse [4], b [2], A [4], pixels per unit)`` for an affine map,
  ``(1, centre [2], radius, aspect, cos roll, sin roll, cos yaw, sin yaw)`` for the head sphere.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EDGE_SOFTNESS = 0.03  # body units; a body unit is the neck-to-hip length (about 60 px at 256 px whole body)
TEXTURE_KINDS = {"solid": 0, "stripes": 1, "checks": 2, "dots": 3, "gradient": 4, "noise": 5, "print": 6}
LOOK_KINDS = {"limb": 0, "torso": 1, "skirt": 2, "head": 3, "hair_back": 4, "flat_panel": 5, "flat_sleeve": 6}
TEXTURE_CODE, PLACEMENT_CODE = 32, 12
GROUND = 16  # offset of a print's ground texture in its code
EMPTY = np.zeros((2, 2), np.float32)  # image of a texture that needs none
NO_MARKS = np.zeros((0, 4), np.float64)
INSIDE = -1e3  # look sdf of the head: its silhouette comes from the sphere placement
SPAN_MARGIN = 1.5  # pixels around a look's local box that ``draw_part`` visits (``part_box`` adds about as much)

# No reference counting (``_nrt=False``): with it, calls passing arrays do atomic increments and decrements,
# which cost more than a per-pixel helper's arithmetic. So kernels allocate nothing: callers pass the outputs.
jit = njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
# Per-pixel helpers are inlined at numba IR level: LLVM leaves most of them as calls, each passing every
# array's fields, which doubled the time per pixel. ``texture_at`` stays a call (evaluated only on garment
# pixels), which keeps the first compilation at about 20 s of CPU instead of 30.
inline = njit(cache=True, nogil=True, error_model="numpy", _nrt=False, inline="always")


@inline
def _clip01(v: float) -> float:
    return min(max(v, 0.0), 1.0)


@inline
def coverage(sdf: float) -> float:
    """Soft coverage in [0, 1] of a garment edge at signed distance ``sdf`` (``EDGE_SOFTNESS`` ramp)."""
    return _clip01(0.5 - sdf * (1.0 / EDGE_SOFTNESS))


@inline
def interp(v: float, p: np.ndarray, o: int, n: int) -> float:
    """``np.interp(v, p[o:o + n], p[o + n:o + 2n])``: piecewise linear, clamped at the ends."""
    if v <= p[o]:
        return p[o + n]
    for i in range(1, n):
        if v <= p[o + i]:
            x0, x1 = p[o + i - 1], p[o + i]
            return p[o + n + i - 1] + (p[o + n + i] - p[o + n + i - 1]) * (v - x0) / (x1 - x0)
    return p[o + 2 * n - 1]


# --- textures ----------------------------------------------------------------------------------------


@inline
def _band(u: float, duty: float, period: float) -> float:
    """Soft coverage of the periodic band ``frac(u) < duty`` (``u`` in periods)."""
    f = u - math.floor(u)
    d = min(f, duty - f) if f < duty else -min(f - duty, 1.0 - f)  # distance (in periods) to the nearer edge
    return _clip01(d * period * (1.0 / EDGE_SOFTNESS) + 0.5)


@inline
def _bilinear(image: np.ndarray, iu: int, iv: int, fu: float, fv: float) -> float:
    top = image[iv, iu] * (1.0 - fu) + image[iv, iu + 1] * fu
    bottom = image[iv + 1, iu] * (1.0 - fu) + image[iv + 1, iu + 1] * fu
    return top * (1.0 - fv) + bottom * fv


@inline
def noise_value(tile: np.ndarray, scale: float, x: float, y: float) -> float:
    """Periodic value noise: bilinear lookup in ``tile`` ``[R + 1, R + 1]`` (R a power of two) at ``(x, y) *
    scale`` texels, wrapping every R texels."""
    res = tile.shape[0] - 1
    u, v = x * scale, y * scale
    fu, fv = math.floor(u), math.floor(v)
    return _bilinear(tile, int(fu) & (res - 1), int(fv) & (res - 1), u - fu, v - fv)


@inline
def _weight(t: np.ndarray, o: int, image: np.ndarray, x: float, y: float) -> float:
    """Weight of colour 1 of the two-colour texture at offset ``o`` of code ``t`` (0 for a solid)."""
    kind = t[o]
    c, s = t[o + 10], t[o + 11]
    u = x * c + y * s
    if kind == 1:  # stripes: period, duty
        return _band(u / t[o + 12], t[o + 13], t[o + 12])
    if kind == 3:  # dots: period, radius; staggered rows
        p = t[o + 12]
        v = (y * c - x * s) / p
        u = u / p + 0.5 * (math.floor(v) % 2)
        du, dv = u - math.floor(u) - 0.5, v - math.floor(v) - 0.5
        return _clip01((t[o + 13] - math.sqrt(du * du + dv * dv) * p) / EDGE_SOFTNESS + 0.5)
    if kind == 4:  # gradient: lo, hi
        return _clip01((u - t[o + 12]) / (t[o + 13] - t[o + 12]))
    if kind == 5:  # noise: texels per unit, threshold (NaN: smooth)
        w = noise_value(image, t[o + 12], x, y)
        if not math.isnan(t[o + 13]):
            w = _clip01((w - t[o + 13]) * 8.0 + 0.5)
        return w
    return 0.0


@inline
def _plain_texture(t: np.ndarray, o: int, image: np.ndarray, x: float, y: float) -> tuple[float, float, float]:
    if t[o] == 2:  # checks: period, duty; colours neither, one, both
        c, s, p, duty = t[o + 10], t[o + 11], t[o + 12], t[o + 13]
        wu, wv = _band((x * c + y * s) / p, duty, p), _band((y * c - x * s) / p, duty, p)
        one, both = wu + wv - 2.0 * wu * wv, wu * wv
        r = t[o + 1] + (t[o + 4] - t[o + 1]) * one + (t[o + 7] - t[o + 1]) * both
        g = t[o + 2] + (t[o + 5] - t[o + 2]) * one + (t[o + 8] - t[o + 2]) * both
        b = t[o + 3] + (t[o + 6] - t[o + 3]) * one + (t[o + 9] - t[o + 3]) * both
        return r, g, b
    w = np.float32(_weight(t, o, image, x, y))  # the colours (float32) are mixed in float32
    r0, g0, b0 = np.float32(t[o + 1]), np.float32(t[o + 2]), np.float32(t[o + 3])
    r1, g1, b1 = np.float32(t[o + 4]), np.float32(t[o + 5]), np.float32(t[o + 6])
    return float(r0 + (r1 - r0) * w), float(g0 + (g1 - g0) * w), float(b0 + (b1 - b0) * w)


@jit
def texture_at(t: np.ndarray, image: np.ndarray, x: float, y: float) -> tuple[float, float, float]:
    """Colour of texture code ``t`` (with its ``image``) at material point ``(x, y)``."""
    decal = t[0] == 6  # a print: its ground, then the decal (centre x, y; texels per unit)
    r, g, b = _plain_texture(t, GROUND if decal else 0, image, x, y)
    if not decal:
        return r, g, b
    h, w = image.shape
    u = (x - t[12]) * t[14] + (w - 1) / 2
    v = (y - t[13]) * t[14] + (h - 1) / 2
    if 0.0 <= u <= w - 1 and 0.0 <= v <= h - 1:
        iu, iv = min(int(u), w - 2), min(int(v), h - 2)
        a = _bilinear(image, iu, iv, u - iu, v - iv)
        r, g, b = r + (t[1] - r) * a, g + (t[2] - g) * a, b + (t[3] - b) * a
    return r, g, b


@jit
def texture_grid(t: np.ndarray, image: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``texture_at`` over points ``x``, ``y`` ``[R, C]`` (broadcast views welcome) into planar ``out``
    ``[3, R, C]``. All but prints are evaluated inline (``texture_at`` is a call per point)."""
    decal = t[0] == 6
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if decal:
                out[0, i, j], out[1, i, j], out[2, i, j] = texture_at(t, image, x[i, j], y[i, j])
            else:
                out[0, i, j], out[1, i, j], out[2, i, j] = _plain_texture(t, 0, image, x[i, j], y[i, j])


@jit
def noise_points(tile: np.ndarray, scale: float, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``noise_value`` over points ``x``, ``y`` ``[N]`` into ``out`` ``[N]``."""
    for i in range(x.size):
        out[i] = noise_value(tile, scale, x[i], y[i])


@inline
def _smooth_cell(u: np.float32) -> tuple[int, np.float32]:
    """Lattice cell ``floor(u)`` and the smoothstep of the fraction within it (float32)."""
    cell = int(math.floor(u))
    f = u - np.float32(cell)
    return cell, f * f * (np.float32(3) - np.float32(2) * f)


@jit
def value_noise_octaves(padded, grid, octaves, total, cells, weights):  # noqa: ANN001, ANN201
    """Add ``octaves`` octaves of value noise to ``total`` ``[R, R]`` float32: octave ``k`` samples the periodic
    lattice (``padded`` ``[n + 1, n + 1]`` float32, its first row and column repeated) at ``grid`` ``[R]`` times
    ``2^k`` plus a per-axis shift, smoothstep-bilinearly, with amplitude ``2^-k`` (all in float32). ``cells``
    ``[R]`` int64 and ``weights`` ``[R]`` float32 are scratch space for the columns' cells."""
    n = np.float32(padded.shape[0] - 1)
    one = np.float32(1)
    for octave in range(octaves):
        scale, amplitude = np.float32(2**octave), np.float32(0.5**octave)
        shift_u, shift_v = np.float32(17.3 * octave), np.float32(5.1 * octave)
        for c in range(total.shape[1]):
            cells[c], weights[c] = _smooth_cell((grid[c] * scale + shift_u) % n)
        for r in range(total.shape[0]):
            iv, wv = _smooth_cell((grid[r] * scale + shift_v) % n)
            for c in range(total.shape[1]):
                iu, wu = cells[c], weights[c]
                left = padded[iv, iu] * (one - wv) + padded[iv + 1, iu] * wv
                right = padded[iv, iu + 1] * (one - wv) + padded[iv + 1, iu + 1] * wv
                total[r, c] += amplitude * (left * (one - wu) + right * wu)


# --- garment and body outlines -------------------------------------------------------------------------
# Body block (``BODY`` floats at offset ``o``): shoulder-line curvature and offset, torso bottom, the torso
# outline's 7 knot heights then 7 half-widths. Top block (``TOP`` floats): neck half-width, neck depth, V neck,
# ease, panel bottom, sleeveless, strap half-width, armhole start and end heights.
BODY, TOP = 17, 9


@inline
def shoulder_line(p: np.ndarray, o: int, ax: float) -> float:
    return p[o] * ax * ax - p[o + 1]


@inline
def torso_half_width(p: np.ndarray, o: int, y: float) -> float:
    return interp(y, p, o + 3, 7)


@inline
def neckline_y(p: np.ndarray, body: int, top: int, ax: float) -> float:
    """Body-frame y of the front neckline at ``|x| = ax`` (round for crew and scoop, straight for V)."""
    r = _clip01(ax / p[top])
    dip = 1.0 - r if p[top + 2] > 0 else math.sqrt(1.0 - r * r)
    return shoulder_line(p, body, ax) + p[top + 1] * dip


@inline
def top_panel_sdf(p: np.ndarray, body: int, top: int, ax: float, y: float, half: float) -> float:
    """Signed distance (body units, < 0 inside) of the top's front panel at ``|x| = ax`` over a torso ``half``
    wide; a sleeveless top has armholes curving from the straps down to the armpit."""
    return _panel_sdf(p, top, ax, y, half, neckline_y(p, body, top, ax))


@inline
def _panel_sdf(p: np.ndarray, top: int, ax: float, y: float, half: float, neckline: float) -> float:
    """``top_panel_sdf`` with the neckline's y at ``ax`` given."""
    ease = p[top + 3]
    sdf = max(ax - (half + ease), neckline - y, y - p[top + 4])
    if p[top + 5] > 0:
        depth = _clip01((y - p[top + 7]) / (p[top + 8] - p[top + 7]))
        sdf = max(sdf, ax - (p[top + 6] + (half + ease - p[top + 6]) * depth * depth))
    return sdf


@inline
def skirt_sdf(x: float, y: float, top_y: float, hem: float, top_half: float, hem_half: float) -> float:
    """Signed distance of a flared skirt panel from ``top_y`` (half-width ``top_half``) to ``hem``."""
    half = top_half + (hem_half - top_half) / (hem - top_y) * (y - top_y)
    return max(abs(x) - half, top_y - y, y - hem)


# --- looks ---------------------------------------------------------------------------------------------


@inline
def _frame(p: np.ndarray, o: int, s: float, t: float) -> tuple[float, float]:
    """Garment frame at offset ``o``: origin [2], axis [2], normal [2], offset along the axis."""
    s = s + p[o + 6]
    return p[o] + s * p[o + 2] + t * p[o + 4], p[o + 1] + s * p[o + 3] + t * p[o + 5]


@inline
def _look_limb(p, s, t, cutoff):  # noqa: ANN001, ANN202
    """Params: length, r0, r1, colour [3], label, covered, cover end, ease, label, garment frame [7] (11..17)."""
    length = p[0]
    along = min(max(s, 0.0), length)
    cap = s - along
    radius = p[1] + (p[2] - p[1]) / length * along
    dist = math.sqrt(cap * cap + t * t)
    sdf = dist - radius
    label = int(p[6])
    if p[7] == 0:
        if sdf > cutoff:
            return sdf, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
        shade = 1.0 - 0.35 * min(t * t / (radius * radius), 1.0)
        return sdf, p[3], p[4], p[5], label, 0.0, 0.0, 0.0, 0.0, shade
    width = radius + p[9]
    cover = max(dist - width, s - p[8])
    if min(sdf, cover) > cutoff:
        return min(sdf, cover), 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    shade = 1.0 - 0.35 * min(t * t / (width * width), 1.0)
    gx, gy = _frame(p, 11, s, t)
    if cover <= 0:
        label = int(p[10])
    return min(sdf, cover), p[3], p[4], p[5], label, gx, gy, coverage(cover), 0.0, shade


@inline
def _look_torso(p, x, y, cutoff):  # noqa: ANN001, ANN202
    """Params: body block (0), top block (17), skin [3] (26), skin label, top label, has lower, lower ease,
    lower label, waist y (29..34). Textures: the top's, the lower garment's."""
    ax = abs(x)
    half = torso_half_width(p, 0, y)
    bottom = p[2]
    skin = max(ax - half, shoulder_line(p, 0, ax) - y, y - bottom)
    lower = max(ax - (half + p[32]), p[34] - y, y - bottom) if p[31] > 0 else math.inf
    top = top_panel_sdf(p, 0, BODY, ax, y, half)
    sdf = min(skin, lower, top)
    if sdf > cutoff:
        return sdf, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    label = int(p[29])
    if lower <= 0:
        label = int(p[33])
    if top <= 0:
        label = int(p[30])
    q = ax / (half + 0.06)
    shade = 1.0 - 0.25 * min(q * q, 1.0)
    w1 = coverage(lower) if p[31] > 0 else 0.0
    return sdf, p[26], p[27], p[28], label, x, y, coverage(top), w1, shade


@inline
def _look_skirt(p, x, y, cutoff):  # noqa: ANN001, ANN202
    """Params: label, top y, hem y, top half-width, hem half-width; soft pleats deepen towards the hem."""
    sdf = skirt_sdf(x, y, p[1], p[2], p[3], p[4])
    if sdf > cutoff:
        return sdf, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    depth = _clip01((y - p[1]) / (p[2] - p[1]))
    pleats = 1.0 - 0.08 * depth * (0.5 + 0.5 * math.cos(x * (2 * math.pi / 0.22)))
    q = x / p[4]
    shade = (1.0 - 0.2 * min(q * q, 1.0)) * pleats
    return sdf, 0.0, 0.0, 0.0, int(p[0]), x, y, 1.0, 0.0, shade


@inline
def _ellipse(x: float, y: float, rx: float, ry: float, soft: float) -> float:
    """Soft coverage of the ellipse ``(x/rx)^2 + (y/ry)^2 <= 1`` (``soft``: ramp width, relative)."""
    u, v = x * (1.0 / rx), y * (1.0 / ry)  # rx, ry, soft are literals: the reciprocals fold at compile time
    d2 = u * u + v * v
    if d2 > (1.0 + 0.5 * soft) ** 2 * (1.0 + 1e-9):  # surely outside the ramp: the clip below gives 0
        return 0.0
    return _clip01((1.0 - math.sqrt(d2)) * (1.0 / soft) + 0.5)


@inline
def _mix(rgb, c0: float, c1: float, c2: float, w: float):  # noqa: ANN001, ANN202
    return rgb[0] + (c0 - rgb[0]) * w, rgb[1] + (c1 - rgb[1]) * w, rgb[2] + (c2 - rgb[2]) * w


@inline
def _look_head(p, marks, X, Y, Z):  # noqa: ANN001, ANN202, N803
    """Params: skin [3], blush, lip [3], eye [3], hair [3] (0..12), has hair, front and back hairline, buzz
    (13..16), eye x, eye y, nose [2], mouth [2] (17..22), face label, hair label (23, 24)."""
    sr, sg, sb = p[0], p[1], p[2]
    ax = abs(X)
    front = _clip01((Z - 0.45) * 8.0)  # features fade out towards the sides of the head
    rgb = (sr, sg, sb)
    if p[3] > 0 and front > 0:
        rgb = _mix(rgb, sr, sg * 0.7, sb * 0.7, p[3] * front * _ellipse(ax - 0.45, Y - 0.25, 0.16, 0.1, 1.0))
    ear = _ellipse(Z, Y - 0.05, 0.22, 0.2, 0.15) if ax > 0.85 else 0.0
    rgb = _mix(rgb, sr * 0.8, sg * 0.8, sb * 0.8, 0.6 * ear)
    if front > 0:  # the face features (each mixed in by a weight times ``front``: nothing shows where it is 0)
        if marks.shape[0] > 0:
            spots = 0.0
            for k in range(marks.shape[0]):
                d2 = (X - marks[k, 0]) ** 2 + (Y - marks[k, 1]) ** 2
                spots = max(spots, min(max(1.0 - d2 / (marks[k, 2] * marks[k, 2]), 0.0), 1 / 3) * 3.0 * marks[k, 3])
            rgb = _mix(rgb, sr * 0.45, sg * 0.32, sb * 0.25, spots * front)
        nose = _ellipse(X - p[19], Y - p[20], 0.06, 0.1, 0.6)
        rgb = _mix(rgb, sr * 0.82, sg * 0.82, sb * 0.82, 0.7 * front * nose)
        rgb = _mix(rgb, p[4], p[5], p[6], front * _ellipse(X - p[21], Y - p[22], 0.15, 0.05, 0.15))
        ex, ey = ax - p[17], Y - p[18]
        rgb = _mix(rgb, 0.95, 0.95, 0.93, front * _ellipse(ex, ey, 0.12, 0.06, 0.15))
        rgb = _mix(rgb, p[7], p[8], p[9], front * _ellipse(ex, ey, 0.05, 0.05, 0.15))
        rgb = _mix(rgb, 0.05, 0.05, 0.05, front * _ellipse(ex, ey, 0.022, 0.022, 0.15))
        brow = _ellipse(ex + 0.01, ey + 0.15 - 0.3 * ex * ex, 0.14, 0.028, 0.15)
        rgb = _mix(rgb, p[10] * 0.8, p[11] * 0.8, p[12] * 0.8, front * brow)
    shade = 0.72 + 0.28 * _clip01(Z) - 0.06 * Y
    label = int(p[23])
    if p[13] > 0:
        line = p[14] + (p[15] - p[14]) * _clip01((0.45 - Z) / 0.9)
        hair = _clip01((line - Y) / 0.05 + 0.5)
        strands = 0.9 + 0.1 * math.cos(X * 40.0 + Y * 6.0)
        tone = (p[10], p[11], p[12])
        if p[16] > 0:
            tone = (0.45 * sr + 0.55 * p[10], 0.45 * sg + 0.55 * p[11], 0.45 * sb + 0.55 * p[12])
        rgb = _mix(rgb, tone[0] * strands, tone[1] * strands, tone[2] * strands, hair)
        if hair >= 0.5:
            label = int(p[24])
    return INSIDE, rgb[0] * shade, rgb[1] * shade, rgb[2] * shade, label, 0.0, 0.0, 0.0, 0.0, 1.0


@inline
def _look_hair_back(p, x, y, cutoff):  # noqa: ANN001, ANN202
    """Params: rounded box centre [2], half size [2], corner radius, head radius, colour [3], label."""
    qx = abs(x - p[0]) - (p[2] - p[4])
    qy = abs(y - p[1]) - (p[3] - p[4])
    outside = math.sqrt(max(qx, 0.0) ** 2 + max(qy, 0.0) ** 2)
    sdf = outside + min(max(qx, qy), 0.0) - p[4]
    if sdf > cutoff:
        return sdf, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    shade = 0.8 * (0.88 + 0.12 * math.cos(x / p[5] * 9.0 + math.sin(y / p[5] * 2.0)))
    return sdf, p[6], p[7], p[8], int(p[9]), 0.0, 0.0, 0.0, 0.0, shade


@inline
def _look_flat_panel(p, x, y, cutoff):  # noqa: ANN001, ANN202
    """Params: body block (0), top block (17), label, dress, skirt top y, hem y, top half, hem half, back-panel
    shade (26..32). The back panel shows, darker, through the neck opening."""
    ax = abs(x)
    neckline = neckline_y(p, 0, BODY, ax)
    front = _panel_sdf(p, BODY, ax, y, torso_half_width(p, 0, y), neckline)
    if p[27] > 0:
        front = min(front, skirt_sdf(x, y, p[28], p[29], p[30], p[31]))
    neck_hole = max(shoulder_line(p, 0, ax) + 0.01 - y, y - neckline)
    back = max(ax - p[BODY], neck_hole, -front)
    if min(front, back) > cutoff:
        return min(front, back), 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    shade = p[32] if back < front else 1.0
    return min(front, back), 0.0, 0.0, 0.0, int(p[26]), x, y, 1.0, 0.0, shade


@inline
def _look_flat_sleeve(p, s, t, cutoff):  # noqa: ANN001, ANN202
    """Params: upper arm length, forearm length, upper arm radii [2], forearm radii [2], sleeve ease, sleeve
    length, label, shade (0..9), garment frame [7] (10..16). Covers ``s >= 0`` (the cap is under the panel)."""
    if s <= p[0]:
        radius = p[2] + (p[3] - p[2]) * _clip01(s / p[0])
    else:
        radius = p[4] + (p[5] - p[4]) * _clip01((s - p[0]) / p[1])
    sdf = max(abs(t) - (radius + p[6]), s - p[7], -s)
    if sdf > cutoff:
        return sdf, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0
    gx, gy = _frame(p, 10, s, t)
    return sdf, 0.0, 0.0, 0.0, int(p[8]), gx, gy, 1.0, 0.0, p[9]


@inline
def _look_shape(kind, p, marks, c0, c1, c2, cutoff):  # noqa: ANN001, ANN201
    """Look ``kind`` (``LOOK_KINDS``) at local point ``(c0, c1[, c2])``: signed distance (body units), base colour,
    label, texture point ``(gx, gy)``, weights of texture 0 and texture 1 over the base, shade."""
    if kind == 0:
        return _look_limb(p, c0, c1, cutoff)
    if kind == 1:
        return _look_torso(p, c0, c1, cutoff)
    if kind == 2:
        return _look_skirt(p, c0, c1, cutoff)
    if kind == 3:
        return _look_head(p, marks, c0, c1, c2)
    if kind == 4:
        return _look_hair_back(p, c0, c1, cutoff)
    if kind == 5:
        return _look_flat_panel(p, c0, c1, cutoff)
    return _look_flat_sleeve(p, c0, c1, cutoff)


@inline
def look_at(kind, p, t0, i0, t1, i1, marks, c0, c1, c2, cutoff):  # noqa: ANN001, ANN201
    """Signed distance (body units), colour and LIP label of a look at local point ``(c0, c1[, c2])``: its base
    colour, under texture 1 then texture 0 (each mixed in by its weight, evaluated only where that is
    positive), times its shade. Where the silhouette's distance exceeds ``cutoff`` the colour is zero."""
    sdf, r, g, b, label, gx, gy, w0, w1, shade = _look_shape(kind, p, marks, c0, c1, c2, cutoff)
    if w1 > 0:
        tr, tg, tb = texture_at(t1, i1, gx, gy)
        r, g, b = r + (tr - r) * w1, g + (tg - g) * w1, b + (tb - b) * w1
    if w0 > 0:
        tr, tg, tb = texture_at(t0, i0, gx, gy)
        r, g, b = r + (tr - r) * w0, g + (tg - g) * w0, b + (tb - b) * w0
    return sdf, r * shade, g * shade, b * shade, label


@jit
def look_points(kind, p, t0, i0, t1, i1, marks, c0, c1, c2, n, cutoff, sdf, rgb, label):  # noqa: ANN001, ANN201
    """``look_at`` over the first ``n`` points of ``c0``, ``c1``, ``c2`` into sdf ``[n]``, rgb ``[3, n]`` and
    label ``[n]``."""
    for i in range(n):
        sdf[i], rgb[0, i], rgb[1, i], rgb[2, i], label[i] = look_at(
            kind, p, t0, i0, t1, i1, marks, c0[i], c1[i], c2[i], cutoff
        )


# --- placements, rendering and flow ----------------------------------------------------------------------


@inline
def to_local(q: np.ndarray, x: float, y: float) -> tuple[float, float, float, float]:
    """Pixel ``(x, y)`` -> local coordinates (two, or three on the head sphere) and the placement's own signed
    distance in pixels (``-inf`` for an affine map; the sphere's silhouette, points outside clamped to its rim)."""
    if q[0] == 0:
        dx, dy = x - q[5], y - q[6]
        return q[1] * dx + q[2] * dy, q[3] * dx + q[4] * dy, 0.0, -math.inf
    radius = q[3]
    dx, dy = x - q[1], y - q[2]
    vx = (q[5] * dx + q[6] * dy) / radius
    vy = (q[5] * dy - q[6] * dx) / radius / q[4]
    rho = math.sqrt(vx * vx + vy * vy)
    scale = 1.0 / max(rho, 1.0)
    vx, vy = vx * scale, vy * scale
    vz = math.sqrt(max(1.0 - vx * vx - vy * vy, 0.0))
    return q[7] * vx - q[8] * vz, vy, q[8] * vx + q[7] * vz, (rho - 1.0) * radius


@inline
def to_image(q: np.ndarray, c0: float, c1: float, c2: float) -> tuple[float, float, bool]:
    """Local coordinates -> pixel ``(x, y)`` and whether the point faces the camera."""
    if q[0] == 0:
        return q[7] * c0 + q[8] * c1 + q[5], q[9] * c0 + q[10] * c1 + q[6], True
    vx = q[7] * c0 + q[8] * c2
    vz = q[7] * c2 - q[8] * c0
    vy = c1 * q[4]
    return q[3] * (q[5] * vx - q[6] * vy) + q[1], q[3] * (q[6] * vx + q[5] * vy) + q[2], vz > 0


@jit
def local_points(q: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``to_local`` over pixels ``[N]`` into ``out`` ``[4, N]`` (three coordinates, placement sdf)."""
    for i in range(x.size):
        out[0, i], out[1, i], out[2, i], out[3, i] = to_local(q, x[i], y[i])


@jit
def image_points(q, c0, c1, c2, out, facing):  # noqa: ANN001, ANN201
    """``to_image`` over points ``[N]`` into pixels ``out`` ``[2, N]`` and ``facing`` ``[N]``."""
    for i in range(c0.size):
        out[0, i], out[1, i], facing[i] = to_image(q, c0[i], c1[i], c2[i])


@inline
def _narrow(slope: float, value: float, lo: float, hi: float, start: int, end: int) -> tuple[int, int]:
    """``range(start, end)`` narrowed to the integers ``x`` with ``lo <= slope * x + value <= hi``."""
    if abs(slope) < 1e-12:
        return (start, end) if lo <= value <= hi else (start, start)
    a, b = (lo - value) / slope, (hi - value) / slope
    if a > b:
        a, b = b, a
    return max(start, int(math.ceil(a))), min(end, int(math.floor(b)) + 1)


@inline
def row_span(q: np.ndarray, bounds: np.ndarray, y: float, start: int, end: int) -> tuple[int, int]:
    """The pixels ``range(start, end)`` of row ``y`` that an affine placement ``q`` maps into the local box
    ``bounds`` ``(u0, v0, u1, v1)`` grown by ``SPAN_MARGIN`` pixels (each local axis by the margin times its
    pixel gradient); a sphere placement keeps the whole range."""
    if q[0] != 0:
        return start, end
    for axis in range(2):  # u = q1 dx + q2 dy, v = q3 dx + q4 dy with dx = x - q5, dy = y - q6
        gx, gy = q[1 + 2 * axis], q[2 + 2 * axis]
        grow = SPAN_MARGIN * math.sqrt(gx * gx + gy * gy)
        value = gy * (y - q[6]) - gx * q[5]
        start, end = _narrow(gx, value, bounds[axis] - grow, bounds[axis + 2] + grow, start, end)
    return start, end


@inline
def part_box(q: np.ndarray, bounds: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel box ``(y0, y1, x0, x1)`` (half-open, within the image) of a part: the image box of the local box
    ``bounds`` ``(u0, v0, u1, v1)`` under an affine placement ``q`` (``p = A u + b``), or of the head sphere's
    ellipse, with one pixel of margin."""
    if q[0] == 0:
        x0 = y0 = math.inf
        x1 = y1 = -math.inf
        for u, v in ((bounds[0], bounds[1]), (bounds[2], bounds[1]), (bounds[0], bounds[3]), (bounds[2], bounds[3])):
            x, y = q[7] * u + q[8] * v + q[5], q[9] * u + q[10] * v + q[6]
            x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
    else:  # the ellipse of radii (radius, aspect x radius) tilted by the roll
        c, s = abs(q[5]), abs(q[6])
        hx, hy = q[3] * math.hypot(c, q[4] * s), q[3] * math.hypot(s, q[4] * c)
        x0, y0, x1, y1 = q[1] - hx, q[2] - hy, q[1] + hx, q[2] + hy
    left, top = max(int(math.floor(x0)) - 1, 0), max(int(math.floor(y0)) - 1, 0)
    return top, min(int(math.ceil(y1)) + 2, height), left, min(int(math.ceil(x1)) + 2, width)


@jit
def draw_part(image, cover, part, parse, coords, bounds, index, q, kind, p, t0, i0, t1, i1, marks):  # noqa: ANN001, ANN201
    """Composite one part (placement code ``q``; look code ``kind, p, t0, i0, t1, i1, marks``, a
    ``looks.LookCode`` passed unpacked, which halves the call's dispatch time; ``bounds``, the local box
    containing its silhouette) under the parts drawn so far, front to back: within its pixel box
    (``part_box``), each row narrowed to ``bounds`` (``row_span``), the part's colour adds to the premultiplied
    ``image`` ``[3, H, W]`` float32 weighted by its coverage ``clip(0.5 - sdf_px)`` (``sdf_px`` = max(look sdf x
    pixels per unit, placement sdf)) times what is still uncovered, ``1 - cover`` (``cover`` ``[H, W]`` float32,
    the coverage so far). Pixels already fully covered are skipped, so hidden parts cost nothing. The first
    part with ``sdf_px <= 0`` at a pixel, the front one, sets ``part`` (``index``), ``parse`` (its label) and
    ``coords`` ``[3, H, W]`` (local point; not kept when ``coords`` is ``[3, 1, 1]``)."""
    ppu = q[11] if q[0] == 0 else q[3]
    cutoff = 0.5 / ppu
    y0, y1, x0, x1 = part_box(q, bounds, image.shape[1], image.shape[2])
    for y in range(y0, y1):
        start, end = row_span(q, bounds, float(y), x0, x1)
        for x in range(start, end):
            covered = cover[y, x]
            if covered >= 1:
                continue
            c0, c1, c2, geometric = to_local(q, float(x), float(y))
            if geometric >= 0.5:
                continue
            d, r, g, b, label = look_at(kind, p, t0, i0, t1, i1, marks, c0, c1, c2, cutoff)
            d = max(d * ppu, geometric)
            alpha = _clip01(0.5 - d)
            if alpha <= 0:
                continue
            weight = (1 - covered) * alpha
            image[0, y, x] += r * weight
            image[1, y, x] += g * weight
            image[2, y, x] += b * weight
            cover[y, x] = 1 if alpha >= 1 else covered + weight
            if d <= 0 and part[y, x] < 0:
                part[y, x] = index
                parse[y, x] = label
                if coords.shape[1] > 1:
                    coords[0, y, x], coords[1, y, x], coords[2, y, x] = c0, c1, c2


@jit
def composite_background(image, cover, background):  # noqa: ANN001, ANN201
    """Finish a front-to-back ``image`` ``[3, H, W]`` (premultiplied, coverage ``cover`` ``[H, W]``): add
    ``background`` ``[3, H, W]`` where uncovered and clip to [0, 1], in place."""
    for c in range(image.shape[0]):
        for y in range(image.shape[1]):
            for x in range(image.shape[2]):
                image[c, y, x] = min(max(image[c, y, x] + background[c, y, x] * (1 - cover[y, x]), 0), 1)


@jit
def flow_kernel(part, coords, placements, source_part, flow, vis):  # noqa: ANN001, ANN201
    """Target -> source ``flow`` ``[2, H, W]`` and visibility ``vis`` ``[H, W]`` (both zeroed by the caller) from
    the target's front ``part`` and local ``coords`` and the source's ``placements`` ``[parts, 12]`` and
    ``source_part`` map."""
    height, width = part.shape
    for y in range(height):
        for x in range(width):
            k = part[y, x]
            if k < 0:
                continue
            qx, qy, facing = to_image(placements[k], coords[0, y, x], coords[1, y, x], coords[2, y, x])
            flow[0, y, x], flow[1, y, x] = qx - x, qy - y
            ix, iy = np.rint(qx), np.rint(qy)
            hit = facing and 0 <= ix <= width - 1 and 0 <= iy <= height - 1
            vis[y, x] = 1 if hit and source_part[int(iy), int(ix)] == k else 2


@jit
def to_uint8(image: np.ndarray, out: np.ndarray) -> None:
    """Float ``image`` in [0, 1] (any shape, contiguous) -> ``out`` uint8 of its shape, rounded (one pass)."""
    src, dst = image.reshape(-1), out.reshape(-1)
    for i in range(src.size):
        dst[i] = np.uint8(src[i] * np.float32(255) + np.float32(0.5))
