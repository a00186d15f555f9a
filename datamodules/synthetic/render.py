"""Rasteriser: renders posed, dressed bodies by inverse mapping, with exact flow and visibility.

For every part, each pixel of its image box is mapped to the part's material coordinates
(``placement.to_local``); the look gives its silhouette distance, colour and label. Parts are composited
back to front by their depth key (``PosedBody.part_depth``) with an antialiased edge (coverage = clip(0.5 -
signed distance in pixels)); the hard maps (part index, LIP parsing) take a part where its coverage is at
least one half. Frames that share a look (the two poses of a pair, but for the top of a cross-garment pair;
the frames of a sequence) evaluate it once over all their pixels.

Ground truth between a target and a source frame of the same body (``ground_truth_flow``): at a target pixel
``p`` whose front part is ``k`` with material coordinates ``u``, the source position of the same material
point is ``q = to_image_source_k(u)``, so ``flow(p) = q - p`` (``target(p) = source(p + flow(p))``). ``vis`` is 1
when ``q`` lies in the source frame, faces the camera there and part ``k`` is the front part at ``q``'s
nearest pixel; 2 otherwise (self-occlusion or out of the frame); 0 on the target's background.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from datamodules.synthetic.looks import Look
from datamodules.synthetic.placement import Coords
from datamodules.synthetic.skeleton import PART_NAMES, PosedBody

BACKGROUND_PART = -1
PART_INDEX = {name: i for i, name in enumerate(PART_NAMES)}


@dataclass(frozen=True)
class Frame:
    """One image to render: a posed body and the looks of its parts (a subset of ``PART_NAMES``)."""

    body: PosedBody
    looks: Mapping[str, Look]


@dataclass
class Rendered:
    """A rendered frame: ``image`` planar ``[3, H, W]`` float32 in [0, 1], ``part`` ``[H, W]`` int16 (index into
    ``PART_NAMES``, -1 background), ``parse`` ``[H, W]`` uint8 LIP labels, and per part its image box and
    material coordinates over the box (for the flow)."""

    image: np.ndarray
    part: np.ndarray
    parse: np.ndarray
    material: dict[str, tuple[tuple[slice, slice], Coords]] = field(default_factory=dict)


@dataclass
class _Layer:
    """One part in one frame over its image box ``[h, w]``."""

    box: tuple[slice, slice]
    alpha: np.ndarray  # [h, w] coverage
    rgb: np.ndarray  # [3, h, w]
    label: np.ndarray  # [h, w]
    hard: np.ndarray  # [h, w] bool: coverage >= 0.5
    coords: Coords  # [h, w] each


def _box(frame: Frame, name: str, height: int, width: int) -> tuple[slice, slice] | None:
    x0, y0, x1, y1 = frame.body.placements[name].bbox(frame.looks[name].bounds)
    x0, y0 = max(math.floor(x0) - 1, 0), max(math.floor(y0) - 1, 0)
    x1, y1 = min(math.ceil(x1) + 2, width), min(math.ceil(y1) + 2, height)
    return (slice(y0, y1), slice(x0, x1)) if x1 > x0 and y1 > y0 else None


def _joined(pieces: list[Coords]) -> Coords:
    """Concatenate the flattened coordinates of several frames (no copy for a single frame)."""
    if len(pieces) == 1:
        return tuple(c.ravel() for c in pieces[0])
    return tuple(np.concatenate([c.ravel() for c in cs]) for cs in zip(*pieces, strict=True))


def _layers(frames: Sequence[Frame], name: str, height: int, width: int) -> list[_Layer | None]:
    """Evaluate part ``name`` over its image box in every frame, sharing each look's evaluation between the
    frames that use it."""
    out: list[_Layer | None] = [None] * len(frames)
    groups: dict[int, list[int]] = {}
    for i, frame in enumerate(frames):
        if name in frame.looks:
            groups.setdefault(id(frame.looks[name]), []).append(i)
    for members in groups.values():
        look = frames[members[0]].looks[name]
        pieces = []  # (frame index, box, coords [h, w], geometric sdf [h, w] or None, pixels per unit)
        for i in members:
            box = _box(frames[i], name, height, width)
            if box is None:
                continue
            ys, xs = box
            placement = frames[i].body.placements[name]
            coords, geometric = placement.to_local(
                np.arange(xs.start, xs.stop, dtype=np.float32)[None, :],
                np.arange(ys.start, ys.stop, dtype=np.float32)[:, None],
            )
            pieces.append((i, box, coords, geometric, placement.pixels_per_unit))
        if not pieces:
            continue
        joined = _joined([p[2] for p in pieces])
        sdf, rgb, label = look.evaluate(joined)
        start = 0
        for i, box, coords, geometric, ppu in pieces:
            shape = coords[0].shape
            stop = start + coords[0].size
            sdf_px = sdf[start:stop].reshape(shape) * np.float32(ppu)
            if geometric is not None:
                sdf_px = np.maximum(sdf_px, geometric)
            alpha = np.clip(0.5 - sdf_px, 0.0, 1.0)
            out[i] = _Layer(
                box, alpha, rgb[:, start:stop].reshape(3, *shape), label[start:stop].reshape(shape), sdf_px <= 0, coords
            )
            start = stop
    return out


def render(frames: Sequence[Frame], backgrounds: Sequence[np.ndarray]) -> list[Rendered]:
    """Render ``frames`` over their ``backgrounds`` (planar ``[3, H, W]`` float32 each, all the same size)."""
    height, width = backgrounds[0].shape[1:]
    layers = {name: _layers(frames, name, height, width) for name in PART_NAMES}
    results = []
    for i, frame in enumerate(frames):
        image = np.array(backgrounds[i], dtype=np.float32)
        part = np.full((height, width), BACKGROUND_PART, np.int16)
        parse = np.zeros((height, width), np.uint8)
        material = {}
        for _, index in sorted((frame.body.part_depth[n], PART_INDEX[n]) for n in frame.looks):
            name = PART_NAMES[index]
            layer = layers[name][i]
            if layer is None:
                continue
            region = image[(slice(None), *layer.box)]
            region += (layer.rgb - region) * layer.alpha
            np.copyto(part[layer.box], np.int16(index), where=layer.hard)
            np.copyto(parse[layer.box], layer.label, where=layer.hard)
            material[name] = (layer.box, layer.coords)
        results.append(Rendered(np.clip(image, 0.0, 1.0, out=image), part, parse, material))
    return results


def ground_truth_flow(target: Rendered, source: Rendered, source_body: PosedBody) -> tuple[np.ndarray, np.ndarray]:
    """Exact target -> source flow ``[2, H, W]`` float32 (pixels, channel 0 = x) and visibility ``[H, W]`` uint8
    (0 background, 1 visible in the source, 2 occluded or outside the source frame). ``source_body`` must be
    the same body (same parts) as the target's, in the source pose."""
    height, width = target.part.shape
    pixels, sources, faces, owners = [], [], [], []  # per part: flat target pixels, source x / y, facing, part index
    for name, (box, coords) in target.material.items():
        index = PART_INDEX[name]
        ys, xs = np.nonzero(target.part[box] == index)
        if ys.size == 0:
            continue
        local = tuple(c[ys, xs] for c in coords)
        qx, qy, facing = source_body.placements[name].to_image(local)
        pixels.append((ys + box[0].start) * width + (xs + box[1].start))
        sources.append((qx, qy))
        faces.append(np.ones(ys.size, bool) if facing is None else facing)
        owners.append(np.full(ys.size, index, np.int16))
    flow = np.zeros((2, height * width), np.float32)
    vis = np.zeros(height * width, np.uint8)
    if pixels:
        pixel = np.concatenate(pixels)
        qx, qy = (np.concatenate(q) for q in zip(*sources, strict=True))
        flow[0, pixel] = qx - (pixel % width).astype(np.float32)
        flow[1, pixel] = qy - (pixel // width).astype(np.float32)
        ix, iy = np.rint(qx), np.rint(qy)
        inside = (ix >= 0) & (ix <= width - 1) & (iy >= 0) & (iy <= height - 1) & np.concatenate(faces)
        nearest = np.where(inside, iy * width + ix, 0).astype(np.intp)
        hit = inside & (source.part.ravel()[nearest] == np.concatenate(owners))
        vis[pixel] = np.where(hit, 1, 2)
    return flow.reshape(2, height, width), vis.reshape(height, width)
