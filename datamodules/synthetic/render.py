"""Rasteriser: renders posed, dressed bodies by inverse mapping, with exact flow and visibility.

For every part, each pixel of its image box is mapped to the part's material coordinates
(``placement.to_local``); the look gives its silhouette distance, colour and label. Parts are composited
front to back by their depth key (``PosedBody.part_depth``) with an antialiased edge (coverage = clip(0.5 -
signed distance in pixels)), so pixels hidden by the parts in front are never evaluated, then laid over the
background; the hard maps (part index, LIP parsing) take the front part whose coverage is at least one half.
The per-pixel work is one compiled pass per part (``kernels.draw_part``).

Ground truth between a target and a source frame of the same body (``ground_truth_flow``): at a target pixel
``p`` whose front part is ``k`` with material coordinates ``u``, the source position of the same material
point is ``q = to_image_source_k(u)``, so ``flow(p) = q - p`` (``target(p) = source(p + flow(p))``). ``vis`` is 1
when ``q`` lies in the source frame, faces the camera there and part ``k`` is the front part at ``q``'s
nearest pixel; 2 otherwise (self-occlusion or out of the frame); 0 on the target's background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datamodules.synthetic.kernels import PLACEMENT_CODE, composite_background, draw_part, flow_kernel
from datamodules.synthetic.looks import Look
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
    ``PART_NAMES``, -1 background), ``parse`` ``[H, W]`` uint8 LIP labels, and ``coords`` ``[3, H, W]`` float32,
    the material coordinates of the front part at each pixel (for the flow; unset on the background)."""

    image: np.ndarray
    part: np.ndarray
    parse: np.ndarray
    coords: np.ndarray


def render(frames: Sequence[Frame], backgrounds: Sequence[np.ndarray], material: bool = True) -> list[Rendered]:
    """Render ``frames`` over their ``backgrounds`` (planar ``[3, H, W]`` float32 each, all the same size);
    ``material=False`` skips the material coordinates (``coords`` is then ``[3, 1, 1]``, no flow possible)."""
    height, width = backgrounds[0].shape[1:]
    results = []
    for i, frame in enumerate(frames):
        image = np.zeros((3, height, width), np.float32)
        cover = np.zeros((height, width), np.float32)
        part = np.empty((height, width), np.int16)
        part.fill(BACKGROUND_PART)
        parse = np.zeros((height, width), np.uint8)
        coords = np.empty((3, height, width) if material else (3, 1, 1), np.float32)
        for _, index in sorted(((frame.body.part_depth[n], PART_INDEX[n]) for n in frame.looks), reverse=True):
            name = PART_NAMES[index]
            look, placement = frame.looks[name], frame.body.placements[name].code
            draw_part(image, cover, part, parse, coords, look.bounds_code, index, placement, *look.code)
        composite_background(image, cover, np.asarray(backgrounds[i], np.float32))
        results.append(Rendered(image, part, parse, coords))
    return results


def ground_truth_flow(target: Rendered, source: Rendered, source_body: PosedBody) -> tuple[np.ndarray, np.ndarray]:
    """Exact target -> source flow ``[2, H, W]`` float32 (pixels, channel 0 = x) and visibility ``[H, W]`` uint8
    (0 background, 1 visible in the source, 2 occluded or outside the source frame). ``source_body`` must be
    the same body (same parts) as the target's, in the source pose."""
    placements = np.zeros((len(PART_NAMES), PLACEMENT_CODE), np.float64)
    for name, placement in source_body.placements.items():
        placements[PART_INDEX[name]] = placement.code
    flow = np.zeros((2, *target.part.shape), np.float32)
    vis = np.zeros(target.part.shape, np.uint8)
    flow_kernel(target.part, target.coords, placements, source.part, flow, vis)
    return flow, vis
