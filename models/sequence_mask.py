"""FashionMirror's multi-frame co-attention mask network (seed 001, supplementary Appendix A, "Co-attention mask
network"): predicts the try-on clothing mask ``M_c^{t+1}`` of the next frame from the masks of the previous frames,
the pose of the last of them and the next pose.

The supplement says only that the multi-frame CMN "only predicts one output ``M_c^{t+1}``" and is trained with the
Eq. 1-4 losses on it (``M_r``, the source's own garment, does not change along the sequence: ``models.co_attention``).
Its inputs and layers are in the main paper, which the project does not have. Ours, the single-frame CMN's pieces
(``models.co_attention``) with the previous frame as the source side:

- inputs: the ``n_previous`` (2) previous masks ``M_c^{t-n+1} .. M_c^t`` (oldest first), the pose ``p^t`` of the last
  of them and the next pose ``p^{t+1}``;
- the co-attention ``A = F_t^T W F_{t+1} / sqrt(C)`` has its keys from one shared (siamese) pose encoder,
  ``F_t = E_p(p^t)``, ``F_{t+1} = E_p(p^{t+1})``; the values are a previous-frame encoder's features of
  ``[M_c^{t-n+1..t}, p^t]``, remapped to the next frame, ``Z_{t+1} = V_t A_s`` (each next-frame location gathers the
  previous-frame locations its pose matches);
- ``M_c^{t+1}`` is decoded from ``[V_{t+1}, Z_{t+1}]`` (``V_{t+1}``: a next-frame encoder on ``p^{t+1}``); the skips
  of the finer levels join both encoders' features, ``[V_{t+1}^k, V_t^k]``: consecutive frames differ by a small
  motion, so the previous frame's fine features (the mask's contour) are nearly aligned with the next frame, and the
  co-attention carries the larger motion at the deepest level. The mask comes from an unbounded logit (the
  decoder's last ``3x3`` conv) and a sigmoid: no tanh bottleneck before the logit;
- ``models.unet`` encoders / decoder with doubling widths, co-attention on the deepest level, instance norm;
- a sequence starts from ``n_previous`` masks given from outside (ground truth, or the single-frame CMN's
  predictions) and ``rollout`` feeds each prediction back in for the frames after them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.co_attention import CoAttention, check_pose, doubling_widths
from models.unet import UNetDecoder, UNetEncoder


class MultiFrameCoAttentionMaskNet(nn.Module):
    """``(M_c^{t-n+1..t}, p^t, p^{t+1}) -> M_c^{t+1}``; see the module docstring.

    Args:
        n_previous: number of previous masks the network sees (ours: 2; the supplement gives none).
        base_width: width ``b`` of the first level (ours: 32).
        num_levels: encoder levels (ours: 3, co-attention at 1/4 of the image).
        blocks_per_level: residual blocks per level (ours: 1).
        norm: ``"instance" | "batch" | "none"`` (ours: instance).
        pose_channels: keypoint-map channels (COCO-18: 18).
    """

    def __init__(
        self,
        n_previous: int = 2,
        base_width: int = 32,
        num_levels: int = 3,
        blocks_per_level: int = 1,
        norm: str = "instance",
        pose_channels: int = NUM_JOINTS,
    ) -> None:
        super().__init__()
        if n_previous < 1:
            raise ValueError(f"MultiFrameCoAttentionMaskNet: n_previous must be >= 1, got {n_previous}")
        self.n_previous = n_previous
        self.pose_channels = pose_channels
        widths = doubling_widths(base_width, num_levels)
        self.pose_encoder = UNetEncoder(pose_channels, widths, blocks_per_level, norm)
        self.previous_encoder = UNetEncoder(n_previous + pose_channels, widths, blocks_per_level, norm)
        self.next_encoder = UNetEncoder(pose_channels, widths, blocks_per_level, norm)
        self.co_attention = CoAttention(widths[-1])
        self.decoder = UNetDecoder([2 * width for width in widths], widths, 1, blocks_per_level, norm)

    def forward(self, previous_masks: Tensor, previous_pose: Tensor, next_pose: Tensor) -> Tensor:
        """``previous_masks [B, n_previous, 1, H, W]`` (oldest first, in [0, 1]), ``previous_pose`` ``p^t`` and
        ``next_pose`` ``p^{t+1}`` ``[B, P, H, W]`` -> ``M_c^{t+1} [B, 1, H, W]`` in (0, 1)."""
        check_pose(next_pose, self.pose_channels, "next_pose", "MultiFrameCoAttentionMaskNet")
        check_pose(previous_pose, self.pose_channels, "previous_pose", "MultiFrameCoAttentionMaskNet")
        expected = (next_pose.shape[0], self.n_previous, 1, *next_pose.shape[-2:])
        if tuple(previous_masks.shape) != expected or previous_pose.shape != next_pose.shape:
            raise ValueError(
                f"MultiFrameCoAttentionMaskNet: previous_masks must be [B, {self.n_previous}, 1, H, W] = {expected} "
                f"and previous_pose {tuple(next_pose.shape)} for a next_pose of shape {tuple(next_pose.shape)}, got "
                f"{tuple(previous_masks.shape)} and {tuple(previous_pose.shape)}"
            )
        previous = self.previous_encoder(torch.cat([previous_masks.flatten(1, 2), previous_pose], 1))
        following = self.next_encoder(next_pose)
        attention = self.co_attention(
            self.pose_encoder(previous_pose)[-1], self.pose_encoder(next_pose)[-1], source_values=previous[-1]
        )
        skips = [torch.cat(pair, 1) for pair in zip(following[:-1], previous[:-1], strict=True)]
        logits = self.decoder([*skips, torch.cat([following[-1], attention.to_target], 1)])
        return torch.sigmoid(logits)

    def rollout(self, first_masks: Tensor, poses: Tensor) -> Tensor:
        """Autoregressive masks of a sequence: ``first_masks [B, n_previous, 1, H, W]`` are the masks of frames
        ``0 .. n_previous - 1``; ``poses [B, T, P, H, W]`` the poses of all ``T`` frames. Returns the predicted masks
        of frames ``n_previous .. T - 1``, ``[B, T - n_previous, 1, H, W]``, each fed back as an input."""
        if poses.dim() != 5 or poses.shape[1] <= self.n_previous:
            raise ValueError(
                f"MultiFrameCoAttentionMaskNet.rollout: poses must be [B, T, P, H, W] with T > "
                f"n_previous={self.n_previous}, got {tuple(poses.shape)}"
            )
        masks = list(first_masks.unbind(1))
        for t in range(self.n_previous, poses.shape[1]):
            masks.append(self(torch.stack(masks[-self.n_previous :], 1), poses[:, t - 1], poses[:, t]))
        return torch.stack(masks[self.n_previous :], 1)
