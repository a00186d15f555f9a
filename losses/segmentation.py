"""Pixel-wise classification losses for the 20-class parsing maps of stage 1.

ClothFlow (seed 000, Sec. 3.1) trains G_layout with pixel-wise cross entropy; SPG-VTON (seed 003, Sec. III-B,
Eq. 2) trains G1 with a focal loss ``L_fl``. Both check the labels of CPU tensors first: an out-of-range label is an
error naming the offending values. On a GPU the check is left out: reading the labels back would make the host wait
for every step, and the readers already reject a parsing file with such labels (``datamodules.parsing.
check_label_range``), so only a caller's own tensors can get CUDA's device-side assert instead.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def _check_labels(logits: Tensor, target: Tensor, name: str) -> None:
    if logits.dim() != 4 or target.dim() != 3:
        raise ValueError(
            f"{name}: expected logits [B, K, H, W] and target [B, H, W], got {tuple(logits.shape)} and "
            f"{tuple(target.shape)}"
        )
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"{name}: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in B, H or W")
    if target.dtype.is_floating_point:
        raise ValueError(f"{name}: target must hold integer labels, got dtype {target.dtype}")
    if target.is_cuda:  # see the module docstring
        return
    low, high = int(target.min()), int(target.max())
    if low < 0 or high >= logits.shape[1]:
        raise ValueError(f"{name}: target labels span {low}..{high}, outside 0..{logits.shape[1] - 1}")


def pixel_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean over pixels of ``-log softmax(logits)[target]``: logits ``[B, K, H, W]``, target ``[B, H, W]`` long."""
    _check_labels(logits, target, "pixel_cross_entropy")
    return F.cross_entropy(logits, target)


def focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    """Multi-class focal loss: mean over pixels of ``-(1 - p_t)^gamma log p_t``, ``p_t = softmax(logits)[target]``.

    SPG-VTON (seed 003, Eq. 2) gives no ``gamma``; the default 2 is the focal-loss paper's (Lin et al., ICCV 2017,
    Sec. 3.2). Its ``alpha`` class balancing is defined for the binary case and is not used. ``gamma = 0`` gives
    ``pixel_cross_entropy``. Shapes as in ``pixel_cross_entropy``.
    """
    _check_labels(logits, target, "focal_loss")
    log_p_t = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return (-((1 - log_p_t.exp()) ** gamma) * log_p_t).mean()
