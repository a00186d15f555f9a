"""SPG-VTON's three training steps as one command (seed 003 Sec. III-E "End-to-end training" and Sec. IV-C).

    python scripts/train_spg.py                           # = make train-spg; the paper's iteration counts
    python scripts/train_spg.py --fraction 0.01           # each step 1 % as long (a first look)
    python scripts/train_spg.py --teacher-forced          # step 2 on ground truth instead of step 1's outputs
    python scripts/train_spg.py --preset tiny -- --data.root data/synthetic_mpv   # after --: given to every step

The steps, each ``vton fit`` from the previous step's ``last.ckpt`` (everything under ``--out``, default
``outputs/spg/``, never the stages' own ``outputs/<stage>/``):

1. ``step1_layout``: stage 1 (``configs/stage1_layout.yaml``), G1 and G2. The paper trains G1 alone for 70k
   iterations at batch 16 and G2 in step 2 on the fixed G1; ours trains G2 in the same run on G1's output with the
   gradient cut (``detach_layout``, ``lightning_modules/layout.py``): step 2's schedule for G2, run concurrently.
2. ``step2_warp`` then ``step2_synthesis``: stage 2 (TPS GMMs, ``configs/stage2_warp_tps.yaml``) on the frozen step-1
   network's cloth mask ``M_p^C``, then stage 3 (``configs/stage3_synthesis.yaml``) on the frozen step-1 coarse image
   and parsing (``head_parsing: predicted``) and the frozen step-2 warp, 70k iterations each at batch 8 (the paper
   trains them together for 70k; ours one after the other, each for 70k). ``--teacher-forced``: both on ground
   truth instead (stage 2 on the true cloth region, stage 3 on a blurred target and the true warped garment).
3. ``step3_e2e``: the chain (``configs/e2e.yaml``, stage 4 left out: SPG-VTON has none) fine-tuned jointly, 100k
   iterations at batch 8; every later stage's loss reaches G1 (``lightning_modules/pipeline.py``).

Iterations are batches; ``trainer.max_steps`` counts optimiser steps, two per batch where a stage has a
discriminator (stages 1 and 3, the chain), so it is set to twice the iterations there. ``--fraction`` scales every
step (at least one batch each).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    """One ``vton fit`` of the sequence: ``iterations`` of batch ``batch_size`` (seed 003 Sec. IV-C);
    ``optimizer_steps`` per batch (G and D: 2); ``feeders`` map a model argument to the earlier step whose
    ``last.ckpt`` it takes (left out of step 2 under ``--teacher-forced``); ``fed_args`` go with the feeders,
    ``args`` always."""

    name: str
    config: str
    iterations: int
    batch_size: int
    optimizer_steps: int
    feeders: tuple[tuple[str, str], ...] = ()
    fed_args: tuple[str, ...] = ()
    args: tuple[str, ...] = ()


STEPS = (
    Step("step1_layout", "stage1_layout", 70_000, 16, 2),
    Step("step2_warp", "stage2_warp_tps", 70_000, 8, 1, (("layout_checkpoint", "step1_layout"),)),
    Step(
        "step2_synthesis",
        "stage3_synthesis",
        70_000,
        8,
        2,
        (("layout_checkpoint", "step1_layout"), ("warp_checkpoint", "step2_warp")),
        fed_args=("--model.init_args.head_parsing", "predicted"),  # face / hair of step 1's G1
    ),
    Step(
        "step3_e2e",
        "e2e",
        100_000,
        8,
        2,
        (
            ("layout_checkpoint", "step1_layout"),
            ("warp_checkpoint", "step2_warp"),
            ("synthesis_checkpoint", "step2_synthesis"),
        ),
        args=("--model.init_args.refine_checkpoint", "null"),  # SPG-VTON has no stage 4
    ),
)
PRESETS = ("paper", "tiny")


def last_checkpoint(out: Path, step: str) -> Path:
    return out / step / "checkpoints" / "last.ckpt"


def step_args(step: Step, out: Path, fraction: float, teacher_forced: bool, preset: str) -> list[str]:
    """The ``vton fit`` arguments of ``step`` (without the program name)."""
    configs = ["-c", str(REPO / f"configs/{step.config}.yaml")]
    if preset == "tiny":
        configs += ["-c", str(REPO / f"configs/tiny/{step.config}.yaml")]
    batches = max(1, round(step.iterations * fraction))
    args = [
        "fit",
        *configs,
        *("--trainer.max_steps", str(batches * step.optimizer_steps)),
        *("--trainer.logger.init_args.save_dir", str(out / step.name)),
        *("--trainer.callbacks.init_args.dirpath", str(out / step.name / "checkpoints")),
    ]
    if preset == "paper":
        args += ["--data.batch_size", str(step.batch_size)]
    args += step.args
    if not (teacher_forced and step.name.startswith("step2_")):  # teacher forcing: the configs' defaults
        args += step.fed_args
        for argument, source in step.feeders:
            args += [f"--model.init_args.{argument}", str(last_checkpoint(out, source))]
    return args


def plan(out: Path, fraction: float, teacher_forced: bool, preset: str, extra: list[str]) -> list[list[str]]:
    """Every step's ``vton`` arguments, in order; ``extra`` is appended to each."""
    return [step_args(step, out, fraction, teacher_forced, preset) + extra for step in STEPS]


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/spg"), help="folder of the steps' runs")
    parser.add_argument("--fraction", type=float, default=1.0, help="scale of every step's length (paper: 1)")
    parser.add_argument("--teacher-forced", action="store_true", help="step 2 on ground truth, not step 1's outputs")
    parser.add_argument("--preset", choices=PRESETS, default="paper", help="tiny: the CPU preset configs/tiny/")
    parser.add_argument("--dry-run", action="store_true", help="print the vton commands and stop")
    args = parser.parse_args(own)
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    return args, extra


def main(argv: list[str] | None = None) -> None:
    args, extra = parse_args(argv)
    commands = plan(args.out, args.fraction, args.teacher_forced, args.preset, extra)
    if args.dry_run:
        for command in commands:
            print("vton " + " ".join(command))
        return
    from lightning_modules import cli  # imported here: --help and --dry-run stay instant

    for step, command in zip(STEPS, commands, strict=True):
        print(f"train_spg: {step.name}: vton {' '.join(command)}", flush=True)
        cli.main(command)


if __name__ == "__main__":
    main()
