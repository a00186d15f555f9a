"""Exact resume (``--ckpt_path last``): global step, optimizer state and the data position inside an epoch.

A tiny stage-1 ClothFlow fit (8 training samples, batch 2: 4 batches an epoch) stopped after step 2 and resumed to
step 6 must log the same per-step losses as the uninterrupted run: steps 3-4 finish the interrupted epoch from its
third batch (``FashionDataModule.state_dict``), steps 5-6 start the next epoch at its first batch. The same holds
when the stop falls on the epoch's last batch.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
import torch

from datamodules.fashion_datamodule import EpochIndexSampler
from lightning_modules.cli import run_cli as vton

REPO = Path(__file__).resolve().parents[2]
STEPS = 6


def fit(folder: Path, args: list[str], max_steps: int, *extra: str) -> dict[int, float]:
    """Run ``vton fit`` in ``folder``; returns the per-step ``train/g/total`` of the run's CSV log."""
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        vton(["fit", "-c", str(REPO / "configs/stage1_layout.yaml"), *args, "--trainer.max_steps", str(max_steps),
              *extra])  # fmt: skip
    logs = sorted(folder.glob("outputs/**/metrics.csv"))
    rows = csv.DictReader(logs[-1].open())
    return {int(row["step"]): float(row["train/g/total"]) for row in rows if row.get("train/g/total")}


@pytest.fixture(scope="module")
def clothflow_args(stage1_args, tiny_synthetic_roots) -> list[str]:
    return [
        *stage1_args(tiny_synthetic_roots["mpv"]),
        *("--model.init_args.variant", "clothflow"),
        *("--trainer.limit_train_batches", "1.0", "--trainer.limit_val_batches", "0"),
        *("--trainer.callbacks.init_args.monitor", "null"),
        *("--trainer.callbacks.init_args.every_n_train_steps", "1"),
    ]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, clothflow_args) -> dict[int, float]:
    """The per-step losses of the uninterrupted run."""
    return fit(tmp_path_factory.mktemp("straight"), clothflow_args, STEPS)


@pytest.mark.parametrize(("stop", "position"), [(2, {"epoch": 0, "batches": 2}), (4, {"epoch": 1, "batches": 0})])
def test_kill_and_resume_gives_the_losses_of_an_uninterrupted_run(
    tmp_path, clothflow_args, straight, stop, position
) -> None:
    """Stopped mid-epoch (step 2) or at the epoch's last batch (step 4), then resumed to step 6."""
    interrupted = fit(tmp_path / "resumed", clothflow_args, stop)
    last = tmp_path / "resumed/outputs/stage1_layout/checkpoints/last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["global_step"] == stop and state["FashionDataModule"] == position
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = fit(tmp_path / "resumed", clothflow_args, STEPS, "--ckpt_path", "last")
    assert not [w for w in caught if "not resumable" in str(w.message)]
    assert sorted(straight) == list(range(STEPS))  # CSV steps are 0-based: step k logs optimizer step k + 1
    assert sorted(interrupted) == list(range(stop)) and sorted(resumed) == list(range(stop, STEPS))
    torch.testing.assert_close(
        torch.tensor([interrupted[step] for step in range(stop)] + [resumed[step] for step in range(stop, STEPS)]),
        torch.tensor([straight[step] for step in range(STEPS)]),
        rtol=1e-6,
        atol=1e-7,
    )
    final = torch.load(last, map_location="cpu", weights_only=False)
    assert final["global_step"] == STEPS and final["FashionDataModule"] == {"epoch": 1, "batches": 2}


def test_sampler_resume_skips_the_consumed_samples_of_that_epoch_only() -> None:
    data = list(range(10))
    reference = EpochIndexSampler(data, num_replicas=2, rank=1, shuffle=True, seed=5)
    reference.set_epoch(3)
    full = list(reference)  # this rank's 5 keys of epoch 3
    sampler = EpochIndexSampler(data, num_replicas=2, rank=1, shuffle=True, seed=5)
    sampler.resume_at(3, 2)
    assert len(sampler) == 5  # the whole share: Lightning counts the resumed batches itself
    assert list(sampler) == full[2:]
    assert list(sampler) == full  # one-shot: the next pass of the same epoch starts at 0
    sampler.set_epoch(4)
    reference.set_epoch(4)
    assert list(sampler) == list(reference)
    with pytest.raises(ValueError, match="skip must be >= 0"):
        sampler.resume_at(0, -1)
