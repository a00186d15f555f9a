"""Flow metrics: end-point error and visibility accuracy (torchmetrics, DDP-safe).

Intrinsic-flow (seed 004, section 3.3, Fig. 3) trains its flow regressor with an end-point-error loss on the flow
``F`` and cross entropy on the 3-class visibility ``V``; these metrics score the same two outputs. Flow convention:
``[B, 2, H, W]`` target -> source offsets in pixels, channel 0 = x; visibility 0 background, 1 visible in the
source, 2 occluded in the source.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from metrics.parsing import as_labels

NUM_VISIBILITY_CLASSES = 3


class EndPointError(Metric):
    """Mean end-point error ``||F_pred(p) - F_gt(p)||_2`` in pixels over the valid pixels of all images seen.

    Every valid pixel weighs the same (a sum of errors and a pixel count, both summed across processes), so the
    result does not depend on how images are batched. Pass e.g. ``valid = vis_gt > 0`` to score foreground only.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("error_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_pixels", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, valid: Tensor | None = None) -> None:
        """Add flows ``[B, 2, H, W]``; ``valid`` ``[B, H, W]`` or ``[B, 1, H, W]`` (bool or 0/1) selects pixels."""
        if preds.dim() != 4 or preds.shape[1] != 2 or preds.shape != target.shape:
            raise ValueError(
                f"EndPointError: preds and target must be flows [B, 2, H, W] of one shape, got {tuple(preds.shape)} "
                f"and {tuple(target.shape)}"
            )
        error = (preds.float() - target.float()).norm(dim=1)
        if valid is not None:
            if valid.dim() == 4 and valid.shape[1] == 1:
                valid = valid[:, 0]
            if valid.shape != error.shape:
                raise ValueError(
                    f"EndPointError: valid must be [B, H, W] = {tuple(error.shape)}, got {tuple(valid.shape)}"
                )
            error = error[valid.bool()]
        self.error_sum += error.double().sum()
        self.num_pixels += error.numel()

    def compute(self) -> Tensor:
        return (self.error_sum / self.num_pixels).float()


class VisibilityAccuracy(Metric):
    """Fraction of pixels whose 3-class visibility (background / visible / occluded) is predicted right."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_pixels", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add logits ``[B, 3, H, W]`` or labels ``[B, H, W]`` against target labels ``[B, H, W]`` in 0..2."""
        labels = as_labels(preds, target, NUM_VISIBILITY_CLASSES, "VisibilityAccuracy")
        self.correct += (labels == target).sum()
        self.num_pixels += target.numel()

    def compute(self) -> Tensor:
        return (self.correct.double() / self.num_pixels).float()
