"""FashionMirror's temporal discriminator ``D_t`` (seed 001, supplementary Appendix A, Eq. 14-15).

``D_t`` scores a stack of ``n`` consecutive frames ``{h^t}_{t=1}^n`` (Eq. 14) or of the same clothing patch cut out of
``n`` consecutive frames (Eq. 15). The supplement gives no architecture. Ours: the frames are concatenated on the
channel axis in time order (as vid2vid's temporal discriminator does) and scored by the project's spatial
discriminator (SPG-VTON Table I PatchGAN, pix2pixHD multi-scale: ``models.discriminator``), so the first layer mixes
the frames and the scores depend on their order. A 3-D convolution over time would be the other common choice; the
channel stack reuses the spatial discriminator as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from models.discriminator import MultiScaleDiscriminator

DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network


class TemporalDiscriminator(nn.Module):
    """``[B, n_frames, C, H, W]`` (frames in time order) -> the scores of ``discriminator(n_frames * C)`` on the
    channel-stacked frames (a list of ``[B, 1, h, w]`` maps for the default ``MultiScaleDiscriminator``).

    Args:
        frame_channels: channels of one frame ``C`` (3 for RGB).
        n_frames: frames per stack ``n`` (the sub-sequence length of Eq. 14; ours: 4, the supplement gives none).
        discriminator: factory ``in_channels -> nn.Module`` (default: ``MultiScaleDiscriminator``).
    """

    def __init__(self, frame_channels: int = 3, n_frames: int = 4, discriminator: DiscriminatorFactory | None = None):
        super().__init__()
        if n_frames < 2:
            raise ValueError(f"TemporalDiscriminator: n_frames must be >= 2 (a temporal stack), got {n_frames}")
        self.frame_channels, self.n_frames = frame_channels, n_frames
        self.net = (discriminator or MultiScaleDiscriminator)(n_frames * frame_channels)

    def forward(self, frames: Tensor) -> Tensor | list[Tensor]:
        expected = (self.n_frames, self.frame_channels)
        if frames.dim() != 5 or tuple(frames.shape[1:3]) != expected:
            raise ValueError(
                f"TemporalDiscriminator: frames must be [B, {self.n_frames}, {self.frame_channels}, H, W] "
                f"(n_frames, channels), got {tuple(frames.shape)}"
            )
        return self.net(frames.flatten(1, 2))
