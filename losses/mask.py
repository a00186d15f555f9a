"""FashionMirror's co-attention mask losses (seed 001, supplementary Appendix A, Eq. 1-4).

``L_CMN = lambda_L1 L_L1 + lambda_BCE L_BCE + lambda_Patch L_Patch`` (Eq. 1) for each predicted mask (the paper
sums the terms of its two masks ``M_r`` and ``M_c``; call ``coattention_mask_loss`` once per mask and add).
The paper's ``sum_W sum_H`` are per-pixel means here (a constant factor absorbed by the lambdas, which the paper
does not give). Eq. 3 as printed has a sign slip; the standard binary cross entropy is used.

Patches (Eq. 4): ``num_patches`` (3) windows of ``patch_size`` (64x64) "within the clothing region": each window is
centred on a pixel of the region drawn uniformly with the given ``torch.Generator``, then shifted to lie inside the
image, so a region smaller than a patch is covered whole with its surroundings (which is where its contour is).
Windows are clipped to the image when it is smaller than ``patch_size``. A sample whose region is empty gets no
patches and no patch loss; the patch loss averages over the samples that have patches (0 if none has).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class PatchBoxes(NamedTuple):
    """Windows of one size: ``boxes [B, n, 2]`` long top-left ``(y0, x0)``, ``size (h, w)``, ``valid [B]`` bool."""

    boxes: Tensor
    size: tuple[int, int]
    valid: Tensor


class MaskLosses(NamedTuple):
    """The three scalar terms of FashionMirror Eq. 1 for one mask (weigh and add them in the training step)."""

    l1: Tensor
    bce: Tensor
    patch: Tensor


def sample_region_patches(
    region: Tensor, generator: torch.Generator, num_patches: int = 3, patch_size: int = 64
) -> PatchBoxes:
    """Draw ``num_patches`` windows per sample centred on pixels of ``region`` ``[B, 1, H, W]`` (> 0.5 = inside).

    Centres are drawn with replacement; see the module docstring for clipping and empty regions.
    """
    if region.dim() != 4 or region.shape[1] != 1:
        raise ValueError(f"sample_region_patches: region must be [B, 1, H, W], got {tuple(region.shape)}")
    height, width = region.shape[-2:]
    size = (min(patch_size, height), min(patch_size, width))
    boxes = torch.zeros(region.shape[0], num_patches, 2, dtype=torch.long)
    valid = torch.zeros(region.shape[0], dtype=torch.bool)
    for b, inside in enumerate(region[:, 0].detach().cpu() > 0.5):
        centres = inside.nonzero()  # [P, 2] (y, x)
        if len(centres) == 0:
            continue
        pick = torch.randint(len(centres), (num_patches,), generator=generator, device=generator.device).cpu()
        top_left = centres[pick] - torch.tensor([size[0] // 2, size[1] // 2])
        upper = torch.tensor([height - size[0], width - size[1]])
        boxes[b] = torch.minimum(top_left.clamp_min(0), upper)
        valid[b] = True
    return PatchBoxes(boxes, size, valid)


def crop_patches(images: Tensor, patches: PatchBoxes) -> Tensor:
    """Cut the valid samples' windows out of ``images [B, C, H, W]``: ``[n_valid * n, C, h, w]``."""
    h, w = patches.size
    crops = [
        images[b, :, y : y + h, x : x + w]
        for b in patches.valid.nonzero()[:, 0].tolist()
        for y, x in patches.boxes[b].tolist()
    ]
    return torch.stack(crops) if crops else images.new_zeros(0, images.shape[1], h, w)


def patch_l1_loss(pred: Tensor, target: Tensor, patches: PatchBoxes) -> Tensor:
    """Eq. 4 for one mask: ``sum_i mean|pred_i - target_i|`` over a sample's windows, averaged over valid samples."""
    pred_crops, target_crops = crop_patches(pred, patches), crop_patches(target, patches)
    if len(pred_crops) == 0:
        return pred.sum() * 0.0
    return patches.boxes.shape[1] * F.l1_loss(pred_crops, target_crops)


def coattention_mask_terms(
    pred: Tensor,
    target: Tensor,
    generator: torch.Generator,
    cloth_region: Tensor | None = None,
    num_patches: int = 3,
    patch_size: int = 64,
) -> MaskLosses:
    """FashionMirror Eq. 2-4 for one predicted mask, term by term.

    Args:
        pred: ``[B, 1, H, W]`` predicted mask, probabilities in [0, 1] (e.g. a sigmoid head).
        target: ``[B, 1, H, W]`` ground-truth mask in [0, 1].
        generator: the source of randomness for the patch positions.
        cloth_region: ``[B, 1, H, W]`` the clothing region the patches are drawn in (> 0.5 = inside); ``None`` takes
            ``target``: right for both of FashionMirror's masks, each a clothing region (``M_r`` the source's own
            garment, ``M_c`` the try-on garment in the target pose: ``models.co_attention``).
        num_patches, patch_size: Eq. 4's three 64x64 patches (seed 001, Appendix A).

    Returns:
        ``MaskLosses(l1, bce, patch)``, each a scalar; the BCE is computed in float32 with autocast off.
    """
    region = target if cloth_region is None else cloth_region
    if pred.shape != target.shape or pred.shape != region.shape or pred.dim() != 4 or pred.shape[1] != 1:
        raise ValueError(
            "coattention_mask_terms: pred, target and cloth_region must all be [B, 1, H, W], got "
            f"{tuple(pred.shape)}, {tuple(target.shape)}, {tuple(region.shape)}"
        )
    low, high = float(pred.detach().min()), float(pred.detach().max())
    if low < 0 or high > 1:
        raise ValueError(f"coattention_mask_terms: pred must be probabilities in [0, 1], got {low}..{high}")
    patches = sample_region_patches(region, generator, num_patches, patch_size)
    with torch.autocast(device_type=pred.device.type, enabled=False):  # CUDA autocast refuses BCE on probabilities
        bce = F.binary_cross_entropy(pred.float(), target.float())
    return MaskLosses(l1=F.l1_loss(pred, target), bce=bce, patch=patch_l1_loss(pred, target, patches))


def coattention_mask_loss(
    pred: Tensor,
    target: Tensor,
    generator: torch.Generator,
    cloth_region: Tensor | None = None,
    l1_weight: float = 1.0,
    bce_weight: float = 1.0,
    patch_weight: float = 1.0,
    num_patches: int = 3,
    patch_size: int = 64,
) -> Tensor:
    """``L_CMN = lambda_L1 L_L1 + lambda_BCE L_BCE + lambda_Patch L_Patch`` (seed 001, Eq. 1) for one mask: a scalar.

    The paper gives no lambdas; all default to 1 (our choice). Other arguments as in ``coattention_mask_terms``.
    """
    terms = coattention_mask_terms(pred, target, generator, cloth_region, num_patches, patch_size)
    return l1_weight * terms.l1 + bce_weight * terms.bce + patch_weight * terms.patch
