"""Whole synthetic datasets on disk (``datamodules/synthetic/dataset.py``): determinism, readers, check."""

from __future__ import annotations

import hashlib
import platform
import resource
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from contract.flow import warp
from datamodules.check import check_dataset
from datamodules.fashion_datamodule import FashionDataModule
from datamodules.synthetic.dataset import SynthConfig, keep_freed_memory, synthesize


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _config(out: Path, layout: str = "mpv", **overrides) -> SynthConfig:
    settings = {"height": 64, "width": 48, "n_train": 4, "n_test": 2, "seed": 3, "n_seq": 1, "seq_len": 3} | overrides
    return SynthConfig(out=str(out), layout=layout, **settings)


@pytest.mark.parametrize("layout", ["mpv", "deepfashion"])
def test_same_seed_gives_byte_identical_files_for_any_worker_count(tmp_path: Path, layout: str) -> None:
    synthesize(_config(tmp_path / "a", layout))
    synthesize(_config(tmp_path / "b", layout, workers=2))
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert len(a) > 20 and a == b
    synthesize(_config(tmp_path / "c", layout, seed=4))
    assert _digest(tmp_path / "c") != a


def test_a_sample_does_not_depend_on_how_many_are_made(tmp_path: Path) -> None:
    synthesize(_config(tmp_path / "few", n_train=2, n_test=0, n_seq=0))
    synthesize(_config(tmp_path / "more", n_train=4, n_test=0, n_seq=0))
    few, more = _digest(tmp_path / "few"), _digest(tmp_path / "more")
    shared = {k: v for k, v in few.items() if k.startswith(("images", "synthetic_gt/SYN"))}
    assert shared and all(more[k] == v for k, v in shared.items())


def test_refuses_to_mix_with_a_previous_set_unless_overwriting(tmp_path: Path) -> None:
    synthesize(_config(tmp_path, n_train=3))
    with pytest.raises(FileExistsError, match="not empty"):
        synthesize(_config(tmp_path, n_train=1))
    (tmp_path / "notes.txt").write_text("kept")
    synthesize(_config(tmp_path, n_train=1, n_test=0, n_seq=0), overwrite=True)
    assert len(list((tmp_path / "images").iterdir())) == 2  # the 3-sample set is gone
    assert not (tmp_path / "sequences").exists()
    assert (tmp_path / "notes.txt").read_text() == "kept"  # files the generator does not own are left alone


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="multiples of 8"):
        SynthConfig(out="x", height=60)
    with pytest.raises(ValueError, match="layout must be one of"):
        SynthConfig(out="x", layout="viton")
    with pytest.raises(ValueError, match="cross_garment_fraction"):
        SynthConfig(out="x", cross_garment_fraction=1.5)


@pytest.mark.parametrize(("layout", "size"), [("mpv", (64, 48)), ("deepfashion", (64, 40))])
def test_check_passes_and_the_datamodule_attaches_ground_truth(
    tmp_path: Path, layout: str, size: tuple[int, int]
) -> None:
    synthesize(_config(tmp_path, layout, height=size[0], width=size[1], cross_garment_fraction=0.0))
    assert check_dataset(tmp_path, layout) == []
    data = FashionDataModule(
        dataset=layout, root=str(tmp_path), image_size=size, batch_size=4, num_workers=0, shuffle=False
    )
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["flow_gt"].shape == (4, 2, *size) and batch["vis_gt"].shape == (4, *size)
    assert set(batch["vis_gt"].unique().tolist()) <= {0, 1, 2} and (batch["vis_gt"] == 1).any()
    # The ground truth survives the reader: the source warped by flow_gt matches the target where visible.
    warped = warp((batch["src_img"] + 1) / 2, batch["flow_gt"])
    error = (warped - (batch["tgt_img"] + 1) / 2).abs().mean(1)
    per_image = np.zeros((3, 3, 3), bool)
    per_image[1] = ndimage.generate_binary_structure(2, 1)  # erode within each image only
    inner = torch.from_numpy(ndimage.binary_erosion((batch["vis_gt"] == 1).numpy(), per_image, iterations=2))
    assert inner.sum() > 100 and error[inner].mean() < 0.05  # 64 px images: coarse, so a looser bound


def test_vton_data_cli_check_passes_on_generated_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datamodules.cli import main

    root = tmp_path / "mpv"
    assert main(["synth", "--out", str(root), "--size", "64x48", "--n-train", "2", "--n-test", "1"]) == 0
    assert main(["check", "--root", str(root), "--format", "mpv"]) == 0
    assert "no problems" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_image_buffers_are_reused_without_page_faults() -> None:
    keep_freed_memory()
    np.ones(1 << 20, np.float32).sum()  # 4 MB: mapped anew and unmapped again under the default thresholds
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        np.ones(1 << 20, np.float32).sum()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 100  # 0 here; 500 with the defaults
