"""Loading a stage from its checkpoint (``lightning_modules/checkpoints.py``): strict keys, errors naming the stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_modules.checkpoints import StageCheckpointError, load_stage
from lightning_modules.layout import LayoutModule


def test_a_stage_loads_frozen_with_its_weights(stage1_run: Path) -> None:
    path = stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt"
    module = load_stage(str(path), LayoutModule, "stage 1 (layout)")
    saved = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    torch.testing.assert_close(
        module.layout_generator.state_dict()["encoder.0.0.weight"], saved["layout_generator.encoder.0.0.weight"]
    )
    assert not module.training and not any(p.requires_grad for p in module.parameters())


def test_a_checkpoint_with_a_wrong_key_fails_naming_the_stage_and_the_keys(stage1_run: Path, tmp_path: Path) -> None:
    checkpoint = torch.load(
        stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt", map_location="cpu", weights_only=False
    )
    state = checkpoint["state_dict"]
    state["layout_generator.renamed.weight"] = state.pop("layout_generator.encoder.0.0.weight")
    broken = tmp_path / "broken.ckpt"
    torch.save(checkpoint, broken)
    with pytest.raises(
        StageCheckpointError,
        match=r"stage 1 \(layout\): checkpoint .*broken.ckpt' does not fit LayoutModule: "
        r"missing keys \['layout_generator.encoder.0.0.weight'\], "
        r"unexpected keys \['layout_generator.renamed.weight'\]",
    ):
        load_stage(str(broken), LayoutModule, "stage 1 (layout)")


def test_a_missing_checkpoint_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(StageCheckpointError, match=r"stage 2 \(warp\): checkpoint '.*nothing.ckpt' not found"):
        load_stage(str(tmp_path / "nothing.ckpt"), LayoutModule, "stage 2 (warp)")
