"""The synthetic rasteriser (``datamodules/synthetic/render.py``): exact flow and visibility."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from contract.flow import warp
from datamodules.readers.base import read_ground_truth
from datamodules.synthetic.garments import sample_outfit
from datamodules.synthetic.generate import generate_triplet, sample_rng
from datamodules.synthetic.identity import sample_identity
from datamodules.synthetic.person import build_looks
from datamodules.synthetic.render import BACKGROUND_PART, PART_INDEX, Frame, ground_truth_flow, render
from datamodules.synthetic.skeleton import Articulation, Framing, pose_body
from datamodules.synthetic.writer import write_mpv_triplet

HEIGHT, WIDTH = 256, 192


def _person(seed: int = 0):
    rng = np.random.default_rng(seed)
    identity = sample_identity(rng)
    return identity, build_looks(identity, sample_outfit(rng, identity.shape))


def _frame(identity, looks, pose: Articulation, origin=(96.0, 70.0), ppu=52.0) -> Frame:
    return Frame(pose_body(identity.shape, pose, Framing(ppu, origin)), looks)


def _background(value: float = 0.9) -> np.ndarray:
    return np.full((3, HEIGHT, WIDTH), value, np.float32)


def _read_rgb(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)


def test_warping_written_source_by_flow_reproduces_target(tmp_path: Path) -> None:
    # The acceptance test, on the files as written (JPEG q95 4:4:4): warp(src, flow_gt) == tgt where
    # vis_gt == 1, part edges excluded by eroding the visible mask by 2 px; mean abs error < 0.02 on [0, 1].
    errors = []
    for index in range(10):
        triplet = generate_triplet(sample_rng(7, "train", index), HEIGHT, WIDTH, cross_garment_fraction=0.0)
        line = write_mpv_triplet(tmp_path, "train", index, triplet)
        source, target = (Path(name).stem for name in line.split("\t")[:2])
        flow, vis = read_ground_truth(tmp_path / "synthetic_gt" / f"{source}__{target}.npz")
        src = _read_rgb(tmp_path / "images" / f"{source}.jpg")
        tgt = _read_rgb(tmp_path / "images" / f"{target}.jpg")
        warped = warp(src[None], flow[None])[0]
        inner = ndimage.binary_erosion(vis.numpy() == 1, iterations=2)
        assert inner.sum() > 1000, "the visible region must not be vacuous"
        errors.append(float((warped - tgt).abs().mean(0)[torch.from_numpy(inner)].mean()))
    assert max(errors) < 0.02, errors


def test_identical_poses_give_zero_flow_and_full_visibility() -> None:
    identity, looks = _person()
    pose = Articulation(yaw=0.3)
    frames = [_frame(identity, looks, pose), _frame(identity, looks, pose)]
    source, target = render(frames, [_background(), _background()])
    flow, vis = ground_truth_flow(target, source, frames[0].body)
    person = target.part != BACKGROUND_PART
    assert np.abs(flow).max() < 1e-3
    assert (vis[person] == 1).all() and (vis[~person] == 0).all()


def test_translated_framing_gives_constant_flow() -> None:
    # Same pose, target framed 7 px right and 3 px down: every target pixel comes from 7 px left, 3 px up.
    identity, looks = _person(1)
    pose = Articulation(yaw=-0.2)
    source_frame = _frame(identity, looks, pose, origin=(96.0, 70.0))
    target_frame = _frame(identity, looks, pose, origin=(103.0, 73.0))
    source, target = render([source_frame, target_frame], [_background(), _background()])
    flow, vis = ground_truth_flow(target, source, source_frame.body)
    person = target.part != BACKGROUND_PART
    np.testing.assert_allclose(flow[0][person], -7.0, atol=1e-3)
    np.testing.assert_allclose(flow[1][person], -3.0, atol=1e-3)
    # Up to the moved part boundaries (the same body parts in front), everything is visible.
    assert (vis[person] == 1).mean() > 0.99


def test_points_leaving_the_source_frame_are_not_visible() -> None:
    identity, looks = _person(2)
    pose = Articulation()
    source_frame = _frame(identity, looks, pose, origin=(10.0, 70.0))  # body cut by the left edge
    target_frame = _frame(identity, looks, pose, origin=(96.0, 70.0))
    source, target = render([source_frame, target_frame], [_background(), _background()])
    flow, vis = ground_truth_flow(target, source, source_frame.body)
    xs = np.arange(WIDTH)[None, :] + flow[0]
    person = target.part != BACKGROUND_PART
    outside = person & (xs < -0.5)
    assert outside.sum() > 100
    assert (vis[outside] == 2).all()


def test_far_arm_hidden_by_torso_is_marked_occluded() -> None:
    # Source turned 70 deg (the person's left side away): the hanging left arm goes behind the (flat) torso, whose
    # foreshortened edge covers its inner half. Target frontal: the arm is in full view, but those material points
    # are hidden in the source -> vis 2; the near (right) arm stays visible.
    identity, looks = _person(3)
    hanging = Articulation(upper_arm=((0.05, 0.0), (0.05, 0.0)), forearm=((0.05, 0.0), (0.05, 0.0)))
    source_frame = _frame(identity, looks, replace(hanging, yaw=1.22))
    target_frame = _frame(identity, looks, hanging)
    source, target = render([source_frame, target_frame], [_background(), _background()])
    _, vis = ground_truth_flow(target, source, source_frame.body)
    left_upper_arm = target.part == PART_INDEX["l_upper_arm"]
    right_upper_arm = target.part == PART_INDEX["r_upper_arm"]
    assert left_upper_arm.sum() > 100
    assert (vis[left_upper_arm] == 2).mean() > 0.3
    assert (vis[right_upper_arm] == 2).mean() < 0.1


def test_joint_rendering_equals_separate_rendering() -> None:
    # Frames sharing looks are evaluated together; the result must not depend on it.
    identity, looks = _person(4)
    frames = [_frame(identity, looks, Articulation(yaw=0.4)), _frame(identity, looks, Articulation(yaw=-0.3, roll=0.1))]
    together = render(frames, [_background(), _background(0.5)])
    apart = [render([f], [b])[0] for f, b in zip(frames, [_background(), _background(0.5)], strict=True)]
    for a, b in zip(together, apart, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.part, b.part)
        np.testing.assert_array_equal(a.parse, b.parse)


@pytest.mark.parametrize("depth_order", ["torso_front", "arm_front"])
def test_depth_order_decides_which_part_is_drawn(depth_order: str) -> None:
    identity, looks = _person(5)
    pose = Articulation(upper_arm=((0.15, 0.0), (0.2, 0.6)), forearm=((0.1, 0.1), (-1.5, 0.4)))
    frame = _frame(identity, looks, pose)
    depth = dict(frame.body.part_depth)
    depth["l_forearm"] = -5.0 if depth_order == "torso_front" else 5.0
    body = replace(frame.body, part_depth=depth)
    rendered = render([Frame(body, looks)], [_background()])[0]
    drawn = (rendered.part == PART_INDEX["l_forearm"]).sum()
    assert (drawn < 60) if depth_order == "torso_front" else (drawn > 150)


def test_rendered_pixels_are_the_look_at_their_local_coordinates() -> None:
    # The compiled pass (texture only where covered) and ``Look.evaluate`` are one implementation: where a part is
    # in front and fully covered, the pixel is the look's colour at the pixel's material point, and the label too.
    identity, looks = _person(6)
    frame = _frame(identity, looks, Articulation(yaw=0.2))
    rendered = render([frame], [_background()])[0]
    checked = []
    for name in looks:
        ys, xs = np.nonzero(ndimage.binary_erosion(rendered.part == PART_INDEX[name], iterations=2))
        if ys.size < 50:
            continue
        checked.append(name)
        coords, _ = frame.body.placements[name].to_local(xs.astype(np.float32), ys.astype(np.float32))
        _, rgb, label = looks[name].evaluate(coords)
        np.testing.assert_allclose(rendered.image[:, ys, xs], np.clip(rgb, 0.0, 1.0), atol=1e-6)
        np.testing.assert_array_equal(rendered.parse[ys, xs], label)
    assert {"torso", "head"} <= set(checked) and len(checked) >= 6, checked
