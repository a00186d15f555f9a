"""The image generator of Dense Intrinsic Appearance Flow (seed 004, Sec. 3.2, 3.4, 3.5, 4.1 and supplement A).

A dual-path U-Net: an appearance encoder ``G_ea(x_1)`` and a pose encoder ``G_ep(p_2)``; at the first 5 of the N = 7
levels the appearance features are warped by the intrinsic flow ``F_k`` and gated by the visibility ``V_k``
(``FeatureWarping``, Fig. 5, Eq. 2), at the deeper levels (the bottleneck included) they are concatenated with the
pose features as they are (supplement A); the decoder ``G_d`` takes the concatenations through skip connections and
gives ``x_tilde``. Pixel warping (Sec. 3.5): ``x_w = W(x_1, F)``, a weighting U-Net maps ``(x_w, x_tilde, F, V)`` to
the logits of ``z``, ``z = sigmoid(logits)`` and ``x_hat = z * x_w + (1 - z) * x_tilde`` (Eq. 3).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contract.errors import ConfigError
from contract.flow import resize_flow, scale_xy, warp
from contract.sample import NUM_JOINTS
from models.blocks import ConvNormAct
from models.flow_regressor import NUM_VISIBILITY_CLASSES
from models.unet import UNetDecoder, UNetEncoder, level_widths


class IntrinsicOutput(NamedTuple):
    """``image`` ``x_hat``, ``feature_image`` ``x_tilde``, ``warped`` ``x_w`` (all ``[B, 3, H, W]`` in [-1, 1]) and
    ``weight`` ``z [B, 1, H, W]`` in (0, 1)."""

    image: Tensor
    feature_image: Tensor
    warped: Tensor
    weight: Tensor


class FeatureWarping(nn.Module):
    """Seed 004 Fig. 5 / Eq. 2, ``c_aw^k = W_F(c_a^k, F, V)``: ``[B, C, h, w]`` -> ``[B, C, h, w]``.

    ``F`` and ``V`` are resized to the level (``resize_flow``; bilinear for the visibility probabilities); the
    features are warped by ``F_k``; the spatial gating splits them into the mutually exclusive visibility regions
    (``V_k[c] * warped`` for each of the 3 classes, concatenated, so invisible regions keep their features on their
    own channels: "we do not simply filter out the invisible feature map pixels"); two convolutions (3x3, BN, ReLU
    between) with a residual path from the warped features give the output.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(NUM_VISIBILITY_CLASSES * channels, channels, 3, norm="batch"),
            ConvNormAct(channels, channels, 3, norm="batch", act="none"),
        )

    def forward(self, features: Tensor, flow: Tensor, visibility: Tensor) -> Tensor:
        """``features [B, C, h, w]``, ``flow [B, 2, H, W]`` pixels, ``visibility [B, 3, H, W]`` probabilities."""
        size = tuple(features.shape[-2:])
        warped = warp(features, resize_flow(flow, size))
        vis = F.interpolate(visibility, size=size, mode="bilinear", align_corners=False)
        gated = torch.cat([warped * vis[:, c : c + 1] for c in range(NUM_VISIBILITY_CLASSES)], 1)
        return warped + self.body(gated)


class IntrinsicGenerator(nn.Module):
    """Seed 004's generator with pixel warping: ``(x_1, p_2, F, V) -> IntrinsicOutput``.

    Args:
        pose_channels: keypoint-map channels of ``p_2`` (18).
        guide_channels: extra target-aligned input of the pose path (the try-on chain's fusion: stage 3's
            ``I_t_hat``, 3 channels; 0 for pose transfer).
        num_levels: U-Net levels N (Sec. 4.1 and supplement A: 7; 5 for Market-1501's 128x64 images).
        base_width, max_width: level widths rising linearly from ``base_width`` to ``max_width`` (supplement A:
            "increases linearly from 32 to 128"; ``models.unet.level_widths``), the same in both encoders and the
            decoder (the paper gives one set of widths for the generator: our reading).
        warped_levels: the levels ``k < warped_levels`` whose appearance features are warped (supplement A: "the
            first 5 feature levels", higher levels "are not location-sensitive"); the others, the bottleneck
            always among them, are concatenated with the pose features unwarped ("at the bottleneck ... directly
            concatenated"; levels between the 5th and the bottleneck likewise: our reading, Fig. S1 is not in the
            text). 0 is the paper's "w/o. flow" ablation (Sec. 4.6). Must be less than ``num_levels``.
        blocks_per_level: residual blocks per level in encoders and decoder (Sec. 4.1: 2).
        weighting_levels, weighting_width: the weighting U-Net of Sec. 3.5 (the paper gives no size; our choice:
            4 levels from 32 to 128 channels), same blocks as the generator.
    """

    def __init__(
        self,
        pose_channels: int = NUM_JOINTS,
        guide_channels: int = 0,
        num_levels: int = 7,
        base_width: int = 32,
        max_width: int = 128,
        warped_levels: int = 5,
        blocks_per_level: int = 2,
        weighting_levels: int = 4,
        weighting_width: int = 32,
    ) -> None:
        super().__init__()
        if not 0 <= warped_levels < num_levels:
            raise ConfigError(
                f"model.init_args.generator.init_args.warped_levels must be in 0..{num_levels - 1} (below num_levels: "
                f"the bottleneck is never warped, seed 004 supplement A), got {warped_levels}"
            )
        self.num_levels = num_levels
        self.pose_in_channels = pose_channels + guide_channels
        widths = level_widths(base_width, max_width, num_levels)
        self.appearance_encoder = UNetEncoder(3, widths, blocks_per_level)
        self.pose_encoder = UNetEncoder(self.pose_in_channels, widths, blocks_per_level)
        self.feature_warping = nn.ModuleList(FeatureWarping(w) for w in widths[:warped_levels])
        self.decoder = UNetDecoder([2 * w for w in widths], widths, 3, blocks_per_level)
        weighting = level_widths(weighting_width, 4 * weighting_width, weighting_levels)
        self.weighting_encoder = UNetEncoder(3 + 3 + 2 + NUM_VISIBILITY_CLASSES, weighting, blocks_per_level)
        self.weighting_decoder = UNetDecoder(weighting, weighting, 1, blocks_per_level)

    def skip_features(self, source: Tensor, pose: Tensor, flow: Tensor, visibility: Tensor) -> list[Tensor]:
        """The decoder's skips ``[c_aw^k, c_p^k]`` for ``k < warped_levels`` and ``[c_a^k, c_p^k]`` above, each
        ``[B, 2 * widths[k], H / 2^k, W / 2^k]`` (Eq. 2; supplement A)."""
        appearance = self.appearance_encoder(source)
        for k, warping in enumerate(self.feature_warping):  # the first warped_levels levels; the rest pass as they are
            appearance[k] = warping(appearance[k], flow, visibility)
        return [torch.cat([c_a, c_p], 1) for c_a, c_p in zip(appearance, self.pose_encoder(pose), strict=True)]

    def feature_path(self, source: Tensor, pose: Tensor, flow: Tensor, visibility: Tensor) -> Tensor:
        """``x_tilde = G_d(skips) [B, 3, H, W]`` in [-1, 1] (Sec. 3.2 and 3.4)."""
        return torch.tanh(self.decoder(self.skip_features(source, pose, flow, visibility)))

    def pixel_weight_logits(self, warped: Tensor, feature_image: Tensor, flow: Tensor, visibility: Tensor) -> Tensor:
        """The logits of ``z``, ``[B, 1, H, W]``, unbounded: the weighting U-Net's last 3x3 conv, with neither
        normalisation nor activation, straight from its decoder features (no tanh on the way). Inputs
        ``(x_w, x_tilde, F, V)`` (Sec. 3.5); ``F`` enters divided by ``(W, H)`` so it is of order 1 (our choice)."""
        height, width = flow.shape[-2:]
        inputs = torch.cat([warped, feature_image, scale_xy(flow, 1.0 / width, 1.0 / height), visibility], 1)
        return self.weighting_decoder(self.weighting_encoder(inputs))

    def pixel_weight(self, warped: Tensor, feature_image: Tensor, flow: Tensor, visibility: Tensor) -> Tensor:
        """``z = sigmoid(pixel_weight_logits) [B, 1, H, W]`` in (0, 1) (Sec. 3.5: "normalized ... with sigmoid")."""
        return torch.sigmoid(self.pixel_weight_logits(warped, feature_image, flow, visibility))

    def forward(
        self, source: Tensor, pose: Tensor, flow: Tensor, vis_logits: Tensor, guide: Tensor | None = None
    ) -> IntrinsicOutput:
        """``source x_1 [B, 3, H, W]`` in [-1, 1], ``pose p_2 [B, 18, H, W]``, ``flow F [B, 2, H, W]`` (pixels,
        target -> source), ``vis_logits [B, 3, H, W]``, ``guide [B, guide_channels, H, W]`` (fusion only)."""
        self._check(source, pose, flow, vis_logits, guide)
        if guide is not None:
            pose = torch.cat([pose, guide], 1)
        visibility = vis_logits.softmax(1)
        feature_image = self.feature_path(source, pose, flow, visibility)
        warped = warp(source, flow)
        weight = self.pixel_weight(warped, feature_image, flow, visibility)
        image = weight * warped + (1 - weight) * feature_image  # Eq. 3
        return IntrinsicOutput(image=image, feature_image=feature_image, warped=warped, weight=weight)

    def _check(self, source: Tensor, pose: Tensor, flow: Tensor, vis_logits: Tensor, guide: Tensor | None) -> None:
        size = tuple(source.shape[-2:])
        if source.dim() != 4 or source.shape[1] != 3:
            raise ValueError(f"IntrinsicGenerator expects a source image [B, 3, H, W], got {tuple(source.shape)}")
        channels = pose.shape[1] + (0 if guide is None else guide.shape[1])
        if channels != self.pose_in_channels:
            raise ValueError(
                f"IntrinsicGenerator expects {self.pose_in_channels} pose (+ guide) channels, got {channels}"
            )
        for name, tensor, want in (("flow", flow, 2), ("vis_logits", vis_logits, NUM_VISIBILITY_CLASSES)):
            if tensor.shape[1] != want or tuple(tensor.shape[-2:]) != size:
                raise ValueError(
                    f"IntrinsicGenerator: {name} must be [B, {want}, {size[0]}, {size[1]}], got {tuple(tensor.shape)}"
                )
