"""Mask-IS (SPG-VTON, seed 003 Sec. IV-D): the Inception Score of a region of the results (the face, the clothes).

Seed 003 computes "Mask-SSIM and Mask-IS for the extracted regions" without saying how a region is extracted. Here
it follows the metric's origin (PG2, Ma et al. 2017, whose Mask-IS masks the background out): every pixel outside
the mask is set to black (-1, i.e. 0 of 0..255) and the whole image goes to the Inception network, so nothing
outside the mask can move the score. The Inception network and its weights are those of ``metrics.inception``
(never random, never downloaded); without them the metric is unavailable with the same one-line reason as IS.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from metrics.inception import IS, inception_or_reason

MASK_FILL = -1.0  # black, in the contract's [-1, 1]


def masked(images: Tensor, mask: Tensor) -> Tensor:
    """``images`` ``[B, 3, H, W]`` where ``mask`` ``[B, 1, H, W]`` (or ``[B, H, W]``, values in [0, 1]) is 1,
    ``MASK_FILL`` where it is 0 (linear in between)."""
    if mask.dim() == 3:
        mask = mask[:, None]
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != images.shape[0] or mask.shape[2:] != images.shape[2:]:
        raise ValueError(f"Mask-IS: mask {tuple(mask.shape)} does not fit images {tuple(images.shape)}")
    mask = mask.to(images.dtype)
    return images * mask + MASK_FILL * (1.0 - mask)


class MaskIS(IS):
    """Inception Score of ``images`` inside ``mask`` (``masked``): ``exp(E_x KL(p(y|x) || p(y)))`` over
    ``splits`` splits; ``compute()`` returns ``(mean, std)`` as seed 003 reports it. The logits are a list state
    gathered from every process (torchmetrics ``InceptionScore``).

    Args:
        inception: a module mapping uint8 images to class logits (``inception_network(..., "logits_unbiased")``).
        splits: number of splits (10, as IS; seed 003 is silent).
    """

    def update(self, images: Tensor, mask: Tensor) -> None:  # type: ignore[override]
        """Add results ``[B, 3, H, W]`` in [-1, 1] restricted to ``mask`` ``[B, 1, H, W]``."""
        super().update(masked(images.float(), mask))


def mask_inception_score_or_reason(
    weights_dir: str | Path | None = None, splits: int = 10
) -> tuple[MaskIS | None, str]:
    """``MaskIS`` on the real Inception, or ``None`` and the reason it is unavailable (as
    ``metrics.inception.inception_score_or_reason``)."""
    network, status = inception_or_reason(weights_dir, "logits_unbiased")
    if network is None:
        return None, status
    return MaskIS(network, splits=splits), status
