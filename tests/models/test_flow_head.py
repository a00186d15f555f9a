"""Seed 002's C_l (Appendix A, Table 2)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.flow_head import PAPER_WIDTHS, FlowHead


def test_depth_and_widths_follow_the_configuration() -> None:
    paper = FlowHead(4096)
    convs = [m for m in paper.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(PAPER_WIDTHS) and convs[0].in_channels == 4096
    one_layer = FlowHead(4096, widths=(2,))  # Table 2's 1-layer head is a config change
    assert [c.out_channels for c in one_layer.modules() if isinstance(c, nn.Conv2d)] == [2]


def test_a_one_layer_head_can_read_positions_off_a_peaked_correlation() -> None:
    # The reason the head outputs positions: a soft arg-max is linear in Q. With weights = the normalised
    # coordinates of each source channel, a one-hot Q maps each target point to its match's position exactly.
    h, w = 3, 4
    head = FlowHead(h * w, widths=(2,), kernel_size=1)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    with torch.no_grad():
        head.layers[0].weight.copy_(torch.stack([xs.flatten(), ys.flatten()]).view(2, h * w, 1, 1))
        head.layers[0].bias.zero_()
    match = torch.randint(h * w, (h, w))  # target (v, u) matches source channel match[v, u]
    q = torch.nn.functional.one_hot(match, h * w).permute(2, 0, 1).float().unsqueeze(0)
    positions = head(q)[0]
    torch.testing.assert_close(positions[0], xs.flatten()[match])
    torch.testing.assert_close(positions[1], ys.flatten()[match])


def test_bad_configuration_and_input_are_named() -> None:
    with pytest.raises(ValueError, match=r"widths must end with 2 \(x, y\), got \[128, 3\]"):
        FlowHead(16, widths=(128, 3))
    with pytest.raises(
        ValueError, match=r"expects \[B, 16, h, w\] \(h_s \* w_s source positions\), got \(1, 12, 4, 4\)"
    ):
        FlowHead(16, widths=(2,))(torch.zeros(1, 12, 4, 4))
