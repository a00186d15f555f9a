"""The CPU notice: once at the start of a CPU fit, with the parameters and, at paper widths, the preset to use."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer

from lightning_modules.cli import run_cli
from lightning_modules.cpu_notice import PAPER_WIDTH_PARAMETERS, cpu_notice

REPO = Path(__file__).resolve().parents[2]


class Data:
    image_size, hparams = (128, 96), {"batch_size": 4}


def module_with(parameters: int) -> LightningModule:
    module = LightningModule()
    module.weight = torch.nn.Parameter(torch.zeros(parameters))
    return module


def test_a_cpu_trainer_gets_one_line_and_paper_widths_the_preset():
    trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    small = cpu_notice(trainer, module_with(1_500_000), Data())
    assert small.startswith("vton: training on the CPU (")
    assert small.endswith("): 1.5 M trainable parameters at 128x96, batch 4.")
    large = cpu_notice(trainer, module_with(PAPER_WIDTH_PARAMETERS), Data())
    assert "5.0 M trainable parameters" in large and "-c configs/tiny/stage1_layout.yaml" in large
    assert "\n" not in large


def test_frozen_parameters_are_not_counted():
    module = module_with(PAPER_WIDTH_PARAMETERS)
    module.weight.requires_grad_(False)
    trainer = Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    assert "0.0 M trainable parameters" in cpu_notice(trainer, module, None)


def test_vton_fit_on_the_cpu_prints_it_once(stage1_args, tiny_synthetic_roots, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    run_cli(["fit", "-c", str(REPO / "configs/stage1_layout.yaml"), *stage1_args(tiny_synthetic_roots["mpv"])])
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("vton: training on the CPU")]
    assert len(lines) == 1 and "at 64x48, batch 2." in lines[0]
