"""SPG-VTON's conductible cycle consistency loss (seed 003, Sec. III-C, Eq. 8-9)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def conductible_cycle_loss(warped: Tensor, target: Tensor, reconstructed: Tensor, original: Tensor) -> Tensor:
    """``L_cond = E||C_w - C_t||_1 + E||C_hat - C||_1`` (Eq. 8), each term a per-element mean.

    Args:
        warped: ``C_w = T_theta1(C)`` ``[B, 3, H, W]``, the in-shop cloth warped by GMM 1.
        target: ``C_t`` ``[B, 3, H, W]``, the clothes region cut from the target image.
        reconstructed: ``C_hat = T_theta2(C_w)``, ``C_w`` warped back by GMM 2.
        original: ``C``, the in-shop cloth.

    The CWM objective is ``L_cwm = lambda3 L_cond`` (Eq. 9, lambda3 = 20, Sec. IV-C): the weight is applied by the
    stage (``loss_weights["cond"]``).
    """
    if not warped.shape == target.shape == reconstructed.shape == original.shape:
        raise ValueError(
            "conductible_cycle_loss: C_w, C_t, C_hat and C must share one shape, got "
            f"{tuple(warped.shape)}, {tuple(target.shape)}, {tuple(reconstructed.shape)}, {tuple(original.shape)}"
        )
    return F.l1_loss(warped, target) + F.l1_loss(reconstructed, original)
