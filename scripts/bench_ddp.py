"""DDP scaling of a stage's training: images/s on 1, 2, 4 ... GPUs at the same per-GPU batch (weak scaling).

    python scripts/bench_ddp.py --config configs/stage3_synthesis.yaml --devices 1 2 4 --steps 60 --warmup 20

For each device count, one ``vton fit`` (the project's LightningCLI, ``configs/trainer/ddp.yaml``) runs ``--steps``
training batches on the synthetic set; a callback on rank 0 times the batches after ``--warmup`` (CUDA-synchronised
wall clock) and reports images/s over all ranks (per-GPU batch x ranks / median step time). Scaling efficiency =
images/s on N GPUs / (N x images/s on 1 GPU). Each run is a fresh process (the DDP launcher re-runs this script).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_fit(args: list[str], warmup: int, out: Path) -> None:
    """One ``vton fit`` with a rank-0 timing callback; writes ``{"step_s": [...], "world": N}`` to ``out``."""
    import torch
    from lightning.pytorch import Callback

    from lightning_modules.cli import run_cli

    class StepTimer(Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_end(self, trainer, *_) -> None:  # noqa: ANN001
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())

        def on_train_end(self, trainer, *_) -> None:  # noqa: ANN001
            if trainer.is_global_zero:
                steps = [b - a for a, b in zip(self.times[warmup:-1], self.times[warmup + 1 :], strict=True)]
                out.write_text(json.dumps({"step_s": steps, "world": trainer.world_size}))

    cli = run_cli(args, run=False)
    cli.trainer.callbacks.append(StepTimer())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/stage3_synthesis.yaml")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch-size", type=int, default=8, help="per GPU")
    parser.add_argument("--steps", type=int, default=60, help="training batches per run")
    parser.add_argument("--warmup", type=int, default=20, help="batches left out of the timing")
    parser.add_argument("--num-workers", type=int, default=6)
    parser.add_argument("--cli-args", default="", help="extra LightningCLI arguments")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_ddp.json"))
    parser.add_argument("--_run", type=Path, help=argparse.SUPPRESS)  # internal: one timed fit
    opts, rest = parser.parse_known_args()
    common = [
        "-c", opts.config, "--trainer", "configs/trainer/ddp.yaml", "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.limit_val_batches", "1",
        "--trainer.num_sanity_val_steps", "0",
        "--data.batch_size", str(opts.batch_size), "--data.num_workers", str(opts.num_workers),
        *opts.cli_args.split(),
    ]  # fmt: skip
    if opts._run is not None:  # the child: one fit (the DDP launcher re-runs exactly this command line)
        timed_fit([*common, *rest], opts.warmup, opts._run)
        return
    results = []
    for devices in opts.devices:
        record = opts.out.with_suffix(f".{devices}gpu.json")
        record.unlink(missing_ok=True)
        command = [sys.executable, __file__, *sys.argv[1:], "--_run", str(record), "--trainer.devices", str(devices)]
        command += ["--trainer.max_steps", "-1", "--trainer.max_epochs", "1"]
        command += ["--trainer.limit_train_batches", str(opts.steps)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0 or not record.is_file():
            print(f"{devices} GPU(s): failed (exit {done.returncode}): {done.stderr[-800:]}", flush=True)
            continue
        steps = json.loads(record.read_text())["step_s"]
        median = statistics.median(steps)
        images = opts.batch_size * devices / median
        results.append({"devices": devices, "median_step_s": median, "min_step_s": min(steps), "max_step_s": max(steps),
                        "images_per_s": images, "wall_s": time.perf_counter() - started})  # fmt: skip
        print(f"{devices} GPU(s): median step {median * 1000:.1f} ms ({min(steps) * 1000:.1f}-{max(steps) * 1000:.1f})"
              f", {images:.1f} images/s", flush=True)  # fmt: skip
    if results:
        single = next((r["images_per_s"] for r in results if r["devices"] == 1), None)
        print("\n| GPUs | per-GPU batch | median ms/step | min-max ms | images/s | scaling efficiency |")
        print("|---|---|---|---|---|---|")
        for r in results:
            eff = f"{r['images_per_s'] / (r['devices'] * single):.1%}" if single else "-"
            spread = f"{r['min_step_s'] * 1000:.1f}-{r['max_step_s'] * 1000:.1f}"
            print(f"| {r['devices']} | {opts.batch_size} | {r['median_step_s'] * 1000:.1f} | {spread} | "
                  f"{r['images_per_s']:.1f} | {eff} |")  # fmt: skip
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
