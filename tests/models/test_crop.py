"""Mask-guided crops (``models/crop.py``): boxes by hand, crops equal to the image slice and to its interpolation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.crop import crop_boxes, mask_boxes


def test_mask_boxes_by_hand_union_of_blobs_and_empty_is_the_whole_image() -> None:
    mask = torch.zeros(3, 1, 10, 8)
    mask[0, 0, 3:7, 2:5] = 1
    mask[1, 0, 1, 6] = 1
    mask[1, 0, 8, 0] = 1  # two blobs: one box around both
    boxes = mask_boxes(mask)
    assert boxes.tolist() == [[3, 2, 7, 5], [1, 0, 9, 7], [0, 0, 10, 8]]
    with pytest.raises(ValueError, match=r"\[B, 1, H, W\]"):
        mask_boxes(torch.zeros(1, 10, 8))


def test_crop_of_the_box_size_is_the_slice_and_other_sizes_its_resize() -> None:
    images = torch.randn(2, 3, 10, 8)
    boxes = torch.tensor([[3, 2, 7, 5], [0, 4, 4, 7]])  # both 4x3
    exact = crop_boxes(images, boxes, (4, 3))
    assert torch.equal(exact[0], images[0, :, 3:7, 2:5]) and torch.equal(exact[1], images[1, :, 0:4, 4:7])
    resized = crop_boxes(images, boxes, (8, 6))
    expected = F.interpolate(images[1:, :, 0:4, 4:7], size=(8, 6), mode="bilinear", align_corners=False)
    torch.testing.assert_close(resized[1:], expected)


def test_batched_crops_equal_interpolate_of_each_slice_up_and_down() -> None:
    """Boxes from 1 pixel to the whole image, resized up, down and both (one axis each way), against F.interpolate of
    each slice: the batched gathers reproduce its taps and clamping at the box's last row and column."""
    torch.manual_seed(0)
    images = torch.randn(5, 2, 17, 13)
    boxes = torch.tensor([[0, 0, 17, 13], [4, 3, 5, 4], [2, 1, 15, 6], [9, 8, 17, 13], [1, 5, 4, 12]])
    for size in [(8, 6), (24, 20), (5, 19), (1, 1)]:
        crops = crop_boxes(images, boxes, size)
        for crop, image, (y0, x0, y1, x1) in zip(crops, images, boxes.tolist(), strict=True):
            expected = F.interpolate(image[None, :, y0:y1, x0:x1], size=size, mode="bilinear", align_corners=False)[0]
            torch.testing.assert_close(crop, expected, rtol=1e-5, atol=1e-5)  # float rounding


def test_crop_passes_gradients_only_inside_the_box_and_names_bad_boxes() -> None:
    images = torch.randn(1, 1, 6, 6, requires_grad=True)
    crop_boxes(images, torch.tensor([[1, 1, 3, 4]]), (4, 4)).sum().backward()
    inside = torch.zeros(6, 6, dtype=torch.bool)
    inside[1:3, 1:4] = True
    assert (images.grad[0, 0][inside] > 0).all() and (images.grad[0, 0][~inside] == 0).all()
    with pytest.raises(ValueError, match="empty or outside"):
        crop_boxes(images, torch.tensor([[2, 2, 2, 5]]), (4, 4))
    with pytest.raises(ValueError, match=r"boxes must be \[B, 4\]"):
        crop_boxes(images, torch.tensor([1, 1, 3, 4]), (4, 4))
