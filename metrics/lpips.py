"""LPIPS, only from real ImageNet backbones (DESIGN.md: a metric without its weights is reported unavailable,
never computed from random weights, never downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchmetrics import Metric

# LPIPS backbones (torchvision files that torchmetrics' LPIPS would otherwise try to download).
LPIPS_BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}


def lpips_or_reason(net: str) -> tuple[Metric | None, str]:
    """torchmetrics LPIPS with ``net``'s ImageNet backbone if its file is in ``$TORCH_HOME/hub/checkpoints``; else
    ``None`` and ``"unavailable: <file> not found in <dir>"`` (never random weights, never a download)."""
    if net not in LPIPS_BACKBONE_FILES:
        raise ValueError(f"lpips_net must be one of {sorted(LPIPS_BACKBONE_FILES)}, got {net!r}")
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    file = LPIPS_BACKBONE_FILES[net]
    if not (folder / file).is_file():
        return None, f"unavailable: {file} not found in {folder}"
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    return LearnedPerceptualImagePatchSimilarity(net_type=net), f"imagenet:{folder / file}"
