"""The shared U-Net pieces of seed 004 (``models/unet.py``): widths, sizes through odd resolutions, skip use."""

import torch

from models.unet import PixelShuffleUp, UNetDecoder, UNetEncoder, level_widths


def test_level_widths_rise_linearly_from_32_to_128_over_seven_levels() -> None:
    assert level_widths(32, 128, 7) == [32, 48, 64, 80, 96, 112, 128]
    assert level_widths(8, 8, 1) == [8]


def test_pixel_shuffle_up_doubles_the_size() -> None:
    assert PixelShuffleUp(8, 4, "batch")(torch.randn(2, 8, 5, 3)).shape == (2, 4, 10, 6)


def test_encoder_halves_each_level_and_decoder_restores_odd_sizes() -> None:
    # 176 -> 88 -> 44 -> 22 -> 11 -> 6: the last level does not halve evenly; the decoder must still meet each skip.
    widths = level_widths(4, 12, 6)
    features = UNetEncoder(3, widths).eval()(torch.randn(1, 3, 64, 176))
    assert [tuple(f.shape[-2:]) for f in features] == [(64, 176), (32, 88), (16, 44), (8, 22), (4, 11), (2, 6)]
    assert [f.shape[1] for f in features] == widths
    out = UNetDecoder(widths, widths, 5).eval()(features)
    assert out.shape == (1, 5, 64, 176)


def test_decoder_uses_the_skip_connections() -> None:
    torch.manual_seed(0)
    widths = [4, 6, 8]
    decoder = UNetDecoder(widths, widths, 2).eval()
    skips = [torch.randn(1, w, 16 // 2**k, 12 // 2**k) for k, w in enumerate(widths)]
    changed = [s.clone() for s in skips]
    changed[0][..., 0, 0] += 5.0  # only the finest skip, at one pixel
    difference = (decoder(changed) - decoder(skips)).abs()[0].sum(0)
    assert difference[0, 0] > 0 and difference[8:, 6:].sum() == 0  # a local change stays local through the skip
