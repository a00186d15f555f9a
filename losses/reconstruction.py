"""Pixel-wise L1 with an optional mask (SPG-VTON Eq. 5 / 11, FashionMirror's masked body loss Eq. 9)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def l1_loss(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean absolute error, over all elements or over the masked ones.

    Args:
        pred, target: ``[B, C, H, W]``, same shape.
        mask: optional ``[B, 1 or C, H, W]`` weights in [0, 1] (broadcast over channels). The result is
            ``sum(mask * |pred - target|) / sum(mask broadcast to pred)``: the mean error inside the mask, so it
            does not shrink with the mask's area; an all-zero mask gives 0 (with a gradient graph).
    """
    if pred.shape != target.shape:
        raise ValueError(f"l1_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if mask is None:
        return F.l1_loss(pred, target)
    if (
        mask.dim() != pred.dim()
        or mask.shape[0] != pred.shape[0]
        or mask.shape[2:] != pred.shape[2:]
        or (mask.shape[1] not in (1, pred.shape[1]))
    ):
        raise ValueError(f"l1_loss: mask {tuple(mask.shape)} does not broadcast to pred {tuple(pred.shape)}")
    mask = mask.expand_as(pred)
    return (mask * (pred - target).abs()).sum() / mask.sum().clamp_min(1e-8)
