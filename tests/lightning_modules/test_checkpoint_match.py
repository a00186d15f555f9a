"""``--ckpt_path`` takes a checkpoint of the config's own stage, variant and networks
(``lightning_modules/checkpoint_match.py``): anything else stops before training with one line and exit status 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

import lightning_modules.cli as cli
from datamodules.fashion_datamodule import FashionDataModule
from lightning_modules.checkpoints import StageCheckpointError
from lightning_modules.layout import LayoutModule

REPO = Path(__file__).resolve().parents[2]
STAGE1 = str(REPO / "configs/stage1_layout.yaml")


def run_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``vton <args>`` in this process: its exit status and what it wrote to stderr."""
    with pytest.raises(SystemExit) as stop:
        cli.main(list(args))
    return stop.value.code, capsys.readouterr().err


def stage1_checkpoint(stage1_run: Path) -> Path:
    return stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt"


def test_another_stages_checkpoint_names_both_stages_and_the_argument_that_takes_it(
    stage1_run, stage2_args, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    layout = stage1_checkpoint(stage1_run)
    config = str(REPO / "configs/stage2_warp_tps.yaml")
    code, err = run_main(capsys, "fit", "-c", config, *stage2_args("stage2_warp_tps"), "--ckpt_path", str(layout))
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"vton: error: --ckpt_path {layout}: a stage 1 (layout) checkpoint, but the config builds stage 2 (warp); "
        "--ckpt_path resumes the config's own stage: feed stage 1 (layout) to stage 2 (warp) with "
        f"--model.init_args.layout_checkpoint {layout} instead"
    )
    assert not (tmp_path / "outputs").exists()  # stopped before anything was built


def test_a_later_stages_checkpoint_names_the_arguments_the_config_has(
    stage1_run, stage1_args, stage2_run, tiny_synthetic_roots, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    warp = stage2_run("stage2_warp_tps") / "outputs/stage2_warp_tps/checkpoints/last.ckpt"
    args = [*stage1_args(tiny_synthetic_roots["mpv"]), "--ckpt_path", str(warp)]
    code, err = run_main(capsys, "fit", "-c", STAGE1, *args)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"vton: error: --ckpt_path {warp}: a stage 2 (warp) checkpoint, but the config builds stage 1 (layout); "
        "--ckpt_path resumes the config's own stage, and stage 1 (layout) takes no stage 2 (warp) checkpoint (its "
        "*_checkpoint arguments: none)"
    )


def test_the_same_stage_of_another_variant_is_refused_naming_the_variant(
    stage1_run, stage1_args, tiny_synthetic_roots, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    spg = stage1_checkpoint(stage1_run)
    args = [*stage1_args(tiny_synthetic_roots["mpv"]), "--model.init_args.variant", "clothflow"]
    code, err = run_main(capsys, "fit", "-c", STAGE1, *args, "--ckpt_path", str(spg))
    assert code == 2
    assert err.splitlines()[-1] == (
        f"vton: error: --ckpt_path {spg}: this stage 1 (layout) checkpoint does not match the config: "
        "model.init_args.variant is 'spg' in the checkpoint, 'clothflow' in the config; use the config (and "
        "overrides) it was trained with"
    )


@pytest.mark.parametrize("given", ["file", "last"])
def test_other_widths_are_refused_naming_the_width(
    given, stage1_run, stage1_args, tiny_synthetic_roots, tmp_path, monkeypatch, capsys
) -> None:
    """An explicit file is checked on the parsed config; ``last`` (Lightning's name, resolved by the Trainer) when the
    Trainer restores it: before, the first silently took the checkpoint's widths, the second was a size-mismatch
    traceback."""
    monkeypatch.chdir(tmp_path)
    last = tmp_path / "outputs/stage1_layout/checkpoints/last.ckpt"
    last.parent.mkdir(parents=True)
    shutil.copy(stage1_checkpoint(stage1_run), last)
    args = [*stage1_args(tiny_synthetic_roots["mpv"]), "--model.init_args.generator.init_args.base_width", "8"]
    code, err = run_main(capsys, "fit", "-c", STAGE1, *args, "--ckpt_path", str(last) if given == "file" else "last")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"vton: error: --ckpt_path {last}: this stage 1 (layout) checkpoint does not match the config: "
        "model.init_args.generator.init_args.base_width is 4 in the checkpoint, 8 in the config; use the config (and "
        "overrides) it was trained with"
    )
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 4  # nothing trained


def test_a_tensor_of_another_shape_is_named_where_no_hyper_parameter_tells(
    stage1_run, tiny_nets, tiny_synthetic_roots, tmp_path
) -> None:
    """A module built in Python (factories, not configs, in its hyper-parameters) restored by a Trainer."""
    module = LayoutModule(image_size=(64, 48), **tiny_nets)  # base width 8, the checkpoint's is 4
    data = FashionDataModule(
        dataset="mpv", root=str(tiny_synthetic_roots["mpv"]), image_size=(64, 48), batch_size=2, num_workers=0
    )
    trainer = Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, limit_val_batches=1, default_root_dir=tmp_path
    )
    path = stage1_checkpoint(stage1_run)
    with pytest.raises(StageCheckpointError) as raised:
        trainer.validate(module, datamodule=data, ckpt_path=str(path))
    assert str(raised.value) == (
        f"--ckpt_path {path}: this stage 1 (layout) checkpoint does not fit the config's networks: "
        "layout_generator.encoder.0.0.weight is [4, 41, 3, 3] in the checkpoint, [8, 41, 3, 3] in the model; use the "
        "config (and overrides) it was trained with"
    )


def test_the_same_config_resumes_from_its_checkpoint_file(
    stage1_run, stage1_args, tiny_synthetic_roots, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    saved = tmp_path / "stage1.ckpt"
    shutil.copy(stage1_checkpoint(stage1_run), saved)
    args = [*stage1_args(tiny_synthetic_roots["mpv"]), "--trainer.max_steps", "6"]
    cli.main(["fit", "-c", STAGE1, *args, "--ckpt_path", str(saved)])
    last = torch.load(tmp_path / "outputs/stage1_layout/checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 6  # continued from step 4
