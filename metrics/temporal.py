"""Temporal consistency of generated sequences: the warping error (torchmetrics, DDP-safe).

Warping error (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018, Sec. 5.1):
``E_warp(V_t, V_{t+1}) = sum_p M_t(p) ||V_{t+1}(p) - W(V_t, F_t)(p)||_2^2 / sum_p M_t(p)`` per pair of consecutive
frames, with ``F_t`` the flow from frame ``t+1`` to frame ``t`` (``contract.flow.warp``: ``W(V_t, F_t) ~ V_{t+1}``),
``M_t`` the non-occluded pixels and ``||.||_2^2`` summed over the colour channels of images on the [0, 1] scale; the
reported figure is the mean over all frame pairs. The synthetic sequences (``datamodules.sequences``) carry the exact
flow and visibility (``flow_gt``; ``vis_gt != 2``: the static background and the body parts visible in both frames);
elsewhere pass an estimated flow. Frame pairs without a valid pixel are not counted.
Per-frame quality is ``metrics.SSIM`` on the frames flattened into the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from contract.flow import warp


class WarpingError(Metric):
    """Mean warping error over the frame pairs seen (module docstring); lower is better.

    Args:
        data_range: ``(low, high)`` of the input frames; they are clamped to it and mapped to [0, 1].
        kwargs: passed to ``torchmetrics.Metric``.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, data_range: tuple[float, float] = (-1.0, 1.0), **kwargs) -> None:
        super().__init__(**kwargs)
        low, high = data_range
        if not high > low:
            raise ValueError(f"WarpingError: data_range must be (low, high) with high > low, got {data_range}")
        self.data_range = (float(low), float(high))
        self.add_state("error_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_pairs", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, frames: Tensor, flows: Tensor, valid: Tensor | None = None) -> None:
        """Add sequences ``frames [B, T, C, H, W]`` with ``flows [B, T-1, 2, H, W]`` (element ``t``: frame ``t+1`` ->
        frame ``t``) and optionally ``valid [B, T-1, H, W]`` (bool or 0/1; ``None`` = every pixel)."""
        if frames.dim() != 5 or frames.shape[1] < 2:
            raise ValueError(f"WarpingError: frames must be [B, T, C, H, W] with T >= 2, got {tuple(frames.shape)}")
        batch, steps, channels, height, width = frames.shape
        if flows.shape != (batch, steps - 1, 2, height, width):
            raise ValueError(
                f"WarpingError: flows must be [B, T-1, 2, H, W] = {(batch, steps - 1, 2, height, width)}, got "
                f"{tuple(flows.shape)}"
            )
        if valid is None:
            valid = torch.ones(batch, steps - 1, height, width, device=frames.device)
        if valid.shape != (batch, steps - 1, height, width):
            raise ValueError(
                f"WarpingError: valid must be [B, T-1, H, W] = {(batch, steps - 1, height, width)}, got "
                f"{tuple(valid.shape)}"
            )
        low, high = self.data_range
        unit = (frames.float().clamp(low, high) - low) / (high - low)
        warped = warp(unit[:, :-1].flatten(0, 1), flows.flatten(0, 1).float())
        warped = warped.view(batch, steps - 1, channels, height, width)
        mask = valid.float()
        squared = (unit[:, 1:] - warped).pow(2).sum(2)  # [B, T-1, H, W]
        pixels = mask.sum(dim=(2, 3))
        counted = pixels > 0
        errors = (squared * mask).sum(dim=(2, 3))[counted] / pixels[counted]
        self.error_sum += errors.double().sum()
        self.num_pairs += errors.numel()

    def compute(self) -> Tensor:
        """Mean over the counted frame pairs (NaN before any)."""
        return (self.error_sum / self.num_pairs).float()
