"""Invariants of the one dense-warping function (``contract/flow.py``)."""

import pytest
import torch
import torch.nn.functional as F

from contract.flow import resize_flow, warp


def test_zero_flow_is_identity() -> None:
    image = torch.rand(2, 3, 16, 12)
    out = warp(image, torch.zeros(2, 2, 16, 12))
    torch.testing.assert_close(out, image, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("dx", "dy"), [(3, 0), (0, -2), (2, 5)])
def test_integer_shift_moves_pixels_exactly(dx: int, dy: int) -> None:
    image = torch.rand(1, 3, 16, 12)
    flow = torch.zeros(1, 2, 16, 12)
    flow[:, 0], flow[:, 1] = dx, dy
    out = warp(image, flow)
    # out(y, x) = image(y + dy, x + dx) wherever that lies inside the image; zeros outside.
    ys = slice(max(0, -dy), 16 - max(0, dy))
    xs = slice(max(0, -dx), 12 - max(0, dx))
    src = image[..., ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx]
    torch.testing.assert_close(out[..., ys, xs], src, atol=1e-5, rtol=0)
    outside = torch.ones(16, 12, dtype=torch.bool)
    outside[ys, xs] = False
    assert out[..., outside].abs().max() < 1e-5


def test_half_pixel_shift_averages_neighbours() -> None:
    image = torch.arange(12.0).view(1, 1, 1, 12).expand(1, 1, 4, 12).contiguous()
    flow = torch.zeros(1, 2, 4, 12)
    flow[:, 0] = 0.5
    out = warp(image, flow)
    torch.testing.assert_close(out[..., :-1], image[..., :-1] + 0.5, atol=1e-5, rtol=0)


def test_gradients_reach_image_and_flow() -> None:
    image = torch.rand(1, 3, 8, 8, requires_grad=True)
    flow = (torch.rand(1, 2, 8, 8) - 0.5).requires_grad_(True)
    warp(image, flow).square().sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert flow.grad is not None and flow.grad.abs().sum() > 0


def test_bf16_flow_keeps_subpixel_accuracy() -> None:
    # The sampling grid is built in float32: a bf16 flow at 256 px must not move samples by grid rounding
    # (a normalised bf16 grid has a step of 1/128, i.e. up to half a pixel here).
    image = torch.arange(256.0).view(1, 1, 1, 256).expand(1, 1, 2, 256).contiguous()
    flow = torch.zeros(1, 2, 2, 256, dtype=torch.bfloat16)
    flow[:, 0] = 0.25
    out = warp(image, flow)
    torch.testing.assert_close(out[..., :-1], image[..., :-1] + 0.25, atol=1e-3, rtol=0)
    assert warp(image.to(torch.bfloat16), flow).dtype == torch.bfloat16


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(ValueError, match="differ in batch or size"):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 6))
    with pytest.raises(ValueError, match=r"flow \[B,2,H,W\]"):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_resize_flow_rescales_offsets() -> None:
    # A constant flow scales by the size ratio (half-pixel convention: W / w, not (W - 1) / (w - 1)).
    flow = torch.zeros(1, 2, 8, 6)
    flow[:, 0], flow[:, 1] = 3.0, -2.0
    big = resize_flow(flow, (16, 12))
    torch.testing.assert_close(big[:, 0], torch.full((1, 16, 12), 6.0))
    torch.testing.assert_close(big[:, 1], torch.full((1, 16, 12), -4.0))


def test_resize_flow_matches_flow_of_resized_images() -> None:
    # An image shifted by 4 px at 32x24 is shifted by 2 px once both images are average-pooled to 16x12:
    # the resized flow must warp the small source onto the small target exactly (away from the border).
    source = torch.rand(1, 3, 32, 24)
    flow = torch.zeros(1, 2, 32, 24)
    flow[:, 0] = 4.0
    target = warp(source, flow)
    small_source, small_target = F.avg_pool2d(source, 2), F.avg_pool2d(target, 2)
    small_flow = resize_flow(flow, (16, 12))
    torch.testing.assert_close(warp(small_source, small_flow)[..., :-2], small_target[..., :-2], atol=1e-5, rtol=0)
