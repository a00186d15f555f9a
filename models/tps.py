"""Thin-plate-spline (TPS) warps through kornia, for the geometric matching modules (seed 003, Sec. III-C).

Coordinates: control points are ``[B, N, 2]`` ``(x, y)`` in the **normalised** frame of ``grid_sample`` with
``align_corners=True`` (pixel ``x`` of a width-``W`` image sits at ``2 x / (W - 1) - 1``, so pixel 0 is -1 and pixel
``W - 1`` is +1), the convention under which ``contract.flow.warp`` works and kornia's TPS is exact
(``ENGINEERING-NOTES.md``). ``pixels_to_normalized`` / ``normalized_to_pixels`` convert.

kornia's argument order (0.9): ``get_tps_transform(a, b)`` fits ``f`` with ``f(a_i) = b_i`` and puts the kernel
centres at ``b``; ``warp_image_tps`` maps every output pixel through ``f`` to the input position it samples. To
move the content at ``source_points`` to ``target_points`` (``out(target_i) = image(source_i)``) the fit is
therefore ``get_tps_transform(target_points, source_points)`` with the kernel centres at ``source_points``.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import get_tps_transform, warp_image_tps, warp_points_tps
from torch import Tensor

from contract.flow import pixel_grid, scale_xy


def regular_grid(grid_size: int, device: torch.device | None = None) -> Tensor:
    """``grid_size x grid_size`` control points evenly spread over ``[-1, 1]^2``: ``[1, grid_size^2, 2]``, x fastest
    (CP-VTON's 5x5 TPS grid, used by SPG-VTON's GMMs, seed 003 ref. [38])."""
    if grid_size < 2:
        raise ValueError(f"regular_grid: grid_size must be at least 2, got {grid_size}")
    axis = torch.linspace(-1.0, 1.0, grid_size, device=device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack((xs, ys), dim=-1).reshape(1, -1, 2)


def _size_scale(size: tuple[int, int]) -> tuple[float, float]:
    height, width = size
    return 2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)


def pixels_to_normalized(points: Tensor, size: tuple[int, int]) -> Tensor:
    """Pixel ``(x, y)`` points ``[..., 2]`` of an image of ``size = (H, W)`` -> the normalised frame above."""
    return scale_xy(points, *_size_scale(size), dim=-1) - 1.0


def normalized_to_pixels(points: Tensor, size: tuple[int, int]) -> Tensor:
    """Inverse of ``pixels_to_normalized``."""
    sx, sy = _size_scale(size)
    return scale_xy(points + 1.0, 1 / sx, 1 / sy, dim=-1)


def _check_points(source_points: Tensor, target_points: Tensor) -> None:
    if source_points.dim() != 3 or source_points.shape[-1] != 2 or source_points.shape != target_points.shape:
        raise ValueError(
            "TPS: source_points and target_points must both be [B, N, 2], got "
            f"{tuple(source_points.shape)} and {tuple(target_points.shape)}"
        )


def _fit(source_points: Tensor, target_points: Tensor) -> tuple[Tensor, Tensor]:
    """kornia's ``(kernel_weights, affine_weights)`` of the output -> input map (see the module docstring), fp32."""
    _check_points(source_points, target_points)
    return get_tps_transform(target_points.float(), source_points.float())


def tps_warp(image: Tensor, source_points: Tensor, target_points: Tensor, padding_mode: str = "zeros") -> Tensor:
    """Warp ``image`` ``[B, C, H, W]`` so that the content at ``source_points`` lands on ``target_points``.

    Both point sets are ``[B, N, 2]`` normalised (module docstring); ``out(target_i) = image(source_i)`` and the TPS
    interpolates in between. Sampling is bilinear in float32 with ``align_corners=True``; returns ``image``'s dtype.
    """
    kernel, affine = _fit(source_points, target_points)
    if image.shape[0] != source_points.shape[0]:
        raise ValueError(f"tps_warp: image batch {image.shape[0]} != points batch {source_points.shape[0]}")
    out = warp_image_tps(
        image.float(), source_points.float(), kernel, affine, align_corners=True, padding_mode=padding_mode
    )
    return out.to(image.dtype)


def tps_flow(source_points: Tensor, target_points: Tensor, size: tuple[int, int]) -> Tensor:
    """The dense pixel flow ``[B, 2, H, W]`` of the same TPS (project convention ``out(p) = src(p + flow(p))``),
    so that ``contract.flow.warp(image, tps_flow(...))`` equals ``tps_warp(image, ...)``: for logging and for later
    stages that want a flow."""
    kernel, affine = _fit(source_points, target_points)
    height, width = size
    pixels = pixel_grid(height, width, source_points.device).flatten(2).transpose(1, 2)  # [1, HW, 2]
    grid = pixels_to_normalized(pixels, size).expand(source_points.shape[0], -1, -1)
    sampled = normalized_to_pixels(warp_points_tps(grid, source_points.float(), kernel, affine), size)
    return (sampled - pixels).transpose(1, 2).reshape(-1, 2, height, width)
