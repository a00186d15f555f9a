"""FashionMirror's co-attention and its single-frame co-attention mask network (CMN) (seed 001, supplementary
Appendix A, "Co-attention mask network"; the main paper, with the layers, is not available to the project).

**Co-attention** (``CoAttention``). The supplement names the mechanism but not its form; we follow the co-attention
it comes from (Lu et al., "Hierarchical question-image co-attention", NeurIPS 2016; the siamese video form of Lu et
al., COSNet, CVPR 2019): with source features ``F_s [C, N_s]`` and target features ``F_t [C, N_t]`` (``N`` = the
locations of a feature map, flattened), the affinity is

    ``A = F_s^T W F_t / sqrt(C)``,  ``A [N_s, N_t]``, ``W [C, C]`` learned,

and each side attends to the other with a softmax over the *other* side's locations:

    ``A_t = softmax_over_t(A)`` (row ``i``: where source location ``i`` looks in the target, sums to 1),
    ``A_s = softmax_over_s(A)`` (column ``j``: where target location ``j`` looks in the source, sums to 1),
    ``Z_t = V_s A_s`` (source values gathered at every target location: the remapping to the target pose),
    ``Z_s = V_t A_t^T`` (target values gathered at every source location).

Our choices: ``W`` starts as the identity (the affinity starts as the scaled dot-product similarity, so matching
features attend to each other from the first step); the ``1 / sqrt(C)`` scale of scaled dot-product attention
(COSNet has none; without it the softmax saturates at widths of 256); the values ``V`` default to the features
themselves but can be other maps of the same locations (keys from the poses, values from the appearance).

**CMN** (``CoAttentionMaskNet``): ``(h_s, p_s, c, m_c, p_t) -> (M_r, M_c)``, the two masks of Eq. 2-4:

- ``M_c``: the try-on clothing mask, the region the garment ``c`` covers on the person in the target pose ``p_t``
  (Eq. 10-12 mask the generated person with it); ground truth: the target's garment region.
- ``M_r``: the *removed* mask, the source person's own garment region in the source image ``h_s``, which is taken
  out of the human before its features are remapped (``models.feature_remapping``): our reading of the supplement,
  where Eq. 2-4 treat ``M_r`` exactly as ``M_c`` (L1, BCE and patches "within the clothing region", so ``M_r`` is a
  clothing region too), the method "prevents the try-on results from being affected by the clothes on the source
  human" (Appendix B), and the multi-frame CMN "only predicts one output ``M_c^{t+1}``": a mask of the source alone
  does not change along the pose sequence, so only ``M_c`` has a next frame to predict. Ground truth: the source's
  garment region.

Layers (the supplement gives none; ours): a shared (siamese, as COSNet) pose encoder ``E_p`` gives the keys of both
sides, ``F_s = E_p(p_s)``, ``F_t = E_p(p_t)``, so the affinity is a pose correspondence; a source encoder on
``[h_s, p_s]`` and a target encoder on ``[p_t, c, m_c]`` (the in-shop garment and its mask: the garment's shape sets
``M_c``) give the values. All three are ``models.unet.UNetEncoder`` s with ``num_levels`` levels (widths ``b, 2b,
4b, ...``); the co-attention runs on their deepest level (``1 / 2^(num_levels - 1)`` of the image: 1/4 with the
default 3 levels). ``M_r`` is decoded on the source side from ``[V_s, Z_s]`` with the source encoder's skips, ``M_c``
on the target side from ``[V_t, Z_t]`` with the target encoder's skips (``models.unet.UNetDecoder``). Each mask comes
from an unbounded logit head, the decoder's last ``3x3`` conv to one channel, then a sigmoid: no tanh (or other
bounded layer) stands between the features and the logit, so a mask can reach 0 and 1 (the tanh bottleneck that kept
stage 1's G2 mask in 0.15 .. 0.70, see ``models.generator``). Instance norm (SPG-VTON's generators'; FashionMirror is
silent).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.unet import UNetDecoder, UNetEncoder


class CoAttended(NamedTuple):
    """``CoAttention``'s output (``N = H * W`` of a side):

    ``to_target [B, C_vs, H_t, W_t]`` source values gathered at the target locations (``Z_t``);
    ``to_source [B, C_vt, H_s, W_s]`` target values gathered at the source locations (``Z_s``);
    ``source_weights [B, N_t, N_s]`` row ``j``: target location ``j``'s weights over the source (sum 1);
    ``target_weights [B, N_s, N_t]`` row ``i``: source location ``i``'s weights over the target (sum 1).
    """

    to_target: Tensor
    to_source: Tensor
    source_weights: Tensor
    target_weights: Tensor


class CoAttention(nn.Module):
    """``A = F_s^T W F_t / sqrt(C)`` with a softmax over each side (module docstring).

    Args:
        channels: ``C`` of the source and target features (the affinity's keys).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(torch.eye(channels))  # W, identity at the start (our choice)

    def affinity(self, source: Tensor, target: Tensor) -> Tensor:
        """``A [B, N_s, N_t]`` of ``source [B, C, H_s, W_s]`` and ``target [B, C, H_t, W_t]``."""
        for name, x in (("source", source), ("target", target)):
            if x.dim() != 4 or x.shape[1] != self.channels:
                raise ValueError(f"CoAttention: {name} must be [B, {self.channels}, H, W], got {tuple(x.shape)}")
        if source.shape[0] != target.shape[0]:
            raise ValueError(f"CoAttention: batch sizes differ: {source.shape[0]} and {target.shape[0]}")
        keys_s, keys_t = source.flatten(2), target.flatten(2)  # [B, C, N]
        return keys_s.transpose(1, 2) @ (self.weight @ keys_t) / math.sqrt(self.channels)

    def forward(
        self, source: Tensor, target: Tensor, source_values: Tensor | None = None, target_values: Tensor | None = None
    ) -> CoAttended:
        """Keys ``source [B, C, H_s, W_s]``, ``target [B, C, H_t, W_t]``; values (default: the keys) of the same
        locations, ``[B, C_v, H, W]`` with any ``C_v``. See ``CoAttended``."""
        source_values = source if source_values is None else source_values
        target_values = target if target_values is None else target_values
        if source_values.shape[-2:] != source.shape[-2:] or target_values.shape[-2:] != target.shape[-2:]:
            raise ValueError(
                f"CoAttention: values must have their keys' locations: source {tuple(source.shape[-2:])} vs "
                f"{tuple(source_values.shape[-2:])}, target {tuple(target.shape[-2:])} vs "
                f"{tuple(target_values.shape[-2:])}"
            )
        affinity = self.affinity(source, target)
        target_weights = affinity.softmax(dim=2)  # [B, N_s, N_t]
        source_weights = affinity.transpose(1, 2).softmax(dim=2)  # [B, N_t, N_s]
        to_target = source_values.flatten(2) @ source_weights.transpose(1, 2)  # [B, C_vs, N_t]
        to_source = target_values.flatten(2) @ target_weights.transpose(1, 2)  # [B, C_vt, N_s]
        return CoAttended(
            to_target.view(*to_target.shape[:2], *target.shape[-2:]),
            to_source.view(*to_source.shape[:2], *source.shape[-2:]),
            source_weights,
            target_weights,
        )


class CoAttentionMasks(NamedTuple):
    """``CoAttentionMaskNet``'s output: ``removed`` ``M_r`` and ``cloth`` ``M_c`` ``[B, 1, H, W]`` in (0, 1), and the
    co-attention of the deepest level (``CoAttended``)."""

    removed: Tensor
    cloth: Tensor
    attention: CoAttended


def doubling_widths(base_width: int, num_levels: int) -> list[int]:
    """``b, 2b, 4b, ...`` for ``num_levels`` levels (ours; doubling per stride-2 level as SPG-VTON's Table I)."""
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    return [base_width * 2**level for level in range(num_levels)]


class CoAttentionMaskNet(nn.Module):
    """Single-frame CMN: ``(h_s, p_s, c, m_c, p_t) -> (M_r, M_c)``; see the module docstring.

    Args:
        base_width: width ``b`` of the first level (ours: 32; the supplement gives no widths).
        num_levels: encoder levels (ours: 3, co-attention at 1/4 of the image).
        blocks_per_level: residual blocks per level in the encoders and decoders (ours: 1).
        norm: ``"instance" | "batch" | "none"`` (ours: instance).
        pose_channels: keypoint-map channels (COCO-18: 18).
    """

    def __init__(
        self,
        base_width: int = 32,
        num_levels: int = 3,
        blocks_per_level: int = 1,
        norm: str = "instance",
        pose_channels: int = NUM_JOINTS,
    ) -> None:
        super().__init__()
        widths = doubling_widths(base_width, num_levels)
        self.pose_channels = pose_channels
        self.pose_encoder = UNetEncoder(pose_channels, widths, blocks_per_level, norm)
        self.source_encoder = UNetEncoder(3 + pose_channels, widths, blocks_per_level, norm)
        self.target_encoder = UNetEncoder(pose_channels + 3 + 1, widths, blocks_per_level, norm)
        self.co_attention = CoAttention(widths[-1])
        skips = [*widths[:-1], 2 * widths[-1]]  # the deepest level carries [V, Z]
        self.removed_decoder = UNetDecoder(skips, widths, 1, blocks_per_level, norm)
        self.cloth_decoder = UNetDecoder(skips, widths, 1, blocks_per_level, norm)

    def forward(
        self, src_img: Tensor, src_pose: Tensor, cloth: Tensor, cloth_mask: Tensor, tgt_pose: Tensor
    ) -> CoAttentionMasks:
        """``src_img [B, 3, H, W]`` ``h_s`` in [-1, 1], ``src_pose`` / ``tgt_pose [B, P, H, W]``, ``cloth [B, 3, H, W]``
        and ``cloth_mask [B, 1, H, W]`` (the in-shop garment) -> ``CoAttentionMasks``."""
        check_pose(src_pose, self.pose_channels, "src_pose", "CoAttentionMaskNet")
        check_pose(tgt_pose, self.pose_channels, "tgt_pose", "CoAttentionMaskNet")
        source = self.source_encoder(torch.cat([src_img, src_pose], 1))
        target = self.target_encoder(torch.cat([tgt_pose, cloth, cloth_mask], 1))
        attention = self.co_attention(
            self.pose_encoder(src_pose)[-1], self.pose_encoder(tgt_pose)[-1], source[-1], target[-1]
        )
        removed = self.removed_decoder([*source[:-1], torch.cat([source[-1], attention.to_source], 1)])
        cloth_logits = self.cloth_decoder([*target[:-1], torch.cat([target[-1], attention.to_target], 1)])
        return CoAttentionMasks(torch.sigmoid(removed), torch.sigmoid(cloth_logits), attention)


def check_pose(pose: Tensor, channels: int, name: str, owner: str) -> None:
    """``pose`` must be ``[B, channels, H, W]``; the error names ``owner`` and ``name``."""
    if pose.dim() != 4 or pose.shape[1] != channels:
        raise ValueError(f"{owner}: {name} must be [B, {channels}, H, W], got {tuple(pose.shape)}")
