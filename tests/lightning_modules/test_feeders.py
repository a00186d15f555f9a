"""Frozen feeder stages are kept out of checkpoints by file and sha256 and read back from that file
(``lightning_modules/feeders.py``)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

import lightning_modules.cli as cli
from lightning_modules.checkpoints import StageCheckpointError, load_stage
from lightning_modules.feeders import FEEDERS_KEY, restore_feeders
from lightning_modules.layout import LayoutModule
from lightning_modules.stage import is_pretrained_key
from lightning_modules.warp import WarpModule

REPO = Path(__file__).resolve().parents[2]
TPS = str(REPO / "configs/stage2_warp_tps.yaml")


def feeding(layout: Path) -> list[str]:
    return ["--model.init_args.layout_checkpoint", str(layout)]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.fixture(scope="module")
def fed_stage2(tmp_path_factory, stage1_run, stage2_args) -> tuple[Path, Path]:
    """``(stage-2 checkpoint, its stage-1 feeder file)``: a tiny ``vton fit -c configs/stage2_warp_tps.yaml`` fed by a
    copy of the tiny stage 1, resumed once (``--ckpt_path last``) from step 4 to step 6."""
    folder = tmp_path_factory.mktemp("fed_stage2")
    feeder = folder / "stage1.ckpt"
    shutil.copy(stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt", feeder)
    args = ["fit", "-c", TPS, *stage2_args("stage2_warp_tps"), *feeding(feeder)]
    previous = Path.cwd()
    os.chdir(folder)
    try:
        cli.main(args)
        cli.main([*args, "--trainer.max_steps", "6", "--ckpt_path", "last"])
    finally:
        os.chdir(previous)
    return folder / "outputs/stage2_warp_tps/checkpoints/last.ckpt", feeder


def test_a_checkpoint_keeps_its_frozen_feeders_path_and_hash_not_its_weights(fed_stage2) -> None:
    path, feeder = fed_stage2
    checkpoint = load(path)
    assert checkpoint["global_step"] == 6  # the resumed run read its feeder back and saved it out again
    assert not [key for key in checkpoint["state_dict"] if key.startswith("layout.")]
    assert checkpoint["state_dict"]  # stage 2's own GMMs are kept
    sha256 = hashlib.sha256(feeder.read_bytes()).hexdigest()
    assert checkpoint[FEEDERS_KEY] == {"layout.": {"path": str(feeder.resolve()), "sha256": sha256, "source": ""}}


def test_reloading_reads_the_feeder_back_and_gives_identical_outputs(fed_stage2, synthetic_batch, tmp_path) -> None:
    path, feeder = fed_stage2
    embedded = load(path)  # the same checkpoint with the feeder's weights inside, as checkpoints were before
    restore_feeders(embedded, str(path))
    del embedded[FEEDERS_KEY]
    torch.save(embedded, tmp_path / "embedded.ckpt")
    reloaded = load_stage(str(path), WarpModule, "stage 2 (warp)")
    reference = load_stage(str(tmp_path / "embedded.ckpt"), WarpModule, "stage 2 (warp)")
    layout = LayoutModule.load_from_checkpoint(feeder, map_location="cpu").state_dict()
    for key, value in reloaded.layout.state_dict().items():
        if not is_pretrained_key(key):
            torch.testing.assert_close(value, layout[key], rtol=0, atol=0)
    with torch.no_grad():
        out, expected = reloaded(synthetic_batch), reference(synthetic_batch)
    assert out.keys() == expected.keys()
    for key in out:
        torch.testing.assert_close(out[key], expected[key], rtol=0, atol=0)


def moved_feeder(checkpoint: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of ``checkpoint`` whose feeder is a copy of its feeder file in ``folder``: ``(copy, feeder copy)``."""
    state = load(checkpoint)
    feeder = folder / "feeder.ckpt"
    shutil.copy(state[FEEDERS_KEY]["layout."]["path"], feeder)
    state[FEEDERS_KEY]["layout."]["path"] = str(feeder)
    torch.save(state, folder / "stage2.ckpt")
    return folder / "stage2.ckpt", feeder


def test_a_missing_feeder_file_is_one_line_naming_checkpoint_feeder_and_path(fed_stage2, tmp_path) -> None:
    checkpoint, feeder = moved_feeder(fed_stage2[0], tmp_path)
    feeder.unlink()
    with pytest.raises(StageCheckpointError) as raised:
        load_stage(str(checkpoint), WarpModule, "stage 2 (warp)")
    assert str(raised.value) == (
        f"stage 2 (warp): checkpoint {str(checkpoint)!r}: frozen feeder 'layout' was loaded from {feeder}, which is "
        "missing; the checkpoint keeps the path and sha256 of its frozen feeders, not their weights"
    )


def test_a_changed_feeder_file_is_one_line_from_vton_too(
    fed_stage2, stage2_args, tmp_path, monkeypatch, capsys
) -> None:
    checkpoint, feeder = moved_feeder(fed_stage2[0], tmp_path)
    recorded = hashlib.sha256(feeder.read_bytes()).hexdigest()
    state = load(feeder)
    state["state_dict"]["layout_generator.encoder.0.0.weight"] += 1.0
    torch.save(state, feeder)
    changed = hashlib.sha256(feeder.read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        cli.main(["test", "-c", TPS, *stage2_args("stage2_warp_tps"), *feeding(feeder), "--ckpt_path", str(checkpoint)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"vton: error: --ckpt_path {checkpoint}: frozen feeder 'layout' file {feeder} has changed since (sha256 "
        f"{changed[:12]}..., recorded {recorded[:12]}...); the checkpoint keeps the path and sha256 of its frozen "
        "feeders, not their weights"
    )


def test_a_feeder_inside_a_feeder_is_read_back_through_the_outer_file(fed_stage2, stage1_run, tmp_path) -> None:
    """Stage 3 fed by the stage 2 that is itself fed by stage 1: only ``cloth_warper.`` is recorded, and reading
    it back brings ``cloth_warper.layout.`` from stage 2's own record."""
    from functools import partial

    from lightning_modules.synthesis import SynthesisModule
    from models.discriminator import MultiScaleDiscriminator
    from models.generator import ResNetGenerator

    stage2, feeder = fed_stage2
    module = SynthesisModule(
        image_size=(64, 48),
        generator=partial(ResNetGenerator, base_width=4, n_blocks=1, head="image_mask"),
        discriminator=partial(MultiScaleDiscriminator, num_scales=1, base_width=4),
        loss_weights={"id": 0.0, "perc": 0.0},
        warp_checkpoint=str(stage2),
    )
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    assert set(checkpoint[FEEDERS_KEY]) == {"cloth_warper."}
    assert not [key for key in checkpoint["state_dict"] if key.startswith("cloth_warper.")]
    restore_feeders(checkpoint, "stage 3")
    full = {key: value for key, value in module.state_dict().items() if not is_pretrained_key(key)}
    assert checkpoint["state_dict"].keys() == full.keys()
    for key, value in full.items():
        torch.testing.assert_close(checkpoint["state_dict"][key], value, rtol=0, atol=0)


def test_the_feeders_of_a_stage_inside_a_stage_are_kept_by_file_and_read_back(stage3_run) -> None:
    """The temporal stage fine-tunes stage 3 (its weights stay) whose frozen stages 1 and 2 are kept by file."""
    from functools import partial

    from lightning_modules.temporal import TemporalSynthesisModule
    from models.discriminator import MultiScaleDiscriminator

    synthesis = stage3_run / "outputs/stage3_synthesis/checkpoints/last.ckpt"
    tiny_d = partial(MultiScaleDiscriminator, num_scales=1, base_width=4)

    def build() -> TemporalSynthesisModule:
        return TemporalSynthesisModule(
            image_size=(64, 48), synthesis_checkpoint=str(synthesis), temporal_discriminator=tiny_d
        )

    module = build()
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    assert set(checkpoint[FEEDERS_KEY]) == {"synthesis.layout.", "synthesis.cloth_warper."}
    assert [key for key in checkpoint["state_dict"] if key.startswith("synthesis.generator.")]  # fine-tuned: kept
    assert not [
        key for key in checkpoint["state_dict"] if key.startswith(("synthesis.layout.", "synthesis.cloth_warper."))
    ]
    reloaded = build()
    reloaded.synthesis.feeders.clear()
    reloaded.on_load_checkpoint(checkpoint)
    reloaded.load_state_dict(checkpoint["state_dict"])
    assert reloaded.synthesis.feeders == module.synthesis.feeders  # saved out again on the next checkpoint
    restored = reloaded.state_dict()
    for key, value in module.state_dict().items():
        if not is_pretrained_key(key):  # an absent VGG19 is built untrained, anew each time
            torch.testing.assert_close(restored[key], value, rtol=0, atol=0)
