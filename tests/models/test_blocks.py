"""Behaviour of the shared conv blocks (``models/blocks.py``)."""

import pytest
import torch
from torch import nn

from models.blocks import ConvNormAct, DownBlock, ResidualBlock, UpBlock, activation_layer, norm_layer


def test_unknown_names_are_rejected_with_the_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown norm 'group'.*'instance', 'batch', 'none'"):
        norm_layer("group", 4)
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'"):
        activation_layer("gelu")


def test_instance_norm_normalises_each_sample_and_channel() -> None:
    torch.manual_seed(0)
    block = ConvNormAct(3, 5, norm="instance", act="none")
    out = block(torch.randn(2, 3, 16, 12) * 7 + 3)
    torch.testing.assert_close(out.mean(dim=(2, 3)), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=(2, 3), unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)


def test_batch_norm_normalises_over_the_batch_not_per_sample() -> None:
    torch.manual_seed(0)
    block = ConvNormAct(3, 4, norm="batch", act="none").train()
    x = torch.randn(4, 3, 8, 8)
    x[0] += 10.0  # one sample far off: batch norm keeps it off, instance norm would not
    out = block(x)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    assert out[0].mean(dim=(1, 2)).abs().max() > 0.5


def test_bias_only_without_normalisation() -> None:
    assert ConvNormAct(3, 4, norm="none")[0].bias is not None
    assert ConvNormAct(3, 4, norm="instance")[0].bias is None
    assert isinstance(ConvNormAct(3, 4, norm="none", act="none")[1], nn.Identity)


def test_leaky_relu_keeps_a_fifth_of_negatives() -> None:
    x = torch.tensor([-1.0, 2.0])
    torch.testing.assert_close(activation_layer("leaky_relu")(x), torch.tensor([-0.2, 2.0]))


def test_residual_block_is_identity_when_its_last_conv_is_zero() -> None:
    block = ResidualBlock(4)
    nn.init.zeros_(block.body[1][0].weight)
    x = torch.randn(2, 4, 8, 6)
    torch.testing.assert_close(block(x), x)


def test_down_block_halves_and_up_block_doubles_the_size() -> None:
    x = torch.randn(1, 3, 64, 48)
    assert DownBlock(3, 8)(x).shape == (1, 8, 32, 24)
    assert UpBlock(3, 8)(x).shape == (1, 8, 128, 96)


def test_up_block_is_nearest_upsampling_then_conv() -> None:
    block = UpBlock(2, 2, norm="none", act="none")
    conv = block[1][0]
    with torch.no_grad():  # an identity 3x3 convolution
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0, 1, 1] = conv.weight[1, 1, 1, 1] = 1.0
    x = torch.arange(12.0).view(1, 2, 3, 2)
    expected = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(block(x), expected)
