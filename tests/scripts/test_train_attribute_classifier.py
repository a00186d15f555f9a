"""``scripts/train_attribute_classifier.py``: trains on a tiny synthetic set (its loss falls), writes a classifier
file that the metrics load, and refuses a set without attribute files in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from datamodules.synthetic.attributes import ATTRIBUTE_NAMES
from datamodules.synthetic.dataset import SynthConfig, synthesize
from metrics.attributes import ATTRIBUTE_CLASSIFIER_FILE, attribute_classifier_or_reason
from scripts.train_attribute_classifier import main


def test_trains_and_writes_a_classifier_the_metrics_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "synthetic"
    synthesize(SynthConfig(out=str(root), height=64, width=48, n_train=16, n_test=4, seed=2))
    out = tmp_path / "weights" / ATTRIBUTE_CLASSIFIER_FILE
    args = ["--root", str(root), "--out", str(out), "--epochs", "6", "--batch-size", "8", "--input-size", "32x24"]
    assert main([*args, "--width", "4"]) == 0  # the script's own learning rate
    report = json.loads(capsys.readouterr().out)
    assert report["train_images"] == 32 and report["test_images"] == 8
    losses = report["epoch_losses"]
    assert losses[-1] < 0.8 * losses[0]
    assert all(0.0 <= value <= 1.0 for value in report["test"].values())
    recogniser, status = attribute_classifier_or_reason(out.parent)
    assert status == f"classifier:{out}" and recogniser.attribute_names == list(ATTRIBUTE_NAMES)
    assert recogniser(torch.zeros(2, 3, 64, 48)).shape == (2, len(ATTRIBUTE_NAMES))


def test_a_set_without_attribute_files_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "old"
    synthesize(SynthConfig(out=str(root), height=64, width=48, n_train=1, n_test=1, seed=2))
    for path in (root / "synthetic_gt").glob("*.json"):
        if "__" in path.name:
            path.unlink()  # as a set written before the attribute files
    assert main(["--root", str(root), "--out", str(tmp_path / "c.pt2")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no garment attribute files" in error[0] and "--overwrite" in error[0]
