"""The articulated body (``datamodules/synthetic/skeleton.py``): kinematics, projection, depth order."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.skeleton import (
    PART_NAMES,
    Articulation,
    BodyShape,
    Framing,
    direction,
    joints_3d,
    pose_body,
    project,
)

SHAPE = BodyShape()
DOWN = ((0.0, 0.0), (0.0, 0.0))


def test_direction_known_answers() -> None:
    np.testing.assert_allclose(direction("l", 0.0, 0.0), (0.0, 1.0, 0.0), atol=1e-12)  # hanging down
    np.testing.assert_allclose(direction("l", np.pi / 2, 0.0), (1.0, 0.0, 0.0), atol=1e-12)  # out to the left
    np.testing.assert_allclose(direction("r", np.pi / 2, 0.0), (-1.0, 0.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(direction("r", 0.0, np.pi / 2), (0.0, 0.0, 1.0), atol=1e-12)  # towards the camera


def test_forward_kinematics_of_straight_limbs() -> None:
    joints = joints_3d(SHAPE, Articulation(upper_arm=DOWN, forearm=DOWN, thigh=DOWN, shin=DOWN))
    np.testing.assert_allclose(joints["l_shoulder"], (SHAPE.shoulder_half, SHAPE.shoulder_drop, 0.0))
    np.testing.assert_allclose(
        joints["l_wrist"], (SHAPE.shoulder_half, SHAPE.shoulder_drop + SHAPE.upper_arm + SHAPE.forearm, 0.0)
    )
    np.testing.assert_allclose(joints["r_ankle"], (-SHAPE.hip_half, 1.0 + SHAPE.thigh + SHAPE.shin, 0.0))
    head_up = SHAPE.neck + SHAPE.head_radius * SHAPE.head_aspect
    assert SHAPE.head_up == pytest.approx(head_up)
    np.testing.assert_allclose(joints["head"], (0.0, -head_up, 0.0), atol=1e-12)


def test_projection_scale_origin_and_yaw_foreshortening() -> None:
    framing = Framing(50.0, (100.0, 40.0))
    joints, depths = project(SHAPE, Articulation(), framing)
    np.testing.assert_allclose(joints["neck"], (100.0, 40.0))
    np.testing.assert_allclose(joints["l_hip"], (100.0 + 50 * SHAPE.hip_half, 90.0))
    turned, turned_depths = project(SHAPE, Articulation(yaw=np.pi / 3), framing)
    # Turning by 60 deg halves the shoulder width and sends the person's left shoulder away from the camera.
    width = joints["l_shoulder"][0] - joints["r_shoulder"][0]
    assert turned["l_shoulder"][0] - turned["r_shoulder"][0] == pytest.approx(width / 2)
    assert turned_depths["l_shoulder"] < 0 < turned_depths["r_shoulder"] and depths["l_shoulder"] == 0


def test_limb_pointing_at_the_camera_is_foreshortened() -> None:
    body = pose_body(SHAPE, Articulation(forearm=((0.1, 0.1), (0.0, 1.2))), Framing(50.0, (100.0, 40.0)))
    forearm = np.linalg.norm(np.subtract(body.joints["l_wrist"], body.joints["l_elbow"]))
    assert forearm == pytest.approx(50 * SHAPE.forearm * np.cos(1.2), rel=1e-6)
    # The limb's placement maps s = length to the far joint and keeps its width (t) unscaled.
    placement = body.placements["l_forearm"]
    x, y, _ = placement.to_image((np.float32([SHAPE.forearm, 0.0]), np.float32([0.0, 0.1])))
    np.testing.assert_allclose([x[0], y[0]], body.joints["l_wrist"], atol=1e-3)
    assert np.hypot(x[1] - body.joints["l_elbow"][0], y[1] - body.joints["l_elbow"][1]) == pytest.approx(5.0, rel=1e-4)


@pytest.mark.parametrize(("yaw", "far", "near"), [(0.9, "l", "r"), (-0.9, "r", "l")])
def test_depth_order_of_a_turned_body(yaw: float, far: str, near: str) -> None:
    depth = pose_body(SHAPE, Articulation(yaw=yaw), Framing(50.0, (100.0, 40.0))).part_depth
    assert set(depth) == set(PART_NAMES)
    assert depth[f"{far}_upper_arm"] < depth["torso"] < depth[f"{near}_upper_arm"]
    assert depth[f"{far}_thigh"] < depth[f"{near}_thigh"] < depth["torso"] < depth["skirt"] < depth["head"]


def test_frontal_arms_are_in_front_of_torso_and_skirt() -> None:
    depth = pose_body(SHAPE, Articulation(), Framing(50.0, (100.0, 40.0))).part_depth
    assert min(depth["l_forearm"], depth["r_forearm"], depth["l_hand"]) > depth["skirt"] > depth["torso"]
    assert depth["hair_back"] < min(depth.values()) + 1e-9


def test_torso_outline_is_widest_at_the_shoulders() -> None:
    y = np.linspace(-0.06, SHAPE.torso_bottom, 50)
    widths = SHAPE.torso_half_width(y)
    assert SHAPE.torso_half_width(np.float32(0.06)) == pytest.approx(SHAPE.shoulder_half - 0.03, abs=1e-6)
    assert widths.max() <= SHAPE.shoulder_half - 0.03 + 1e-6
    assert SHAPE.torso_half_width(np.float32(0.62)) == pytest.approx(SHAPE.waist_half)
    assert SHAPE.height == pytest.approx(1.0 + SHAPE.thigh + SHAPE.shin + SHAPE.radii["foot"][0] - SHAPE.head_top)
