"""The kornia TPS warp (``models/tps.py``): rest is identity, points land where asked, agreement with ``warp``."""

import pytest
import torch

from contract.flow import warp
from models.tps import normalized_to_pixels, pixels_to_normalized, regular_grid, tps_flow, tps_warp


def test_control_points_at_rest_give_the_identity() -> None:
    image = torch.rand(2, 3, 20, 16)
    grid = regular_grid(5).expand(2, -1, -1)
    torch.testing.assert_close(tps_warp(image, grid, grid), image, atol=1e-4, rtol=0)
    torch.testing.assert_close(tps_flow(grid, grid, (20, 16)), torch.zeros(2, 2, 20, 16), atol=1e-4, rtol=0)


def test_regular_grid_spans_the_corners_x_fastest() -> None:
    grid = regular_grid(3)[0]
    assert grid.shape == (9, 2)
    torch.testing.assert_close(grid[0], torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(grid[1], torch.tensor([0.0, -1.0]))  # x varies first
    torch.testing.assert_close(grid[-1], torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="grid_size must be at least 2"):
        regular_grid(1)


def test_pixel_normalisation_round_trip_uses_corner_alignment() -> None:
    size = (11, 21)  # H, W
    pixels = torch.tensor([[[0.0, 0.0], [20.0, 10.0], [10.0, 5.0]]])
    normalized = pixels_to_normalized(pixels, size)
    torch.testing.assert_close(normalized, torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]]))
    torch.testing.assert_close(normalized_to_pixels(normalized, size), pixels)


def test_moving_one_control_point_lands_its_content_where_asked() -> None:
    """A bright dot at pixel (6, 8) (x, y) is moved to (10, 12) by displacing the matching control point: checks
    that kornia's argument order is handled (the reversed order lands it at (4, 5) instead)."""
    height, width = 21, 17
    size = (height, width)
    image = torch.zeros(1, 1, height, width)
    image[0, 0, 8, 6] = 1.0
    corners = pixels_to_normalized(torch.tensor([[[0.0, 0.0], [16.0, 0.0], [0.0, 20.0], [16.0, 20.0]]]), size)
    source = torch.cat([corners, pixels_to_normalized(torch.tensor([[[6.0, 8.0]]]), size)], dim=1)
    target = torch.cat([corners, pixels_to_normalized(torch.tensor([[[10.0, 12.0]]]), size)], dim=1)
    out = tps_warp(image, source, target)
    peak = out[0, 0].flatten().argmax()
    assert (int(peak % width), int(peak // width)) == (10, 12)
    assert out[0, 0, 12, 10] > 0.99
    # The dense flow at the target pixel points back to the source pixel.
    flow = tps_flow(source, target, size)
    torch.testing.assert_close(flow[0, :, 12, 10], torch.tensor([-4.0, -4.0]), atol=1e-3, rtol=0)


def test_dense_flow_reproduces_the_kornia_warp_through_the_project_warp() -> None:
    torch.manual_seed(0)
    image = torch.rand(2, 3, 24, 18)
    grid = regular_grid(4).expand(2, -1, -1)
    source = grid + 0.1 * torch.randn(2, 16, 2)
    flow = tps_flow(source, grid, (24, 18))
    torch.testing.assert_close(warp(image, flow), tps_warp(image, source, grid), atol=1e-4, rtol=0)


def test_bad_point_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"must both be \[B, N, 2\], got \(1, 4, 2\) and \(1, 5, 2\)"):
        tps_warp(torch.zeros(1, 1, 8, 8), torch.zeros(1, 4, 2), torch.zeros(1, 5, 2))
    grid = regular_grid(2).expand(2, -1, -1)
    with pytest.raises(ValueError, match="image batch 1 != points batch 2"):
        tps_warp(torch.zeros(1, 1, 8, 8), grid, grid)
