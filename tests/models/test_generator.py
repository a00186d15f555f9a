"""The SPG-VTON generator (``models/generator.py``) against Table I of seed 003."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.generator import ImageMask, ResNetGenerator

# Table I of seed 003, generator G_i, with IN = 7 and OUT = 4: (in, out, kernel, stride) of every convolution in
# order; "Resblock" rows are two 3x3 convolutions each.
IN, OUT = 7, 4
RES_128 = [(128, 128, 3, 1)] * 2
RES_256 = [(256, 256, 3, 1)] * 2
RES_512 = [(512, 512, 3, 1)] * 2
TABLE_I_GENERATOR = [
    (IN, 64, 3, 1),  # Conv1
    (64, 128, 3, 1),  # Conv2
    (128, 128, 3, 2),  # Conv3
    *RES_128,
    (128, 256, 3, 2),  # Conv4
    *RES_256,
    (256, 512, 3, 2),  # Conv5
    *RES_512 * 4,
    (512, 256, 3, 1),  # Conv6 (after Upsample)
    (256, 128, 3, 1),  # Conv7
    (128, 64, 3, 1),  # Conv8
    (64, OUT, 3, 1),  # Conv9, ReLU
    (OUT, OUT, 3, 1),  # Conv10, Tanh
    (OUT, OUT, 1, 1),  # Conv11, no activation
]


def conv_table(module: nn.Module) -> list[tuple[int, int, int, int]]:
    return [
        (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0])
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    ]


def test_default_layers_are_table_one() -> None:
    generator = ResNetGenerator(IN, OUT)
    assert conv_table(generator) == TABLE_I_GENERATOR
    assert sum(isinstance(m, nn.Upsample) for m in generator.modules()) == 3
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in generator.modules()) == 8 + 2 * 6  # Conv1-8, 6 resblocks
    output_acts = [type(m) for m in generator.output_layers.modules() if isinstance(m, nn.ReLU | nn.Tanh)]
    assert output_acts == [nn.ReLU, nn.Tanh]


def test_bottleneck_is_one_eighth_of_the_input() -> None:
    generator = ResNetGenerator(IN, OUT, base_width=4)
    assert generator.encoder(torch.randn(2, IN, 64, 48)).shape == (2, 32, 8, 6)  # Table I: 512 x 32 x 24 at 256x192
    assert ResNetGenerator(IN, OUT, base_width=4, n_down=2).encoder(torch.randn(1, IN, 64, 48)).shape == (1, 16, 16, 12)


def test_heads_share_the_trunk_and_apply_their_activation() -> None:
    torch.manual_seed(0)
    plain = ResNetGenerator(IN, OUT, base_width=4, head="plain")
    with torch.no_grad():
        plain.output_layers[2].bias.fill_(3.0)  # push the logits outside [-1, 1]
    image = ResNetGenerator(IN, OUT, base_width=4, head="image")
    image_mask = ResNetGenerator(IN, OUT, base_width=4, head="image_mask")
    image.load_state_dict(plain.state_dict())
    image_mask.load_state_dict(plain.state_dict())
    x = torch.randn(2, IN, 64, 48)

    logits = plain(x)
    assert logits.shape == (2, OUT, 64, 48) and logits.max() > 1.0
    out = image(x)
    torch.testing.assert_close(out, torch.tanh(logits))
    assert out.abs().max() <= 1.0
    both = image_mask(x)
    assert isinstance(both, ImageMask)
    assert both.image.shape == (2, 3, 64, 48) and both.mask.shape == (2, 1, 64, 48)
    torch.testing.assert_close(both.image, torch.tanh(logits[:, :3]))
    torch.testing.assert_close(both.mask, torch.sigmoid(logits[:, 3:]))
    assert both.mask.min() >= 0 and both.mask.max() <= 1


def test_bad_inputs_and_arguments_raise_clear_errors() -> None:
    generator = ResNetGenerator(IN, OUT, base_width=4)
    with pytest.raises(ValueError, match=r"divisible by 8, got \(60, 48\)"):
        generator(torch.randn(1, IN, 60, 48))
    with pytest.raises(ValueError, match=r"expects \[B, 7, H, W\], got \(1, 3, 64, 48\)"):
        generator(torch.randn(1, 3, 64, 48))
    with pytest.raises(ValueError, match="unknown head 'rgb'"):
        ResNetGenerator(IN, OUT, head="rgb")
    with pytest.raises(ValueError, match="needs out_channels >= 2"):
        ResNetGenerator(IN, 1, head="image_mask")


def test_tiny_generator_overfits_one_batch() -> None:
    torch.manual_seed(0)
    generator = ResNetGenerator(IN, OUT, base_width=4, head="image_mask")
    x = torch.randn(2, IN, 64, 48)
    target_image = torch.full((2, 3, 64, 48), -0.5)  # a bright box on a dark background, its mask the box
    target_image[..., 16:48, 8:40] = 0.6
    target_mask = torch.zeros(2, 1, 64, 48)
    target_mask[..., 16:48, 8:40] = 1.0
    optimizer = torch.optim.Adam(generator.parameters(), lr=5e-3)
    losses = []
    for _ in range(40):
        out = generator(x)
        loss = F.l1_loss(out.image, target_image) + F.l1_loss(out.mask, target_mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.4 * losses[0], losses


@pytest.mark.parametrize("n_down", [2, 3])
def test_size_multiple_is_the_size_the_forward_pass_takes(n_down) -> None:
    net = ResNetGenerator(3, 1, base_width=2, n_down=n_down, n_blocks=1, head="plain")
    multiple = ResNetGenerator.size_multiple({"n_down": n_down})
    assert multiple == 2**n_down
    assert net(torch.rand(1, 3, 3 * multiple, 2 * multiple)).shape[-2:] == (3 * multiple, 2 * multiple)
    with pytest.raises(ValueError, match=f"divisible by {multiple}"):
        net(torch.rand(1, 3, 3 * multiple + multiple // 2, 2 * multiple))
