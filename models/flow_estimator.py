"""ClothFlow's cascaded appearance-flow estimator (seed 000, Sec. 3.2, with its reference ``FlowEstimator.forward``).

Two FPNs that do not share weights encode the source ``[c_s, s_s]`` into ``S_1..S_N`` and the target ``s_t`` into
``T_1..T_N`` (level 1 finest, at half resolution). With one conv layer ``E_n`` per level::

    F_N     = E_N([S_N, T_N])
    F_{n-1} = U(F_n) + E_{n-1}([W(S_{n-1}, U(F_n)), T_{n-1}])

``U`` resizes a flow to the next level's size and rescales its offsets (``contract.flow.resize_flow``); ``W`` is the
project's one warping function (``contract.flow.warp``). Flows are in pixels of their own level, target -> source
(``out(p) = src(p + F(p))``). The final ``F_1`` is upsampled to the input size and warps ``c_s`` and ``s_s``.
Each ``E_n`` is a ``3x3`` conv (the paper: "one conv layer"; kernel size our choice) initialised to zero, so an
untrained estimator starts at the identity warp (our choice; the paper names no initialisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from contract.flow import resize_flow, warp
from models.fpn import FPNEncoder


class CascadeOutput(NamedTuple):
    """``flow [B, 2, H, W]`` (pixels, full size), ``level_flows`` ``(F_N, ..., F_1)`` coarse to fine, each
    ``[B, 2, H_n, W_n]`` in pixels of its level, ``warped_cloth = W(c_s, flow)``, ``warped_mask = W(s_s, flow)``."""

    flow: Tensor
    level_flows: tuple[Tensor, ...]
    warped_cloth: Tensor
    warped_mask: Tensor


class CascadedFlowEstimator(nn.Module):
    """ClothFlow's two-stream cascaded flow network; see the module docstring.

    Args:
        cloth_channels: channels of ``c_s`` (3 for RGB).
        source_mask_channels: channels of ``s_s`` (1: the in-shop cloth mask).
        target_channels: channels of ``s_t`` (1: the target cloth region).
        widths: bottom-up widths of both FPNs, one per level (N = ``len(widths)``; ClothFlow N = 5).
        fpn_width: pyramid width (256). blocks_per_level, norm: see ``FPNEncoder``.
    """

    def __init__(
        self,
        cloth_channels: int = 3,
        source_mask_channels: int = 1,
        target_channels: int = 1,
        widths: Sequence[int] = (64, 128, 256, 256, 256),
        fpn_width: int = 256,
        blocks_per_level: int = 2,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.source_fpn = FPNEncoder(cloth_channels + source_mask_channels, widths, fpn_width, blocks_per_level, norm)
        self.target_fpn = FPNEncoder(target_channels, widths, fpn_width, blocks_per_level, norm)
        self.flow_convs = nn.ModuleList(nn.Conv2d(2 * fpn_width, 2, 3, padding=1) for _ in widths)  # E_1 .. E_N
        for conv in self.flow_convs:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, cloth: Tensor, cloth_mask: Tensor, target_mask: Tensor) -> CascadeOutput:
        """``cloth`` ``c_s [B, 3, H, W]``, ``cloth_mask`` ``s_s [B, 1, H, W]``, ``target_mask`` ``s_t [B, 1, H, W]``."""
        if cloth.shape[-2:] != cloth_mask.shape[-2:] or cloth.shape[-2:] != target_mask.shape[-2:]:
            raise ValueError(
                "CascadedFlowEstimator: c_s, s_s and s_t must share H and W, got "
                f"{tuple(cloth.shape)}, {tuple(cloth_mask.shape)}, {tuple(target_mask.shape)}"
            )
        source = self.source_fpn(torch.cat([cloth, cloth_mask], 1))
        target = self.target_fpn(target_mask)
        last = len(source) - 1
        flow = self.flow_convs[last](torch.cat([source[last], target[last]], 1))  # F_N
        level_flows = [flow]
        for n in range(last - 1, -1, -1):
            up = resize_flow(flow, tuple(source[n].shape[-2:]))  # U(F_{n+1})
            flow = up + self.flow_convs[n](torch.cat([warp(source[n], up), target[n]], 1))
            level_flows.append(flow)
        full = resize_flow(flow, tuple(cloth.shape[-2:]))
        return CascadeOutput(full, tuple(level_flows), warp(cloth, full), warp(cloth_mask, full))
