"""The articulated 2D-projected body: proportions, joint angles, forward kinematics and part placements.

The skeleton lives in 3D (body frame: x = the person's left, y = down, z = towards the camera when the body
faces it; 1 body unit = neck-to-hip-centre length) and is seen by an orthographic camera after the body's
yaw, then tilted by ``roll`` in the image plane and scaled by ``pixels_per_unit``. Body parts are flat
shapes placed on it (``placement.py``): the torso and skirt in the body plane (a turned body is
foreshortened horizontally), each limb along its projected bone (a limb pointing at the camera is
foreshortened along its length), the head as a sphere. Depth order: each part's view depth plus a bias per
kind (``PART_DEPTH_BIAS``), so a far-side arm of a turned body goes behind the torso, arms crossing the torso
in front of it, and the forward leg of a stride in front of the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from datamodules.synthetic.placement import AffinePlacement, SpherePlacement, rotation_2d

SIDES: tuple[str, ...] = ("r", "l")  # the person's right, left
SIDE_SIGN = {"r": -1.0, "l": 1.0}  # body-frame x of the person's right side is negative
LIMB_CHAINS: dict[str, tuple[str, str, str]] = {  # part -> (start joint, end joint, length attribute)
    "upper_arm": ("shoulder", "elbow", "upper_arm"),
    "forearm": ("elbow", "wrist", "forearm"),
    "hand": ("wrist", "hand_tip", "hand"),
    "thigh": ("hip", "knee", "thigh"),
    "shin": ("knee", "ankle", "shin"),
    "foot": ("ankle", "toe", "foot"),
}
PART_NAMES: tuple[str, ...] = (
    "hair_back", "neck", "torso", "skirt",
    *(f"{s}_{limb}" for s in SIDES for limb in LIMB_CHAINS),
    "head",
)  # fmt: skip
# Depth-sort bias (body units, larger = nearer): arms sit in front of the torso and skirt unless turned
# well away; legs hang from under the torso and skirt (``LEG_DEPTH_RANGE``), the nearer leg in front; the head
# is in front of the neck and torso; long hair hangs behind everything.
PART_DEPTH_BIAS: dict[str, float] = {
    "hair_back": -2.0, "neck": -0.1, "torso": 0.0, "skirt": 0.2, "head": 0.3,
    "upper_arm": 0.25, "forearm": 0.25, "hand": 0.26, "thigh": -0.1, "shin": -0.1, "foot": -0.1,
}  # fmt: skip
# Every limb part: (limb, part name, start joint, end joint, length attribute of ``BodyShape``).
LIMBS: tuple[tuple[str, str, str, str, str], ...] = tuple(
    (limb, f"{side}_{limb}", f"{side}_{start}", f"{side}_{end}", length)
    for side in SIDES
    for limb, (start, end, length) in LIMB_CHAINS.items()
)
LEGS = ("thigh", "shin", "foot")
SHOULDER_LINE_NECK = 0.03  # the torso's top edge at the neck, above the neck joint (body units)
LEG_DEPTH_RANGE = (-0.6, -0.02)  # legs are clipped to this depth: behind the torso and skirt, near leg first


@dataclass(frozen=True)
class BodyShape:
    """Body proportions in body units (1 = neck to hip centre); limb radii taper from start to end joint.

    Defaults are an adult about 7 heads tall; ``identity.sample_body_shape`` jitters them.
    """

    shoulder_half: float = 0.42
    shoulder_drop: float = 0.06
    waist_half: float = 0.29
    hip_half: float = 0.2
    upper_arm: float = 0.62
    forearm: float = 0.55
    hand: float = 0.2
    thigh: float = 0.92
    shin: float = 0.88
    foot: float = 0.27
    neck: float = 0.14
    head_radius: float = 0.22
    head_aspect: float = 1.18
    radii: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "upper_arm": (0.095, 0.075),
            "forearm": (0.075, 0.055),
            "hand": (0.06, 0.045),
            "thigh": (0.17, 0.11),
            "shin": (0.11, 0.07),
            "foot": (0.075, 0.06),
            "neck": (0.085, 0.085),
        }
    )

    @property
    def torso_knots(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Knot heights (body-frame y) and half-widths of the torso outline: shoulders, chest, waist, hips,
        crotch."""
        sh = self.shoulder_half
        hips = (self.hip_half + 0.14, self.hip_half + 0.1)
        widths = (0.75 * sh, sh - 0.03, sh - 0.04, sh - 0.08, self.waist_half, *hips)
        return (-0.06, 0.06, 0.2, 0.4, 0.62, 0.95, 1.14), widths

    def torso_half_width(self, y: np.ndarray) -> np.ndarray:
        """Half-width of the torso outline at body-frame ``y`` (piecewise linear through ``torso_knots``)."""
        return np.interp(y, *self.torso_knots).astype(np.float32)

    def shoulder_line(self, ax: np.ndarray) -> np.ndarray:
        """Body-frame y of the top edge of the torso at ``|x| = ax`` (rising from the neck to the shoulders)."""
        return (np.float32(self.shoulder_curve) * ax * ax - np.float32(SHOULDER_LINE_NECK)).astype(np.float32)

    @property
    def shoulder_curve(self) -> float:
        """Curvature of ``shoulder_line``: it rises by ``shoulder_drop`` from the neck to the shoulder."""
        return self.shoulder_drop / self.shoulder_half**2

    @cached_property
    def code(self) -> np.ndarray:
        """The body block of a look code (``kernels.BODY`` floats): shoulder-line curvature and height at the
        neck, torso bottom, the torso knots."""
        heights, widths = self.torso_knots
        return np.array([self.shoulder_curve, SHOULDER_LINE_NECK, self.torso_bottom, *heights, *widths], np.float64)

    @property
    def torso_bottom(self) -> float:
        """Body-frame y of the crotch, the torso's lowest point."""
        return 1.14

    @property
    def head_up(self) -> float:
        """Distance from the neck joint up to the head centre (body units)."""
        return self.neck + self.head_radius * self.head_aspect

    @property
    def head_top(self) -> float:
        """Body-frame y of the top of the head (negative: above the neck joint)."""
        return -(self.neck + 2 * self.head_radius * self.head_aspect)

    @property
    def height(self) -> float:
        """Standing height, head top to soles, in body units."""
        return 1.0 + self.thigh + self.shin + self.radii["foot"][0] - self.head_top


CANONICAL_SHAPE = BodyShape()  # the default proportions, shared (immutable): flat garments are laid out on it


@dataclass(frozen=True)
class Articulation:
    """Joint angles in radians; per-side tuples are ``(right, left)`` (the person's sides).

    Arm and leg directions: ``abduction`` away from the body in the frontal plane (0 = hanging down,
    pi = straight up), ``flexion`` towards the camera (forwards). Forearm and shin angles are absolute (body
    frame), not relative to the parent bone. ``yaw`` turns the whole body (> 0: front towards image right),
    ``roll`` tilts the figure in the image plane; the head adds its own yaw and roll.
    """

    yaw: float = 0.0
    roll: float = 0.0
    head_yaw: float = 0.0
    head_roll: float = 0.0
    upper_arm: tuple[tuple[float, float], tuple[float, float]] = ((0.15, 0.0), (0.15, 0.0))
    forearm: tuple[tuple[float, float], tuple[float, float]] = ((0.1, 0.1), (0.1, 0.1))
    thigh: tuple[tuple[float, float], tuple[float, float]] = ((0.06, 0.0), (0.06, 0.0))
    shin: tuple[tuple[float, float], tuple[float, float]] = ((0.03, 0.0), (0.03, 0.0))
    toe_out: float = 0.35


@dataclass(frozen=True)
class Framing:
    """Camera: ``pixels_per_unit`` and the image position ``origin`` ``(x, y)`` of the neck joint."""

    pixels_per_unit: float
    origin: tuple[float, float]


Vec3 = tuple[float, float, float]


def direction(side: str, abduction: float, flexion: float) -> Vec3:
    """Unit bone direction in the body frame (see ``Articulation``)."""
    sa, ca, sf, cf = math.sin(abduction), math.cos(abduction), math.sin(flexion), math.cos(flexion)
    return SIDE_SIGN[side] * sa * cf, ca * cf, sf


def _along(p: Vec3, length: float, d: Vec3) -> Vec3:
    return p[0] + length * d[0], p[1] + length * d[1], p[2] + length * d[2]


SIDE_JOINTS = {  # per side, the names ``joints_3d`` gives its joints
    side: tuple(f"{side}_{j}" for j in ("shoulder", "elbow", "wrist", "hand_tip", "hip", "knee", "ankle", "toe"))
    for side in SIDES
}


def joints_3d(shape: BodyShape, pose: Articulation) -> dict[str, Vec3]:
    """Forward kinematics: named body-frame points (neck at the origin).

    Names: ``neck``, ``head`` (head centre), and per side ``{r,l}_{shoulder, elbow, wrist, hand_tip, hip, knee,
    ankle, toe}``. Plain floats: a few dozen 3-vectors, where numpy's per-call overhead would dominate.
    """
    points = {
        "neck": (0.0, 0.0, 0.0),
        "head": (shape.head_up * math.sin(pose.head_roll), -shape.head_up * math.cos(pose.head_roll), 0.0),
    }
    for i, side in enumerate(SIDES):
        sign = SIDE_SIGN[side]
        shoulder = (sign * shape.shoulder_half, shape.shoulder_drop, 0.0)
        elbow = _along(shoulder, shape.upper_arm, direction(side, *pose.upper_arm[i]))
        fore = direction(side, *pose.forearm[i])
        wrist = _along(elbow, shape.forearm, fore)
        hip = (sign * shape.hip_half, 1.0, 0.0)
        knee = _along(hip, shape.thigh, direction(side, *pose.thigh[i]))
        ankle = _along(knee, shape.shin, direction(side, *pose.shin[i]))
        foot = (sign * math.sin(pose.toe_out), 0.35, math.cos(pose.toe_out))
        foot_norm = math.sqrt(foot[0] * foot[0] + foot[1] * foot[1] + foot[2] * foot[2])
        hand_tip, toe = _along(wrist, shape.hand, fore), _along(ankle, shape.foot / foot_norm, foot)
        points.update(zip(SIDE_JOINTS[side], (shoulder, elbow, wrist, hand_tip, hip, knee, ankle, toe), strict=True))
    return points


@dataclass(frozen=True)
class PosedBody:
    """A body in one pose and framing: 2D joints (pixels), view depths (body units), part placements and
    part depth-sort keys."""

    joints: dict[str, tuple[float, float]]
    depths: dict[str, float]
    placements: dict[str, AffinePlacement | SpherePlacement]
    part_depth: dict[str, float]


def project(shape: BodyShape, pose: Articulation, framing: Framing) -> tuple[dict, dict]:
    """Project ``joints_3d``: returns (name -> pixel position ``(x, y)``, name -> view depth in body units).

    Body -> view: rotation by ``yaw`` about the vertical axis (``yaw > 0`` turns the front towards image right,
    the person's left side away from the camera); view -> image: tilt by ``roll``, scale by ``pixels_per_unit``,
    shift by ``origin``.
    """
    cy, sy = math.cos(pose.yaw), math.sin(pose.yaw)
    scale = framing.pixels_per_unit
    cr, sr = scale * math.cos(pose.roll), scale * math.sin(pose.roll)
    ox, oy = framing.origin
    joints, depths = {}, {}
    for name, (x, y, z) in joints_3d(shape, pose).items():
        vx = cy * x + sy * z
        joints[name] = (ox + cr * vx - sr * y, oy + sr * vx + cr * y)
        depths[name] = cy * z - sy * x
    return joints, depths


def limb_placement(start: np.ndarray, end: np.ndarray, length: float, pixels_per_unit: float) -> AffinePlacement:
    """Local ``(s, t)``: ``s`` along the bone from ``start`` (body units, ``length`` at ``end``), ``t`` across it
    (body units, positive to the bone's left in the image). Foreshortening scales ``s`` only."""
    ax, ay = float(end[0] - start[0]), float(end[1] - start[1])
    k = pixels_per_unit / max(math.hypot(ax, ay), 1e-6)
    return AffinePlacement(((ax / length, -ay * k), (ay / length, ax * k)), start)


def pose_body(shape: BodyShape, pose: Articulation, framing: Framing) -> PosedBody:
    """Joints, depths, placements and depth keys of every part in ``PART_NAMES``."""
    joints, depths = project(shape, pose, framing)
    ppu = framing.pixels_per_unit
    c, s, squeeze = math.cos(pose.roll), math.sin(pose.roll), math.cos(pose.yaw)  # roll x yaw foreshortening
    body_plane = AffinePlacement(((c * squeeze * ppu, -s * ppu), (s * squeeze * ppu, c * ppu)), framing.origin)
    head_yaw, head_roll = pose.yaw + pose.head_yaw, pose.roll + pose.head_roll
    placements: dict[str, AffinePlacement | SpherePlacement] = {
        "torso": body_plane,
        "skirt": body_plane,
        "neck": limb_placement(joints["neck"], joints["head"], shape.head_up, ppu),
        "head": SpherePlacement(joints["head"], shape.head_radius * ppu, shape.head_aspect, head_yaw, head_roll),
        "hair_back": AffinePlacement(rotation_2d(head_roll) * ppu, joints["head"]),
    }
    part_depth = {name: PART_DEPTH_BIAS[name] for name in ("hair_back", "neck", "torso", "skirt", "head")}
    for limb, name, a, b, length in LIMBS:
        placements[name] = limb_placement(joints[a], joints[b], getattr(shape, length), ppu)
        z = 0.5 * (depths[a] + depths[b]) + PART_DEPTH_BIAS[limb]
        part_depth[name] = min(max(z, LEG_DEPTH_RANGE[0]), LEG_DEPTH_RANGE[1]) if limb in LEGS else z
    return PosedBody(joints, depths, placements, part_depth)
