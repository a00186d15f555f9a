"""FashionMirror's human and clothing feature remapping generator ``G_h`` (seed 001, supplementary Appendix A,
"Human and clothing feature remapping"; the main paper, with the layers, is not available to the project).

``(h_s, p_s, M_r, c, m_c, p_t, M_c) -> h_g^t``: the source human without its own garment and the try-on garment are
encoded, their features are *remapped* to the target pose by co-attention (``models.co_attention.CoAttention``), and
the target person is decoded from the remapped features. The supplement gives the losses (Eq. 6-12) and that the
generator takes no semantic segmentation ("we do not take them as inputs to accelerate the inference time"); it is
silent on the rest, so these are our choices:

- **human features**: an encoder on ``[h_s * (1 - M_r), M_r, p_s]``, the source person with the removed region
  ``M_r`` (its own garment) blanked to 0 (mid-grey, as the data's ``src_agnostic``), the hole's mask and the source
  pose. They are remapped by the co-attention of the poses: keys ``E_p(p_s)``, ``E_p(p_t)`` from one shared (siamese)
  pose encoder, values the human features: ``Z_h = V_h A_s`` (each target location gathers the source locations its
  pose matches).
- **clothing features**: an encoder on the in-shop garment ``[c, m_c]``; a second co-attention between them and a
  target encoder on ``[p_t, M_c]`` (the target pose and the try-on clothing mask of the CMN): ``Z_c = V_c A_s`` places
  the garment's features where ``M_c`` says it lies on the target person (the flat garment has no pose to match).
- **decoder**: from ``[V_t, Z_h, Z_c]`` at the deepest level, with the target encoder's skips at the finer levels (the
  source's are not aligned with the target pose), to ``h_g^t`` through a ``3x3`` conv and ``tanh`` (an image in
  [-1, 1]). No composition mask: the supplement composes nothing, its losses mask ``h_g^t`` with ``M_c``.
- encoders and decoder are ``models.unet`` pieces with doubling widths (``b, 2b, 4b``); the remapping runs on the
  deepest level, ``1 / 2^(num_levels - 1)`` of the image (1/4 with the default 3 levels); instance norm.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from contract.sample import NUM_JOINTS
from models.co_attention import CoAttended, CoAttention, check_pose, doubling_widths
from models.unet import UNetDecoder, UNetEncoder


class RemappedPerson(NamedTuple):
    """``FeatureRemappingGenerator.remap``'s output: ``image`` ``h_g^t [B, 3, H, W]`` in [-1, 1] and the co-attentions
    of the human (source vs. target pose) and of the clothing (garment vs. target)."""

    image: Tensor
    human_attention: CoAttended
    cloth_attention: CoAttended


class FeatureRemappingGenerator(nn.Module):
    """``G_h``: ``(h_s, p_s, M_r, c, m_c, p_t, M_c) -> h_g^t [B, 3, H, W]``; see the module docstring.

    Args:
        base_width: width ``b`` of the first level (ours: 64; the supplement gives no widths).
        num_levels: encoder levels (ours: 3, remapping at 1/4 of the image).
        blocks_per_level: residual blocks per level (ours: 2).
        norm: ``"instance" | "batch" | "none"`` (ours: instance).
        pose_channels: keypoint-map channels (COCO-18: 18).
    """

    def __init__(
        self,
        base_width: int = 64,
        num_levels: int = 3,
        blocks_per_level: int = 2,
        norm: str = "instance",
        pose_channels: int = NUM_JOINTS,
    ) -> None:
        super().__init__()
        widths = doubling_widths(base_width, num_levels)
        self.pose_channels = pose_channels
        self.pose_encoder = UNetEncoder(pose_channels, widths, blocks_per_level, norm)
        self.human_encoder = UNetEncoder(3 + 1 + pose_channels, widths, blocks_per_level, norm)
        self.cloth_encoder = UNetEncoder(3 + 1, widths, blocks_per_level, norm)
        self.target_encoder = UNetEncoder(pose_channels + 1, widths, blocks_per_level, norm)
        self.human_attention = CoAttention(widths[-1])
        self.cloth_attention = CoAttention(widths[-1])
        self.decoder = UNetDecoder([*widths[:-1], 3 * widths[-1]], widths, 3, blocks_per_level, norm)

    def remap(
        self,
        src_img: Tensor,
        src_pose: Tensor,
        removed_mask: Tensor,
        cloth: Tensor,
        cloth_mask: Tensor,
        tgt_pose: Tensor,
        tryon_mask: Tensor,
    ) -> RemappedPerson:
        """``h_g^t`` and the two co-attentions; arguments as ``forward``."""
        check_pose(src_pose, self.pose_channels, "src_pose", "FeatureRemappingGenerator")
        check_pose(tgt_pose, self.pose_channels, "tgt_pose", "FeatureRemappingGenerator")
        for name, mask in (("removed_mask", removed_mask), ("cloth_mask", cloth_mask), ("tryon_mask", tryon_mask)):
            if mask.dim() != 4 or mask.shape[1] != 1:
                raise ValueError(f"FeatureRemappingGenerator: {name} must be [B, 1, H, W], got {tuple(mask.shape)}")
        human = self.human_encoder(torch.cat([src_img * (1 - removed_mask), removed_mask, src_pose], 1))[-1]
        garment = self.cloth_encoder(torch.cat([cloth, cloth_mask], 1))[-1]
        target = self.target_encoder(torch.cat([tgt_pose, tryon_mask], 1))
        human_attention = self.human_attention(
            self.pose_encoder(src_pose)[-1], self.pose_encoder(tgt_pose)[-1], source_values=human
        )
        cloth_attention = self.cloth_attention(garment, target[-1])
        deepest = torch.cat([target[-1], human_attention.to_target, cloth_attention.to_target], 1)
        return RemappedPerson(torch.tanh(self.decoder([*target[:-1], deepest])), human_attention, cloth_attention)

    def forward(
        self,
        src_img: Tensor,
        src_pose: Tensor,
        removed_mask: Tensor,
        cloth: Tensor,
        cloth_mask: Tensor,
        tgt_pose: Tensor,
        tryon_mask: Tensor,
    ) -> Tensor:
        """``src_img [B, 3, H, W]`` ``h_s`` in [-1, 1], ``src_pose`` / ``tgt_pose [B, P, H, W]``, ``removed_mask``
        ``M_r``, ``cloth_mask`` (in-shop) and ``tryon_mask`` ``M_c`` ``[B, 1, H, W]`` in [0, 1], ``cloth [B, 3, H, W]``
        -> ``h_g^t [B, 3, H, W]`` in [-1, 1]."""
        return self.remap(src_img, src_pose, removed_mask, cloth, cloth_mask, tgt_pose, tryon_mask).image
