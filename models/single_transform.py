"""The warping module ``W`` of seed 002 (Sec. 3.1.1 steps 1-4, Appendix A): a pose pair -> a dense pixel flow."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from contract.flow import pixel_grid, resize_flow, scale_xy
from models.correlation import correlation, normalize_per_target, soft_mutual_filter
from models.flow_head import PAPER_WIDTHS, FlowHead
from models.pose_encoder import PoseEncoder


def positions_to_flow(positions: Tensor) -> Tensor:
    """Normalised sampling positions ``[B, 2, h, w]`` in [-1, 1] (``align_corners=True``, channel 0 = x) -> pixel
    offsets ``[B, 2, h, w]`` at that resolution in the project's convention ``out(p) = src(p + flow(p))``."""
    height, width = positions.shape[-2:]
    pixels = scale_xy(positions.float() + 1, (width - 1) / 2, (height - 1) / 2)
    return pixels - pixel_grid(height, width, positions.device)


class SingleTransform(nn.Module):
    """``f_{s,t} = W(p_s, p_t)``: keypoint maps ``[B, 18, H, W]`` x 2 -> flow ``[B, 2, H, W]`` (pixels, target->source).

    Steps (seed 002, Sec. 3.1.1): ``z_s = M(p_s)``, ``z_t = M(p_t)`` (``PoseEncoder``); ``C`` (Eq. 1, ``correlation``);
    ``Q_gamma = gamma * C`` (Eq. 9, ``soft_mutual_filter``); per-target L2 normalisation (Eq. 2); ``C_l``
    (``FlowHead``) -> sampling positions at the feature resolution -> pixel offsets, upsampled to the image size with
    ``contract.flow.resize_flow`` (bilinear, as Sec. 3.4.2 rescales the flow).

    Feature resolution: ``M`` downsamples by ``2**n_down`` (2 in the paper: 64 x 64 at 256 x 256), so the feature
    size is ``(H / 4, W / 4)`` by default, a function of ``image_size``: 64 x 44 at DeepFashion's 256 x 176, where
    the correlation is ``[B, 2816, 64, 44]`` (the paper's 4096 x 64 x 64 at 256 x 256) and ``C_l``'s first layer
    takes 2816 channels; 16 x 12 (192 channels) at the tests' 64 x 48.

    Args:
        image_size: ``(H, W)`` of the pose maps and of the output flow.
        pose_encoder: ``M`` (default ``PoseEncoder()``: 11 layers, m = 35, quarter resolution).
        head_widths: ``C_l``'s layer widths (paper: 128, 128, 96, 64, 32, 2; ``(2,)`` is Table 2's 1-layer head).
        head_kernel_size: ``C_l``'s convolution size (our choice: 3).
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        pose_encoder: PoseEncoder | None = None,
        head_widths: Sequence[int] = PAPER_WIDTHS,
        head_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.pose_encoder = pose_encoder or PoseEncoder()
        factor = 2**self.pose_encoder.n_down
        height, width = (int(s) for s in image_size)
        if height % factor or width % factor:
            raise ValueError(f"SingleTransform: image_size {(height, width)} is not divisible by {factor}")
        self.image_size = (height, width)
        self.feature_size = (height // factor, width // factor)
        self.flow_head = FlowHead(self.feature_size[0] * self.feature_size[1], head_widths, head_kernel_size)

    @staticmethod
    def size_multiple(args: Mapping[str, Any]) -> int:
        """What ``H`` and ``W`` must be multiples of for the constructor arguments ``args``: the default pose
        encoder's (a configured one states its own)."""
        if args["pose_encoder"] is not None:
            return 1
        return 2 ** inspect.signature(PoseEncoder).parameters["n_down"].default

    def filtered_correlation(self, src_pose: Tensor, tgt_pose: Tensor) -> Tensor:
        """Steps 1-3 and Eq. 2: ``Q_gamma [B, h * w, h, w]`` (source positions x target grid)."""
        corr = correlation(self.pose_encoder(src_pose), self.pose_encoder(tgt_pose))
        return normalize_per_target(soft_mutual_filter(corr) * corr)

    def feature_flow(self, src_pose: Tensor, tgt_pose: Tensor) -> Tensor:
        """The flow at the feature resolution ``[B, 2, h, w]``, in feature pixels (float32)."""
        for name, pose in (("src_pose", src_pose), ("tgt_pose", tgt_pose)):
            if tuple(pose.shape[-2:]) != self.image_size:
                raise ValueError(f"SingleTransform built for {self.image_size}: {name} is {tuple(pose.shape)}")
        return positions_to_flow(self.flow_head(self.filtered_correlation(src_pose, tgt_pose)))

    def forward(self, src_pose: Tensor, tgt_pose: Tensor) -> Tensor:
        return resize_flow(self.feature_flow(src_pose, tgt_pose), self.image_size)
