"""Paired augmentation (``datamodules/augment.py``): flips on a real MPV person, exact flow after affine + flip."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from contract.flow import warp
from contract.sample import LIP_LABELS, MASK_GROUPS, NUM_JOINTS
from datamodules.augment import JOINT_FLIP_PERMUTATION, LABEL_FLIP_PERMUTATION, PairedAugmentation
from datamodules.parsing import cloth_agnostic_image, derived_masks
from datamodules.pose import KeypointMapEncoder
from datamodules.readers.mpv import MPVReader

FIXTURE = Path(__file__).parents[1] / "fixtures" / "augment"  # one real MPV person (DTLD layout), its own target
LEFT_ARM, RIGHT_ARM = LIP_LABELS.index("left_arm"), LIP_LABELS.index("right_arm")
GAUSSIAN_MAPS = KeypointMapEncoder(kind="gaussian", sigma=3.0)


def mpv_sample() -> dict:
    """The fixture person as the MPV reader loads it (Gaussian keypoint maps, so each map has one peak)."""
    reader = MPVReader(FIXTURE, split="train", keypoint_maps=GAUSSIAN_MAPS)
    return reader.load(reader.records[0])


def pixel_coords(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    return xs, ys


def linear_image(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """[3, H, W] image affine in the coordinates (x, y): bilinear resampling reproduces it exactly."""
    return 1.6 * torch.stack((xs / 48 - 0.5, ys / 64 - 0.5, (xs - 2 * ys) / 176))


def shifted_sample(height: int = 64, width: int = 48, shift: tuple[int, int] = (3, -2)) -> dict:
    """Synthetic pair: tgt(q) = src(q + shift), so flow_gt = shift; vis 1 where q + shift is inside, else 2."""
    xs, ys = pixel_coords(height, width)
    src, tgt = linear_image(xs, ys), linear_image(xs + shift[0], ys + shift[1])
    parse = torch.zeros(height, width, dtype=torch.long)
    parse[20:40, 10:30] = 5
    kpts = torch.tensor([[10.0 + j, 12.0 + 2 * j, 1.0] for j in range(NUM_JOINTS)])
    inside = (xs + shift[0] >= 0) & (xs + shift[0] <= width - 1) & (ys + shift[1] >= 0) & (ys + shift[1] <= height - 1)
    return {
        **{f"{side}_img": image for side, image in (("src", src), ("tgt", tgt))},
        **{f"{side}_kpts": kpts.clone() for side in ("src", "tgt")},
        **{f"{side}_pose": GAUSSIAN_MAPS(kpts, (height, width)) for side in ("src", "tgt")},
        **{f"{side}_parse": parse.clone() for side in ("src", "tgt")},
        **{f"{side}_masks": derived_masks(parse) for side in ("src", "tgt")},
        "src_agnostic": cloth_agnostic_image(src, parse),
        "cloth": -src,
        "cloth_mask": (parse == 5)[None].float(),
        "meta": {"dataset": "test", "entry": "shifted"},
        "flow_gt": torch.tensor(shift, dtype=torch.float32).view(2, 1, 1).expand(2, height, width).clone(),
        "vis_gt": torch.where(inside, 1, 2),
    }


def assert_same(a: object, b: object, atol: float) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key], atol)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype
        if a.dtype.is_floating_point:
            torch.testing.assert_close(a, b, atol=atol, rtol=0)
        else:
            assert torch.equal(a, b)
    else:
        assert a == b


def mean_x(region: torch.Tensor) -> float:
    return torch.nonzero(region)[:, 1].float().mean().item()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_flip_moves_a_real_mpv_person_and_swaps_left_and_right() -> None:
    sample = mpv_sample()
    height, width = sample["src_parse"].shape
    out = PairedAugmentation(hflip_prob=1.0)(sample, seeded(0))
    assert out["meta"] == {**sample["meta"], "hflip": "1"}
    # The fixture has both arms, most joints visible and the person's right on the image's left.
    kpts = sample["src_kpts"]
    assert (sample["src_parse"] == RIGHT_ARM).sum() > 100 and (sample["src_parse"] == LEFT_ARM).sum() > 100
    assert kpts[2, 0] < kpts[5, 0] and kpts[:, 2].sum() >= 14
    assert mean_x(sample["src_parse"] == RIGHT_ARM) < mean_x(sample["src_parse"] == LEFT_ARM)

    for side in ("src", "tgt"):
        flipped = out[f"{side}_kpts"]
        for joint, twin in enumerate(JOINT_FLIP_PERMUTATION.tolist()):  # row `twin` moves to row `joint`
            assert flipped[joint, 2] == kpts[twin, 2]
            if kpts[twin, 2] > 0:
                torch.testing.assert_close(flipped[joint, :2], torch.stack((width - 1 - kpts[twin, 0], kpts[twin, 1])))
        assert flipped[2, 0] < flipped[5, 0]  # as in the data, a frontal person's right stays on the image's left
        # Right-arm pixels, mirrored, are left-arm pixels (and vice versa); every other label just mirrors.
        parse, mirrored = out[f"{side}_parse"], sample[f"{side}_parse"].flip(-1)
        assert torch.all(parse[mirrored == RIGHT_ARM] == LEFT_ARM)
        assert torch.all(parse[mirrored == LEFT_ARM] == RIGHT_ARM)
        assert torch.equal(parse, LABEL_FLIP_PERMUTATION[mirrored])
        assert mean_x(parse == RIGHT_ARM) < mean_x(parse == LEFT_ARM)
        # Each visible joint's map peaks at its flipped keypoint.
        pose = out[f"{side}_pose"]
        for joint in torch.nonzero(flipped[:, 2] > 0).flatten().tolist():
            peak = int(pose[joint].argmax())
            x, y = flipped[joint, :2].tolist()
            assert abs(peak % width - x) <= 1 and abs(peak // width - y) <= 1, f"joint {joint}"
        assert torch.all(pose[flipped[:, 2] == 0] == 0)
        torch.testing.assert_close(out[f"{side}_img"], sample[f"{side}_img"].flip(-1), atol=1e-4, rtol=0)
        for name in MASK_GROUPS:  # arms and legs groups hold both sides, so masks just mirror
            assert torch.equal(out[f"{side}_masks"][name], sample[f"{side}_masks"][name].flip(-1))
    torch.testing.assert_close(out["src_agnostic"], sample["src_agnostic"].flip(-1), atol=1e-4, rtol=0)
    assert out["cloth"] is sample["cloth"] and out["cloth_mask"] is sample["cloth_mask"]


@pytest.mark.parametrize("make_sample", [mpv_sample, shifted_sample])
def test_flipping_twice_is_the_identity_and_leaves_the_input_alone(make_sample) -> None:
    sample = make_sample()
    before = copy.deepcopy(sample)
    flip = PairedAugmentation(hflip_prob=1.0)
    twice = flip(flip(sample, seeded(0)), seeded(1))
    assert twice["meta"].pop("hflip") == "1"
    assert_same(twice, sample, atol=1e-4)
    assert_same(sample, before, atol=0.0)


def test_flow_ground_truth_stays_exact_after_random_affine_and_flip() -> None:
    sample = shifted_sample()
    src, tgt, flow, vis = (sample[k][None] for k in ("src_img", "tgt_img", "flow_gt", "vis_gt"))
    assert (vis == 1).float().mean() > 0.8
    torch.testing.assert_close(warp(src, flow)[:, :, vis[0] == 1], tgt[:, :, vis[0] == 1], atol=1e-5, rtol=0)

    augment = PairedAugmentation(hflip_prob=0.5, degrees=20.0, translate=0.1, scale=(0.8, 1.2))
    flips = set()
    for seed in range(6):
        out = augment(sample, seeded(seed))
        flips.add(out["meta"]["hflip"])
        src, tgt, flow = (out[k][None] for k in ("src_img", "tgt_img", "flow_gt"))
        # Away from edges: visible pixels whose 7x7 neighbourhood is visible too (bilinear reads 2x2 neighbours).
        visible = (out["vis_gt"] == 1).float()[None, None]
        keep = (-F.max_pool2d(-visible, 7, stride=1, padding=3))[0, 0] > 0
        assert keep.float().mean() > 0.3, f"seed {seed}: too few pixels to compare"
        torch.testing.assert_close(warp(src, flow)[:, :, keep], tgt[:, :, keep], atol=1e-4, rtol=0)
        if out["meta"]["hflip"] == "1":  # the untransformed offsets would be wrong: the test can fail
            stale = sample["flow_gt"][None]
            assert (warp(src, stale)[:, :, keep] - tgt[:, :, keep]).abs().max() > 0.05
    assert flips == {"0", "1"}


def test_zoom_moves_keypoints_by_hand_and_drops_joints_that_leave_the_frame() -> None:
    height, width = 64, 48
    sample = shifted_sample(height, width)
    sample["src_kpts"][0] = torch.tensor([10.0, 20.0, 1.0])
    sample["src_kpts"][1] = torch.tensor([0.0, 0.0, 1.0])  # a corner: leaves the frame when zoomed about the centre
    sample["src_kpts"][2] = torch.tensor([5.0, 5.0, 0.0])  # missing
    sample["src_kpts"][3] = torch.tensor([-0.5, 30.0, 1.0])  # already outside (as OpenPose may report): kept
    sample["src_pose"] = GAUSSIAN_MAPS(sample["src_kpts"], (height, width))
    out = PairedAugmentation(hflip_prob=0.0, scale=(1.5, 1.5))(sample, seeded(0))
    cx, cy = (width - 1) / 2, (height - 1) / 2
    kpts = out["src_kpts"]
    torch.testing.assert_close(kpts[0], torch.tensor([cx + 1.5 * (10 - cx), cy + 1.5 * (20 - cy), 1.0]))
    assert kpts[1, 2] == 0 and torch.all(out["src_pose"][1] == 0)
    assert torch.equal(kpts[2], torch.tensor([5.0, 5.0, 0.0]))
    torch.testing.assert_close(kpts[3], torch.tensor([cx + 1.5 * (-0.5 - cx), cy + 1.5 * (30 - cy), 1.0]))
    # Images: out(p) = in(c + (p - c) / 1.5), exact for an image affine in (x, y).
    xs, ys = pixel_coords(height, width)
    expected = linear_image(cx + (xs - cx) / 1.5, cy + (ys - cy) / 1.5)
    torch.testing.assert_close(out["src_img"], expected, atol=1e-4, rtol=0)
    # Flow: A flow = 1.5 * (3, -2). At x = 47 the source point x + 4.5 leaves the frame: visible becomes occluded;
    # at x = 40 it stays inside. The pre-images of rows 20..40, columns 40..47 (rows 24..37, columns 34..40) were
    # visible, and the source points of these rows stay inside vertically.
    torch.testing.assert_close(out["flow_gt"], torch.tensor([4.5, -3.0]).view(2, 1, 1).expand(2, height, width))
    assert torch.all(sample["vis_gt"][24:38, 34:41] == 1)
    assert torch.all(out["vis_gt"][20:41, width - 1] == 2) and torch.all(out["vis_gt"][20:41, 40] == 1)


def test_pixels_from_outside_the_frame_are_background() -> None:
    sample = shifted_sample()
    out = PairedAugmentation(hflip_prob=0.0, scale=(0.5, 0.5), image_fill=0.25)(sample, seeded(0))
    corner = (slice(None), 0, 0)  # its pre-image c + (0 - c) / 0.5 = -c lies outside
    assert torch.all(out["src_img"][corner] == 0.25) and torch.all(out["src_agnostic"][corner] == 0.25)
    assert torch.all(out["src_pose"][corner] == 0) and out["tgt_parse"][0, 0] == 0 and out["vis_gt"][0, 0] == 0
    assert out["src_masks"]["background"][0, 0, 0] == 1 and out["src_masks"]["cloth"][0, 0, 0] == 0
    # The zoomed-out person is still there: the centre keeps its cloth label.
    assert out["src_parse"][32, 20] == 5 and out["src_masks"]["cloth"][0, 32, 20] == 1


def test_same_seed_gives_the_same_sample_and_another_seed_another() -> None:
    sample = shifted_sample()
    augment = PairedAugmentation(degrees=15.0, translate=0.1, scale=(0.9, 1.1))
    assert_same(augment(sample, seeded(7)), augment(sample, seeded(7)), atol=0.0)
    with pytest.raises(AssertionError):
        assert_same(augment(sample, seeded(7)), augment(sample, seeded(8)), atol=1e-3)


def test_no_transform_returns_the_sample_unchanged() -> None:
    sample = shifted_sample()
    out = PairedAugmentation(hflip_prob=0.0)(sample, seeded(0))
    assert out.pop("meta") == {**sample["meta"], "hflip": "0"}
    assert all(out[key] is sample[key] for key in out)


def test_a_batch_is_moved_as_its_samples_are_one_by_one() -> None:
    """``apply`` on a batch (the device path) equals ``__call__`` per sample bit for bit; an identity sample keeps
    its values."""
    augment = PairedAugmentation(hflip_prob=0.5, degrees=20.0, translate=0.1, scale=(0.8, 1.2))
    samples = [shifted_sample(shift=shift) for shift in ((3, -2), (0, 4), (-5, 1), (2, 2))]
    draws = [augment.draw_transform(64, 48, seeded(seed)) for seed in range(3)] + [(torch.eye(2, 3).double(), False)]
    assert {flip for _, flip in draws} == {False, True}
    moved_keys = [key for key in samples[0] if key not in ("cloth", "cloth_mask", "meta")]
    batch = {key: torch.stack([s[key] for s in samples]) for key in moved_keys if key[4:] != "masks"}
    for side in ("src", "tgt"):
        batch[f"{side}_masks"] = {
            name: torch.stack([s[f"{side}_masks"][name] for s in samples]) for name in MASK_GROUPS
        }
    matrices = torch.stack([matrix for matrix, _ in draws])
    moved = augment.apply(batch, matrices, torch.tensor([flip for _, flip in draws]))
    assert sorted(moved) == sorted(moved_keys)
    for i, sample in enumerate(samples):
        expected = augment(sample, seeded(i)) if i < 3 else sample
        row = {
            key: {n: m[i] for n, m in value.items()} if isinstance(value, dict) else value[i]
            for key, value in moved.items()
        }
        assert_same(row, {key: expected[key] for key in moved}, atol=0.0)


def test_target_attributes_are_not_moved() -> None:
    sample = {**shifted_sample(), "tgt_attributes": torch.ones(11)}
    out = PairedAugmentation(hflip_prob=1.0)(sample, seeded(0))
    assert out["tgt_attributes"] is sample["tgt_attributes"] and out["meta"]["hflip"] == "1"


def test_draw_transform_of_a_flip_is_the_mirror_matrix() -> None:
    matrix, flip = PairedAugmentation(hflip_prob=1.0).draw_transform(64, 48, seeded(0))
    assert flip
    assert torch.equal(matrix, torch.tensor([[-1.0, 0.0, 47.0], [0.0, 1.0, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda s: s.pop("src_parse"), KeyError, "lacks key(s) ['src_parse']"),
        (lambda s: s.update(src_depth=torch.zeros(1)), KeyError, "unknown key(s) ['src_depth']"),
        (lambda s: s.pop("vis_gt"), KeyError, "flow_gt and vis_gt come together"),
        (lambda s: s.update(src_kpts=torch.zeros(17, 3)), ValueError, "sample['src_kpts'] has shape (17, 3)"),
        (lambda s: s.update(tgt_img=torch.zeros(3, 32, 48)), ValueError, "sample['tgt_img'] has shape (3, 32, 48)"),
        (lambda s: s["tgt_parse"].fill_(20), ValueError, "sample['tgt_parse'] has labels in [20, 20]"),
        (lambda s: s.update(src_parse=s["src_parse"].float()), ValueError, "must hold integer labels"),
        (lambda s: s["src_masks"].update(skin=torch.zeros(1, 64, 48)), KeyError, "unknown mask 'skin'"),
    ],
)
def test_bad_samples_raise_naming_the_key(edit, error, message: str) -> None:
    sample = shifted_sample()
    edit(sample)
    with pytest.raises(error) as info:
        PairedAugmentation()(sample, seeded(0))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hflip_prob": 1.5}, "hflip_prob must be in [0, 1]"),
        ({"degrees": -1.0}, "degrees must be >= 0"),
        ({"scale": (1.2, 0.8)}, "0 < low <= high"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PairedAugmentation(**kwargs)
