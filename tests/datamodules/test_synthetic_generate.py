"""In-memory synthetic samples (``datamodules/synthetic/generate.py``): triplet kinds, sequences, randomness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from contract.flow import warp
from contract.sample import LIP_LABELS
from datamodules.synthetic.generate import generate_sequence, generate_triplet, sample_rng
from datamodules.synthetic.pose_prior import SEQUENCE_KINDS

GARMENT_LABELS = (LIP_LABELS.index("upper_clothes"), LIP_LABELS.index("dress"))
SYNTHETIC_LABELS = {LIP_LABELS.index(n) for n in (
    "background", "hair", "upper_clothes", "dress", "pants", "skirt", "face",
    "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe", "right_shoe",
)}  # fmt: skip


def _warp_error(source: np.ndarray, target: np.ndarray, flow: np.ndarray, region: np.ndarray) -> float:
    """Mean abs error on [0, 1] of warp(source, flow) against target over ``region`` ``[H, W]`` bool."""
    src = torch.from_numpy(source).float()[None] / 255
    warped = warp(src, torch.from_numpy(flow)[None])[0]
    diff = (warped - torch.from_numpy(target).float() / 255).abs().mean(0)
    return float(diff[torch.from_numpy(region)].mean())


def test_sample_rng_depends_only_on_seed_split_and_index() -> None:
    a = sample_rng(3, "train", 5).random(4)
    sample_rng(3, "train", 4).random(100)  # other samples drawn in between change nothing
    np.testing.assert_array_equal(a, sample_rng(3, "train", 5).random(4))
    assert not np.array_equal(a, sample_rng(3, "test", 5).random(4))
    assert not np.array_equal(a, sample_rng(4, "train", 5).random(4))


def test_triplet_kinds_follow_the_cross_garment_fraction() -> None:
    kinds = [generate_triplet(sample_rng(0, "train", i), 64, 48, 0.5).kind for i in range(40)]
    assert 8 <= kinds.count("cross") <= 32
    assert {generate_triplet(sample_rng(0, "train", i), 64, 48, 0.0).kind for i in range(5)} == {"same"}
    assert {generate_triplet(sample_rng(0, "train", i), 64, 48, 1.0).kind for i in range(5)} == {"cross"}


def test_cross_garment_target_differs_from_source_only_in_the_garment() -> None:
    # In a cross triplet the flow still maps the body: off the garment, warp(source) reproduces the target; on the
    # garment (which the target wears from the shop image) it does not.
    checked = 0
    for index in range(8):
        triplet = generate_triplet(sample_rng(11, "train", index), 256, 192, cross_garment_fraction=1.0)
        visible = ndimage.binary_erosion(triplet.vis == 1, iterations=2)
        source_garment = (
            warp(
                torch.from_numpy(np.isin(triplet.source.parse, GARMENT_LABELS)).float()[None, None],
                torch.from_numpy(triplet.flow)[None],
                mode="nearest",
            )[0, 0].numpy()
            > 0.5
        )
        garment = np.isin(triplet.target.parse, GARMENT_LABELS)
        on = visible & ndimage.binary_erosion(garment & source_garment, iterations=2)
        off = visible & ndimage.binary_erosion(~garment & ~source_garment, iterations=2)
        if on.sum() < 500:
            continue
        assert _warp_error(triplet.source.image, triplet.target.image, triplet.flow, off) < 0.03
        assert _warp_error(triplet.source.image, triplet.target.image, triplet.flow, on) > 0.04
        checked += 1
    assert checked >= 3


def test_parse_labels_are_lip_labels_the_generator_uses() -> None:
    for index in range(6):
        triplet = generate_triplet(sample_rng(2, "test", index), 128, 96)
        for person in (triplet.source, triplet.target):
            assert person.parse.dtype == np.uint8 and person.parse.shape == (128, 96)
            assert set(np.unique(person.parse).tolist()) <= SYNTHETIC_LABELS
            assert person.image.shape == (3, 128, 96) and person.image.dtype == np.uint8
        assert triplet.flow.shape == (2, 128, 96) and triplet.flow.dtype == np.float32
        assert set(np.unique(triplet.vis).tolist()) <= {0, 1, 2}
        # The in-shop mask is the garment: white (255) around it, never near-white on it.
        assert (triplet.cloth[:, ~ndimage.binary_dilation(triplet.cloth_mask, iterations=2)] == 255).all()
        assert (triplet.cloth[:, ndimage.binary_erosion(triplet.cloth_mask, iterations=2)].min(0) < 215).all()


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_sequence_flows_link_consecutive_frames(kind: str) -> None:
    sequence = generate_sequence(sample_rng(5, "sequence_train", 0), 256, 192, kind, 4)
    assert sequence.kind == kind and len(sequence.frames) == 4 and len(sequence.flows) == 3
    moved = 0.0
    for t in range(1, 4):
        flow, vis = sequence.flows[t - 1]
        region = ndimage.binary_erosion(vis == 1, iterations=2)
        error = _warp_error(sequence.frames[t - 1].image, sequence.frames[t].image, flow, region)
        assert error < 0.02, f"{kind} frame {t}: {error}"
        moved = max(moved, float(np.abs(flow[:, vis > 0]).max()))
    assert moved > 2.0, f"{kind}: the poses should change between frames"
