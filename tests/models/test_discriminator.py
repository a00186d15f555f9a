"""The PatchGAN discriminator against Table I of seed 003 and its pix2pixHD multi-scale wrapper."""

import pytest
import torch
from torch import nn

from models.discriminator import MultiScaleDiscriminator, PatchDiscriminator

# Table I of seed 003, discriminator D_i, IN = 6: (in, out, kernel, stride, padding); Conv1 read as 1x1 and Conv4
# as stride 1, as the table's output sizes require.
TABLE_I_DISCRIMINATOR = [
    (6, 32, 1, 1, 0),  # Conv1
    (32, 32, 3, 1, 1),  # Conv2
    (32, 32, 3, 2, 1),  # Conv3
    (32, 32, 3, 1, 1),  # Conv4
    (32, 64, 3, 2, 1),  # Conv5
    (64, 1, 1, 1, 0),  # Conv6
]


def test_default_layers_are_table_one() -> None:
    discriminator = PatchDiscriminator(6)
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    table = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]) for m in convs]
    assert table == TABLE_I_DISCRIMINATOR
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in discriminator.modules()) == 4  # Conv2-Conv5
    assert sum(isinstance(m, nn.LeakyReLU) for m in discriminator.modules()) == 5  # Conv1-Conv5


def test_table_one_sizes_at_full_resolution() -> None:
    # Table I: a 256x192 input is scored on a 64x48 map.
    assert PatchDiscriminator(3, base_width=4)(torch.randn(1, 3, 256, 192)).shape == (1, 1, 64, 48)


def test_multiscale_returns_one_map_per_scale_at_the_expected_sizes() -> None:
    discriminator = MultiScaleDiscriminator(6, num_scales=3, base_width=4)
    scores = discriminator(torch.randn(2, 6, 64, 48))
    assert [tuple(s.shape) for s in scores] == [(2, 1, 16, 12), (2, 1, 8, 6), (2, 1, 4, 3)]


def test_each_scale_sees_the_average_pooled_input_with_its_own_weights() -> None:
    torch.manual_seed(0)
    discriminator = MultiScaleDiscriminator(3, num_scales=2, base_width=4)
    x = torch.randn(1, 3, 32, 24)
    scores = discriminator(x)
    pooled = nn.functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    torch.testing.assert_close(scores[1], discriminator.discriminators[1](pooled))
    first, second = discriminator.discriminators
    assert not torch.equal(first.net[0][0].weight, second.net[0][0].weight)


def test_zero_scales_is_rejected() -> None:
    with pytest.raises(ValueError, match="num_scales must be >= 1, got 0"):
        MultiScaleDiscriminator(3, num_scales=0)


def test_receptive_field_of_a_score_is_thirteen_pixels() -> None:
    # Table I layers (kernel, stride): (1,1) (3,1) (3,2) (3,1) (3,2) (1,1) -> receptive field 1+2+2+4+4 = 13 px.
    discriminator = PatchDiscriminator(3, base_width=4, norm="none")  # instance norm would couple all pixels
    x = torch.randn(1, 3, 64, 48, requires_grad=True)
    discriminator(x)[0, 0, 8, 6].backward()
    rows, cols = x.grad[0].abs().sum(0).nonzero().unbind(1)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (13, 13)
    assert (rows.min().item(), cols.min().item()) == (8 * 4 - 6, 6 * 4 - 6)
