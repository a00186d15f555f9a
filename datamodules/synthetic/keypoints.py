"""COCO-18 keypoints of a rendered synthetic person, with the real formats' notion of a missing joint.

Positions are exact: body joints are the skeleton's projected joints (limb ends lie on the limbs' centre
lines), nose, eyes and ears are points on the head sphere (the eyes are the centres of the drawn eyes). A
joint is written as missing (visibility 0) when it is outside the frame (OpenPose readers also drop
``x <= 1`` or ``y <= 1``), when a face point is turned away from the camera (``FACE_MIN_DEPTH``), or when it
is hidden: the front part at its pixel is not one of the parts that meet there (``JOINT_OWNERS``; a skirt
counts for hips, knees and ankles, as pose detectors still find those under a skirt).
"""

from __future__ import annotations

import math

import numpy as np

from contract.sample import COCO18_JOINTS
from datamodules.synthetic.looks import EYE_X, EYE_Y, NOSE
from datamodules.synthetic.render import BACKGROUND_PART, PART_INDEX
from datamodules.synthetic.skeleton import PosedBody

# Head-frame points (unit sphere, Z = face) of the face joints; R = the person's right (negative X).
FACE_POINTS: dict[str, tuple[float, float]] = {
    "nose": NOSE, "r_eye": (-EYE_X, EYE_Y), "l_eye": (EYE_X, EYE_Y), "r_ear": (-0.96, 0.05), "l_ear": (0.96, 0.05),
}  # fmt: skip
FACE_MIN_DEPTH = {"nose": 0.1, "r_eye": 0.25, "l_eye": 0.25, "r_ear": -0.1, "l_ear": -0.1}


def _owners(joint: str) -> tuple[str, ...]:
    if joint in FACE_POINTS:
        return ("head",)
    if joint == "neck":
        return ("neck", "torso", "head")
    side, name = joint.split("_", 1)
    return {
        "shoulder": ("torso", f"{side}_upper_arm"),
        "elbow": (f"{side}_upper_arm", f"{side}_forearm"),
        "wrist": (f"{side}_forearm", f"{side}_hand"),
        "hip": ("torso", f"{side}_thigh", "skirt"),
        "knee": (f"{side}_thigh", f"{side}_shin", "skirt"),
        "ankle": (f"{side}_shin", f"{side}_foot", "skirt"),
    }[name]


JOINT_OWNERS: dict[str, tuple[int, ...]] = {j: tuple(PART_INDEX[p] for p in _owners(j)) for j in COCO18_JOINTS}


def keypoints(body: PosedBody, part: np.ndarray) -> np.ndarray:
    """``[18, 3]`` float32 (x, y in pixels, visibility 0/1) in ``COCO18_JOINTS`` order; ``part`` is the rendered
    part-index map ``[H, W]`` of this body."""
    height, width = part.shape
    head = body.placements["head"]
    rows = []
    for joint in COCO18_JOINTS:
        visible = True
        if joint in FACE_POINTS:
            x, y = FACE_POINTS[joint]
            xy, depth = head.point(x, y, math.sqrt(max(1.0 - x * x - y * y, 0.0)))
            visible = depth > FACE_MIN_DEPTH[joint]
        else:
            xy = body.joints[joint]
        ix, iy = round(xy[0]), round(xy[1])  # half to even, as np.rint
        visible = visible and xy[0] > 1 and xy[1] > 1 and ix < width and iy < height
        if visible:
            front = int(part[iy, ix])
            visible = front != BACKGROUND_PART and front in JOINT_OWNERS[joint]
        rows.append((xy[0], xy[1], float(visible)))
    return np.array(rows, np.float32)
