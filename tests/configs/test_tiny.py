"""The CPU preset ``configs/tiny/``: one per stage config, each builds small networks at a size they take, and the
chain's preset matches the stages it loads (``scripts/smoke_cpu.py`` runs them all; ``make smoke``)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

import pytest

from lightning_modules.cli import run_cli

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
STAGES = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
MAX_PARAMETERS = 2_000_000  # the paper widths have 5.8 M (flow regressor) to 47.5 M (stage 1)


@cache
def smoke_runs() -> tuple:
    spec = importlib.util.spec_from_file_location("smoke_cpu", REPO / "scripts/smoke_cpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.RUNS


def preset_args(stage: str) -> list[str]:
    """The configs of ``stage``'s smoke run (the fusion preset goes on top of stage 4's), without logging."""
    (stems,) = [run.configs for run in smoke_runs() if run.name == stage]
    args = [arg for stem in stems for arg in ("-c", str(CONFIGS / f"{stem}.yaml"))]
    args += [arg for stem in stems for arg in ("-c", str(CONFIGS / "tiny" / f"{stem}.yaml"))]
    return [*args, "--trainer.logger", "false", "--trainer.callbacks", "[]"]


def test_every_stage_config_has_a_preset_and_a_smoke_run():
    assert sorted(path.stem for path in (CONFIGS / "tiny").glob("*.yaml")) == STAGES
    assert sorted(run.name for run in smoke_runs()) == STAGES
    assert all(all((CONFIGS / "tiny" / f"{stem}.yaml").is_file() for stem in run.configs) for run in smoke_runs())


@pytest.mark.parametrize("stage", [stage for stage in STAGES if stage != "e2e"])
def test_a_preset_builds_small_networks_at_a_size_they_take(stage):
    args = preset_args(stage)
    if stage == "stage4_refine_intrinsic":
        args += ["--model.init_args.flow_checkpoint", "null"]  # the smoke run gives stage 2's (tiny) regressor
    cli = run_cli(args, run=False)  # the image-size check runs before anything is built
    trainable = sum(p.numel() for p in cli.model.parameters() if p.requires_grad)
    assert 0 < trainable <= MAX_PARAMETERS, f"{stage}: {trainable / 1e6:.2f} M trainable parameters"
    assert cli.datamodule.hparams["batch_size"] <= 4 and cli.datamodule.image_size[0] == 128


def test_the_chain_runs_at_the_size_of_the_stages_it_loads():
    sizes = {
        stage: run_cli(preset_args(stage), run=False).datamodule.image_size
        for stage in ("stage1_layout", "stage3_synthesis", "stage4_refine_fusion")
    }
    assert set(sizes.values()) == {(128, 96)}, sizes
    text = (CONFIGS / "tiny" / "e2e.yaml").read_text()
    assert "image_size: [128, 96]" in text
