"""Losses of the try-on synthesis stage (stage 3) beyond the shared perceptual / adversarial ones.

- SPG-VTON (seed 003, Sec. III-D): the composition reconstruction loss (Eq. 11) and the face identity loss (Eq. 15).
- FashionMirror (seed 001, supplementary Appendix A): the body-part loss (Eq. 9), the region terms of the content
  and style losses (Eq. 10-11, clothes and head) and the clothing patch loss (Eq. 12).

The papers' ``sum_W sum_H`` are per-pixel means here (a constant factor absorbed by the loss weights, which
FashionMirror does not give). Masked images keep their pixels inside the mask and are 0 (mid-grey in [-1, 1], as
the contract's ``src_agnostic`` blanks a region) outside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import Tensor

from losses.mask import PatchBoxes, crop_patches
from losses.perceptual import feature_l1, style_loss
from losses.reconstruction import l1_loss
from models.face import FaceEmbedder

FeatureExtractor = Callable[[Tensor], Mapping[str, Tensor]]  # [B, 3, H, W] in [-1, 1] -> {layer: features}


def composition_reconstruction_loss(
    tryon: Tensor, target: Tensor, mask: Tensor, image_weight: float = 2.0, mask_weight: float = 0.5
) -> Tensor:
    """``L_recon^t = alpha_1 mean|I_t_hat - I_t| + alpha_2 mean|1 - M|`` (seed 003, Eq. 11; alpha_1 = 2, alpha_2 = 0.5).

    Args:
        tryon: ``I_t_hat [B, 3, H, W]``; target: ``I_t``, same shape.
        mask: the composition mask ``M [B, 1, H, W]`` in [0, 1]; the second term pushes it towards the warped cloth.
    """
    if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != tryon.shape[0] or mask.shape[2:] != tryon.shape[2:]:
        raise ValueError(f"composition_reconstruction_loss: mask must be [B, 1, H, W] for {tuple(tryon.shape)}, "
                         f"got {tuple(mask.shape)}")  # fmt: skip
    return image_weight * l1_loss(tryon, target) + mask_weight * (1 - mask).abs().mean()


def body_loss(pred: Tensor, target: Tensor, limb_mask: Tensor, background_mask: Tensor) -> Tensor:
    """FashionMirror's ``L_body`` (seed 001, Eq. 9): the L1 error inside the limb mask plus inside the background mask.

    Each term is the mean error over its masked pixels (``losses.reconstruction.l1_loss``), so a small limb region
    weighs as much as the large background; an empty mask contributes 0. Masks ``[B, 1, H, W]`` in [0, 1].
    """
    return l1_loss(pred, target, limb_mask) + l1_loss(pred, target, background_mask)


class ContentStyle(NamedTuple):
    """A content (feature L1) and a style (Gram L1) term, both scalars."""

    content: Tensor
    style: Tensor


def _content_style(
    vgg: FeatureExtractor,
    pred: Tensor,
    target: Tensor,
    content_weights: Mapping[str, float] | None,
    style_weights: Mapping[str, float] | None,
) -> ContentStyle:
    """VGG once per image (the target without a graph): ``feature_l1`` and ``style_loss`` of the two."""
    with torch.no_grad():
        target_features = vgg(target)
    pred_features = vgg(pred)
    return ContentStyle(
        feature_l1(pred_features, target_features, content_weights),
        style_loss(pred_features, target_features, style_weights),
    )


def region_content_style_loss(
    vgg: FeatureExtractor,
    pred: Tensor,
    target: Tensor,
    regions: Mapping[str, Tensor],
    content_weights: Mapping[str, float] | None = None,
    style_weights: Mapping[str, float] | None = None,
) -> ContentStyle:
    """The region terms of FashionMirror's ``L_content`` and ``L_style`` (seed 001, Eq. 10-11, terms 2 and 3):
    ``sum_r sum_i ||phi_i(pred * M_r) - phi_i(target * M_r)||_1`` and the same with Gram matrices.

    The full-image first terms are the stage's ``perc`` and ``style`` losses. The paper masks the generated image
    with its predicted cloth mask and the real one with the ground truth; here both use the same mask (the ground
    truth of the target), so the terms vanish for a perfect result.

    Args:
        vgg: frozen feature extractor (``models.vgg.VGG19Features``).
        pred, target: ``[B, 3, H, W]`` in [-1, 1].
        regions: ``{name: [B, 1, H, W] mask}`` (FashionMirror: clothes and head).
        content_weights, style_weights: per-layer weights (``None`` = 1 for every layer).
    """
    if not regions:
        raise ValueError("region_content_style_loss: no regions given")
    terms = [
        _content_style(vgg, pred * mask, target * mask, content_weights, style_weights) for mask in regions.values()
    ]
    return ContentStyle(sum(t.content for t in terms), sum(t.style for t in terms))


def patch_content_style_loss(
    vgg: FeatureExtractor,
    pred: Tensor,
    target: Tensor,
    cloth_mask: Tensor,
    patches: PatchBoxes,
    content_weights: Mapping[str, float] | None = None,
    style_weights: Mapping[str, float] | None = None,
) -> Tensor:
    """FashionMirror's clothing patch loss ``L_patch`` (seed 001, Eq. 12): content + style loss of the windows
    ``patches`` (``losses.mask.sample_region_patches`` in the clothing region, three 64x64 as Eq. 4) cut from
    ``pred * M_c`` and ``target * M_c``. The windows are cut from the images before VGG (the paper writes
    ``phi(.)_k``, the box ``k`` of the feature map; on the image the box is exact at every layer). 0 (with a graph)
    when no sample has a window.
    """
    pred_crops, target_crops = crop_patches(pred * cloth_mask, patches), crop_patches(target * cloth_mask, patches)
    if len(pred_crops) == 0:
        return pred.sum() * 0.0
    terms = _content_style(vgg, pred_crops, target_crops, content_weights, style_weights)
    return terms.content + terms.style


def identity_loss(embedder: FaceEmbedder, fake_faces: Tensor, real_faces: Tensor) -> Tensor:
    """``L_id = mean|F(I_t_hat^F) - F(I_t^F)|`` (seed 003, Eq. 15) with a frozen face embedder ``F``
    (``models.face``); faces ``[B, 3, h, w]``. The real faces' embeddings carry no graph."""
    if fake_faces.shape != real_faces.shape:
        raise ValueError(f"identity_loss: fake {tuple(fake_faces.shape)} and real {tuple(real_faces.shape)} differ")
    with torch.no_grad():
        real = embedder(real_faces)
    fake = embedder(fake_faces)
    if fake.shape != real.shape or fake.shape[0] != fake_faces.shape[0]:
        raise ValueError(f"identity_loss: the embedder returned {tuple(fake.shape)} for {fake_faces.shape[0]} faces")
    return (fake - real).abs().mean()
