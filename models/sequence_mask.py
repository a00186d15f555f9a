"""FashionMirror's multi-frame co-attention mask network (seed 001, supplementary Appendix A, "Co-attention mask
network"): predicts the clothes mask ``M_c^{t+1}`` of the next frame from the clothes masks of the previous frames and
the next pose.

The supplement only says that the multi-frame CMN "only predicts one output ``M_c^{t+1}``" and is trained with the
Eq. 1-4 losses on it; its inputs and layers are in the main paper, which the project does not have. Our choices:

- inputs: the ``n_previous`` (2) previous clothes masks ``M_c^{t-n+1} .. M_c^t`` (oldest first) and the keypoint maps of
  the next pose ``p^{t+1}``, concatenated on channels, ``n_previous + 18`` channels;
- network: the generator of the single-frame mask network of stage 1 (SPG-VTON's Table I ``ResNetGenerator``, the
  class behind stage 1's ``coarse_generator`` whose mask FashionMirror's losses train), with a plain one-channel head
  and a sigmoid: ``M_c^{t+1}`` is a probability map ``[B, 1, H, W]``;
- a sequence starts from ``n_previous`` masks given from outside (ground truth, or the single-frame stage-1 network's
  predictions) and ``rollout`` feeds each prediction back in for the frames after them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.generator import ResNetGenerator

GeneratorFactory = Callable[[int, int], nn.Module]  # (in_channels, out_channels) -> network


class SequenceMaskNet(nn.Module):
    """``(M_c^{t-n+1..t}, p^{t+1}) -> M_c^{t+1}``; see the module docstring.

    Args:
        n_previous: number of previous masks the network sees (ours: 2; the supplement gives none).
        generator: factory ``(n_previous + pose_channels, 1) -> nn.Module`` returning logits ``[B, 1, H, W]``
            (default: ``ResNetGenerator`` with Table I widths and a plain head).
        pose_channels: keypoint-map channels (COCO-18: 18).
    """

    def __init__(
        self, n_previous: int = 2, generator: GeneratorFactory | None = None, pose_channels: int = NUM_JOINTS
    ) -> None:
        super().__init__()
        if n_previous < 1:
            raise ValueError(f"SequenceMaskNet: n_previous must be >= 1, got {n_previous}")
        self.n_previous = n_previous
        self.pose_channels = pose_channels
        self.net = (generator or partial(ResNetGenerator, head="plain"))(n_previous + pose_channels, 1)

    @staticmethod
    def size_multiple(args: Mapping[str, Any]) -> int:
        """What ``H`` and ``W`` must be multiples of for the constructor arguments ``args``: the default generator's
        (a configured one states its own)."""
        if args["generator"] is not None:
            return 1
        return 2 ** inspect.signature(ResNetGenerator).parameters["n_down"].default

    def forward(self, previous_masks: Tensor, next_pose: Tensor) -> Tensor:
        """``previous_masks [B, n_previous, 1, H, W]`` (oldest first, in [0, 1]) and ``next_pose [B, P, H, W]`` ->
        ``M_c^{t+1} [B, 1, H, W]`` in (0, 1)."""
        batch, height, width = next_pose.shape[0], *next_pose.shape[-2:]
        expected = (batch, self.n_previous, 1, height, width)
        if previous_masks.dim() != 5 or tuple(previous_masks.shape) != expected:
            raise ValueError(
                f"SequenceMaskNet: previous_masks must be [B, {self.n_previous}, 1, H, W] = {expected} for a next_pose "
                f"of shape {tuple(next_pose.shape)}, got {tuple(previous_masks.shape)}"
            )
        if next_pose.dim() != 4 or next_pose.shape[1] != self.pose_channels:
            raise ValueError(
                f"SequenceMaskNet: next_pose must be [B, {self.pose_channels}, H, W], got {tuple(next_pose.shape)}"
            )
        return torch.sigmoid(self.net(torch.cat([previous_masks.flatten(1, 2), next_pose], 1)))

    def rollout(self, first_masks: Tensor, poses: Tensor) -> Tensor:
        """Autoregressive masks of a sequence: ``first_masks [B, n_previous, 1, H, W]`` are the masks of frames
        ``0 .. n_previous - 1``; ``poses [B, T, P, H, W]`` the poses of all ``T`` frames. Returns the predicted masks
        of frames ``n_previous .. T - 1``, ``[B, T - n_previous, 1, H, W]``, each fed back as an input."""
        if poses.dim() != 5 or poses.shape[1] <= self.n_previous:
            raise ValueError(
                f"SequenceMaskNet.rollout: poses must be [B, T, P, H, W] with T > n_previous={self.n_previous}, got "
                f"{tuple(poses.shape)}"
            )
        masks = list(first_masks.unbind(1))
        for t in range(self.n_previous, poses.shape[1]):
            masks.append(self(torch.stack(masks[-self.n_previous :], 1), poses[:, t]))
        return torch.stack(masks[self.n_previous :], 1)
