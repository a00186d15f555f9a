"""Dress an identity in an outfit: the look of every body part (``skeleton.PART_NAMES``).

LIP labels (issue 3): face 13 and hair 2 on the head, hair 2 behind it; the top 5 (dress 6) on the torso and
sleeves; trousers 9 or skirt 12 below the waist; arms 14 / 15 and legs 16 / 17 where skin shows (left = the
person's left), hands count as arms; shoes 18 / 19. Neck and bare chest / shoulders carry
``contract.sample.CIHP_TORSO_SKIN_DEFAULT`` (0): LIP has no skin label, and that is what the readers map CIHP's torso
skin to, so synthetic and real parsing agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contract.sample import CIHP_TORSO_SKIN_DEFAULT, LIP_LABELS
from datamodules.synthetic.garments import DRESS_SKIRT_TOP, WAIST_Y, Outfit, Top, sleeve_frame
from datamodules.synthetic.identity import Identity
from datamodules.synthetic.looks import (
    HAIR_VOLUMES,
    Cover,
    GarmentFrame,
    HairBackLook,
    HeadLook,
    LimbLook,
    Look,
    SkirtLook,
    TorsoLook,
)
from datamodules.synthetic.skeleton import SIDE_SIGN, SIDES

ARM_LABEL = {"l": LIP_LABELS.index("left_arm"), "r": LIP_LABELS.index("right_arm")}
LEG_LABEL = {"l": LIP_LABELS.index("left_leg"), "r": LIP_LABELS.index("right_leg")}
SHOE_LABEL = {"l": LIP_LABELS.index("left_shoe"), "r": LIP_LABELS.index("right_shoe")}


def build_looks(identity: Identity, outfit: Outfit) -> dict[str, Look]:
    """Part name -> look for ``identity`` wearing ``outfit`` (``hair_back`` only for styles with volume)."""
    shape, skin, top, lower = identity.shape, identity.skin, outfit.top, outfit.lower
    looks: dict[str, Look] = {
        "neck": LimbLook(shape.head_up, shape.radii["neck"], skin * np.float32(0.9), CIHP_TORSO_SKIN_DEFAULT),
        "torso": TorsoLook(shape, skin, CIHP_TORSO_SKIN_DEFAULT, top, lower),
        "head": HeadLook(identity),
    }
    if identity.hair_style in HAIR_VOLUMES:
        looks["hair_back"] = HairBackLook(identity)
    waist_half = float(shape.torso_half_width(np.float32(WAIST_Y)))
    if top.kind == "dress":
        top_half = float(shape.torso_half_width(np.float32(DRESS_SKIRT_TOP))) + top.ease
        looks["skirt"] = SkirtLook(top.texture, top.label, DRESS_SKIRT_TOP, top.skirt_hem, top_half, top.skirt_flare)
    elif lower is not None and lower.kind == "skirt":
        looks["skirt"] = SkirtLook(
            lower.texture, lower.label, WAIST_Y, lower.length, waist_half + lower.ease, lower.flare
        )
    for side in SIDES:
        sign = SIDE_SIGN[side]
        upper_cover = fore_cover = None
        if top.sleeve_length > 0:
            origin, axis, normal = sleeve_frame(top, sign)
            upper_cover = Cover(
                top.sleeve_length, top.sleeve_ease, top.texture, top.label, GarmentFrame(origin, axis, normal)
            )
            if top.sleeve_length > shape.upper_arm:
                fore_frame = GarmentFrame(origin, axis, normal, shape.upper_arm)
                fore_cover = Cover(
                    top.sleeve_length - shape.upper_arm, top.sleeve_ease, top.texture, top.label, fore_frame
                )
        leg_covers: list[Cover | None] = [None, None]
        if lower is not None and lower.kind == "trousers":
            frame = (np.array([sign * shape.hip_half, 1.0], np.float32), np.float32([0, 1]), np.float32([-1, 0]))
            leg_covers = [
                Cover(shape.thigh + 1.0, lower.ease, lower.texture, lower.label, GarmentFrame(*frame, 0.0)),
                Cover(
                    shape.shin * lower.length, lower.ease, lower.texture, lower.label, GarmentFrame(*frame, shape.thigh)
                ),
            ]
        arm, leg = ARM_LABEL[side], LEG_LABEL[side]
        looks |= {
            f"{side}_upper_arm": LimbLook(shape.upper_arm, shape.radii["upper_arm"], skin, arm, upper_cover),
            f"{side}_forearm": LimbLook(shape.forearm, shape.radii["forearm"], skin, arm, fore_cover),
            f"{side}_hand": LimbLook(shape.hand, shape.radii["hand"], skin, arm),
            f"{side}_thigh": LimbLook(shape.thigh, shape.radii["thigh"], skin, leg, leg_covers[0]),
            f"{side}_shin": LimbLook(shape.shin, shape.radii["shin"], skin, leg, leg_covers[1]),
            f"{side}_foot": LimbLook(shape.foot, shape.radii["foot"], outfit.shoes, SHOE_LABEL[side]),
        }
    return looks


def top_parts(top: Top) -> frozenset[str]:
    """The parts whose look depends on the top: torso, upper arms and forearms (sleeves), a dress's skirt."""
    arms = (f"{side}_{limb}" for side in SIDES for limb in ("upper_arm", "forearm"))
    return frozenset({"torso", *arms, *(("skirt",) if top.kind == "dress" else ())})


def build_outfit_looks(identity: Identity, outfits: Sequence[Outfit]) -> list[dict[str, Look]]:
    """``build_looks`` for each of ``outfits``; outfits that differ only in the top (a cross-garment pair) share
    the look objects (and their compiled codes) of every other part."""
    built: list[tuple[Outfit, dict[str, Look]]] = []
    result = []
    for outfit in outfits:
        looks = next((looks for other, looks in built if other is outfit), None)
        if looks is None:
            looks = build_looks(identity, outfit)
            for other, shared in built:
                if other.lower is outfit.lower and other.shoes is outfit.shoes:
                    keep = top_parts(outfit.top) | top_parts(other.top)
                    looks |= {name: look for name, look in shared.items() if name in looks and name not in keep}
                    break
            built.append((outfit, looks))
        result.append(looks)
    return result
