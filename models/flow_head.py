"""``C_l`` of seed 002 (Sec. 3.1.1 step 4, Appendix A, Table 2): filtered correlation -> sampling positions."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from models.blocks import ConvNormAct

PAPER_WIDTHS = (128, 128, 96, 64, 32, 2)


class FlowHead(nn.Module):
    """``C_l``: ``Q_gamma [B, h_s * w_s, h, w]`` -> ``[B, 2, h, w]`` source sampling positions (x, y).

    Appendix A: "a 6-layer convolutional network, in which the first layer receives the rasterized tensor of the
    size 4096 x 64 x 64 and the last one outputs a flow map of size 2 x 64 x 64. The depth of the layers is
    respectively 128, 128, 96, 64, 32, and 2"; Table 2 compares depths 1..6, so ``widths=(2,)`` is the 1-layer
    head.

    What the head outputs: channel ``k`` of ``Q_gamma`` is the *absolute* source position ``k``, and convolutions
    are translation-equivariant, so the head can read off where a target point matches (a soft arg-max is linear in
    ``Q``) but not the offset from a position it does not know. The output is therefore the sampling position in
    the source, the paper's ``s_f = {(v, u)}`` (Sec. 3.1.1), normalised to [-1, 1] over the feature map
    (``align_corners=True``: -1 the first, +1 the last pixel centre); ``models.single_transform`` turns it into
    the project's pixel offsets. Our choices: ``kernel_size`` 3, BN + ReLU after every hidden layer (the paper
    normalises every layer of ``M``), a plain last layer.

    Args:
        in_channels: ``h_s * w_s`` (4096 at 64 x 64 features).
        widths: output channels per layer, the last must be 2 (paper: 128, 128, 96, 64, 32, 2).
        kernel_size: convolution size (our choice: 3).
    """

    def __init__(self, in_channels: int, widths: Sequence[int] = PAPER_WIDTHS, kernel_size: int = 3) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths or widths[-1] != 2:
            raise ValueError(f"FlowHead: widths must end with 2 (x, y), got {widths}")
        self.in_channels = in_channels
        channels = [in_channels, *widths]
        layers = [ConvNormAct(channels[k], channels[k + 1], kernel_size, norm="batch") for k in range(len(widths) - 1)]
        layers.append(nn.Conv2d(channels[-2], 2, kernel_size, padding=kernel_size // 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, corr: Tensor) -> Tensor:
        if corr.dim() != 4 or corr.shape[1] != self.in_channels:
            raise ValueError(
                f"FlowHead expects [B, {self.in_channels}, h, w] (h_s * w_s source positions), got {tuple(corr.shape)}"
            )
        return self.layers(corr)
