"""``vton-data`` (``datamodules/cli.py``): user mistakes end in one line and exit status 2; --debug keeps them."""

from __future__ import annotations

import pytest

from contract.errors import DatasetFormatError
from datamodules.cli import main


def test_a_user_mistake_is_one_line_and_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VTON_DEBUG", raising=False)
    assert main(["check", "--root", str(tmp_path / "absent"), "--format", "mpv"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"vton-data: error: {tmp_path}/absent: does not exist\n" and captured.out == ""


def test_debug_flag_or_environment_keep_the_exception(tmp_path, monkeypatch):
    argv = ["check", "--root", str(tmp_path / "absent"), "--format", "viton"]
    monkeypatch.delenv("VTON_DEBUG", raising=False)
    with pytest.raises(DatasetFormatError, match="does not exist"):
        main([*argv, "--debug"])
    monkeypatch.setenv("VTON_DEBUG", "1")
    with pytest.raises(DatasetFormatError, match="does not exist"):
        main(argv)
