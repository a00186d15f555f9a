"""Fixtures of the datamodule tests: tiny synthetic sets written once per session (no ``make data`` needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamodules.synthetic.dataset import SynthConfig, synthesize


@pytest.fixture(scope="session")
def tiny_synthetic_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic sets at 64x48 with exact flow/visibility: ``{"mpv": root, "deepfashion": root}`` (8 train, 4 test)."""
    base = tmp_path_factory.mktemp("synthetic")
    roots = {}
    for layout in ("mpv", "deepfashion"):
        roots[layout] = base / layout
        synthesize(SynthConfig(out=str(roots[layout]), layout=layout, height=64, width=48, n_train=8, n_test=4, seed=3))
    return roots
