"""The GPU preset ``configs/presets/gpu.yaml`` fits on top of every stage config and turns the fast path on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightning_modules.cli import run_cli

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
STAGES = sorted(path.stem for path in CONFIGS.glob("*.yaml"))
OVERLAYS = {"stage4_refine_fusion": "stage4_refine"}  # an overlay config -> the config it goes on


@pytest.mark.parametrize("stage", STAGES)
def test_the_gpu_preset_fits_every_stage_config(stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``vton fit -c <stage> -c presets/gpu.yaml --print_config``: every key of the preset is one the stage's modules
    take (jsonargparse rejects others), and the fast path, the batch and the learning-rate rule arrive."""
    stems = [OVERLAYS[stage], stage] if stage in OVERLAYS else [stage]
    args = ["fit", *(arg for stem in stems for arg in ("-c", str(CONFIGS / f"{stem}.yaml")))]
    args += ["-c", str(CONFIGS / "presets" / "gpu.yaml"), "--print_config"]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(args)
    assert exit_info.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["data"]["init_args"]["batch_size"] == 32 and config["data"]["init_args"]["pin_memory"]
    assert config["trainer"]["precision"] == "bf16-mixed"
    assert config["fast_training"] == {
        "compile": True, "compile_mode": "default", "channels_last": True, "fused_adam": True, "r1_interval": 16,
        "coalesce_tiling_analysis": False,
    }  # fmt: skip
    assert config["lr_scaling"] == {"rule": "sqrt", "reference_batch_size": 8}
    assert config["trainer"]["callbacks"], "the stage config's callbacks (ModelCheckpoint) are kept"
