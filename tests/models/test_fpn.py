"""The FPN encoder (``models/fpn.py``): level sizes, top-down information flow."""

import pytest
import torch

from models.fpn import FPNEncoder


def tiny_fpn() -> FPNEncoder:
    return FPNEncoder(4, widths=(4, 8, 8, 8, 8), fpn_width=8, blocks_per_level=1)


def test_levels_halve_finest_first_and_round_odd_sizes_up() -> None:
    outputs = tiny_fpn()(torch.rand(2, 4, 64, 48))
    assert [tuple(o.shape[-2:]) for o in outputs] == [(32, 24), (16, 12), (8, 6), (4, 3), (2, 2)]
    assert all(o.shape[:2] == (2, 8) for o in outputs)


def test_the_top_down_path_carries_coarse_context_to_the_finest_level() -> None:
    """A change confined to the image's top-left corner reaches every finest-level position through the top-down
    path (the bottom-up receptive field at level 1 is only a few pixels)."""
    torch.manual_seed(0)
    fpn = tiny_fpn().eval()
    x = torch.rand(1, 4, 64, 48)
    changed = x.clone()
    changed[..., :4, :4] += 1.0
    with torch.no_grad():
        delta = (fpn(changed)[0] - fpn(x)[0]).abs()
    assert delta[..., 24:, 18:].amax() > 1e-6  # far corner of level 1 (32x24) moved too (else bit-identical)


def test_no_levels_is_an_error() -> None:
    with pytest.raises(ValueError, match="widths must name at least one level"):
        FPNEncoder(3, widths=())
