"""Tensor encodings the stages feed their networks (one-hot parsing, label-group masks)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from contract.sample import NUM_PARSE_LABELS


def one_hot_parse(parse: Tensor, num_classes: int = NUM_PARSE_LABELS) -> Tensor:
    """``[B, H, W]`` long labels -> ``[B, K, H, W]`` float one-hot."""
    return F.one_hot(parse, num_classes).permute(0, 3, 1, 2).float()


def label_mask(parse: Tensor, labels: Iterable[int]) -> Tensor:
    """``[B, H, W]`` labels -> ``[B, 1, H, W]`` float, 1 where the label is one of ``labels``."""
    mask = torch.zeros_like(parse, dtype=torch.bool)
    for label in labels:  # comparisons with Python ints: no host-to-device copy (CUDA-graph friendly)
        mask |= parse == label
    return mask.unsqueeze(1).float()


def drop_channels(probs: Tensor, labels: Iterable[int]) -> Tensor:
    """Zero the given label channels of a ``[B, K, H, W]`` (soft) parsing: "remove the region" of those labels."""
    dropped = set(labels)
    return torch.stack([torch.zeros_like(c) if k in dropped else c for k, c in enumerate(probs.unbind(1))], 1)


def straight_through_label_mask(probs: Tensor, labels: Iterable[int]) -> Tensor:
    """``[B, K, H, W]`` class probabilities -> ``[B, 1, H, W]``: forward, the hard mask of the arg-maxed labels
    (``label_mask(probs.argmax(1), labels)``, exactly {0, 1}); backward, the gradient of the labels' summed
    probabilities (straight-through estimator), so a later stage's loss reaches the network that gave ``probs``."""
    labels = list(labels)
    hard = label_mask(probs.argmax(1), labels)
    soft = sum(probs[:, label : label + 1] for label in labels)
    return hard + (soft - soft.detach())
