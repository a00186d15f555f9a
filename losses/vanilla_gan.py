"""The vanilla (cross-entropy) conditional GAN loss of seed 004 (Sec. 3.6, Eq. 4), for logit score maps.

``L_adv = E[log D(x_2 | x_1, p_2)] + E[log(1 - D(G(x_1, p_2) | x_1, p_2))]``. The discriminator maximises it
(binary cross entropy with targets 1 for real, 0 for fake); the generator uses the non-saturating form
``-E[log D(G(...))]`` (Goodfellow et al. 2014; pix2pix, the paper's ref. [12], trains G this way). Scores are raw
logits ``[B, 1, h, w]`` or a list of them (one per scale), averaged per map and summed over maps as
``losses.adversarial`` does for LSGAN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from losses.adversarial import Scores, score_maps


def _bce(logits: Tensor, target: float) -> Tensor:
    with torch.autocast(device_type=logits.device.type, enabled=False):
        logits = logits.float()
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def bce_d_loss(real_scores: Scores, fake_scores: Scores) -> Tensor:
    """``sum_s BCE(D_s(real), 1) + BCE(D_s(fake), 0)`` (pass scores of detached fakes)."""
    real, fake = score_maps(real_scores), score_maps(fake_scores)
    if len(real) != len(fake):
        raise ValueError(f"bce_d_loss: {len(real)} real but {len(fake)} fake score maps")
    return sum(_bce(r, 1.0) + _bce(f, 0.0) for r, f in zip(real, fake, strict=True))


def bce_g_loss(fake_scores: Scores) -> Tensor:
    """Non-saturating generator loss ``sum_s BCE(D_s(fake), 1) = -mean log sigmoid(D_s(fake))``."""
    return sum(_bce(f, 1.0) for f in score_maps(fake_scores))
