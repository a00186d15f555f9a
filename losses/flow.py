"""Losses of the stage-2 flows.

- ClothFlow (seed 000, Sec. 3.2): smoothness ``L_smt = sum_n ||grad F_n||_1`` over every pyramid level's flow,
  the structural loss ``L_struct`` and the ROI perceptual loss ``L_roi-perc`` (``L_perc`` itself is
  ``losses.perceptual.PerceptualLoss`` with the ``"clothflow"`` weights 1/32, 1/16, 1/8, 1/4, 1).
- Intrinsic flow (seed 004, Sec. 3.3, Fig. 3): end-point error on the flow ``F`` and cross entropy on the 3-class
  visibility ``V``.

Label indicators ``1(s_i)`` are per sample and channel: label ``i`` "exists" in a segmentation when any of its pixels
is above 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from losses.perceptual import PerceptualLoss

NUM_VISIBILITY_CLASSES = 3


def smoothness_loss(flows: Sequence[Tensor]) -> Tensor:
    """``L_smt = sum_n (mean|dF_n/dx| + mean|dF_n/dy|)`` over the flows ``[B, 2, H_n, W_n]`` of every level, the
    two flow channels summed: a flow ``F_x = a x`` scores ``|a|`` per level.

    The paper's L1 total variation (seed 000); ClothFlow's reference ``tv_loss`` sums squared differences, and we
    keep the paper's L1 form, averaged over pixel differences (so levels of every size weigh alike; our choice).
    """
    if not flows:
        raise ValueError("smoothness_loss: no flows given")
    total = flows[0].new_zeros(())
    for flow in flows:
        if flow.dim() != 4 or flow.shape[1] != 2:
            raise ValueError(f"smoothness_loss: flows must be [B, 2, H, W], got {tuple(flow.shape)}")
        dx = (flow[..., :, 1:] - flow[..., :, :-1]).abs().sum(1)
        dy = (flow[..., 1:, :] - flow[..., :-1, :]).abs().sum(1)
        total = total + dx.mean() + dy.mean()
    return total


def end_point_error(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean ``||pred(p) - target(p)||_2`` over the valid pixels (seed 004's EPE loss), flows ``[B, 2, H, W]``.

    ``valid`` ``[B, H, W]`` or ``[B, 1, H, W]`` (bool or 0/1) selects the pixels; with no valid pixel the loss is 0
    (with a graph). The norm's gradient at a zero error is taken as 0.
    """
    if pred.dim() != 4 or pred.shape[1] != 2 or pred.shape != target.shape:
        raise ValueError(
            f"end_point_error: pred and target must be flows [B, 2, H, W] of one shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    error = torch.linalg.vector_norm(pred.float() - target.float(), dim=1)
    if valid is None:
        return error.mean()
    if valid.dim() == 4 and valid.shape[1] == 1:
        valid = valid[:, 0]
    if valid.shape != error.shape:
        raise ValueError(f"end_point_error: valid must be [B, H, W] = {tuple(error.shape)}, got {tuple(valid.shape)}")
    weights = valid.float()
    return (error * weights).sum() / weights.sum().clamp_min(1.0)


def visibility_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean pixel cross entropy of the 3-class visibility ``V`` (seed 004): logits ``[B, 3, H, W]``, target
    ``[B, H, W]`` long in 0 (background), 1 (visible in the source), 2 (occluded in the source)."""
    expected = (logits.shape[0], *logits.shape[2:])
    if logits.dim() != 4 or logits.shape[1] != NUM_VISIBILITY_CLASSES or tuple(target.shape) != expected:
        raise ValueError(
            f"visibility_cross_entropy: expected logits [B, 3, H, W] and target [B, H, W], got "
            f"{tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if target.dtype.is_floating_point:
        raise ValueError(f"visibility_cross_entropy: target must hold integer labels, got dtype {target.dtype}")
    low, high = int(target.min()), int(target.max())
    if low < 0 or high >= NUM_VISIBILITY_CLASSES:
        raise ValueError(f"visibility_cross_entropy: target labels span {low}..{high}, outside 0..2")
    return F.cross_entropy(logits.float(), target)


def shared_labels(source_masks: Tensor, target_masks: Tensor) -> Tensor:
    """``1(s_s,i) 1(s_t,i)`` per sample and label: ``[B, K]`` float, both ``[B, K, H, W]`` masks."""
    if source_masks.shape != target_masks.shape or source_masks.dim() != 4:
        raise ValueError(
            f"label masks must be [B, K, H, W] of one shape, got {tuple(source_masks.shape)} and "
            f"{tuple(target_masks.shape)}"
        )
    return ((source_masks > 0.5).flatten(2).any(2) & (target_masks > 0.5).flatten(2).any(2)).float()


def structure_loss(warped_masks: Tensor, target_masks: Tensor, source_masks: Tensor) -> Tensor:
    """``L_struct = sum_i 1(s_s,i) 1(s_t,i) ||s'_s,i - s_t,i||_1`` (seed 000, Sec. 3.2), per-pixel mean for each
    label, summed over labels, averaged over the batch.

    Args:
        warped_masks: ``s'_s`` ``[B, K, H, W]``, the source segmentation warped by the flow.
        target_masks: ``s_t`` ``[B, K, H, W]``.
        source_masks: ``s_s`` ``[B, K, H, W]`` (only which labels exist is used).
    """
    present = shared_labels(source_masks, target_masks)
    if warped_masks.shape != target_masks.shape:
        raise ValueError(f"structure_loss: warped {tuple(warped_masks.shape)} vs target {tuple(target_masks.shape)}")
    per_label = (warped_masks - target_masks).abs().flatten(2).mean(2)  # [B, K]
    return (present * per_label).sum(1).mean()


def roi_perceptual_loss(
    perceptual: PerceptualLoss,
    warped: Tensor,
    target: Tensor,
    warped_masks: Tensor,
    target_masks: Tensor,
    source_masks: Tensor,
) -> Tensor:
    """``L_roi-perc = sum_l lambda_l sum_i 1(s_s,i) 1(s_t,i) ||phi_l(s'_s,i * c'_s) - phi_l(s_t,i * c_t)||_1``
    (seed 000, Sec. 3.2), with ``perceptual`` giving ``phi_l`` and ``lambda_l``; averaged over the batch.

    Args:
        warped: ``c'_s`` ``[B, 3, H, W]`` in [-1, 1]. target: ``c_t`` ``[B, 3, H, W]``.
        warped_masks, target_masks, source_masks: ``s'_s``, ``s_t``, ``s_s`` as in ``structure_loss``.

    Masked images are 0 (mid-grey in [-1, 1]) outside their region; a sample without label ``i`` in both maps
    adds 0 for it. All ``K x B`` (label, sample) pairs run through the VGG as one batch, a pair without its label
    zero in both images (so its term is exactly 0): the sum over present pairs divided by ``B``, with no
    data-dependent shapes (no host synchronisation, one compiled graph).
    """
    present = shared_labels(source_masks, target_masks)  # [B, K]
    if warped.shape != target.shape or warped_masks.shape != target_masks.shape:
        raise ValueError(
            f"roi_perceptual_loss: images {tuple(warped.shape)}, {tuple(target.shape)} and masks "
            f"{tuple(warped_masks.shape)}, {tuple(target_masks.shape)} do not match"
        )
    labels = present.shape[1]
    keep = present.t().reshape(-1, 1, 1, 1)  # [K B, 1, 1, 1], label-major like the pairs below
    pred = (warped.unsqueeze(0) * warped_masks.transpose(0, 1).unsqueeze(2)).flatten(0, 1) * keep
    real = (target.unsqueeze(0) * target_masks.transpose(0, 1).unsqueeze(2)).flatten(0, 1) * keep
    return labels * perceptual(pred, real)  # perceptual averages over the K B pairs
