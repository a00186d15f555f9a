"""Region crops guided by a mask: the face + hair box of SPG-VTON's local discriminator and identity loss
(seed 003, Sec. III-D, Eq. 14-15)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def mask_boxes(mask: Tensor) -> Tensor:
    """Bounding boxes of ``mask [B, 1, H, W]`` (> 0.5 = inside): ``[B, 4]`` long ``(y0, x0, y1, x1)``, ends exclusive.

    A sample with an empty region gets the whole image (our choice: the crop then still exists, real and fake alike).
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask_boxes: mask must be [B, 1, H, W], got {tuple(mask.shape)}")
    inside = mask[:, 0].detach() > 0.5
    height, width = inside.shape[-2:]
    rows, cols = inside.any(2), inside.any(1)  # [B, H], [B, W]
    ys, xs = torch.arange(height, device=mask.device), torch.arange(width, device=mask.device)
    y0 = torch.where(rows, ys, height).amin(1)
    y1 = torch.where(rows, ys + 1, 0).amax(1)
    x0 = torch.where(cols, xs, width).amin(1)
    x1 = torch.where(cols, xs + 1, 0).amax(1)
    boxes = torch.stack([y0, x0, y1, x1], 1)
    whole = torch.tensor([0, 0, height, width], device=mask.device)
    return torch.where(rows.any(1, keepdim=True), boxes, whole)  # an empty mask: the whole image


def crop_boxes(images: Tensor, boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Cut box ``b`` out of sample ``b`` of ``images [B, C, H, W]`` and resize it to ``size`` (bilinear, not keeping the
    aspect ratio): ``[B, C, h, w]``. A box of exactly ``size`` is returned as the slice itself. Differentiable."""
    if boxes.shape != (images.shape[0], 4):
        raise ValueError(f"crop_boxes: boxes must be [B, 4] for images {tuple(images.shape)}, got {tuple(boxes.shape)}")
    crops = []
    for image, (y0, x0, y1, x1) in zip(images, boxes.tolist(), strict=True):
        if not (0 <= y0 < y1 <= images.shape[-2] and 0 <= x0 < x1 <= images.shape[-1]):
            raise ValueError(f"crop_boxes: box {(y0, x0, y1, x1)} is empty or outside {tuple(images.shape[-2:])}")
        crop = image[:, y0:y1, x0:x1]
        if crop.shape[-2:] != tuple(size):
            crop = F.interpolate(crop[None], size=tuple(size), mode="bilinear", align_corners=False)[0]
        crops.append(crop)
    return torch.stack(crops)
