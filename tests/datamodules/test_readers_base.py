"""Shared loading helpers of ``readers/base.py``: the synthetic ground-truth check and the [-1, 1] image scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from contract.errors import DatasetFormatError
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


def test_ground_truth_expands_the_compact_foreground_flow(tmp_path: Path):
    vis = np.array([[0, 1, 2], [2, 0, 1]], dtype=np.uint8)
    values = np.array([[1.5, -2.0, 3.0, 4.25], [0.5, 6.0, -7.0, 8.0]], dtype=np.float32)  # row-major over vis > 0
    np.savez(tmp_path / "compact.npz", flow_foreground=values, vis=vis)
    flow, _ = read_ground_truth(tmp_path / "compact.npz")
    assert flow.tolist() == [[[0.0, 1.5, -2.0], [3.0, 0.0, 4.25]], [[0.0, 0.5, 6.0], [-7.0, 0.0, 8.0]]]
    np.savez(tmp_path / "short.npz", flow_foreground=values[:, :3], vis=vis)
    with pytest.raises(DatasetFormatError, match=r"short.npz: flow_foreground must be \[2, N\] with N = 4"):
        read_ground_truth(tmp_path / "short.npz")
    np.savez(tmp_path / "both.npz", flow=np.zeros((2, 2, 3)), flow_foreground=values, vis=vis)
    with pytest.raises(DatasetFormatError, match="both.npz: expected arrays 'vis' and one of 'flow' or"):
        read_ground_truth(tmp_path / "both.npz")


def test_a_synthetic_sample_carries_its_targets_garment_attributes_and_an_old_set_none(tmp_path: Path):
    """``tgt_attributes`` (AttrRec-k's labels) is the target's multi-hot from the triplet's attribute file."""
    from datamodules.fashion_datamodule import FashionDataModule
    from datamodules.synthetic.attributes import attributes_path, read_attributes
    from datamodules.synthetic.dataset import SynthConfig, synthesize

    synthesize(SynthConfig(out=str(tmp_path), layout="mpv", height=64, width=48, n_train=3, n_test=1, seed=2))
    data = FashionDataModule(dataset="mpv", root=str(tmp_path), image_size=(64, 48), num_workers=0)
    data.setup("test")
    files = sorted((tmp_path / "synthetic_gt").glob("*__*.json"))
    wanted = {tuple(read_attributes(f)["target"].multi_hot()) for f in files}
    sample = data.test_set[0]
    assert tuple(sample["tgt_attributes"].tolist()) in wanted and sample["tgt_attributes"].sum() == 2
    for path in files:  # a set written before the attribute files: no key, not an error
        path.unlink()
    data.setup("test")
    assert "tgt_attributes" not in data.test_set[0]
    assert attributes_path(tmp_path / "a.npz").name == "a.json"


def test_ground_truth_vis_in_another_dtype(tmp_path: Path):
    _, vis = read_ground_truth(write_npz(tmp_path / "good.npz", np.array([[0, 1], [2, 0]])), torch.uint8)
    assert vis.dtype == torch.uint8 and vis.tolist() == [[0, 1], [2, 0]]
