"""``vton-data synth`` and ``vton-data grid`` (``datamodules/synthetic/cli.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from PIL import Image

from datamodules.cli import main
from datamodules.synthetic.cli import parse_size
from datamodules.synthetic.sample_grid import COLUMNS, HEADER_HEIGHT, PADDING


def test_parse_size() -> None:
    assert parse_size("256x192") == (256, 192)
    with pytest.raises(argparse.ArgumentTypeError, match="multiples of 8"):
        parse_size("256x190")
    with pytest.raises(argparse.ArgumentTypeError, match="HEIGHTxWIDTH"):
        parse_size("256 by 192")


def test_synth_writes_both_splits_and_sequences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    argv = ["synth", "--out", str(out), "--layout", "mpv", "--size", "64x48", "--seed", "5", "--seq-len", "3"]
    argv += ["--n-train", "3", "--n-test", "2", "--n-seq", "1", "--n-seq-test", "1", "--cross-garment-fraction", "0.5"]
    assert main(argv) == 0
    assert "wrote 3 train + 2 test triplets, 1 + 1 sequences" in capsys.readouterr().out
    splits = [line.split("\t")[3] for line in (out / "data_pair.txt").read_text().splitlines()]
    assert splits == ["train"] * 3 + ["test"] * 2
    kinds = [line.split()[3] for line in (out / "sequences" / "sequences.txt").read_text().splitlines()]
    assert kinds == ["train", "test"]
    # A second run into the same folder is refused without --overwrite (exit code 2, message on stderr).
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_bad_arguments_exit_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["synth", "--out", "x", "--size", "100x64"], ["synth", "--out", "x", "--seq-len", "1"],
                 ["synth", "--out", "x", "--cross-garment-fraction", "2"]):  # fmt: skip
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
    assert "must be >= 2" in capsys.readouterr().err


def test_grid_picture_has_one_row_per_sample_and_the_columns(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    assert main(["grid", "--out", str(out), "--size", "64x48", "--n", "2", "--seed", "1"]) == 0
    picture = Image.open(out)
    assert picture.size == (PADDING + len(COLUMNS) * (48 + PADDING), HEADER_HEIGHT + PADDING + 2 * (64 + PADDING))


def test_grid_without_out_writes_under_outputs_not_the_docs_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs_picture = Path(__file__).resolve().parents[2] / "docs" / "synthetic_samples.png"
    before = docs_picture.read_bytes()
    monkeypatch.chdir(tmp_path)  # the default is relative to the working directory, as run from the checkout
    assert main(["grid", "--size", "64x48", "--n", "1"]) == 0
    assert capsys.readouterr().out.endswith("to outputs/synthetic_samples.png\n")
    assert Image.open(tmp_path / "outputs" / "synthetic_samples.png").size[1] == HEADER_HEIGHT + PADDING + 64 + PADDING
    assert not (tmp_path / "docs").exists()
    assert docs_picture.read_bytes() == before
