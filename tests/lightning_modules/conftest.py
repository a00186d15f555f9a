"""Shared fixtures of the stage tests: a tiny real-format MPV batch at 64x48 and tiny network factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from datamodules.fashion_datamodule import FashionDataModule
from models.discriminator import MultiScaleDiscriminator
from models.generator import ResNetGenerator

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TINY_SIZE = (64, 48)


@pytest.fixture(scope="session")
def mpv_fixture_root() -> Path:
    return FIXTURES / "mpv"


@pytest.fixture
def synthetic_batch(tiny_synthetic_roots) -> dict:
    """Two synthetic MPV-layout training samples at 64x48, with ``flow_gt`` and ``vis_gt``."""
    datamodule = FashionDataModule(
        dataset="mpv", root=str(tiny_synthetic_roots["mpv"]), image_size=(64, 48), batch_size=2, num_workers=0
    )
    datamodule.setup("fit")
    return default_collate([datamodule.train_set[i] for i in range(2)])


@pytest.fixture
def tiny_mpv_datamodule(mpv_fixture_root: Path) -> FashionDataModule:
    return FashionDataModule(
        dataset="mpv", root=str(mpv_fixture_root), image_size=TINY_SIZE, batch_size=2, num_workers=0
    )


@pytest.fixture
def tiny_batch(tiny_mpv_datamodule: FashionDataModule) -> dict:
    """Both training samples of the MPV fixtures (real images, CIHP parsing, OpenPose JSON) as one batch."""
    tiny_mpv_datamodule.setup("fit")
    dataset = tiny_mpv_datamodule.train_set
    return default_collate([dataset[i] for i in range(len(dataset))])


@pytest.fixture
def tiny_nets() -> dict:
    """Network factories of width 4-8 for CPU tests (same classes as the paper configs)."""
    torch.manual_seed(0)
    return {
        "generator": partial(ResNetGenerator, base_width=8, n_blocks=1, head="plain"),
        "coarse_generator": partial(ResNetGenerator, base_width=8, n_blocks=1, head="image_mask"),
        "discriminator": partial(MultiScaleDiscriminator, num_scales=2, base_width=4),
    }


def tiny_stage1_args(data_root: Path | str) -> list[str]:
    """Command-line overrides that make ``configs/stage1_layout.yaml`` a seconds-long CPU run at 64x48."""
    return [
        *("--trainer", str(REPO / "configs/trainer/smoke.yaml")),
        *("--trainer.logger", str(REPO / "configs/logger/csv.yaml")),
        *("--data.root", str(data_root), "--data.image_size", "[64, 48]"),
        *("--data.batch_size", "2", "--data.num_workers", "0"),
        *("--model.init_args.generator.init_args.base_width", "4"),
        *("--model.init_args.generator.init_args.n_blocks", "1"),
        *("--model.init_args.coarse_generator.init_args.base_width", "4"),
        *("--model.init_args.coarse_generator.init_args.n_blocks", "1"),
        *("--model.init_args.discriminator.init_args.num_scales", "2"),
        *("--model.init_args.discriminator.init_args.base_width", "4"),
    ]


@pytest.fixture(scope="session")
def stage1_args() -> Callable[[Path | str], list[str]]:
    """``tiny_stage1_args`` for tests that run the CLI themselves."""
    return tiny_stage1_args


@pytest.fixture(scope="session")
def stage1_run(tmp_path_factory: pytest.TempPathFactory, tiny_synthetic_roots: dict[str, Path]) -> Path:
    """A finished tiny ``vton fit -c configs/stage1_layout.yaml`` on the synthetic set; returns its working
    folder (checkpoint at ``outputs/stage1_layout/checkpoints/last.ckpt``). Later stages load it frozen."""
    from lightning_modules.cli import run_cli as vton

    folder = tmp_path_factory.mktemp("stage1_run")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        vton(["fit", "-c", str(REPO / "configs/stage1_layout.yaml"), *tiny_stage1_args(tiny_synthetic_roots["mpv"])])
    finally:
        os.chdir(previous)
    return folder


# --- stage 2 (warp) ----------------------------------------------------------------------------------------------
# Per config: the layout of the synthetic set it reads and the overrides that make its networks tiny.
STAGE2_TINY_NETS: dict[str, tuple[str, list[str]]] = {
    "stage2_warp": (
        "mpv",
        [
            *("--model.init_args.flow_estimator.init_args.widths", "[4, 8, 8, 8, 8]"),
            *("--model.init_args.flow_estimator.init_args.fpn_width", "8"),
            *("--model.init_args.flow_estimator.init_args.blocks_per_level", "1"),
        ],
    ),
    "stage2_warp_tps": (
        "mpv",
        [
            *("--model.init_args.gmm.init_args.base_width", "4"),
            *("--model.init_args.gmm.init_args.max_width", "16"),
            *("--model.init_args.gmm.init_args.num_downsamples", "2"),
            *("--model.init_args.gmm.init_args.regression_widths", "[64, 32, 16, 16]"),
        ],
    ),
    "stage2_warp_flow": (
        "deepfashion",
        [
            *("--model.init_args.flow_regressor.init_args.base_width", "8"),
            *("--model.init_args.flow_regressor.init_args.max_width", "16"),
            *("--model.init_args.flow_regressor.init_args.num_levels", "4"),
            *("--model.init_args.flow_regressor.init_args.blocks_per_level", "1"),
        ],
    ),
}


def tiny_stage2_args(config: str, roots: dict[str, Path]) -> list[str]:
    """Overrides that make ``configs/<config>.yaml`` (a stage-2 config) a seconds-long CPU run at 64x48."""
    layout, nets = STAGE2_TINY_NETS[config]
    return [
        *("--trainer", str(REPO / "configs/trainer/smoke.yaml")),
        *("--trainer.logger", str(REPO / "configs/logger/csv.yaml")),
        *("--data.root", str(roots[layout]), "--data.image_size", "[64, 48]"),
        *("--data.batch_size", "2", "--data.num_workers", "0"),
        *nets,
    ]


@pytest.fixture(scope="session")
def stage2_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_synthetic_roots: dict[str, Path]
) -> Callable[[str], Path]:
    """``run(config)``: a finished tiny ``vton fit -c configs/<config>.yaml`` (``stage2_warp``, ``stage2_warp_tps`` or
    ``stage2_warp_flow``), run once per session; returns its working folder (checkpoint at
    ``outputs/<config>/checkpoints/last.ckpt``). Later stages load it with ``load_stage(..., WarpModule, ...)``."""
    from lightning_modules.cli import run_cli as vton

    folders: dict[str, Path] = {}

    def run(config: str) -> Path:
        if config not in folders:
            folder = tmp_path_factory.mktemp(config)
            previous = Path.cwd()
            os.chdir(folder)
            try:
                args = tiny_stage2_args(config, tiny_synthetic_roots)
                vton(["fit", "-c", str(REPO / f"configs/{config}.yaml"), *args])
            finally:
                os.chdir(previous)
            folders[config] = folder
        return folders[config]

    return run


@pytest.fixture(scope="session")
def stage2_args(tiny_synthetic_roots: dict[str, Path]) -> Callable[[str], list[str]]:
    """``args(config)``: ``tiny_stage2_args`` on the tiny synthetic sets, for tests that run the CLI themselves."""
    return partial(tiny_stage2_args, roots=tiny_synthetic_roots)


# --- stage 3 (synthesis) -----------------------------------------------------------------------------------------
def tiny_stage3_args(data_root: Path | str, layout_checkpoint: Path | None, warp_checkpoint: Path | None) -> list[str]:
    """Overrides that make ``configs/stage3_synthesis.yaml`` a seconds-long CPU run at 64x48, teacher-forced or fed by
    the given frozen stage-1 / stage-2 checkpoints."""
    frozen = [
        *(("--model.init_args.layout_checkpoint", str(layout_checkpoint)) if layout_checkpoint else ()),
        *(("--model.init_args.warp_checkpoint", str(warp_checkpoint)) if warp_checkpoint else ()),
    ]
    return [
        *("--trainer", str(REPO / "configs/trainer/smoke.yaml")),
        *("--trainer.logger", str(REPO / "configs/logger/csv.yaml")),
        *("--data.root", str(data_root), "--data.image_size", "[64, 48]"),
        *("--data.batch_size", "2", "--data.num_workers", "0"),
        *("--model.init_args.generator.init_args.base_width", "4"),
        *("--model.init_args.generator.init_args.n_blocks", "1"),
        *("--model.init_args.discriminator.init_args.num_scales", "2"),
        *("--model.init_args.discriminator.init_args.base_width", "4"),
        *("--model.init_args.local_crop_size", "[32, 32]"),
        *frozen,
    ]


@pytest.fixture(scope="session")
def stage3_args(tiny_synthetic_roots: dict[str, Path], stage1_run: Path, stage2_run) -> Callable[[], list[str]]:
    """``args()``: ``tiny_stage3_args`` fed by the frozen ``stage1_run`` (SPG-VTON) and the tps ``stage2_run``."""
    layout = stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt"
    warp = stage2_run("stage2_warp_tps") / "outputs/stage2_warp_tps/checkpoints/last.ckpt"
    return partial(tiny_stage3_args, tiny_synthetic_roots["mpv"], layout, warp)


@pytest.fixture(scope="session")
def stage3_run(tmp_path_factory: pytest.TempPathFactory, stage3_args) -> Path:
    """A finished tiny ``vton fit -c configs/stage3_synthesis.yaml`` from the frozen stage 1 and stage 2 (tps) runs;
    returns its working folder (checkpoint at ``outputs/stage3_synthesis/checkpoints/last.ckpt``)."""
    from lightning_modules.cli import run_cli as vton

    folder = tmp_path_factory.mktemp("stage3_run")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        vton(["fit", "-c", str(REPO / "configs/stage3_synthesis.yaml"), *stage3_args()])
    finally:
        os.chdir(previous)
    return folder


# --- stage 4 (refine) --------------------------------------------------------------------------------------------
def tiny_stage4_args(config: str, data_root: Path) -> list[str]:
    """Overrides that make ``configs/<config>.yaml`` a seconds-long CPU run at 64x48."""
    common = [
        *("--trainer", str(REPO / "configs/trainer/smoke.yaml")),
        *("--trainer.logger", str(REPO / "configs/logger/csv.yaml")),
        *("--data.root", str(data_root), "--data.image_size", "[64, 48]"),
        *("--data.batch_size", "2", "--data.num_workers", "0"),
        *("--model.init_args.discriminator.init_args.base_width", "4"),
    ]
    if config == "stage4_refine":
        return [
            *common,
            *("--model.init_args.warping.init_args.pose_encoder.init_args.width", "8"),
            *("--model.init_args.warping.init_args.head_widths", "[16, 2]"),
            *("--model.init_args.refiner.init_args.widths", "[8, 16]"),
            *("--model.init_args.refiner.init_args.num_blocks", "1"),
            *("--model.init_args.discriminator.init_args.num_scales", "1"),
            *("--model.init_args.perceptual_scales", "[1.0, 0.5]"),
        ]
    return [
        *common,
        *("--model.init_args.generator.init_args.num_levels", "3"),
        *("--model.init_args.generator.init_args.warped_levels", "2"),  # every level but the bottleneck
        *("--model.init_args.generator.init_args.base_width", "8"),
        *("--model.init_args.generator.init_args.max_width", "16"),
        *("--model.init_args.generator.init_args.blocks_per_level", "1"),
        *("--model.init_args.generator.init_args.weighting_levels", "2"),
        *("--model.init_args.generator.init_args.weighting_width", "4"),
        *("--model.init_args.discriminator.init_args.n_down", "2"),
        *("--model.init_args.adversarial_start_epoch", "0"),
        *("--model.init_args.pixel_warping_start_epoch", "1"),
    ]


@pytest.fixture(scope="session")
def stage4_fusion_run(tmp_path_factory: pytest.TempPathFactory, tiny_synthetic_roots: dict[str, Path]) -> Path:
    """A finished tiny ``vton fit -c configs/stage4_refine.yaml -c configs/stage4_refine_fusion.yaml`` (the chain's
    stage 4, on the MPV layout); checkpoint at ``outputs/stage4_refine_fusion/checkpoints/last.ckpt``."""
    from lightning_modules.cli import run_cli as vton

    folder = tmp_path_factory.mktemp("stage4_fusion_run")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        configs = ["-c", str(REPO / "configs/stage4_refine.yaml")]
        configs += ["-c", str(REPO / "configs/stage4_refine_fusion.yaml")]
        vton(["fit", *configs, *tiny_stage4_args("stage4_refine", tiny_synthetic_roots["mpv"])])
    finally:
        os.chdir(previous)
    return folder


@pytest.fixture(scope="session")
def stage4_args() -> Callable[[str, Path], list[str]]:
    """``tiny_stage4_args`` for tests that run the CLI themselves."""
    return tiny_stage4_args


# --- the e2e chain -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chain_checkpoints(stage1_run, stage2_run, stage3_run, stage4_fusion_run) -> dict[str, Path]:
    """Tiny checkpoints of the chain's four stages by name (stage 3 was trained fed by the frozen stages 1 and 2)."""
    return {
        "layout": stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt",
        "warp": stage2_run("stage2_warp_tps") / "outputs/stage2_warp_tps/checkpoints/last.ckpt",
        "synthesis": stage3_run / "outputs/stage3_synthesis/checkpoints/last.ckpt",
        "refine": stage4_fusion_run / "outputs/stage4_refine_fusion/checkpoints/last.ckpt",
    }


@pytest.fixture(scope="session")
def chain_args(chain_checkpoints, tiny_synthetic_roots) -> list[str]:
    """``vton`` overrides: configs/e2e.yaml from the tiny stage checkpoints, at 64x48 on the CPU, batch 2."""
    args = [
        *("--trainer", str(REPO / "configs/trainer/smoke.yaml")),
        *("--trainer.logger", str(REPO / "configs/logger/csv.yaml")),
        *("--data.root", str(tiny_synthetic_roots["mpv"]), "--data.image_size", "[64, 48]"),
        *("--data.batch_size", "2", "--data.num_workers", "0"),
    ]
    for name, path in chain_checkpoints.items():
        args += [f"--model.init_args.{name}_checkpoint", str(path)]
    return args
