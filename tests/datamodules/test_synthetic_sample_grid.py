"""The README's sample picture (``datamodules/synthetic/sample_grid.py``)."""

from __future__ import annotations

import numpy as np
import torch

from datamodules.synthetic.generate import generate_triplet, sample_rng
from datamodules.synthetic.sample_grid import COLUMNS, HEADER_HEIGHT, PADDING, sample_grid, triplet_row


def test_row_columns_show_the_triplet() -> None:
    triplet = generate_triplet(sample_rng(0, "train", 1), 128, 96, 0.0)
    row = triplet_row(triplet)
    assert len(row) == len(COLUMNS) and all(image.shape == (3, 128, 96) for image in row)
    torch.testing.assert_close(row[1], torch.from_numpy(triplet.target.image).float() / 255)
    background = torch.from_numpy(triplet.vis == 0)
    torch.testing.assert_close(row[5][:, background], torch.ones(3, int(background.sum())))  # no flow: white
    visible = torch.from_numpy(triplet.vis == 1)
    assert (row[7][:, ~visible] == 0).all()  # the warped source is shown only where visible
    assert (row[7][:, visible] - row[1][:, visible]).abs().mean() < 0.05


def test_grid_picture_size() -> None:
    picture = sample_grid(2, 64, 48, seed=0)
    assert picture.mode == "RGB"
    assert picture.size == (PADDING + len(COLUMNS) * (48 + PADDING), HEADER_HEIGHT + PADDING + 2 * (64 + PADDING))
    header = np.asarray(picture)[:HEADER_HEIGHT]
    assert header.min() < 100 and np.median(header) == 255  # dark column titles on white
