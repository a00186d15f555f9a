"""``datamodules.roots``: the missing-root error and the built-in synthetic roots it recognises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from contract.errors import DatasetFormatError
from datamodules.roots import SYNTHETIC_ROOTS, is_synthetic_root, require_root

REPO = Path(__file__).resolve().parents[2]


def test_the_synthetic_roots_are_those_the_configs_name_and_make_data_writes():
    configs = sorted(REPO.glob("configs/data/synthetic*.yaml"))
    assert sorted(yaml.safe_load(path.read_text())["root"] for path in configs) == sorted(SYNTHETIC_ROOTS)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^DATA_DIR \?= data$", makefile, re.MULTILINE)
    for root in SYNTHETIC_ROOTS:
        assert f"--out $(DATA_DIR)/{Path(root).name} " in makefile


def test_synthetic_roots_are_recognised_by_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_synthetic_root("data/synthetic_mpv") and is_synthetic_root("./data/synthetic_deepfashion/")
    assert is_synthetic_root(tmp_path / "data" / "synthetic_mpv")
    assert not is_synthetic_root("elsewhere/synthetic_mpv") and not is_synthetic_root("data/mpv")


def test_require_root(tmp_path, monkeypatch):
    require_root(tmp_path)
    with pytest.raises(DatasetFormatError, match=rf"^{tmp_path}/absent: does not exist$"):
        require_root(tmp_path / "absent")
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetFormatError, match=rf"^{tmp_path}/file: not a folder$"):
        require_root(tmp_path / "file")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetFormatError, match=r"^data/synthetic_mpv: does not exist; run `make data` to write"):
        require_root("data/synthetic_mpv")
