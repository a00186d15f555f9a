"""Ctrl-C / SIGTERM during ``vton fit`` (``lightning_modules/interrupt.py``): one line saying where the run stopped,
``last.ckpt`` written at that step, and ``--ckpt_path last`` continuing the same run.

The signal is sent to this process from inside training step 3 (a tiny stage-1 ClothFlow fit, as in
``test_resume.py``): SIGINT raises ``KeyboardInterrupt`` there, as Ctrl-C in a terminal does; SIGTERM is noted by
Lightning's handler and stops the loop at the next batch boundary.
"""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import pytest
import torch

from lightning_modules import cli
from lightning_modules.layout import LayoutModule

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clothflow_args(stage1_args, tiny_synthetic_roots) -> list[str]:
    return [
        "fit", "-c", str(REPO / "configs/stage1_layout.yaml"), *stage1_args(tiny_synthetic_roots["mpv"]),
        *("--model.init_args.variant", "clothflow", "--trainer.max_steps", "6"),
        *("--trainer.limit_train_batches", "1.0", "--trainer.limit_val_batches", "0"),
        *("--trainer.callbacks.init_args.monitor", "null"),
    ]  # fmt: skip


def losses(folder: Path) -> dict[int, float]:
    rows = csv.DictReader(sorted(folder.glob("outputs/**/metrics.csv"))[-1].open())
    return {int(row["step"]): float(row["train/g/total"]) for row in rows if row.get("train/g/total")}


def signal_at_step(monkeypatch: pytest.MonkeyPatch, signum: int, step: int) -> None:
    """Send ``signum`` to this process at the start of the ``step``-th training step (1-based)."""
    original = LayoutModule.training_step
    calls = []

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN202 (Lightning's signature)
        calls.append(batch_idx)
        if len(calls) == step:
            os.kill(os.getpid(), signum)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(LayoutModule, "training_step", training_step)


@pytest.fixture
def restore_sigint():
    """Ctrl-C raises ``KeyboardInterrupt`` during the test even where the test process was started with SIGINT ignored
    (a job put in the background by a shell without job control), and the process's handler comes back after it
    (Lightning ignores SIGINT after a graceful Ctrl-C shutdown)."""
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, handler)


@pytest.mark.parametrize(("signum", "code", "saved_step"), [(signal.SIGINT, 1, 2), (signal.SIGTERM, 143, 3)])
def test_an_interrupted_fit_saves_last_and_resumes_where_it_stopped(
    tmp_path, monkeypatch, capsys, clothflow_args, restore_sigint, signum, code, saved_step
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        signal_at_step(patch, signum, 3)
        with pytest.raises(SystemExit) as stop:
            cli.main(list(clothflow_args))
    assert stop.value.code == code
    last = tmp_path / "outputs/stage1_layout/checkpoints/last.ckpt"
    err = capsys.readouterr().err
    assert f"vton: interrupted at step {saved_step}; saved {last}; resume with --ckpt_path last" in err
    assert "Traceback" not in err
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == saved_step
    cli.main([*clothflow_args, "--ckpt_path", "last"])
    resumed = losses(tmp_path)
    assert sorted(resumed) == list(range(saved_step, 6))  # CSV steps are 0-based: steps saved_step + 1 .. 6
    (tmp_path / "straight").mkdir()
    monkeypatch.chdir(tmp_path / "straight")
    straight = losses(tmp_path / "straight") if cli.main(list(clothflow_args)) is None else {}
    torch.testing.assert_close(  # the interrupted run continues as if it had not stopped
        torch.tensor([resumed[step] for step in sorted(resumed)]),
        torch.tensor([straight[step] for step in sorted(resumed)]),
        rtol=1e-6,
        atol=1e-7,
    )
