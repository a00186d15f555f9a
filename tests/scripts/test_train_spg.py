"""SPG-VTON's three steps as one command (``scripts/train_spg.py``): each step from the previous steps' checkpoints,
the paper's iteration counts, shortening and teacher forcing. A real run of the sequence with ``--preset tiny`` is
in docs/RESULTS.md (84 s on 2 cores); here the commands it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.train_spg import STEPS, main, plan


def value(args: list[str], key: str) -> str | None:
    return args[args.index(key) + 1] if key in args else None


def feeders(args: list[str]) -> dict[str, str]:
    return {key.rsplit(".", 1)[1]: args[i + 1] for i, key in enumerate(args) if key.endswith("_checkpoint")}


def test_each_step_starts_from_the_checkpoints_of_the_steps_before_it(tmp_path) -> None:
    commands = dict(zip([step.name for step in STEPS], plan(tmp_path, 1.0, False, "paper", []), strict=True))
    last = {name: str(tmp_path / name / "checkpoints/last.ckpt") for name in commands}
    assert feeders(commands["step1_layout"]) == {}
    assert feeders(commands["step2_warp"]) == {"layout_checkpoint": last["step1_layout"]}
    assert feeders(commands["step2_synthesis"]) == {
        "layout_checkpoint": last["step1_layout"], "warp_checkpoint": last["step2_warp"]
    }  # fmt: skip
    assert feeders(commands["step3_e2e"]) == {
        "layout_checkpoint": last["step1_layout"], "warp_checkpoint": last["step2_warp"],
        "synthesis_checkpoint": last["step2_synthesis"], "refine_checkpoint": "null",
    }  # fmt: skip
    assert value(commands["step2_synthesis"], "--model.init_args.head_parsing") == "predicted"  # step 1's G1
    for name, args in commands.items():  # each writes where the next one reads
        assert value(args, "--trainer.callbacks.init_args.dirpath") == str(tmp_path / name / "checkpoints")


def test_the_papers_iterations_and_batch_sizes_and_a_shorter_run() -> None:
    """Seed 003 Sec. IV-C: 70k (batch 16), 70k and 100k (batch 8); G and D steps count apart in max_steps."""
    paper = plan(Path("out"), 1.0, False, "paper", [])
    assert [value(args, "--trainer.max_steps") for args in paper] == ["140000", "70000", "140000", "200000"]
    assert [value(args, "--data.batch_size") for args in paper] == ["16", "8", "8", "8"]
    short = plan(Path("out"), 0.001, False, "tiny", ["--data.root", "somewhere"])
    assert [value(args, "--trainer.max_steps") for args in short] == ["140", "70", "140", "200"]
    assert all(value(args, "--data.batch_size") is None for args in short)  # the preset's
    assert all(args[-2:] == ["--data.root", "somewhere"] for args in short)
    assert all(f"configs/tiny/{step.config}.yaml" in " ".join(args) for step, args in zip(STEPS, short, strict=True))


def test_teacher_forcing_trains_step_2_on_ground_truth_and_the_chain_still_on_every_step() -> None:
    commands = plan(Path("out"), 1.0, True, "paper", [])
    assert feeders(commands[1]) == {} and feeders(commands[2]) == {}
    assert "--model.init_args.head_parsing" not in commands[2]  # the config's ground truth
    assert set(feeders(commands[3])) == {"layout_checkpoint", "warp_checkpoint", "synthesis_checkpoint",
                                         "refine_checkpoint"}  # fmt: skip


def test_a_fraction_outside_0_1_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--fraction", "0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("--fraction must be in (0, 1], got 0.0")
