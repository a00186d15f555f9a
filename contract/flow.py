"""The project's one dense-warping function and its flow helpers.

Flow convention (``DESIGN.md``): ``out(p) = src(p + flow(p))``, offsets in pixels, channel 0 = x,
pixel centres at integer coordinates (``align_corners=True``, the convention under which kornia's
TPS and ``remap`` are exact; see ``ENGINEERING-NOTES.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pixel_grid(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """Absolute pixel coordinates ``[1, 2, H, W]`` (channel 0 = x), always float32."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack((xs, ys)).unsqueeze(0)


def scale_xy(tensor: Tensor, sx: float, sy: float, dim: int = 1) -> Tensor:
    """Multiply the x (index 0) and y (index 1) entries of ``dim`` by ``sx`` and ``sy``: e.g. a flow ``[B, 2, H, W]``
    or points ``[..., 2]`` (``dim=-1``). Python scalars, so no host-to-device copy (CUDA-graph friendly)."""
    x, y = tensor.unbind(dim)
    return torch.stack((x * sx, y * sy), dim)


def warp(image: Tensor, flow: Tensor, mode: str = "bilinear", padding_mode: str = "zeros") -> Tensor:
    """Backward-warp ``image`` by a dense pixel flow: ``out(p) = image(p + flow(p))``.

    Args:
        image: ``[B, C, H, W]`` any float dtype.
        flow: ``[B, 2, H, W]`` offsets in pixels, channel 0 = x.
        mode: ``"bilinear"`` or ``"nearest"`` (use nearest for label maps).
        padding_mode: what samples outside the image read (``"zeros"``, ``"border"``, ``"reflection"``).

    Returns:
        ``[B, C, H, W]`` in ``image``'s dtype. Sampling is done in float32 (an absolute grid in bf16
        is off by up to half a pixel at 256 px and more at higher resolution).
    """
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"warp expects image [B,C,H,W] and flow [B,2,H,W], got {tuple(image.shape)} and {tuple(flow.shape)}"
        )
    if image.shape[0] != flow.shape[0] or image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"warp: image {tuple(image.shape)} and flow {tuple(flow.shape)} differ in batch or size")
    height, width = image.shape[-2:]
    coords = pixel_grid(height, width, image.device) + flow.float()
    # Normalise to [-1, 1] with align_corners=True: pixel 0 -> -1, pixel W-1 -> +1.
    grid = (scale_xy(coords, 2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)) - 1.0).permute(0, 2, 3, 1)
    out = F.grid_sample(image.float(), grid, mode=mode, padding_mode=padding_mode, align_corners=True)
    return out.to(image.dtype)


def resize_flow(flow: Tensor, size: tuple[int, int], mode: str = "bilinear") -> Tensor:
    """Resample a pixel flow ``[B, 2, h, w]`` to ``size = (H, W)`` and rescale its offsets.

    Uses the half-pixel convention of image resizing (``align_corners=False``: pixel ``x`` at width ``w``
    sits at ``(x + 0.5) W / w - 0.5`` at width ``W``), the one under which the readers resize images and
    stride-2 encoders halve feature maps; an offset ``d`` therefore becomes ``d * W / w``.
    """
    height, width = size
    h, w = flow.shape[-2:]
    if (h, w) == (height, width):
        return flow
    align = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(flow, size=size, mode=mode, **align)
    return scale_xy(out, width / w, height / h)
