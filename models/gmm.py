"""The geometric matching module (GMM) of CP-VTON, as SPG-VTON's clothes warping module uses it twice.

SPG-VTON (seed 003, Sec. III-C, Fig. 2b) estimates TPS parameters with "the geometric matching network [38]"
(CP-VTON, Wang et al. ECCV 2018): two feature extractors that do not share weights, L2-normalised features, a
correlation layer, and a regressor from the correlation to the offsets of a 5x5 grid of TPS control points.
Layer widths and kernels are CP-VTON's (its ``FeatureExtraction``, ``FeatureCorrelation``, ``FeatureRegression``).
The regressor's last linear layer and ``tanh`` give offsets in the normalised frame of ``models.tps``, added to the
regular grid: an all-zero output is the identity warp. That layer starts at zero, so an untrained GMM is the identity
(our choice: with a wide linear layer, random outputs make the first TPS warps arbitrary).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from models.blocks import norm_layer
from models.tps import regular_grid


class FeatureExtraction(nn.Sequential):
    """CP-VTON's extractor: ``num_downsamples`` ``4x4`` stride-2 convs (widths ``b, 2b, 4b, 8b``, capped at
    ``max_width``) then two ``3x3`` convs at ``max_width``; each conv is followed by ReLU and ``norm`` (CP-VTON's
    order: conv, ReLU, BatchNorm; no norm after the last). ``[B, in, H, W] -> [B, max_width, H/2^n, W/2^n]``.

    Args:
        in_channels: input channels (1 for SPG-VTON's masks).
        base_width: ``b`` (64). max_width: 512. num_downsamples: 4 (CP-VTON: 256x192 -> 16x12).
        norm: ``"batch"`` (CP-VTON) | ``"instance"`` | ``"none"``.
    """

    def __init__(
        self,
        in_channels: int,
        base_width: int = 64,
        max_width: int = 512,
        num_downsamples: int = 4,
        norm: str = "batch",
    ) -> None:
        layers: list[nn.Module] = []
        width = in_channels
        for i in range(num_downsamples):
            out = min(base_width * 2**i, max_width)
            layers += [nn.Conv2d(width, out, 4, 2, 1), nn.ReLU(), norm_layer(norm, out)]
            width = out
        layers += [nn.Conv2d(width, max_width, 3, 1, 1), nn.ReLU(), norm_layer(norm, max_width)]
        layers += [nn.Conv2d(max_width, max_width, 3, 1, 1), nn.ReLU()]
        super().__init__(*layers)


def l2_normalize(features: Tensor, eps: float = 1e-6) -> Tensor:
    """Unit L2 norm over channels at every position: ``[B, C, H, W]`` (CP-VTON's ``FeatureL2Norm``)."""
    return features / (features.pow(2).sum(1, keepdim=True) + eps).sqrt()


def correlation(features_a: Tensor, features_b: Tensor) -> Tensor:
    """Dense correlation of two ``[B, C, h, w]`` maps: ``out[n, k, i, j] = <a[n, :, k], b[n, :, i, j]>`` with the
    positions ``k`` of ``features_a`` enumerated column-major (``k = x h + y``) and the spatial layout of
    ``features_b``, as CP-VTON's ``FeatureCorrelation(featureA, featureB)``. Returns ``[B, h w, h, w]``."""
    if features_a.shape != features_b.shape:
        raise ValueError(f"correlation: feature maps differ, {tuple(features_a.shape)} vs {tuple(features_b.shape)}")
    batch, channels, height, width = features_a.shape
    a_columns = features_a.transpose(2, 3).reshape(batch, channels, height * width)  # k = x h + y
    b_positions = features_b.reshape(batch, channels, height * width)  # row-major (i, j)
    scores = a_columns.transpose(1, 2) @ b_positions  # [B, hw (k), hw (i j)]
    return scores.view(batch, height * width, height, width)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class FeatureRegression(nn.Module):
    """CP-VTON's regressor: ``4x4/2`` convs to 512 and 256, ``3x3`` convs to 128 and 64 (each + norm + ReLU), a
    linear layer to ``2 N`` values and ``tanh``. ``[B, in, h, w] -> [B, N, 2]`` offsets in ``(-1, 1)``.

    ``feature_size = (h, w)`` of the correlation sets the linear layer's width (CP-VTON: 16x12 -> 64 * 4 * 3).
    """

    def __init__(
        self,
        in_channels: int,
        feature_size: tuple[int, int],
        num_points: int,
        widths: tuple[int, int, int, int] = (512, 256, 128, 64),
        norm: str = "batch",
    ) -> None:
        super().__init__()
        height, width = feature_size
        layers: list[nn.Module] = []
        specs = ((4, 2, 1), (4, 2, 1), (3, 1, 1), (3, 1, 1))
        channels = in_channels
        for out, (kernel, stride, padding) in zip(widths, specs, strict=True):
            layers += [nn.Conv2d(channels, out, kernel, stride, padding), norm_layer(norm, out), nn.ReLU()]
            height, width = _conv_out(height, kernel, stride, padding), _conv_out(width, kernel, stride, padding)
            channels = out
        if height < 1 or width < 1:
            raise ValueError(
                f"FeatureRegression: a {feature_size} correlation is too small for two stride-2 4x4 convs; "
                "use fewer downsamplings in the feature extractors"
            )
        self.conv = nn.Sequential(*layers)
        self.linear = nn.Linear(channels * height * width, 2 * num_points)
        nn.init.zeros_(self.linear.weight)  # start at the identity warp (our choice; CP-VTON uses the default init)
        nn.init.zeros_(self.linear.bias)
        self.num_points = num_points

    def forward(self, correlation_map: Tensor) -> Tensor:
        out = self.linear(self.conv(correlation_map).flatten(1)).tanh()
        return out.view(-1, self.num_points, 2)


class GeometricMatchingModule(nn.Module):
    """``GMM(a, b)``: where in ``b`` each TPS control point of the output samples, so that ``b`` warped by the TPS
    matches ``a`` (CP-VTON; SPG-VTON Sec. III-C uses GMM 1 with ``a = M_p^C``, ``b = M^C`` and GMM 2 with
    ``a = M^C``, ``b = M_w^C``).

    Returns ``source_points [B, N, 2]`` (normalised, ``models.tps``): ``regular_grid + tanh(regression)``, to be
    used as ``tps_warp(image_b, source_points, target_points)`` with ``target_points = self.target_points``.

    Args:
        in_channels_a, in_channels_b: channels of the two inputs (1 and 1 for masks).
        image_size: ``(H, W)`` of the inputs (sets the regressor's linear layer).
        grid_size: TPS grid side (CP-VTON: 5, N = 25 points).
        base_width, max_width, num_downsamples, norm: of the two ``FeatureExtraction``s (CP-VTON: 64, 512, 4,
            batch norm); ``norm`` is used by the regressor too.
        regression_widths: the regressor's four conv widths (CP-VTON: 512, 256, 128, 64).
    """

    def __init__(
        self,
        in_channels_a: int,
        in_channels_b: int,
        image_size: tuple[int, int],
        grid_size: int = 5,
        base_width: int = 64,
        max_width: int = 512,
        num_downsamples: int = 4,
        norm: str = "batch",
        regression_widths: tuple[int, int, int, int] = (512, 256, 128, 64),
    ) -> None:
        super().__init__()
        self.extract_a = FeatureExtraction(in_channels_a, base_width, max_width, num_downsamples, norm)
        self.extract_b = FeatureExtraction(in_channels_b, base_width, max_width, num_downsamples, norm)
        height, width = image_size
        for _ in range(num_downsamples):
            height, width = _conv_out(height, 4, 2, 1), _conv_out(width, 4, 2, 1)
        self.regression = FeatureRegression(height * width, (height, width), grid_size**2, regression_widths, norm)
        self.register_buffer("target_points", regular_grid(grid_size), persistent=False)

    @staticmethod
    def min_side(args: Mapping[str, Any]) -> int:
        """The smallest ``H`` and ``W`` for the constructor arguments ``args`` (defaults filled in): the extractors'
        ``num_downsamples`` and the regressor's two stride-2 4x4 convs each halve a side (rounding down), and the
        regressor needs one position left: ``2^(num_downsamples + 2)`` (64 for CP-VTON's 4)."""
        return 2 ** (args["num_downsamples"] + 2)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        scores = correlation(l2_normalize(self.extract_a(a)), l2_normalize(self.extract_b(b)))
        return self.target_points + self.regression(scores)
