"""torchmetrics ``Metric``s for try-on and pose transfer (DDP-safe sums and counts; no partial batch dropped)."""

from metrics.flow import EndPointError, VisibilityAccuracy
from metrics.image import L1, PSNR, SSIM, MaskSSIM, down_up
from metrics.lpips import LPIPS_BACKBONE_FILES, lpips_or_reason
from metrics.parsing import ParsingIoU

__all__ = [
    "L1",
    "LPIPS_BACKBONE_FILES",
    "PSNR",
    "SSIM",
    "EndPointError",
    "MaskSSIM",
    "ParsingIoU",
    "VisibilityAccuracy",
    "down_up",
    "lpips_or_reason",
]
