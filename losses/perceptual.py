"""VGG19 perceptual loss with per-layer weights and the Gram-matrix style loss.

- ClothFlow (seed 000, L_perc and the reference ``VGGPerceptualLoss`` from pix2pixHD):
  ``sum_l lambda_l * mean|phi_l(x) - phi_l(y)|`` over relu1_1..relu5_1 with ``lambda = 1/32, 1/16, 1/8, 1/4, 1``.
- SPG-VTON (seed 003, Eq. 4 and 12): ``sum_i sigma_i ||phi_i(I_p) - phi_i(I_t)||_1`` over five VGG19 activations;
  the paper gives no ``sigma_i`` and takes its networks from pix2pixHD [3], so its preset is pix2pixHD's weights,
  the same as ClothFlow's (our choice).
- ClothFlow L_style (seed 000, Sec. 3.3): ``sum_l gamma_l ||G_l(x) - G_l(y)||_1`` with Gram matrices ``G_l``;
  FashionMirror (seed 001, Eq. 11) uses the same form.

The functions ``feature_l1`` and ``style_loss`` work on precomputed feature dicts (``VGG19Features`` output), so a
stage needing both losses runs VGG once per image.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from models.vgg import DEFAULT_LAYERS, VGG19Features

CLOTHFLOW_LAYER_WEIGHTS: dict[str, float] = dict(zip(DEFAULT_LAYERS, (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0), strict=True))
LAYER_WEIGHT_PRESETS: dict[str, dict[str, float]] = {
    "clothflow": CLOTHFLOW_LAYER_WEIGHTS,
    "spg_vton": CLOTHFLOW_LAYER_WEIGHTS,  # Eq. 4 leaves sigma_i open; pix2pixHD's weights (see module docstring)
    "uniform": dict.fromkeys(DEFAULT_LAYERS, 1.0),
}


def _weights_for(features: Mapping[str, Tensor], layer_weights: Mapping[str, float] | None) -> Mapping[str, float]:
    if layer_weights is None:
        layer_weights = dict.fromkeys(features, 1.0)
    if not layer_weights:
        raise ValueError("perceptual/style loss: no layers to weigh")
    missing = [name for name in layer_weights if name not in features]
    if missing:
        raise KeyError(f"layer weights name layers {missing} absent from the features {list(features)}")
    return layer_weights


def feature_l1(
    pred_features: Mapping[str, Tensor],
    target_features: Mapping[str, Tensor],
    layer_weights: Mapping[str, float] | None = None,
) -> Tensor:
    """``sum_l w_l * mean|pred_l - target_l|`` over the weighted layers (all with weight 1 when ``None``)."""
    weights = _weights_for(pred_features, layer_weights)
    return sum(w * (pred_features[name] - target_features[name]).abs().mean() for name, w in weights.items())


def feature_mse(
    pred_features: Mapping[str, Tensor],
    target_features: Mapping[str, Tensor],
    layer_weights: Mapping[str, float] | None = None,
) -> Tensor:
    """``sum_l w_l * mean((pred_l - target_l)^2)``: the squared-L2 perceptual loss of seed 004 (Eq. 6), with the
    paper's sum over elements taken as a mean (a constant factor per layer). Weights as in ``feature_l1``."""
    weights = _weights_for(pred_features, layer_weights)
    return sum(w * (pred_features[name] - target_features[name]).pow(2).mean() for name, w in weights.items())


def gram_matrix(features: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B, C, C]``: ``F F^T / (C H W)`` with ``F`` the ``[C, HW]`` feature matrix (Johnson et al.).

    Always float32, autocast off: a bf16 product summed over ``H W`` pixels keeps too few digits.
    """
    b, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        flat = features.float().reshape(b, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)


def style_loss(
    pred_features: Mapping[str, Tensor],
    target_features: Mapping[str, Tensor],
    layer_weights: Mapping[str, float] | None = None,
) -> Tensor:
    """``sum_l gamma_l * mean|G(pred_l) - G(target_l)|`` (ClothFlow L_style, seed 000 Sec. 3.3).

    ClothFlow gives no ``gamma_l``; ``None`` weighs every layer of the feature dict by 1 (our choice).
    """
    weights = _weights_for(pred_features, layer_weights)
    return sum(
        w * (gram_matrix(pred_features[name]) - gram_matrix(target_features[name])).abs().mean()
        for name, w in weights.items()
    )


class PerceptualLoss(nn.Module):
    """``L_perc(pred, target) = sum_l w_l * mean|phi_l(pred) - phi_l(target)|``, images ``[B, 3, H, W]`` in [-1, 1].

    Args:
        vgg: the frozen feature extractor; it must output every weighted layer.
        layer_weights: a preset name from ``LAYER_WEIGHT_PRESETS`` (``"clothflow"`` = ``"spg_vton"`` =
            1/32, 1/16, 1/8, 1/4, 1 on relu1_1..relu5_1; ``"uniform"``) or a ``{layer: weight}`` mapping.

    The target's features are computed without a graph (pix2pixHD/ClothFlow detach them): gradients reach
    ``pred`` only. ``weights_status`` repeats ``vgg.weights_status`` for the run's hyper-parameters.
    """

    def __init__(self, vgg: VGG19Features, layer_weights: str | Mapping[str, float] = "clothflow") -> None:
        super().__init__()
        if isinstance(layer_weights, str):
            if layer_weights not in LAYER_WEIGHT_PRESETS:
                raise ValueError(f"unknown layer-weight preset {layer_weights!r}; one of {list(LAYER_WEIGHT_PRESETS)}")
            layer_weights = LAYER_WEIGHT_PRESETS[layer_weights]
        missing = [name for name in layer_weights if name not in vgg.layers]
        if missing:
            raise ValueError(f"PerceptualLoss: layers {missing} are not extracted by the VGG (layers {vgg.layers})")
        self.vgg = vgg
        self.layer_weights = dict(layer_weights)

    @property
    def weights_status(self) -> str:
        return self.vgg.weights_status

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"PerceptualLoss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        with torch.no_grad():
            target_features = self.vgg(target)
        return feature_l1(self.vgg(pred), target_features, self.layer_weights)
