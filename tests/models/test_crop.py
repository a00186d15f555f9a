"""Mask-guided crops (``models/crop.py``): boxes by hand, crops equal to the image slice."""

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
