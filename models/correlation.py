"""Dense correlation of two feature maps and its filtering (seed 002, Sec. 3.1.1 Eq. 1-2 and Appendix A Eq. 9).

Layout used throughout: a correlation tensor ``C [B, h_s * w_s, h_t, w_t]`` holds in channel ``k = i * w_s + j``
the similarity of source position ``(i, j)`` (row, column) with every target position ``(v, u)``: the paper's
"rasterised" tensor, where all source locations are vectorised for each target point (4096 x 64 x 64 at the paper's
256 x 256 input, 2816 x 64 x 44 at DeepFashion's 256 x 176; see ``models.single_transform``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def correlation(source: Tensor, target: Tensor) -> Tensor:
    """Eq. 1, ``C(i, j, v, u) = sum_rho z_s(i, j)[rho] z_t(v, u)[rho]``, as one batched matrix product.

    Args:
        source: ``z_s [B, m, h_s, w_s]``.
        target: ``z_t [B, m, h_t, w_t]``.

    Returns:
        ``C [B, h_s * w_s, h_t, w_t]`` in the inputs' dtype (no custom CUDA op: ``torch.bmm``).
    """
    if source.dim() != 4 or target.dim() != 4 or source.shape[:2] != target.shape[:2]:
        raise ValueError(
            f"correlation expects z_s [B, m, h, w] and z_t [B, m, h', w'] with the same B and m, got "
            f"{tuple(source.shape)} and {tuple(target.shape)}"
        )
    batch, channels, height, width = target.shape
    corr = torch.bmm(source.flatten(2).transpose(1, 2), target.flatten(2))  # [B, h_s w_s, h_t w_t]
    return corr.view(batch, -1, height, width)


def soft_mutual_filter(corr: Tensor, eps: float = 1e-6) -> Tensor:
    """Eq. 9 (soft mutual nearest-neighbour filtering, Rocco et al. 2018): the attention ``gamma``.

    ``gamma(i, j, v, u) = C / max_ab C(a, b, v, u) * C / max_ab C(i, j, a, b)``: 1 where ``(i, j)`` and ``(v, u)``
    are each other's best match, smaller elsewhere. ``Q_gamma = gamma * C`` is the filtered correlation.

    Args:
        corr: ``C [B, h_s * w_s, h_t, w_t]``, non-negative (the pose encoder's ReLU features make it so; the ratios
            of Eq. 9 flip sign for a negative maximum).
        eps: floor of the maxima, so an all-zero row or column gives 0 instead of NaN.

    Returns:
        ``gamma`` with ``corr``'s shape.
    """
    if corr.dim() != 4:
        raise ValueError(f"soft_mutual_filter expects C [B, h_s * w_s, h_t, w_t], got {tuple(corr.shape)}")
    best_source = corr.amax(dim=1, keepdim=True).clamp_min(eps)  # max over (a, b) for each target (v, u)
    best_target = corr.amax(dim=(2, 3), keepdim=True).clamp_min(eps)  # max over (a, b) for each source (i, j)
    return (corr / best_source) * (corr / best_target)


def normalize_per_target(corr: Tensor, eps: float = 1e-12) -> Tensor:
    """Eq. 2: ``Q(i, j, v, u) / sqrt(sum_ij Q(i, j, v, u)^2)``, the L2 normalisation over the source positions of
    each target position ``(v, u)``. ``[B, h_s * w_s, h_t, w_t]`` -> same shape."""
    return F.normalize(corr, p=2, dim=1, eps=eps)
