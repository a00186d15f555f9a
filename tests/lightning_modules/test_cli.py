"""The ``vton`` CLI (lightning_modules/cli.py): every run records its resolved config and the git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

import lightning_modules.cli as cli
from lightning_modules.cli import git_revision

REPO = Path(__file__).resolve().parents[2]


def test_a_fit_logs_its_whole_config_and_the_git_revision(stage1_run: Path) -> None:
    hparams = yaml.safe_load((stage1_run / "outputs/stage1_layout/version_0/hparams.yaml").read_text())
    assert hparams["git_revision"] == git_revision()
    config = hparams["config"]
    assert config["model"]["class_path"] == "lightning_modules.layout.LayoutModule"
    assert config["data"]["init_args"]["image_size"] == [64, 48]  # the command-line override, resolved
    assert config["trainer"]["max_steps"] == 4


def test_git_revision_is_the_checkout_commit() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode != 0:
        assert git_revision().startswith("unknown")
    else:
        assert git_revision().split("-")[0] == head.stdout.strip()


def test_the_console_command_returns_nothing_so_a_finished_run_exits_with_status_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The ``vton`` script is ``sys.exit(main())``: any returned object (the CLI) would exit with status 1.
    calls = []
    monkeypatch.setattr(cli, "run_cli", lambda args=None: calls.append(args) or object())
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(cli.main(["fit", "-c", "some.yaml"]))
    assert exit_info.value.code is None and calls == [["fit", "-c", "some.yaml"]]
