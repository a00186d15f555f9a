"""Shared loading helpers of ``readers/base.py``: the synthetic ground-truth check and the [-1, 1] image scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.contract import DatasetFormatError
from datamodules.readers.base import read_ground_truth, to_signed_unit


def write_npz(path: Path, vis: np.ndarray) -> Path:
    np.savez(path, flow=np.zeros((2, *vis.shape), dtype=np.float64), vis=vis)
    return path


def test_ground_truth_lists_every_bad_vis_value_once_sorted(tmp_path: Path):
    vis = np.array([[0, 1, 2, 7], [1.5, 7, -1, 2]])
    with pytest.raises(DatasetFormatError, match=r"vis values \[-1.0, 1.5, 7.0\] outside 0 \(background\)"):
        read_ground_truth(write_npz(tmp_path / "bad.npz", vis))


def test_ground_truth_converts_dtypes(tmp_path: Path):
    flow, vis = read_ground_truth(write_npz(tmp_path / "good.npz", np.array([[0, 1], [2, 0]], dtype=np.uint8)))
    assert flow.dtype == torch.float32 and vis.dtype == torch.long
    assert vis.tolist() == [[0, 1], [2, 0]]


def test_signed_unit_maps_the_uint8_range_and_leaves_its_input_alone():
    image = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.equal(to_signed_unit(image), image.float() / 127.5 - 1.0)
    assert to_signed_unit(image)[[0, 2]].tolist() == [-1.0, 1.0]
    floats = torch.tensor([0.0, 255.0])
    to_signed_unit(floats)
    assert floats.tolist() == [0.0, 255.0]  # a float input is copied, not scaled in place
