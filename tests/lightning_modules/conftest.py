"""Shared fixtures of the stage tests: a tiny real-format MPV batch at 64x48 and tiny network factories."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from datamodules.fashion_datamodule import FashionDataModule
from models.discriminator import MultiScaleDiscriminator
from models.generator import ResNetGenerator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_SIZE = (64, 48)


@pytest.fixture(scope="session")
def mpv_fixture_root() -> Path:
    return FIXTURES / "mpv"


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
