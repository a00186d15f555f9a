"""Colour codings and grids for logging (``datamodules/visualize.py``)."""

from __future__ import annotations

import math

import pytest
import torch

from contract.sample import LIP_PALETTE
from datamodules.visualize import VIS_PALETTE, flow_to_color, make_grid, parse_to_color, pose_to_image, vis_to_color


def _middlebury(u: float, v: float) -> torch.Tensor:
    """The reference colour of a unit vector (Baker et al.; flow_vis's ``flow_uv_to_colors``), computed here."""
    segments = [(15, (1, 0, 0), 1, 1), (6, (1, 1, 0), 0, -1), (4, (0, 1, 0), 2, 1), (11, (0, 1, 1), 1, -1),
                (13, (0, 0, 1), 0, 1), (6, (1, 0, 1), 2, -1)]  # fmt: skip
    wheel = []
    for n, start, channel, sign in segments:
        for i in range(n):
            colour = list(map(float, start))
            colour[channel] = i / n if sign > 0 else 1 - i / n
            wheel.append(colour)
    fk = (math.atan2(-v, -u) / math.pi + 1) / 2 * (len(wheel) - 1)
    k0 = int(fk)
    f = fk - k0
    return (1 - f) * torch.tensor(wheel[k0]) + f * torch.tensor(wheel[(k0 + 1) % len(wheel)])


def test_parse_colours_are_the_lip_palette() -> None:
    parse = torch.tensor([[[0, 5], [13, 19]]])
    colours = parse_to_color(parse)
    assert colours.shape == (1, 3, 2, 2)
    for (y, x), label in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 5, 13, 19], strict=True):
        torch.testing.assert_close(colours[0, :, y, x], torch.tensor(LIP_PALETTE[label]) / 255.0)


def test_out_of_range_labels_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.19, got 0\.\.20"):
        parse_to_color(torch.tensor([[[0, 20]]]))
    with pytest.raises(ValueError, match=r"expects labels \[B, H, W\]"):
        vis_to_color(torch.zeros(2, 2))


def test_vis_colours() -> None:
    colours = vis_to_color(torch.tensor([[[0, 1, 2]]]))
    torch.testing.assert_close(colours[0, :, 0].T, torch.tensor(VIS_PALETTE, dtype=torch.float32) / 255)


@pytest.mark.parametrize(("u", "v"), [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0), (0.6, -0.8), (-0.28, 0.96)])
def test_flow_colours_follow_the_middlebury_wheel(u: float, v: float) -> None:
    flow = torch.tensor([u, v]).view(1, 2, 1, 1).repeat(1, 1, 1, 2)
    flow[..., 1] *= 0.5  # half the magnitude: half the saturation
    colours = flow_to_color(flow, max_norm=1.0)
    reference = _middlebury(u, v)
    torch.testing.assert_close(colours[0, :, 0, 0], reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(colours[0, :, 0, 1], 1 - 0.5 * (1 - reference), atol=1e-5, rtol=0)


def test_flow_colour_known_directions_and_overflow() -> None:
    flow = torch.tensor([[[[0.0, 3.0, 6.0]], [[0.0, 0.0, 0.0]]]])
    colours = flow_to_color(flow, max_norm=3.0)
    torch.testing.assert_close(colours[0, :, 0, 0], torch.ones(3))  # no motion: white
    torch.testing.assert_close(colours[0, :, 0, 1], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5, rtol=0)  # right: red
    torch.testing.assert_close(colours[0, :, 0, 2], 0.75 * colours[0, :, 0, 1])  # beyond max_norm: darker
    auto = flow_to_color(flow * 10)  # own maximum: the longest vector is fully saturated
    torch.testing.assert_close(auto[0, :, 0, 2], colours[0, :, 0, 1])
    with pytest.raises(ValueError, match="flow \\[B, 2, H, W\\]"):
        flow_to_color(torch.zeros(1, 3, 2, 2))


def test_make_grid_places_images_with_padding() -> None:
    red = torch.zeros(3, 4, 5)
    red[0] = 1
    grey = torch.full((1, 4, 5), 0.5)
    grid = make_grid([[red, grey], [grey]], padding=1, pad_value=0.0)
    assert grid.shape == (3, 1 + 2 * 5, 1 + 2 * 6)
    torch.testing.assert_close(grid[:, 1:5, 1:6], red)
    torch.testing.assert_close(grid[:, 1:5, 7:12], torch.full((3, 4, 5), 0.5))
    torch.testing.assert_close(grid[:, 6:10, 7:12], torch.zeros(3, 4, 5))  # missing cell keeps the pad value
    assert grid[:, 0].abs().sum() == 0 and grid[:, :, 6].abs().sum() == 0
    with pytest.raises(ValueError, match=r"image \(0, 1\) has shape \(3, 4, 4\)"):
        make_grid([[red, torch.zeros(3, 4, 4)]])


def test_pose_image_is_the_brightest_joint_per_pixel_in_grey() -> None:
    pose = torch.zeros(2, 18, 4, 3)
    pose[0, 3, 1, 2], pose[0, 7, 1, 2], pose[1, 17, 0, 0] = 0.4, 0.9, 1.0
    image = pose_to_image(pose)
    assert image.shape == (2, 3, 4, 3)
    assert torch.equal(image[:, 0], image[:, 2])  # grey
    assert image[0, :, 1, 2].tolist() == pytest.approx([0.9] * 3) and image[1, 1, 0, 0] == 1.0
    assert image.sum() == pytest.approx(3 * (0.9 + 1.0))  # nothing else lights up
