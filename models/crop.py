"""Region crops guided by a mask: the face + hair box of SPG-VTON's local discriminator and identity loss
(seed 003, Sec. III-D, Eq. 14-15)."""

from __future__ import annotations

import torch
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
    empty = ~rows.any(1)  # an empty mask: the whole image (python scalars: no host-to-device copy)
    y0, x0 = torch.where(empty, 0, y0), torch.where(empty, 0, x0)
    y1, x1 = torch.where(empty, height, y1), torch.where(empty, width, x1)
    return torch.stack([y0, x0, y1, x1], 1)


def linear_resize_taps(start: Tensor, end: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor]:
    """The two source indices and the weight of the second, per output pixel, of resizing ``[start, end)`` (``[B]``
    long) to ``size`` pixels as ``F.interpolate(mode="bilinear", align_corners=False)`` does along one axis: source
    ``s = (i + 0.5) * (end - start) / size - 0.5`` clamped to ``[0, end - start - 1]``. Returns ``lo, hi [B, size]``
    (absolute indices) and ``weight [B, size]`` (of ``hi``; ``1 - weight`` of ``lo``)."""
    length = (end - start).unsqueeze(1)  # [B, 1]
    scale = length.to(torch.float32) / size
    source = ((torch.arange(size, device=start.device, dtype=torch.float32) + 0.5) * scale - 0.5).clamp(min=0)
    lo = source.long()  # floor: the source is >= 0
    weight = (source - lo).clamp(0, 1)
    lo = torch.minimum(lo, length - 1)
    hi = torch.minimum(lo + 1, length - 1)
    return start.unsqueeze(1) + lo, start.unsqueeze(1) + hi, weight


def crop_boxes(images: Tensor, boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Cut box ``b`` out of sample ``b`` of ``images [B, C, H, W]`` and resize it to ``size`` (bilinear, not keeping the
    aspect ratio): ``[B, C, h, w]``, equal to ``F.interpolate(image[:, y0:y1, x0:x1], size, mode="bilinear")`` (a box
    of exactly ``size``: the slice itself). Differentiable, zero gradient outside the boxes.

    Batched with gathers (``linear_resize_taps``), with no host synchronisation: boxes on a GPU are not checked (those
    of ``mask_boxes`` are never empty); boxes on the CPU that are empty or outside the image raise ``ValueError``.
    """
    if boxes.shape != (images.shape[0], 4):
        raise ValueError(f"crop_boxes: boxes must be [B, 4] for images {tuple(images.shape)}, got {tuple(boxes.shape)}")
    batch, channels, height, width = images.shape
    if boxes.device.type == "cpu":
        for y0, x0, y1, x1 in boxes.tolist():
            if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
                raise ValueError(f"crop_boxes: box {(y0, x0, y1, x1)} is empty or outside {(height, width)}")
    boxes = boxes.to(images.device)
    (out_h, out_w), dtype = size, images.dtype
    images = images.float()
    # columns first, then rows: F.interpolate's order, h0 * (w0 * x00 + w1 * x01) + h1 * (w0 * x10 + w1 * x11)
    left, right, weight = linear_resize_taps(boxes[:, 1], boxes[:, 3], out_w)
    weight = weight[:, None, None, :]
    shape = (batch, channels, height, out_w)
    gather = [images.gather(3, index[:, None, None, :].expand(shape)) for index in (left, right)]
    columns = (1 - weight) * gather[0] + weight * gather[1]  # [B, C, H, w]
    top, bottom, weight = linear_resize_taps(boxes[:, 0], boxes[:, 2], out_h)
    weight = weight[:, None, :, None]
    shape = (batch, channels, out_h, out_w)
    gather = [columns.gather(2, index[:, None, :, None].expand(shape)) for index in (top, bottom)]
    return ((1 - weight) * gather[0] + weight * gather[1]).to(dtype)
