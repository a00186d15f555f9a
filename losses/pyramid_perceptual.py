"""The image-pyramid perceptual loss of seed 002 (Sec. 3.3, Eq. 5): ``L_per`` at four resolutions."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from losses.perceptual import PerceptualLoss


class PyramidPerceptualLoss(nn.Module):
    """``L_per(y_o, I_t) = sum_s sum_i w_i |phi_i(y_o^s) - phi_i(I_t^s)|_1`` over the pyramid scales ``s``.

    Seed 002, Sec. 3.3: "Inspired by Siarohin et al. (2019b) [FOMM], we use four different resolutions of y_o and
    I_t as input of our pre-trained model phi"; FOMM's pyramid is scales 1, 1/2, 1/4, 1/8 with anti-aliased
    downsampling (here ``F.interpolate(..., mode="bilinear", antialias=True)``) and the VGG19 terms summed over
    scales. Each image must stay large enough for the deepest VGG layer at the smallest scale (16 px for relu5_1).

    Args:
        perceptual: the per-scale loss (its VGG and layer weights; FOMM weighs relu1_1..relu5_1 uniformly).
        scales: resize factors (seed 002: four; FOMM's 1, 0.5, 0.25, 0.125).
    """

    def __init__(self, perceptual: PerceptualLoss, scales: Sequence[float] = (1.0, 0.5, 0.25, 0.125)) -> None:
        super().__init__()
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"PyramidPerceptualLoss: scales must lie in (0, 1], got {list(scales)}")
        self.perceptual = perceptual
        self.scales = tuple(float(s) for s in scales)

    @property
    def weights_status(self) -> str:
        return self.perceptual.weights_status

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """``pred``, ``target`` ``[B, 3, H, W]`` in [-1, 1] -> scalar."""
        total = pred.new_zeros(())
        for scale in self.scales:
            if scale == 1.0:
                total = total + self.perceptual(pred, target)
                continue
            size = (max(1, round(pred.shape[-2] * scale)), max(1, round(pred.shape[-1] * scale)))
            total = total + self.perceptual(
                F.interpolate(pred, size=size, mode="bilinear", antialias=True, align_corners=False),
                F.interpolate(target, size=size, mode="bilinear", antialias=True, align_corners=False),
            )
        return total
