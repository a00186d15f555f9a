"""Seed 002's pose encoder M (Appendix A)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.pose_encoder import PoseEncoder


def test_paper_encoder_has_eleven_batch_normalised_convolutions() -> None:
    encoder = PoseEncoder()
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 11 and len(norms) == 11
    assert convs[0].in_channels == 18 and convs[-1].out_channels == 35
    assert sum(conv.stride == (2, 2) for conv in convs) == 2  # 256x256 -> 64x64


def test_features_are_unit_vectors_at_a_quarter_of_the_image_size() -> None:
    torch.manual_seed(0)
    encoder = PoseEncoder(width=8)
    z = encoder(torch.rand(2, 18, 64, 48))
    assert z.shape == (2, 35, 16, 12)
    norms = z.norm(dim=1)
    nonzero = norms > 0
    assert nonzero.float().mean() > 0.9
    torch.testing.assert_close(norms[nonzero], torch.ones_like(norms[nonzero]))
    assert z.min() >= 0  # ReLU features: the correlation is a cosine in [0, 1], as Eq. 9 needs


def test_bad_inputs_are_named() -> None:
    encoder = PoseEncoder(width=4)
    with pytest.raises(ValueError, match=r"expects \[B, 18, H, W\], got \(1, 17, 64, 48\)"):
        encoder(torch.zeros(1, 17, 64, 48))
    with pytest.raises(ValueError, match=r"divisible by 4, got \(62, 48\)"):
        encoder(torch.zeros(1, 18, 62, 48))
    with pytest.raises(ValueError, match="n_down < num_layers"):
        PoseEncoder(num_layers=2, n_down=2)


def test_size_multiple_is_the_size_the_forward_pass_takes() -> None:
    net = PoseEncoder(width=4, num_layers=4, n_down=2)
    multiple = PoseEncoder.size_multiple({"n_down": 2})
    assert multiple == 4
    assert net(torch.rand(1, 18, 5 * multiple, 3 * multiple)).shape[-2:] == (5, 3)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 18, 5 * multiple + 2, 3 * multiple))
