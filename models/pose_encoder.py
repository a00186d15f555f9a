"""The pose encoder ``M`` of seed 002 (Sec. 3.1.1 step 1, Appendix A)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.blocks import ConvNormAct


class PoseEncoder(nn.Module):
    """``M``: keypoint maps ``[B, 18, H, W]`` -> L2-normalised features ``z [B, m, H / 2**n_down, W / 2**n_down]``.

    Seed 002, Appendix A: "a fully convolutional network ... 11 convolutional layers, each headed with a Batch
    Normalization"; the last outputs ``z`` of size ``35 x 64 x 64`` (from 256 x 256 images, hence ``n_down = 2``:
    features at a quarter of the image size) and "each channel of this map is then normalized using an l2 norm".

    Choices where the paper is silent: 3x3 convolutions, each ``conv -> BN -> ReLU`` (the ReLU keeps the features,
    hence the correlation, non-negative, which the ratios of Eq. 9 need); the stride-2 convolutions are the first
    ``n_down`` layers after the input layer; widths ``width`` for every hidden layer. The L2 normalisation is read
    as Rocco et al.'s (the paper's ref. for the filtering): each position's feature vector gets unit norm, so Eq. 1
    is a cosine similarity in [0, 1]. Both poses go through the same ``M`` (step 1: "a single convolutional
    network").

    Args:
        in_channels: keypoint-map channels (COCO-18: 18).
        out_channels: ``m``, the feature dimension (35).
        num_layers: convolutional layers (11).
        n_down: stride-2 layers; features are ``H / 2**n_down x W / 2**n_down`` (2: 64 x 64 at 256 x 256).
        width: channels of the hidden layers (our choice: 64).
    """

    def __init__(
        self,
        in_channels: int = NUM_JOINTS,
        out_channels: int = 35,
        num_layers: int = 11,
        n_down: int = 2,
        width: int = 64,
    ) -> None:
        super().__init__()
        if not 0 <= n_down < num_layers:
            raise ValueError(
                f"PoseEncoder: need 0 <= n_down < num_layers, got n_down={n_down}, num_layers={num_layers}"
            )
        self.in_channels = in_channels
        self.n_down = n_down
        widths = [in_channels] + [width] * (num_layers - 1) + [out_channels]
        self.layers = nn.Sequential(
            *(
                ConvNormAct(widths[k], widths[k + 1], 3, stride=2 if 1 <= k <= n_down else 1, norm="batch")
                for k in range(num_layers)
            )
        )

    @staticmethod
    def size_multiple(args: Mapping[str, Any]) -> int:
        """What ``H`` and ``W`` must be multiples of for the constructor arguments ``args`` (defaults filled in)."""
        return 2 ** int(args["n_down"])

    def forward(self, pose: Tensor) -> Tensor:
        """``[B, in_channels, H, W]`` -> ``[B, m, H / 2**n_down, W / 2**n_down]``, unit norm over ``m``."""
        factor = 2**self.n_down
        if pose.dim() != 4 or pose.shape[1] != self.in_channels:
            raise ValueError(f"PoseEncoder expects [B, {self.in_channels}, H, W], got {tuple(pose.shape)}")
        if pose.shape[-2] % factor or pose.shape[-1] % factor:
            raise ValueError(
                f"PoseEncoder with n_down={self.n_down} needs H, W divisible by {factor}, got {tuple(pose.shape[-2:])}"
            )
        return F.normalize(self.layers(pose), p=2, dim=1)
