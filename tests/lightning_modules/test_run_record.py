"""``RunRecord`` (``lightning_modules/run_record.py``): a CLI fit records what comparing runs needs."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from datamodules.fashion_datamodule import FashionDataModule
from lightning_modules.cli import git_revision


def test_a_fit_records_seed_device_data_steps_images_and_time(stage1_run: Path) -> None:
    """Through the CLI: run.json and hparams.yaml hold the same record, the counts agree with the smoke trainer's
    steps and the batch of 2, and the checkpoint keeps them."""
    log_dir = stage1_run / "outputs/stage1_layout/version_0"
    record = json.loads((log_dir / "run.json").read_text())
    assert yaml.safe_load((log_dir / "hparams.yaml").read_text())["run"] == record
    config = yaml.safe_load((log_dir / "hparams.yaml").read_text())["config"]
    data = FashionDataModule(dataset="mpv", root=config["data"]["init_args"]["root"], image_size=(64, 48))
    assert record["status"] == "finished" and record["seed"] == 0 and record["processes"] == 1
    assert record["device"].startswith("cpu (") and record["git_revision"] == git_revision()
    assert record["data_fingerprint"] == data.fingerprint("train")
    assert record["optimizer_steps"] == 4  # max_steps of configs/trainer/smoke.yaml
    assert record["images_seen"] == 2 * record["training_batches"] > 0
    assert 0 < record["wall_time_s"] < 600
    state = torch.load(stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt", weights_only=False)["callbacks"]
    saved = state["RunRecord"]
    assert (saved["batches"], saved["images"]) == (record["training_batches"], record["images_seen"])
