"""Smoke-run every stage and the chain with the CPU preset (``configs/tiny/``), and report time and memory.

    python scripts/smoke_cpu.py                 # = make smoke; after make data
    python scripts/smoke_cpu.py --only stage1_layout stage2_warp

Each run is ``vton fit -c configs/<stage>.yaml -c configs/tiny/<stage>.yaml --trainer configs/trainer/smoke.yaml``
(4 optimiser steps, one validation batch, a checkpoint) with CSV logs; everything goes to ``--out`` (default
``outputs/smoke/``), never to the stages' own ``outputs/<stage>/``, and the later runs read the earlier runs'
checkpoints from there (stage 4 intrinsic the flow regressor, the chain all four stages), in the order of ``RUNS``.
Printed: a markdown table of wall time and peak resident memory per run (``os.wait4``'s ``ru_maxrss`` of the child).
Exit status 1 when a run fails (its last output lines are printed) or exceeds ``--max-seconds`` / ``--max-gb``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SmokeRun:
    """One ``vton fit`` of the smoke sequence: ``configs`` are file stems, ``feeders`` map a model argument to the
    run whose ``last.ckpt`` it takes."""

    name: str
    configs: tuple[str, ...]
    feeders: dict[str, str] = field(default_factory=dict)


RUNS = (
    SmokeRun("stage1_layout", ("stage1_layout",)),
    SmokeRun("stage2_warp", ("stage2_warp",)),
    SmokeRun("stage2_warp_tps", ("stage2_warp_tps",)),
    SmokeRun("stage2_warp_flow", ("stage2_warp_flow",)),
    SmokeRun("stage3_synthesis", ("stage3_synthesis",)),
    SmokeRun("stage3_fashionmirror", ("stage3_fashionmirror",)),
    SmokeRun("stage4_refine", ("stage4_refine",)),
    SmokeRun("stage4_refine_intrinsic", ("stage4_refine_intrinsic",), {"flow_checkpoint": "stage2_warp_flow"}),
    SmokeRun("stage4_refine_fusion", ("stage4_refine", "stage4_refine_fusion")),
    SmokeRun("temporal", ("temporal",)),
    SmokeRun(
        "e2e",
        ("e2e",),
        {
            "layout_checkpoint": "stage1_layout",
            "warp_checkpoint": "stage2_warp",
            "synthesis_checkpoint": "stage3_synthesis",
            "refine_checkpoint": "stage4_refine_fusion",
        },
    ),
)


def command(run: SmokeRun, out: Path) -> list[str]:
    """The ``vton fit`` command line of ``run``, writing under ``out/<run>/``."""
    args = [str(Path(sys.executable).with_name("vton")), "fit"]
    args += [arg for stem in run.configs for arg in ("-c", f"configs/{stem}.yaml")]
    args += [arg for stem in run.configs for arg in ("-c", f"configs/tiny/{stem}.yaml")]
    args += ["--trainer", "configs/trainer/smoke.yaml", "--trainer.logger", "configs/logger/csv.yaml"]
    args += ["--trainer.logger.init_args.save_dir", str(out / run.name)]
    args += ["--trainer.callbacks.init_args.dirpath", str(out / run.name / "checkpoints")]  # the ModelCheckpoint
    for argument, feeder in run.feeders.items():
        args += [f"--model.init_args.{argument}", str(out / feeder / "checkpoints" / "last.ckpt")]
    return args


def measure(args: list[str]) -> tuple[int, float, float, str]:
    """Run ``args``; its exit status, wall seconds, peak resident GiB and the tail of its output."""
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    tail = "\n".join(output.splitlines()[-15:])
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 2**20, tail  # ru_maxrss: KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/smoke"), help="folder of the runs' outputs")
    parser.add_argument("--only", nargs="+", choices=[run.name for run in RUNS], help="these runs (in RUNS order)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="a run taking longer fails the script")
    parser.add_argument("--max-gb", type=float, default=4.0, help="a run with a larger peak RSS fails the script")
    args = parser.parse_args()
    out = args.out if args.out.is_absolute() else REPO / args.out
    print(f"CPU smoke runs, {os.cpu_count()} cores; outputs under {out}\n")
    print("| run | wall s | peak RSS GiB | verdict |\n|---|---|---|---|")
    failed = False
    for run in RUNS:
        if args.only and run.name not in args.only:
            continue
        status, seconds, gib, tail = measure(command(run, out))
        over = []
        if seconds > args.max_seconds:
            over.append(f"> {args.max_seconds:.0f} s")
        if gib > args.max_gb:
            over.append(f"> {args.max_gb} GiB")
        verdict = f"exit {status}" if status else ", ".join(over) or "ok"
        print(f"| {run.name} | {seconds:.1f} | {gib:.2f} | {verdict} |", flush=True)
        if status:
            print(tail, file=sys.stderr)
        failed |= verdict != "ok"
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
