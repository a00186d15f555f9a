"""A small garment attribute classifier: the recogniser behind AttrRec-k and FashionIS (seed 004, Sec. 4.2).

Seed 004 recognises DeepFashion clothing attributes with a trained model (AttrRec-k) and computes FashionIS with an
Inception fine-tuned on clothing types; neither network is published. On the synthetic set, where every garment's
kind and pattern are known (``datamodules/synthetic/attributes.py``), this network is trained instead
(``scripts/train_attribute_classifier.py``), so both metrics need no download.

The attributes form exclusive groups (one kind and one pattern per garment), each a softmax, so the output is the
per-group log-probabilities concatenated, ``[B, sum(group_sizes)]``: ranking all of them (AttrRec-k) compares
probabilities, and group 0 (the clothing type) is FashionIS's class distribution. Not in the paper (its recogniser
is not described): the width, depth and input size below, chosen to train in a few CPU minutes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv (stride 2) + BatchNorm + ReLU, then a 3x3 conv + BatchNorm + ReLU: halves H and W."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class AttributeClassifier(nn.Module):
    """Images ``[B, 3, H, W]`` in [-1, 1] -> per-group attribute log-probabilities ``[B, A]``.

    Any input size: images are first resized (bilinear, antialiased; the identity at ``input_size``) to
    ``input_size``. Four ``conv_block`` stages
    (``width``, 2, 4, 4 x ``width`` channels) take it to 1/16, an adaptive average pool to a 4x3 grid keeps where
    things are (a dress's skirt, a sleeve), and one linear layer gives the ``A`` logits, log-softmaxed per group.

    Args:
        attribute_names: the ``A`` attribute names in output order (kept in the TorchScript file).
        group_sizes: sizes of the exclusive groups in order (they sum to ``A``); group 0 is the clothing type.
        input_size: ``(H, W)`` the network sees (128x96: the synthetic patterns stay legible at half of 256x192).
        width: channels of the first stage.
    """

    def __init__(
        self,
        attribute_names: Sequence[str],
        group_sizes: Sequence[int],
        input_size: tuple[int, int] = (128, 96),
        width: int = 16,
    ) -> None:
        super().__init__()
        if sum(group_sizes) != len(attribute_names) or min(group_sizes, default=0) < 2:
            raise ValueError(
                f"AttributeClassifier: groups {list(group_sizes)} must each have 2+ attributes and sum to the "
                f"{len(attribute_names)} attribute names"
            )
        self.attribute_names: list[str] = list(attribute_names)
        self.group_sizes: list[int] = [int(size) for size in group_sizes]
        self.input_size: list[int] = [int(size) for size in input_size]
        channels = [width, 2 * width, 4 * width, 4 * width]
        self.features = nn.Sequential(*(conv_block(a, b) for a, b in zip([3, *channels[:-1]], channels, strict=True)))
        self.pool = nn.AdaptiveAvgPool2d((4, 3))
        self.head = nn.Linear(channels[-1] * 12, len(attribute_names))

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` in [-1, 1] -> ``[B, A]``: each group's log-softmax, concatenated."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"AttributeClassifier: expects images [B, 3, H, W], got {list(images.shape)}")
        images = F.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        logits = self.head(torch.flatten(self.pool(self.features(images)), 1))
        return torch.cat([group.log_softmax(dim=1) for group in logits.split(self.group_sizes, dim=1)], dim=1)
