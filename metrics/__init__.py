"""torchmetrics ``Metric``s for try-on and pose transfer (DDP-safe sums and counts; no partial batch dropped)."""

from metrics.flow import EndPointError, VisibilityAccuracy
from metrics.image import L1, PSNR, SSIM, MaskSSIM
from metrics.parsing import ParsingIoU

__all__ = ["L1", "PSNR", "SSIM", "EndPointError", "MaskSSIM", "ParsingIoU", "VisibilityAccuracy"]
