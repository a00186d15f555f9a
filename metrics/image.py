"""Full-reference image metrics: SSIM, Mask-SSIM, PSNR and L1 as torchmetrics ``Metric``s.

Every metric scores each image pair, then keeps the sum of the scores and the number of images in states reduced
with ``dist_reduce_fx="sum"``: the result is the mean over all images seen, on every process after DDP sync, however
the images were split into (possibly partial) batches.

Inputs are ``[B, C, H, W]`` images in ``data_range`` (the data contract's [-1, 1] by default). They are clamped to
that range and mapped to [0, 1] first, as writing them to 8-bit files before scoring does (the papers score saved
images), so every metric is computed on the [0, 1] scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric


def gaussian_window(size: int, sigma: float) -> Tensor:
    """Normalised 1-D Gaussian ``[size]`` centred on the middle tap (scipy's ``gaussian_filter`` kernel)."""
    taps = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-(taps**2) / (2 * sigma**2))
    return window / window.sum()


def ssim_per_image(
    preds: Tensor,
    target: Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 1.0,
) -> Tensor:
    """Mean SSIM of each image pair ``[B, C, H, W]`` -> ``[B]`` (Wang et al. 2004, Eq. 13, Gaussian-weighted).

    ``SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))`` with
    ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2``, ``L = data_range`` and population (not sample) covariances, averaged over
    the channels and the positions where the window fits inside the image: the same number as scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
    """
    channels, height, width = preds.shape[-3:]
    if height < window_size or width < window_size:
        raise ValueError(f"SSIM needs images of at least {window_size}x{window_size} pixels, got {height}x{width}")
    window = gaussian_window(window_size, sigma).to(preds.device)
    kernel_x = window.view(1, 1, 1, -1).expand(channels, 1, 1, window_size)
    kernel_y = window.view(1, 1, -1, 1).expand(channels, 1, window_size, 1)

    def local_mean(image: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(image, kernel_x, groups=channels), kernel_y, groups=channels)

    x, y = preds.double(), target.double()  # E[x^2] - E[x]^2 in float32 loses the small variances
    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov_xy = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3)).float()


class PerImageMean(Metric):
    """Base class: the mean over all images of a per-image score (``score`` is what a subclass defines).

    Args:
        data_range: ``(low, high)`` of the input images; they are clamped to it and mapped to [0, 1].
        kwargs: passed to ``torchmetrics.Metric`` (``sync_on_compute``, ``process_group`` ...).
    """

    is_differentiable = False
    full_state_update = False

    def __init__(self, data_range: tuple[float, float] = (-1.0, 1.0), **kwargs) -> None:
        super().__init__(**kwargs)
        low, high = data_range
        if not high > low:
            raise ValueError(f"{type(self).__name__}: data_range must be (low, high) with high > low, got {data_range}")
        self.data_range = (float(low), float(high))
        self.add_state("score_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_images", default=torch.tensor(0), dist_reduce_fx="sum")

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        """Per-image score ``[B]`` of images ``[B, C, H, W]`` on the [0, 1] scale."""
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of image pairs ``[B, C, H, W]``."""
        self._check(preds, target)
        self._add(self.score(self._to_unit(preds), self._to_unit(target)))

    def compute(self) -> Tensor:
        """Mean score over every image seen (NaN, with torchmetrics' warning, before any update)."""
        return (self.score_sum / self.num_images).float()

    def _to_unit(self, image: Tensor) -> Tensor:
        low, high = self.data_range
        return (image.float().clamp(low, high) - low) / (high - low)

    def _add(self, scores: Tensor) -> None:
        self.score_sum += scores.double().sum()
        self.num_images += scores.numel()

    def _check(self, preds: Tensor, target: Tensor) -> None:
        name = type(self).__name__
        if preds.dim() != 4 or preds.shape != target.shape:
            raise ValueError(
                f"{name}: preds and target must be [B, C, H, W] of one shape, got {tuple(preds.shape)} and "
                f"{tuple(target.shape)}"
            )
        if not (preds.is_floating_point() and target.is_floating_point()):
            raise ValueError(f"{name}: expects float images, got {preds.dtype} and {target.dtype}")


class SSIM(PerImageMean):
    """Structural similarity (Wang et al. 2004), the SSIM that seeds 002 (section 3.4.1), 003 (section IV-B) and
    004 (section 4.2) report; see ``ssim_per_image`` for the formula and the scikit-image call it agrees with.

    Args:
        window_size: Gaussian window size (11, Wang et al.).
        sigma: Gaussian window sigma (1.5).
        k1: luminance constant (0.01).
        k2: contrast constant (0.03).
        data_range: ``(low, high)`` of the inputs; SSIM is computed on them mapped to [0, 1] (``L = 1``).
    """

    higher_is_better = True
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    def __init__(
        self,
        window_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        data_range: tuple[float, float] = (-1.0, 1.0),
        **kwargs,
    ) -> None:
        super().__init__(data_range=data_range, **kwargs)
        self.window_size, self.sigma, self.k1, self.k2 = window_size, sigma, k1, k2

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return ssim_per_image(preds, target, self.window_size, self.sigma, self.k1, self.k2, data_range=1.0)


class MaskSSIM(SSIM):
    """SSIM of a region: both images keep their pixels inside ``mask`` and are set to 0 (black) outside.

    SPG-VTON (seed 003, section IV-D, Tables III-IV) reports Mask-SSIM of the face and of the clothes / non-clothes
    regions between the try-on result and the image that provides the target pose, without defining it further;
    this follows the definition it inherits from PG2 (Ma et al. 2017, whose evaluation multiplies both 8-bit images
    by the mask): the SSIM map is averaged over the whole image, so the constant outside scores 1 and anything
    there is ignored. Pass the region mask of the ground truth (e.g. its face or cloth mask from the target
    parsing). Arguments as ``SSIM``.
    """

    def update(self, preds: Tensor, target: Tensor, mask: Tensor) -> None:
        """Add image pairs ``[B, C, H, W]`` with their region ``mask`` ``[B, 1, H, W]`` or ``[B, H, W]`` in [0, 1]."""
        self._check(preds, target)
        if mask.dim() == 3:
            mask = mask.unsqueeze(1)
        batch, _, height, width = preds.shape
        if mask.shape != (batch, 1, height, width):
            raise ValueError(
                f"MaskSSIM: mask must be [B, 1, H, W] or [B, H, W] for images {tuple(preds.shape)}, "
                f"got {tuple(mask.shape)}"
            )
        mask = mask.float()
        if mask.numel() and (mask.min() < 0 or mask.max() > 1):
            raise ValueError(f"MaskSSIM: mask values must lie in [0, 1], got [{mask.min():.3g}, {mask.max():.3g}]")
        self._add(self.score(self._to_unit(preds) * mask, self._to_unit(target) * mask))


class PSNR(PerImageMean):
    """Peak signal-to-noise ratio per image, ``10 log10(1 / MSE)`` on the [0, 1] scale, averaged over images.

    Identical images score ``+inf`` (and so does the mean), as scikit-image's ``peak_signal_noise_ratio``.
    Arguments as ``PerImageMean``.
    """

    higher_is_better = True

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        mse = (preds - target).pow(2).flatten(1).mean(dim=1)
        return 10.0 * torch.log10(1.0 / mse)


class L1(PerImageMean):
    """Mean absolute error per image, averaged over images, in grey levels of ``scale`` (255 by default).

    Seed 002 (section 3.4.2, Table 1) reports the l1-norm between warped source and target with values of 13-28
    that only make sense on the 0..255 scale, hence the default; ``scale=1`` gives the [0, 1] scale.

    Args:
        scale: grey levels spanned by ``data_range`` (255).
        data_range: ``(low, high)`` of the inputs.
    """

    higher_is_better = False

    def __init__(self, scale: float = 255.0, data_range: tuple[float, float] = (-1.0, 1.0), **kwargs) -> None:
        super().__init__(data_range=data_range, **kwargs)
        self.scale = scale

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return self.scale * (preds - target).abs().flatten(1).mean(dim=1)


__all__ = ["L1", "PSNR", "SSIM", "MaskSSIM", "PerImageMean", "gaussian_window", "ssim_per_image"]


def down_up(image: Tensor, height: int = 32) -> Tensor:
    """Seed 002 Table 1's "32" scale: ``[B, C, H, W]`` resized to ``height x round(W height / H)`` (bilinear,
    anti-aliased) and back to ``H x W``."""
    size = (height, max(1, round(image.shape[-1] * height / image.shape[-2])))
    small = F.interpolate(image.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(small, size=tuple(image.shape[-2:]), mode="bilinear", align_corners=False)
