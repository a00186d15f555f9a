"""FashionMirror's temporal losses (seed 001, supplementary Appendix A, Eq. 13-15):
``L_temporal = lambda_corr L_corr + lambda_GAN_t L_GAN_t + lambda_p_t L_patch_t``.

Frames come as ``[B, T, C, H, W]`` stacks in time order; ``D_t`` is ``models.temporal_discriminator``.

- ``L_GAN_t`` (Eq. 14): ``D_t`` on the real sub-sequence ``{h^t}`` vs. the generated ``{h_g^t}``. The paper writes the
  log-likelihood GAN; the project trains every adversary as LSGAN + R1 (``losses.adversarial``, SPG-VTON Sec. IV-C),
  and so do these (the stage-3 FashionMirror variant does the same for Eq. 7).
- ``L_patch_t`` (Eq. 15): ``D_t`` on the same box ``k`` cut out of every frame of the clothing region
  ``h^t * M_c^t`` (real) vs. ``h_g^t * M_c^t`` (fake), with one mask ``M_c^t`` for both as Eq. 15 writes.
  ``temporal_patches`` draws ``num_patches`` boxes of ``patch_size`` (Eq. 4's three 64x64) in the union of the window's
  clothing masks, so a box stays on the garment while it moves (our reading; the paper says only "the picked patch").
- ``L_corr`` ("flow correlation", Eq. 13) is not defined in the supplement. Ours (``flow_consistency_loss``):
  ``L_corr = mean_t sum_p V_t(p) |h_g^{t+1}(p) - W(h_g^t, F_t)(p)| / (C sum_p V_t(p))`` with ``F_t`` the flow from
  frame ``t+1`` to frame ``t`` (``W`` = ``contract.flow.warp``: ``W(h^t, F_t) ~ h^{t+1}``), ``V_t`` the pixels visible
  in both frames: the short-term temporal loss of video style transfer (Ruder et al. 2016; Lai et al. 2018) on the
  outputs. It is zero when consecutive outputs agree along the flow, in particular for a static scene (``F = 0``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from contract.flow import warp
from losses.mask import PatchBoxes, crop_patches, sample_region_patches


def check_frames(frames: Tensor, name: str) -> None:
    """``frames`` must be a ``[B, T, C, H, W]`` stack with ``T >= 2``."""
    if frames.dim() != 5 or frames.shape[1] < 2:
        raise ValueError(f"{name}: frames must be [B, T, C, H, W] with T >= 2, got {tuple(frames.shape)}")


def temporal_patches(
    cloth_masks: Tensor, generator: torch.Generator, num_patches: int = 3, patch_size: int = 64
) -> PatchBoxes:
    """Boxes ``k`` of Eq. 15, one set per window: ``cloth_masks [B, T, 1, H, W]`` -> ``PatchBoxes`` drawn in the union
    of the window's masks (``losses.mask.sample_region_patches``; a window without clothing gets none)."""
    check_frames(cloth_masks, "temporal_patches")
    return sample_region_patches(cloth_masks.amax(1), generator, num_patches, patch_size)


def crop_temporal_patches(frames: Tensor, cloth_masks: Tensor, patches: PatchBoxes) -> Tensor:
    """``{(h^t * M_c^t)_k}_{t=1}^n`` of Eq. 15: ``frames [B, T, C, H, W]``, ``cloth_masks [B, T, 1, H, W]`` ->
    ``[N, T, C, h, w]``, one stack per valid window and box (the same box in every frame)."""
    check_frames(frames, "crop_temporal_patches")
    if cloth_masks.shape != (*frames.shape[:2], 1, *frames.shape[-2:]):
        raise ValueError(
            f"crop_temporal_patches: cloth_masks must be [B, T, 1, H, W] for frames {tuple(frames.shape)}, got "
            f"{tuple(cloth_masks.shape)}"
        )
    batch, steps, channels = frames.shape[:3]
    crops = crop_patches((frames * cloth_masks).flatten(1, 2), patches)
    return crops.view(crops.shape[0], steps, channels, *crops.shape[-2:])


def flow_consistency_loss(frames: Tensor, flows: Tensor, valid: Tensor | None = None) -> Tensor:
    """``L_corr`` as defined in the module docstring: a scalar.

    Args:
        frames: ``[B, T, C, H, W]`` consecutive outputs ``h_g^1 .. h_g^T``.
        flows: ``[B, T-1, 2, H, W]``; element ``t`` is the flow from frame ``t+1`` to frame ``t`` in pixels (the
            sequence data's ``flow_gt``), so ``warp(frames[:, t], flows[:, t])`` lines frame ``t`` up with ``t+1``.
        valid: ``[B, T-1, H, W]`` or ``[B, T-1, 1, H, W]`` in [0, 1], the pixels of frame ``t+1`` visible in frame
            ``t`` (e.g. ``vis_gt == 1``); ``None`` = every pixel. A frame pair without valid pixels adds 0.

    Gradients reach both frames of a pair.
    """
    check_frames(frames, "flow_consistency_loss")
    batch, steps, channels, height, width = frames.shape
    if flows.shape != (batch, steps - 1, 2, height, width):
        raise ValueError(
            f"flow_consistency_loss: flows must be [B, T-1, 2, H, W] = {(batch, steps - 1, 2, height, width)} for "
            f"frames {tuple(frames.shape)}, got {tuple(flows.shape)}"
        )
    if valid is None:
        valid = frames.new_ones(batch, steps - 1, 1, height, width)
    elif valid.dim() == 4:
        valid = valid.unsqueeze(2)
    if valid.shape != (batch, steps - 1, 1, height, width):
        raise ValueError(
            f"flow_consistency_loss: valid must be [B, T-1, H, W] or [B, T-1, 1, H, W] for frames "
            f"{tuple(frames.shape)}, got {tuple(valid.shape)}"
        )
    valid = valid.to(frames.dtype)
    warped = warp(frames[:, :-1].flatten(0, 1), flows.flatten(0, 1)).view(batch, steps - 1, channels, height, width)
    error = ((frames[:, 1:] - warped).abs() * valid).sum(dim=(2, 3, 4))  # [B, T-1]
    pixels = channels * valid.sum(dim=(2, 3, 4))
    return (error / pixels.clamp_min(1)).mean()
