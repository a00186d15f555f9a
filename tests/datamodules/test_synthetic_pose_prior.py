"""Pose prior, framing and sequences (``datamodules/synthetic/pose_prior.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.pose_prior import (
    MAX_YAW,
    MIN_FORESHORTENING,
    POSE_MODES,
    SEQUENCE_KINDS,
    limb_foreshortening,
    limit_foreshortening,
    sample_articulation,
    sample_framing,
    sample_sequence,
)
from datamodules.synthetic.skeleton import Articulation, BodyShape, Framing, project

SHAPE = BodyShape()


@pytest.mark.parametrize("mode", POSE_MODES)
def test_modes_respect_joint_ranges_and_foreshortening(mode: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        pose = sample_articulation(rng, SHAPE, mode)
        assert abs(pose.yaw) <= np.radians(MAX_YAW) + 1e-9
        assert limb_foreshortening(SHAPE, pose) >= MIN_FORESHORTENING
        for abduction, _ in pose.upper_arm:
            assert -np.pi / 2 <= abduction <= np.pi


def test_mode_shapes_the_pose() -> None:
    rng = np.random.default_rng(1)
    raised = [sample_articulation(rng, SHAPE, "arms_raised") for _ in range(20)]
    standing = [sample_articulation(rng, SHAPE, "standing") for _ in range(20)]
    crossed = [sample_articulation(rng, SHAPE, "arms_crossed") for _ in range(20)]
    assert np.mean([max(a for a, _ in p.upper_arm) for p in raised]) > np.radians(100)
    assert max(a for p in standing for a, _ in p.upper_arm) < np.radians(35)
    assert all(f[0] < 0 for p in crossed for f in p.forearm)  # forearms point across the body


def test_turned_body_is_unturned_until_limbs_are_not_edge_on() -> None:
    pointing = Articulation(yaw=1.5, forearm=((0.1, 0.1), (-1.5, 0.0)))  # forearm across the body, seen edge-on
    assert limb_foreshortening(SHAPE, pointing) < MIN_FORESHORTENING
    fixed = limit_foreshortening(SHAPE, pointing)
    assert limb_foreshortening(SHAPE, fixed) >= MIN_FORESHORTENING and abs(fixed.yaw) < 1.5


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pose mode 'sitting'"):
        sample_articulation(np.random.default_rng(0), SHAPE, "sitting")


def _joints(pose, framing) -> np.ndarray:
    joints, _ = project(SHAPE, pose, framing)
    return np.stack(list(joints.values()))


def test_framings_place_the_body() -> None:
    rng = np.random.default_rng(2)
    for _ in range(10):
        pose = sample_articulation(rng, SHAPE)
        whole = _joints(pose, sample_framing(rng, SHAPE, [pose], 256, 192, "whole"))
        assert (
            whole[:, 0].min() >= 0 and whole[:, 0].max() <= 191 and whole[:, 1].min() >= 0 and whole[:, 1].max() <= 255
        )
        half, _ = project(SHAPE, pose, sample_framing(rng, SHAPE, [pose], 256, 192, "half"))
        assert half["l_ankle"][1] > 255 and half["r_ankle"][1] > 255 and 0 < half["neck"][1] < 128
        shifted = _joints(pose, sample_framing(rng, SHAPE, [pose], 256, 192, "shifted"))
        assert abs(shifted[:, 0].mean() - 96) > 30
    with pytest.raises(ValueError, match="unknown framing"):
        sample_framing(rng, SHAPE, [pose], 256, 192, "closeup")


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_sequences_change_smoothly(kind: str) -> None:
    poses = sample_sequence(np.random.default_rng(3), SHAPE, kind, 10)
    assert len(poses) == 10
    tracks = np.stack([_joints(p, Framing(50.0, (96.0, 40.0))) for p in poses])
    steps = np.linalg.norm(np.diff(tracks, axis=0), axis=2).max(axis=1)
    assert steps.max() < 40 and steps.sum() > 20  # moves, without jumps
    if kind == "turn":
        yaws = np.array([p.yaw for p in poses])
        assert (np.diff(yaws) != 0).all() and np.all(np.sign(np.diff(yaws)) == np.sign(yaws[-1] - yaws[0]))
    with pytest.raises(ValueError, match="unknown sequence kind"):
        sample_sequence(np.random.default_rng(3), SHAPE, "dance", 4)
