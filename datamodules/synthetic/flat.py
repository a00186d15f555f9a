"""The in-shop garment image: the top or dress laid flat, front view, canonical shape, on white.

The garment is laid out in garment coordinates (``garments.py``) on the canonical shape (``CANONICAL_SHAPE``) and drawn
by the same rasteriser as the people: the front panel (with a dress's skirt) and the two sleeves are parts
with affine placements (garment units -> pixels), so the flat garment shows exactly the texture that the
person wears. Through the neck opening the inside of the back panel shows, darker, as in product photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.synthetic.garments import DRESS_SKIRT_TOP, Top, sleeve_frame, top_code
from datamodules.synthetic.looks import CodedLook, GarmentFrame, LookCode, look_code
from datamodules.synthetic.placement import AffinePlacement
from datamodules.synthetic.render import Frame, render
from datamodules.synthetic.skeleton import CANONICAL_SHAPE, BodyShape, PosedBody

FLAT_FILL = 0.86  # fraction of the image the laid-out garment spans along its limiting axis
BACK_PANEL_SHADE = 0.62
SLEEVE_SHADE = 0.94


@dataclass(frozen=True)
class FlatPanelLook(CodedLook):
    """Front panel (and a dress's skirt) plus the back panel seen through the neck opening."""

    top: Top
    shape: BodyShape
    bounds: tuple[float, float, float, float]

    def _code(self) -> LookCode:
        top, shape = self.top, self.shape
        skirt = [0.0] * 5
        if top.kind == "dress":
            top_half = float(shape.torso_half_width(np.float32(DRESS_SKIRT_TOP))) + top.ease
            skirt = [1.0, DRESS_SKIRT_TOP, top.skirt_hem, top_half, top.skirt_flare]
        params = [*shape.code, *top_code(shape, top), top.label, *skirt, BACK_PANEL_SHADE]
        return look_code("flat_panel", params, top.texture)


@dataclass(frozen=True)
class FlatSleeveLook(CodedLook):
    """One sleeve laid flat from the shoulder seam (``s >= 0``; the shoulder cap lies under the panel), the arm
    radius tapering along the upper arm then the forearm, plus the sleeve's ease."""

    top: Top
    shape: BodyShape
    frame: GarmentFrame

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        r = max(self.shape.radii["upper_arm"]) + self.top.sleeve_ease + 0.02
        return 0.0, -r, self.top.sleeve_length + 0.02, r

    def _code(self) -> LookCode:
        shape, top = self.shape, self.top
        arm = [shape.upper_arm, shape.forearm, *shape.radii["upper_arm"], *shape.radii["forearm"]]
        params = [*arm, top.sleeve_ease, top.sleeve_length, top.label, SLEEVE_SHADE, *self.frame.code]
        return look_code("flat_sleeve", params, top.texture)


def flat_extent(top: Top, shape: BodyShape) -> tuple[float, float, float, float]:
    """Garment-coordinate box ``(x0, y0, x1, y1)`` of the laid-out garment (outline plus a 0.02 margin)."""
    bottom = top.skirt_hem if top.kind == "dress" else top.hem
    x1 = float(shape.torso_half_width(np.linspace(0.0, min(bottom, shape.torso_bottom), 32)).max()) + top.ease
    if top.kind == "dress":
        x1 = max(x1, top.skirt_flare)
    if top.sleeve_length > 0:
        origin, axis, normal = sleeve_frame(top, 1.0, shape)
        end = origin + top.sleeve_length * axis
        reach = max(shape.radii["upper_arm"]) + top.sleeve_ease
        x1 = max(x1, float(end[0] + reach * abs(normal[0])))
    return -x1 - 0.02, float(shape.shoulder_line(np.float32(0.0))) - 0.02, x1 + 0.02, bottom + 0.02


def render_flat(top: Top, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The in-shop image of ``top``: planar rgb ``[3, H, W]`` float32 in [0, 1] on white and its mask ``[H, W]``
    bool (pixels at least half covered)."""
    shape = CANONICAL_SHAPE
    x0, y0, x1, y1 = flat_extent(top, shape)
    ppu = FLAT_FILL * min(height / (y1 - y0), width / (x1 - x0))
    offset = np.array([(width - 1) / 2 - ppu * (x0 + x1) / 2, (height - 1) / 2 - ppu * (y0 + y1) / 2])
    looks = {"torso": FlatPanelLook(top, shape, (x0, y0, x1, y1))}
    placements = {"torso": AffinePlacement(np.eye(2) * ppu, offset)}
    part_depth = {"torso": 0.0}
    if top.sleeve_length > 0:
        for name, side in (("r_upper_arm", -1.0), ("l_upper_arm", 1.0)):
            origin, axis, normal = sleeve_frame(top, side, shape)
            looks[name] = FlatSleeveLook(top, shape, GarmentFrame(origin, axis, normal))
            placements[name] = AffinePlacement(np.stack([axis, normal], axis=1) * ppu, offset + ppu * origin)
            part_depth[name] = -1.0
    body = PosedBody(joints={}, depths={}, placements=placements, part_depth=part_depth)
    rendered = render([Frame(body, looks)], [np.ones((3, height, width), np.float32)], material=False)[0]
    return rendered.image, rendered.part >= 0
