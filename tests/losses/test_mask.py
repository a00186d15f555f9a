"""FashionMirror co-attention mask losses (``losses/mask.py``) against hand-computed values."""

import math

import pytest
import torch

from losses.mask import (
    coattention_mask_loss,
    coattention_mask_terms,
    crop_patches,
    patch_l1_loss,
    sample_region_patches,
)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_pixel_region(y: int, x: int, height: int = 64, width: int = 48) -> torch.Tensor:
    region = torch.zeros(1, 1, height, width)
    region[..., y, x] = 1.0
    return region


@pytest.mark.parametrize(
    ("pixel", "top_left"),
    [((30, 20), (22, 12)), ((0, 0), (0, 0)), ((63, 47), (48, 32)), ((2, 40), (0, 32))],
)
def test_a_patch_is_centred_on_the_region_and_kept_inside_the_image(pixel, top_left) -> None:
    patches = sample_region_patches(one_pixel_region(*pixel), seeded(), num_patches=3, patch_size=16)
    assert patches.size == (16, 16) and patches.valid.tolist() == [True]
    assert patches.boxes[0].tolist() == [list(top_left)] * 3


def test_an_image_smaller_than_a_patch_gives_a_clipped_whole_image_patch() -> None:
    patches = sample_region_patches(one_pixel_region(10, 10), seeded())  # 64x48 image, 64x64 patches
    assert patches.size == (64, 48)
    assert patches.boxes[0].tolist() == [[0, 0]] * 3


def test_centres_lie_in_the_region_and_depend_only_on_the_generator() -> None:
    region = torch.zeros(2, 1, 64, 48)
    region[0, :, 20:40, 10:30] = 1.0
    region[1, :, 25:35, 15:20] = 1.0
    patches = sample_region_patches(region, seeded(3), num_patches=5, patch_size=8)
    centres = patches.boxes + 4  # no clipping this far from the borders
    for b in range(2):
        assert all(region[b, 0, y, x] == 1 for y, x in centres[b].tolist())
    torch.testing.assert_close(sample_region_patches(region, seeded(3), 5, 8).boxes, patches.boxes)
    assert not torch.equal(sample_region_patches(region, seeded(4), 5, 8).boxes, patches.boxes)


def test_patch_loss_sums_over_patches_and_averages_over_samples_with_a_region() -> None:
    region = torch.zeros(2, 1, 64, 48)
    region[1, :, 30, 20] = 1.0  # sample 0 has no clothing region: no patches
    patches = sample_region_patches(region, seeded(), num_patches=3, patch_size=16)
    assert patches.valid.tolist() == [False, True]
    target = torch.zeros(2, 1, 64, 48)
    pred = torch.zeros(2, 1, 64, 48)
    pred[:, :, 22:38, 12:28] = 0.25  # the whole window, in both samples: sample 0's must not count
    assert crop_patches(pred, patches).shape == (3, 1, 16, 16)
    assert patch_l1_loss(pred, target, patches).item() == pytest.approx(3 * 0.25)
    pred.requires_grad_()
    empty = patch_l1_loss(pred, target, sample_region_patches(torch.zeros(2, 1, 64, 48), seeded()))
    empty.backward()
    assert empty.item() == 0.0 and pred.grad is not None


def test_l1_bce_and_patch_terms_by_hand() -> None:
    target = torch.zeros(1, 1, 64, 48)
    target[..., :32, :] = 1.0
    pred = torch.full((1, 1, 64, 48), 0.75)  # error 0.25 where target is 1, 0.75 where it is 0
    region = one_pixel_region(10, 10)  # window rows 0..15: target 1, error 0.25
    terms = coattention_mask_terms(pred, target, seeded(), region, num_patches=3, patch_size=16)
    l1, bce, patch = (0.25 + 0.75) / 2, (-math.log(0.75) - math.log(0.25)) / 2, 3 * 0.25
    assert terms.l1.item() == pytest.approx(l1)
    assert terms.bce.item() == pytest.approx(bce, rel=1e-5)
    assert terms.patch.item() == pytest.approx(patch)
    total = coattention_mask_loss(pred, target, seeded(), region, 2.0, 3.0, 4.0, num_patches=3, patch_size=16)
    assert total.item() == pytest.approx(2 * l1 + 3 * bce + 4 * patch, rel=1e-5)


def test_patches_default_to_the_target_mask_region() -> None:
    target = torch.zeros(1, 1, 64, 48)
    target[..., 40:, 30:] = 1.0  # the only clothing: the bottom-right corner
    pred = target.clone()
    pred[..., :24, :] = 0.5  # errors only far from it: the patches must not see them
    terms = coattention_mask_terms(pred, target, seeded(), num_patches=3, patch_size=16)
    assert terms.l1.item() > 0 and terms.patch.item() == 0.0


def test_bad_inputs_raise_clear_errors() -> None:
    ok = torch.full((1, 1, 8, 8), 0.5)
    with pytest.raises(ValueError, match=r"must all be \[B, 1, H, W\], got \(1, 1, 8, 8\), \(1, 1, 8, 6\)"):
        coattention_mask_terms(ok, torch.zeros(1, 1, 8, 6), seeded(), ok)
    with pytest.raises(ValueError, match=r"pred must be probabilities in \[0, 1\], got -0.5"):
        coattention_mask_loss(ok - 1.0, ok, seeded())
    with pytest.raises(ValueError, match=r"region must be \[B, 1, H, W\], got \(8, 8\)"):
        sample_region_patches(torch.zeros(8, 8), seeded())
