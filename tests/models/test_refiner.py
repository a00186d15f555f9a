"""Seed 002's refinement network R (Sec. 3.2, Appendix A and E)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.refiner import Refiner


def tiny_refiner(guide_channels: int = 0) -> Refiner:
    torch.manual_seed(0)
    return Refiner(guide_channels, widths=(8, 16), num_blocks=2).eval()


def test_paper_layout() -> None:
    refiner = Refiner()
    encoder_convs = [m for m in refiner.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in encoder_convs] == [128, 256]  # two convs, 256 x 64 x 64 at 256 x 256
    assert sum(isinstance(m, nn.AvgPool2d) for m in refiner.encoder) == 2
    blocks = [m for m in refiner.decoder if type(m).__name__ == "ResidualBlock"]
    ups = [m for m in refiner.decoder if isinstance(m, nn.Sequential) and isinstance(m[0], nn.Upsample)]
    assert len(blocks) == 6 and len(ups) == 2
    assert all(any(isinstance(x, nn.BatchNorm2d) for x in up.modules()) for up in ups)


def test_direct_sampling_moves_the_source_by_the_flow() -> None:
    refiner = tiny_refiner()
    source = torch.rand(1, 3, 16, 12) * 2 - 1
    flow = torch.zeros(1, 2, 16, 12)
    flow[:, 0] = 2.0  # out(p) = source(p + (2, 0))
    out = refiner(source, flow)
    torch.testing.assert_close(out.warped[..., :-2], source[..., 2:])
    assert out.warped[..., -2:].abs().max() == 0  # sampled outside the image
    assert out.image.shape == source.shape and out.image.abs().max() <= 1


def test_no_skip_connection_reaches_the_decoder() -> None:
    # With a flow that samples everything from outside the image, the warped features are 0: without skip
    # connections (Appendix E) the output can no longer depend on the source.
    refiner = tiny_refiner()
    away = torch.full((2, 2, 16, 12), 1000.0)
    sources = torch.rand(2, 3, 16, 12) * 2 - 1
    with torch.no_grad():
        first, second = refiner(sources, away).image, refiner(sources.flip(0), away).image
    torch.testing.assert_close(first, second)
    with torch.no_grad():  # ... whereas with a zero flow it does
        assert (refiner(sources, 0 * away).image - refiner(sources.flip(0), 0 * away).image).abs().max() > 1e-3


def test_fusion_uses_the_guide_and_requires_it() -> None:
    refiner = tiny_refiner(guide_channels=3)
    source, flow = torch.rand(1, 3, 16, 12), torch.zeros(1, 2, 16, 12)
    with torch.no_grad():
        a = refiner(source, flow, torch.zeros(1, 3, 16, 12)).image
        b = refiner(source, flow, torch.ones(1, 3, 16, 12)).image
    assert (a - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match="guide_channels=3 was given no guide"):
        refiner(source, flow)
    with pytest.raises(ValueError, match="guide_channels=0 was given a guide"):
        tiny_refiner()(source, flow, torch.zeros(1, 3, 16, 12))
    with pytest.raises(ValueError, match=r"divisible by 4, got \(18, 12\)"):
        tiny_refiner()(torch.zeros(1, 3, 18, 12), torch.zeros(1, 2, 18, 12))


def test_size_multiple_is_the_size_the_forward_pass_takes() -> None:
    net = Refiner(widths=(4, 8, 8), num_blocks=1)
    multiple = Refiner.size_multiple({"widths": (4, 8, 8)})
    assert multiple == 8
    source = torch.rand(1, 3, 3 * multiple, 2 * multiple)
    assert net(source, torch.zeros(1, 2, *source.shape[-2:])).image.shape == source.shape
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 3, 3 * multiple + 4, 2 * multiple), torch.zeros(1, 2, 3 * multiple + 4, 2 * multiple))
