"""The ``vton`` CLI (lightning_modules/cli.py): every run records its resolved config and the git revision; user
mistakes end in one line and exit status 2, bugs keep their traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

import lightning_modules.cli as cli
from lightning_modules.checkpoints import StageCheckpointError
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


def run_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``vton <args>`` in this process: its exit status and what it wrote to stderr."""
    with pytest.raises(SystemExit) as stop:
        cli.main(list(args))
    return stop.value.code, capsys.readouterr().err


def test_a_user_mistake_is_one_line_and_exit_status_2(capsys) -> None:
    code, err = run_main(capsys, "fit", "-c", str(REPO / "configs/stage1_layout.yaml"), "--traner.max_steps", "3")
    assert code == 2
    assert err.splitlines()[-1] == "vton: error: traner.max_steps: unknown key; did you mean trainer.max_steps?"
    assert "Traceback" not in err


def test_an_error_raised_while_the_module_is_built_is_found_behind_jsonargparse(
    capsys, monkeypatch, tiny_synthetic_roots
) -> None:
    """On a data root that exists (a fresh clone has no `make data` output, and the root is checked first)."""
    monkeypatch.setenv("VTON_DEBUG", "0")  # off, and restored after the test: --debug below sets it to 1
    args = ["fit", "-c", str(REPO / "configs/stage2_warp_tps.yaml"), "--data.root", str(tiny_synthetic_roots["mpv"])]
    args += ["--model.init_args.layout_checkpoint", "/nonexistent.ckpt"]
    code, err = run_main(capsys, *args)
    assert code == 2
    assert err.splitlines()[-1] == "vton: error: stage 1 (layout): checkpoint '/nonexistent.ckpt' not found"
    assert "Traceback" not in err
    with pytest.raises(ValueError) as raised:  # --debug: the exception itself, for the traceback
        cli.main([*args, "--debug"])
    assert isinstance(cli.user_error(raised.value), StageCheckpointError)
    assert os.environ["VTON_DEBUG"] == "1"  # what a DDP re-launch inherits


def test_a_bug_keeps_its_traceback(monkeypatch) -> None:
    monkeypatch.setattr(cli, "run_cli", lambda args=None: [][1])
    with pytest.raises(IndexError):
        cli.main(["fit"])


@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_a_data_root_that_does_not_exist_is_refused_before_any_logger_starts(
    subcommand, capsys, monkeypatch, tmp_path
) -> None:
    """With the configs' own W&B logger: one line and no offline run folder left behind for a run that never was."""
    monkeypatch.setenv("VTON_DEBUG", "0")
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, subcommand, "-c", str(REPO / "configs/stage1_layout.yaml"))
    assert code == 2
    assert err.splitlines()[-1] == (
        "vton: error: data/synthetic_mpv: does not exist; run `make data` to write the built-in synthetic set"
    )
    code, err = run_main(capsys, subcommand, "-c", str(REPO / "configs/stage1_layout.yaml"), "--data.root", "absent")
    assert (code, err.splitlines()[-1]) == (2, "vton: error: absent: does not exist")
    assert not (tmp_path / "outputs").exists()
