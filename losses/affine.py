"""The affine-preserving task of seed 002 (Sec. 3.1.1 "Finding the visibility of pixels", Eq. 7).

Task (1): draw a random affine map ``T`` (parameters ``a_1 .. a_5, b_1, b_2``), sample the *target* pose with it,
``p_st(q) = p_t(T(q))``, and ask the warping module for ``W(p_st, p_t)``. Warping ``p_st`` by a flow ``f``
(``out(p) = p_st(p + f(p)) = p_t(T(p + f(p)))``) gives back ``p_t`` exactly when ``p + f(p) = T^{-1}(p)``: the target
flow is the inverse map's, ``s_f(p) = T^{-1}(p) - p`` (the paper's "inverse flow"). ``L_aff = |W(p_st, p_t) - s_f|``.

The paper's equation for ``T`` is lost from the text; it names seven random parameters and limits them "so that the
resulting transformation does not make a big difference in the verticality of the human skeletons". Our
parametrisation, about the image centre ``c``: ``T(q) = c + A (q - c) + b`` with
``A = R(a_1) diag(a_2, a_3) [[1, a_4], [a_5, 1]]`` (rotation ``a_1``, scales ``a_2, a_3``, shears ``a_4, a_5``) and
translation ``b = (b_1 W, b_2 H)``; every parameter is uniform in the ranges of ``AffineRanges``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from contract.flow import pixel_grid, warp


@dataclass(frozen=True)
class AffineRanges:
    """Half-widths / intervals of the uniform draws (our choice; small, so skeletons stay upright).

    Args:
        rotation_deg: ``a_1`` in ``[-r, r]`` degrees.
        scale: ``a_2, a_3`` in ``[lo, hi]``.
        shear: ``a_4, a_5`` in ``[-s, s]``.
        translate: ``b_1, b_2`` in ``[-t, t]`` fractions of the width / height.
    """

    rotation_deg: float = 10.0
    scale: tuple[float, float] = (0.85, 1.15)
    shear: float = 0.1
    translate: float = 0.1


def random_affine(batch: int, size: tuple[int, int], generator: torch.Generator, ranges: AffineRanges) -> Tensor:
    """Draw ``T`` per sample: ``[B, 2, 3]`` pixel-space matrices ``[A | t]`` with ``T(q) = A q + t`` (channel 0 = x)."""
    height, width = size

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator, device=generator.device).cpu()

    angle = uniform(-ranges.rotation_deg, ranges.rotation_deg) * math.pi / 180
    scale_x, scale_y = uniform(*ranges.scale), uniform(*ranges.scale)
    shear_x, shear_y = uniform(-ranges.shear, ranges.shear), uniform(-ranges.shear, ranges.shear)
    shift = torch.stack(
        [uniform(-ranges.translate, ranges.translate) * width, uniform(-ranges.translate, ranges.translate) * height], 1
    )
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    scales = torch.diag_embed(torch.stack([scale_x, scale_y], 1))
    ones = torch.ones(batch)
    shears = torch.stack([torch.stack([ones, shear_x], 1), torch.stack([shear_y, ones], 1)], 1)
    linear = rotation @ scales @ shears
    centre = torch.tensor([(width - 1) / 2, (height - 1) / 2])
    translation = centre + shift - (linear @ centre)
    return torch.cat([linear, translation.unsqueeze(2)], 2)


def invert_affine(matrix: Tensor) -> Tensor:
    """``[B, 2, 3]`` ``T`` -> ``T^{-1}`` (``A^{-1} [I | -t]``)."""
    inverse = torch.linalg.inv(matrix[:, :, :2])
    return torch.cat([inverse, -(inverse @ matrix[:, :, 2:])], 2)


def affine_flow(matrix: Tensor, size: tuple[int, int]) -> Tensor:
    """The pixel flow of ``T``: ``flow(q) = T(q) - q``, ``[B, 2, H, W]`` float32, so ``warp(x, flow)(q) = x(T(q))``."""
    grid = pixel_grid(*size, device=matrix.device).flatten(2)  # [1, 2, H W]
    mapped = matrix[:, :, :2].float() @ grid + matrix[:, :, 2:].float()
    return (mapped - grid).view(-1, 2, *size)


def affine_pose_pair(
    tgt_pose: Tensor, generator: torch.Generator, ranges: AffineRanges = AffineRanges()
) -> tuple[Tensor, Tensor]:
    """Task (1)'s input and target: ``p_st = p_t o T`` ``[B, K, H, W]`` and ``s_f = T^{-1} - id`` ``[B, 2, H, W]``."""
    if tgt_pose.dim() != 4:
        raise ValueError(f"affine_pose_pair expects a target pose [B, K, H, W], got {tuple(tgt_pose.shape)}")
    size = tuple(tgt_pose.shape[-2:])
    matrix = random_affine(tgt_pose.shape[0], size, generator, ranges)
    # T and T^{-1} where they were drawn, then one copy: on a GPU, linalg.inv waits for its error check, and a copy
    # from pageable memory waits too (pinned, it does not)
    both = torch.stack([matrix, invert_affine(matrix)])
    if tgt_pose.is_cuda and not both.is_cuda:
        both = both.pin_memory()
    matrix, inverse = both.to(tgt_pose.device, non_blocking=True)
    shifted_pose = warp(tgt_pose, affine_flow(matrix, size))
    return shifted_pose, affine_flow(inverse, size)


def affine_loss(flow: Tensor, target_flow: Tensor) -> Tensor:
    """Eq. 7, ``L_aff = |W(p_st, p_t) - s_f|_1``, as the mean absolute error in pixels (both ``[B, 2, H, W]``)."""
    if flow.shape != target_flow.shape or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"affine_loss: flows must both be [B, 2, H, W], got {tuple(flow.shape)} and {tuple(target_flow.shape)}"
        )
    return (flow.float() - target_flow.float()).abs().mean()
