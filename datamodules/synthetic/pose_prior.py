"""Pose prior, framing and pose sequences for the synthetic people.

Modes (issue 3): standing, walking, arms raised, arms crossing the torso, hands on hips; each arm of the
raised / hands-on-hips modes follows the mode with probability 0.75 (one-arm variants). Body yaw is near
frontal (N(0, 10 deg)) with probability 0.6 and uniform in [-55, 55] deg otherwise, so turned bodies appear
by foreshortening; a pose whose limbs would point almost straight at the camera (projected length below
``MIN_FORESHORTENING`` of the bone) has its yaw halved until it is not. Joint ranges are the clipping bounds
below (degrees, in the ``Articulation`` convention).

Framing: ``whole`` (whole body, 82-94% of the height), ``half`` (head to mid-thigh, neck near the centre, the
MPV ``person_half_front`` framing) and ``shifted`` (whole body moved 25-40% of the width sideways: partly out of
the frame), with probabilities ``FRAMING_PROBS``.

Sequences (``SEQUENCE_KINDS``): ``walk`` (a stride cycle of 8-12 frames at a fixed yaw), ``turn`` (yaw
sweeping 40-100 deg) and ``arm_swing`` (arms rising to 60-140 deg abduction and back), with one framing
fitted to all frames.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from datamodules.synthetic.sampling import Categorical, pick
from datamodules.synthetic.skeleton import LIMBS, SIDES, Articulation, BodyShape, Framing, project

POSE_MODES: tuple[str, ...] = ("standing", "walking", "arms_raised", "arms_crossed", "hands_on_hips")
FRAMINGS: tuple[str, ...] = ("whole", "half", "shifted")
FRAMING_PROBS: tuple[float, ...] = (0.55, 0.35, 0.10)
FRAMING_DRAW = Categorical(FRAMING_PROBS)
SEQUENCE_KINDS: tuple[str, ...] = ("walk", "turn", "arm_swing")
MIN_FORESHORTENING = 0.3
MAX_YAW = 55.0  # degrees

Angles = tuple[float, float]


def _deg(rng: np.random.Generator, mean: float, std: float, lo: float, hi: float) -> float:
    """A normal draw in degrees clipped to ``[lo, hi]``, in radians (plain Python: on scalars numpy's per-call
    overhead is all the cost)."""
    return math.radians(min(max(float(rng.normal(mean, std)), lo), hi))


# Arm angle priors per mode, degrees, (mean, std, low, high) of a normal clipped to [low, high]: upper-arm
# abduction, upper-arm flexion, forearm abduction, forearm flexion (absolute angles, ``Articulation`` convention).
ARM_PRIORS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "standing": ((10, 5, 0, 30), (0, 8, -25, 25), (7, 6, -10, 35), (12, 10, -20, 50)),
    "arms_raised": ((150, 15, 110, 175), (0, 10, -20, 20), (160, 12, 120, 180), (0, 10, -20, 20)),
    "arms_crossed": ((12, 5, 0, 25), (35, 8, 20, 50), (-85, 8, -100, -65), (25, 8, 10, 40)),
    "hands_on_hips": ((40, 6, 28, 55), (-8, 5, -20, 5), (-55, 8, -70, -40), (0, 5, -10, 10)),
}


def _arm(rng: np.random.Generator, mode: str) -> tuple[Angles, Angles]:
    """(upper arm, forearm) angles drawn from ``ARM_PRIORS[mode]``."""
    upper_abduction, upper_flexion, fore_abduction, fore_flexion = (_deg(rng, *p) for p in ARM_PRIORS[mode])
    return (upper_abduction, upper_flexion), (fore_abduction, fore_flexion)


def _walking_limbs(phase: float, amplitude: float) -> dict:
    """Arm and leg angles of a stride at ``phase`` (radians) with thigh swing ``amplitude`` (degrees)."""
    swing = np.sin(phase)
    thighs, shins, uppers, fores = [], [], [], []
    for sign in (1.0, -1.0):  # right leg forward at phase pi/2, left arm with it
        flex = np.radians(sign * amplitude * swing)
        bend = np.radians(8 + 22 * max(0.0, -sign * swing))
        thighs.append((np.radians(4.0), flex))
        shins.append((np.radians(2.0), flex - bend))
        arm_flex = np.radians(-sign * 0.7 * amplitude * swing)
        uppers.append((np.radians(8.0), arm_flex))
        fores.append((np.radians(6.0), arm_flex + np.radians(20)))
    return {"thigh": tuple(thighs), "shin": tuple(shins), "upper_arm": tuple(uppers), "forearm": tuple(fores)}


def _standing_legs(rng: np.random.Generator) -> dict:
    thighs, shins = [], []
    for _ in SIDES:
        thigh = (_deg(rng, 5, 3, 0, 15), _deg(rng, 0, 4, -10, 10))
        thighs.append(thigh)
        shins.append((thigh[0] * 0.6, thigh[1] - _deg(rng, 3, 3, 0, 12)))
    return {"thigh": tuple(thighs), "shin": tuple(shins)}


def _sample_yaw(rng: np.random.Generator) -> float:
    if rng.random() < 0.6:
        return _deg(rng, 0, 10, -MAX_YAW, MAX_YAW)
    return float(np.radians(rng.uniform(-MAX_YAW, MAX_YAW)))


def limb_foreshortening(shape: BodyShape, pose: Articulation) -> float:
    """Smallest ratio of projected to true bone length over all limbs (1 = in the image plane)."""
    joints, _ = project(shape, pose, Framing(1.0, (0.0, 0.0)))
    return min(math.dist(joints[b], joints[a]) / getattr(shape, length) for _, _, a, b, length in LIMBS)


def limit_foreshortening(shape: BodyShape, pose: Articulation) -> Articulation:
    """Halve the yaw until every limb's projected length is at least ``MIN_FORESHORTENING`` of its length
    (then clamp to frontal)."""
    for _ in range(6):
        if limb_foreshortening(shape, pose) >= MIN_FORESHORTENING:
            return pose
        pose = replace(pose, yaw=pose.yaw * 0.5)
    return replace(pose, yaw=0.0)


def sample_articulation(rng: np.random.Generator, shape: BodyShape, mode: str | None = None) -> Articulation:
    """Draw a pose from the prior (``mode`` in ``POSE_MODES``, uniform when ``None``)."""
    mode = mode if mode is not None else POSE_MODES[rng.integers(len(POSE_MODES))]
    if mode not in POSE_MODES:
        raise ValueError(f"unknown pose mode {mode!r}; expected one of {POSE_MODES}")
    if mode == "walking":
        limbs = _walking_limbs(rng.uniform(0, 2 * np.pi), rng.uniform(12, 25))
    else:
        arm_modes = [mode if mode in ("standing", "arms_crossed") or rng.random() < 0.75 else "standing" for _ in SIDES]
        arms = [_arm(rng, arm_mode) for arm_mode in arm_modes]
        limbs = {"upper_arm": tuple(a[0] for a in arms), "forearm": tuple(a[1] for a in arms), **_standing_legs(rng)}
    pose = Articulation(
        yaw=_sample_yaw(rng),
        roll=_deg(rng, 0, 2.5, -6, 6),
        head_yaw=_deg(rng, 0, 12, -30, 30),
        head_roll=_deg(rng, 0, 5, -12, 12),
        toe_out=float(rng.uniform(0.2, 0.6)),
        **limbs,
    )
    return limit_foreshortening(shape, pose)


def _extent(shape: BodyShape, poses: list[Articulation]) -> tuple[float, float, float, float, float]:
    """Union box ``(x0, y0, x1, y1)`` of the posed bodies at unit scale (neck at 0) and the head-top y."""
    xs, ys, head_top = [], [], []
    margin = shape.radii["thigh"][0]
    for pose in poses:
        joints, _ = project(shape, pose, Framing(1.0, (0.0, 0.0)))
        px, py = [x for x, _ in joints.values()], [y for _, y in joints.values()]
        top = joints["head"][1] - shape.head_radius * shape.head_aspect
        xs += [min(px) - margin, max(px) + margin]
        ys += [min(min(py), top), max(py) + shape.radii["foot"][0]]
        head_top.append(top)
    return min(xs), min(ys), max(xs), max(ys), min(head_top)


def sample_framing_kind(rng: np.random.Generator) -> str:
    """``whole``, ``half`` or ``shifted`` with probabilities ``FRAMING_PROBS``."""
    return FRAMINGS[FRAMING_DRAW(rng)]


def sample_framing(
    rng: np.random.Generator,
    shape: BodyShape,
    poses: list[Articulation],
    height: int,
    width: int,
    kind: str,
) -> Framing:
    """A ``kind`` framing (``FRAMINGS``) for ``poses`` (one for a still image, all frames of a sequence) in an
    ``height x width`` image."""
    x0, y0, x1, y1, head_top = _extent(shape, poses)
    if kind == "half":
        ppu = height * rng.uniform(0.95, 1.1) / (1.5 - shape.head_top)
        oy = height * rng.uniform(0.03, 0.08) - head_top * ppu
        ox = width / 2 + rng.normal(0, 0.03 * width)  # the neck near the centre: outstretched arms may leave the frame
        return Framing(float(ppu), (float(ox), float(oy)))
    if kind not in ("whole", "shifted"):
        raise ValueError(f"unknown framing {kind!r}; expected one of {FRAMINGS}")
    ppu = min(height * rng.uniform(0.82, 0.94) / (y1 - y0), 0.95 * width / (x1 - x0))
    oy = (height - (y1 - y0) * ppu) / 2 - y0 * ppu + rng.normal(0, 0.02 * height)
    ox = width / 2 + rng.normal(0, 0.03 * width) - ppu * 0.5 * (x0 + x1)
    if kind == "shifted":
        ox += pick(rng, (-1.0, 1.0)) * rng.uniform(0.25, 0.4) * width
    return Framing(float(ppu), (float(ox), float(oy)))


def sample_sequence(rng: np.random.Generator, shape: BodyShape, kind: str, length: int) -> list[Articulation]:
    """``length`` poses of a ``kind`` sequence (``SEQUENCE_KINDS``)."""
    if kind not in SEQUENCE_KINDS:
        raise ValueError(f"unknown sequence kind {kind!r}; expected one of {SEQUENCE_KINDS}")
    base = sample_articulation(rng, shape, "standing")
    if kind == "walk":
        phase0, step, amplitude = rng.uniform(0, 2 * np.pi), 2 * np.pi / rng.uniform(8, 12), rng.uniform(18, 30)
        yaw = float(np.radians(rng.uniform(-45, 45)))
        poses = [replace(base, yaw=yaw, **_walking_limbs(phase0 + t * step, amplitude)) for t in range(length)]
    elif kind == "turn":
        start = rng.uniform(20, MAX_YAW) * pick(rng, (-1.0, 1.0))
        sweep = min(rng.uniform(40, 100), MAX_YAW + abs(start))  # towards and past frontal, within the yaw range
        poses = [
            replace(base, yaw=float(y)) for y in np.radians(np.linspace(start, start - np.sign(start) * sweep, length))
        ]
    else:
        amplitude = np.radians(rng.uniform(60, 140))
        both = rng.random() < 0.5
        period = max(length - 1, 1)
        poses = []
        for t in range(length):
            lift = amplitude * (1 - np.cos(2 * np.pi * t / period)) / 2
            upper = tuple((u[0] + lift * (both or i == 1), u[1]) for i, u in enumerate(base.upper_arm))
            fore = tuple((f[0] + lift * (both or i == 1), f[1]) for i, f in enumerate(base.forearm))
            poses.append(replace(base, upper_arm=upper, forearm=fore))
    return [limit_foreshortening(shape, p) for p in poses]
