"""Human-parsing metrics: mean IoU and pixel accuracy from a confusion matrix (torchmetrics, DDP-safe)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


def as_labels(preds: Tensor, target: Tensor, num_classes: int, name: str, ignore_index: int | None = None) -> Tensor:
    """Check a label batch and return predicted labels ``[B, H, W]``.

    Args:
        preds: class scores ``[B, K, H, W]`` (arg-maxed) or labels ``[B, H, W]`` in ``0..K-1``.
        target: labels ``[B, H, W]`` in ``0..K-1`` or ``ignore_index``.
        num_classes: ``K``.
        name: the metric's name, for error messages.
        ignore_index: a target label allowed besides ``0..K-1``.
    """
    if target.dim() != 3 or target.is_floating_point():
        raise ValueError(f"{name}: target must be integer labels [B, H, W], got {target.dtype} {tuple(target.shape)}")
    truth = target[target != ignore_index] if ignore_index is not None else target
    if truth.numel() and (truth.min() < 0 or truth.max() >= num_classes):
        allowed = f"0..{num_classes - 1}" + (f" or {ignore_index}" if ignore_index is not None else "")
        raise ValueError(f"{name}: target labels lie in [{int(truth.min())}, {int(truth.max())}], expected {allowed}")
    if preds.dim() == 4:
        if preds.shape[1] != num_classes or preds.shape[0] != target.shape[0] or preds.shape[2:] != target.shape[1:]:
            raise ValueError(
                f"{name}: scores {tuple(preds.shape)} do not match {num_classes} classes and target "
                f"{tuple(target.shape)}"
            )
        return preds.argmax(dim=1)
    if preds.shape != target.shape or preds.is_floating_point():
        raise ValueError(
            f"{name}: preds must be scores [B, {num_classes}, H, W] or integer labels shaped like target "
            f"{tuple(target.shape)}, got {preds.dtype} {tuple(preds.shape)}"
        )
    if preds.numel() and (preds.min() < 0 or preds.max() >= num_classes):
        raise ValueError(
            f"{name}: predicted labels lie in [{int(preds.min())}, {int(preds.max())}], expected 0..{num_classes - 1}"
        )
    return preds


class ParsingIoU(Metric):
    """Mean IoU and pixel accuracy of label maps, accumulated in a ``[K, K]`` confusion matrix (rows = target).

    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``; mIoU averages it over the classes present in the target or the
    prediction of the data seen so far (a class in neither has no IoU). Pixel accuracy = correct / counted pixels.
    Pixels whose target is ``ignore_index`` are not counted; any other target outside ``0..K-1`` is an error.

    ``compute()`` returns ``{"miou": ..., "pixel_accuracy": ...}`` (log it with ``log_dict``).

    Args:
        num_classes: number of labels (20 = LIP, ``contract.sample.NUM_PARSE_LABELS``).
        ignore_index: target label to leave out (e.g. 255), or None.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int = 20, ignore_index: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 2:
            raise ValueError(f"ParsingIoU: num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.add_state(
            "confusion", default=torch.zeros(num_classes, num_classes, dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add scores ``[B, K, H, W]`` or labels ``[B, H, W]`` against target labels ``[B, H, W]``."""
        labels = as_labels(preds, target, self.num_classes, "ParsingIoU", self.ignore_index)
        if self.ignore_index is not None:
            counted = target != self.ignore_index
            target, labels = target[counted], labels[counted]
        pairs = (target.long() * self.num_classes + labels.long()).flatten()
        self.confusion += torch.bincount(pairs, minlength=self.num_classes**2).view(self.num_classes, self.num_classes)

    def class_iou(self) -> Tensor:
        """IoU per class ``[K]`` from the local confusion matrix; NaN for classes in neither target nor prediction."""
        confusion = self.confusion.double()
        hits = confusion.diagonal()
        union = confusion.sum(dim=0) + confusion.sum(dim=1) - hits
        return torch.where(union > 0, hits / union.clamp(min=1), torch.nan)

    def compute(self) -> dict[str, Tensor]:
        confusion = self.confusion.double()
        return {
            "miou": self.class_iou().nanmean().float(),
            "pixel_accuracy": (confusion.diagonal().sum() / confusion.sum()).float(),
        }
