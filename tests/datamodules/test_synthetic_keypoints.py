"""COCO-18 keypoints of synthetic people (``datamodules/synthetic/keypoints.py``), checked on the written files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from contract.sample import COCO18_JOINTS, LIP_LABELS
from datamodules.synthetic.garments import sample_outfit
from datamodules.synthetic.generate import generate_triplet, sample_rng
from datamodules.synthetic.identity import sample_identity
from datamodules.synthetic.keypoints import keypoints
from datamodules.synthetic.person import build_looks
from datamodules.synthetic.render import Frame, render
from datamodules.synthetic.skeleton import Articulation, Framing, pose_body
from datamodules.synthetic.writer import write_mpv_triplet

L = {name: i for i, name in enumerate(LIP_LABELS)}
GARMENT = {L["upper_clothes"], L["dress"]}
LOWER = {L["pants"], L["skirt"], L["dress"]}
SKIN = 0  # neck / bare chest (contract.CIHP_TORSO_SKIN_DEFAULT)
# LIP labels a visible joint may lie on (the person's own side: R joints on right_* labels).
ALLOWED = {
    "nose": {L["face"]}, "r_eye": {L["face"]}, "l_eye": {L["face"]}, "r_ear": {L["face"], L["hair"]},
    "l_ear": {L["face"], L["hair"]}, "neck": {SKIN, L["face"], *GARMENT},
    "r_shoulder": {L["right_arm"], SKIN, *GARMENT}, "l_shoulder": {L["left_arm"], SKIN, *GARMENT},
    "r_elbow": {L["right_arm"], *GARMENT}, "l_elbow": {L["left_arm"], *GARMENT},
    "r_wrist": {L["right_arm"], *GARMENT}, "l_wrist": {L["left_arm"], *GARMENT},
    "r_hip": {*LOWER, *GARMENT, L["right_leg"], SKIN}, "l_hip": {*LOWER, *GARMENT, L["left_leg"], SKIN},
    "r_knee": {L["right_leg"], *LOWER}, "l_knee": {L["left_leg"], *LOWER},
    "r_ankle": {L["right_leg"], L["right_shoe"], *LOWER}, "l_ankle": {L["left_leg"], L["left_shoe"], *LOWER},
}  # fmt: skip


def _render(pose: Articulation, origin=(96.0, 60.0), ppu=50.0, height=256, width=192):
    rng = np.random.default_rng(0)
    identity = sample_identity(rng)
    looks = build_looks(identity, sample_outfit(rng, identity.shape, "short_sleeve"))
    body = pose_body(identity.shape, pose, Framing(ppu, origin))
    rendered = render([Frame(body, looks)], [np.ones((3, height, width), np.float32)])[0]
    return keypoints(body, rendered.part), rendered


def test_visible_keypoints_lie_on_their_drawn_limbs(tmp_path: Path) -> None:
    seen = set()
    for index in range(12):
        triplet = generate_triplet(sample_rng(3, "train", index), 256, 192)
        line = write_mpv_triplet(tmp_path, "train", index, triplet)
        for name in line.split("\t")[:2]:
            stem = Path(name).stem
            values = json.loads((tmp_path / "pose_coco" / f"{stem}_keypoints.json").read_text())["people"][0]
            kpts = np.array(values["pose_keypoints_2d"], dtype=np.float64).reshape(18, 3)
            parse = np.asarray(Image.open(tmp_path / "parse_cihp" / f"{stem}.png"))
            for joint, (x, y, conf) in zip(COCO18_JOINTS, kpts, strict=True):
                if conf == 0:
                    assert x == 0 and y == 0, f"{stem}: missing {joint} must be written as 0,0,0"
                    continue
                label = int(parse[int(round(y)), int(round(x))])
                assert label in ALLOWED[joint], f"{stem}: {joint} at ({x:.1f}, {y:.1f}) lies on LIP {LIP_LABELS[label]}"
                seen.add(joint)
    assert seen == set(COCO18_JOINTS), f"joints never visible: {set(COCO18_JOINTS) - seen}"


def test_person_right_side_is_on_the_image_left_for_a_frontal_body() -> None:
    kpts, _ = _render(Articulation())
    index = {name: i for i, name in enumerate(COCO18_JOINTS)}
    for right, left in (("r_shoulder", "l_shoulder"), ("r_hip", "l_hip"), ("r_eye", "l_eye"), ("r_ear", "l_ear")):
        assert kpts[index[right], 2] == 1 and kpts[index[left], 2] == 1
        assert kpts[index[right], 0] < kpts[index[left], 0], f"{right} should be left of {left} in the image"


def test_joints_outside_the_frame_are_missing() -> None:
    # Neck placed near the left edge: the person's right arm is cut off.
    kpts, _ = _render(Articulation(), origin=(8.0, 60.0))
    xs, vis = kpts[:, 0], kpts[:, 2]
    assert (vis[xs <= 1] == 0).all() and (xs <= 1).sum() >= 3
    assert vis[COCO18_JOINTS.index("l_shoulder")] == 1


def test_face_turned_away_hides_the_far_ear_and_eye() -> None:
    kpts, _ = _render(Articulation(yaw=0.9, head_yaw=0.4))  # the person's left side turned away
    vis = dict(zip(COCO18_JOINTS, kpts[:, 2], strict=True))
    assert vis["l_ear"] == 0 and vis["l_eye"] == 0
    assert vis["nose"] == 1 and vis["r_eye"] == 1 and vis["r_ear"] == 1


def test_joint_hidden_behind_the_torso_is_missing() -> None:
    # Body turned 35 deg (left side away), left upper arm reaching behind the back: its elbow is behind the torso.
    pose = Articulation(yaw=0.6, upper_arm=((0.15, 0.0), (-0.3, -0.6)), forearm=((0.1, 0.1), (-0.3, -0.6)))
    kpts, rendered = _render(pose)
    elbow = COCO18_JOINTS.index("l_elbow")
    assert kpts[elbow, 2] == 0
    x, y = np.rint(kpts[elbow, :2]).astype(int)
    assert rendered.parse[y, x] != L["left_arm"]
