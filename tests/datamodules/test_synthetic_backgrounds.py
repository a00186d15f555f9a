"""Studio backgrounds (``datamodules/synthetic/backgrounds.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.backgrounds import BACKGROUND_KINDS, sample_background


@pytest.mark.parametrize("kind", BACKGROUND_KINDS)
def test_backgrounds_are_light_and_resolution_independent(kind: str) -> None:
    big = sample_background(np.random.default_rng(3), 128, 96, kind)
    small = sample_background(np.random.default_rng(3), 64, 48, kind)
    assert big.shape == (3, 128, 96) and big.dtype == np.float32
    assert big.min() >= 0.0 and big.max() <= 1.0 and big.mean() > 0.5
    # Coordinates are in units of the height: pixel (2i, 2j) at 128x96 is the same place as (i, j) at 64x48, up to
    # half a small pixel, on a texture whose features are larger than that.
    assert np.abs(big[:, ::2, ::2] - small).max() < 0.05
    if kind == "plain":
        assert np.ptp(big, axis=(1, 2)).max() == 0
    else:
        assert np.ptp(big, axis=(1, 2)).max() > 0.01


def test_unknown_background_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown background kind 'studio'"):
        sample_background(np.random.default_rng(0), 64, 48, "studio")
