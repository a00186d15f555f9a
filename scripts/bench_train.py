"""Training-step speed, memory and loss curves of every stage and of the joint chain (``make bench-train``).

Each entry's rows run in one fresh process (the module built once; each row its own ``Trainer.fit`` with peak memory
reset; compiled rows last, since compiling changes the module for good) that prints a JSON line per row; the parent
collects them into markdown tables and ``--out FILE.json`` / ``FILE.md``.

Sections (``--sections``):

- ``steps``: the module's own ``training_step`` (every loss, G and D updates) on one batch resident on the GPU
  (data loading apart), for each entry (``stage1`` SPG, ``stage2`` cascade, ``stage3``, ``stage4`` seed 002, ``e2e``:
  ``TryOnPipeline`` over them, joint) at the paper batch (8) and the preset batch (``--preset-batch``, 32), eager
  bf16-mixed (the path every result so far trained with) and the fast path (``lightning_modules.fast_training``:
  compile + channels_last + fused Adam + lazy R1 every 16, bf16-mixed). images/s from the median step (CUDA-synchronised
  wall clock per step after warm-up), peak ``max_memory_allocated``, host synchronisations per step
  (``torch.cuda.set_sync_debug_mode("warn")`` over the timed steps) and, with ``--profile``, the GPU's busy share of
  the timed steps (kernel time / wall time), their top CUDA kernels, and, from 3 more steps profiled with the host
  side, the operators whose kernels took the most device time with the function of this repository that called them.
- ``levers``: each switch on its own over eager bf16 (channels_last; fused Adam; lazy R1) and fp32, for the entries
  of ``--lever-entries`` at the preset batch; compile's share is the fast row against those (compiling alone would
  need a module of its own).
- ``data``: the fast path at the preset batch fed by the real train loader (``--workers``), so the step includes
  waiting for data: images/s and the host time per step spent waiting for the next batch (the GPU idles then).
- ``curves``: the loss curve of the first ``--curve-steps`` batches (real data, the config's optimizers at the paper
  batch): eager fp32 from seeds 0 and 1 (their difference is the run-to-run noise) and the fast path (bf16) from seed 0;
  the table gives, per logged total, the mean absolute difference to eager fp32 seed 0 of 25-batch running means.

Networks: the default configs at paper widths, random weights (speed does not depend on them), built by the project's
LightningCLI as ``vton fit -c`` builds them (``bench_gpu.build_stage``); inputs: the synthetic set (``--data-root``).

    python scripts/bench_train.py --out bench_train   # one H200: tens of minutes (compiling takes 2-3 min a stage)
    python scripts/bench_train.py --device cpu --quick --tiny --size 64x48 --paper-batch 2 --preset-batch 4 \
        --workers 0 --sections steps,curves --entries stage2 --curve-entries stage2 --out /tmp/t   # CPU smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_gpu beside this file
from bench_gpu import REPO, build_stage, ensure_dataset, failure, fmt, make_batch  # noqa: E402
from lightning.pytorch import Callback, seed_everything  # noqa: E402

from datamodules.synthetic.cli import parse_size  # noqa: E402

ENTRIES = ("stage1", "stage2", "stage3", "stage4", "e2e")
SECTIONS = ("steps", "levers", "data", "curves")
# name -> (precision, FastTraining arguments)
PATHS: dict[str, tuple[str, dict[str, Any]]] = {
    "fp32": ("32-true", {}),
    "bf16": ("bf16-mixed", {}),
    "bf16+cl": ("bf16-mixed", {"channels_last": True}),
    "bf16+fused": ("bf16-mixed", {"fused_adam": True}),
    "bf16+lazy-r1": ("bf16-mixed", {"r1_interval": 16}),
    "fast": ("bf16-mixed", {"compile": True, "channels_last": True, "fused_adam": True, "r1_interval": 16}),
}
CURVE_WINDOW = 25
LOG_LINES = 300  # of a failed child's stderr, kept beside --out
OP_PROFILE_STEPS = 3  # untimed steps after the timed ones, profiled with the host side (``top_ops``)
LOCK_PATH = Path(tempfile.gettempdir()) / "vton_bench_train.lock"
CURVE_RUNS = (("fp32 seed 0", "fp32", 0), ("fp32 seed 1", "fp32", 1), ("fast seed 0", "fast", 0))


# ---------------------------------------------------------------------------------------------- one row (child)
def build_entry(
    entry: str, size: tuple[int, int], device: torch.device, extra: list[str], tiny: bool = False, seed: int = 0
) -> torch.nn.Module:
    """The training module of ``entry``, initialised from ``seed``: a stage's default config, or the joint chain over
    stages 1, 2 (cascade), 3 and 4 (seed 002 with fusion) as ``configs/e2e.yaml`` fine-tunes them (its stage rates).
    The global RNGs are left at ``seed``'s state after the build, so the data order follows the seed too."""
    if entry != "e2e":
        return build_stage(entry, size, device, extra, tiny, seed).train()
    from lightning_modules.pipeline import TryOnPipeline

    stages = {
        "layout": build_stage("stage1", size, device, extra, tiny, seed),
        "warp": build_stage("stage2", size, device, extra, tiny, seed),
        "synthesis": build_stage("stage3", size, device, extra, tiny, seed),
        "refine": build_stage("stage4", size, device, [*extra, "--model.init_args.fusion", "true"], tiny, seed),
    }
    return TryOnPipeline(task="tryon", image_size=size, stages=stages).to(device).train()


class StepRecorder(Callback):
    """Per-batch wall time (synchronised before and after), the host's wait for each batch, the logged ``*/total``
    losses (``losses``) and, with ``count_syncs``, ``set_sync_debug_mode("warn")`` inside the timed batches only (the
    recorder's own synchronisations and Lightning's bookkeeping between batches are outside)."""

    def __init__(
        self, device: torch.device, warmup: int, steps: int, losses: bool, count_syncs: bool, profile: bool
    ) -> None:
        self.device, self.warmup, self.steps, self.record_losses = device, warmup, steps, losses
        self.count_syncs = count_syncs
        activities = torch.profiler.ProfilerActivity
        # CUDA kernels of the timed batches (not compilation's or cuDNN's autotuning): cheap, the timing holds
        self.profiler = torch.profiler.profile(activities=[activities.CUDA]) if profile else None
        # then OP_PROFILE_STEPS untimed batches with the host side too: which operator, called from where, ran them
        self.op_profiler = (
            torch.profiler.profile(
                activities=[activities.CPU, activities.CUDA],
                with_stack=True,
                experimental_config=torch._C._profiler._ExperimentalConfig(verbose=True),  # the operators' stacks
            )  # fmt: skip
            if profile
            else None
        )
        self.times: list[float] = []
        self.waits: list[float] = []
        self.losses: list[dict[str, float]] = []
        self.begin, self.last_end = 0.0, None
        self.timed, self.exclusive = not losses, None  # loss curves are not timed

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # noqa: ANN001
        self.synchronize()
        now = time.perf_counter()
        if self.last_end is not None and batch_idx > self.warmup:
            self.waits.append(1000 * (now - self.last_end))
        self.begin = now
        if batch_idx == self.warmup and self.timed:
            self.exclusive = exclusive_gpu()
            self.exclusive.__enter__()
            now = self.begin = time.perf_counter()
        if self.profiler is not None and batch_idx == self.warmup:
            self.profiler.start()
        if self.op_profiler is not None and batch_idx == self.warmup + self.steps:
            self.profiler.stop()
            self.op_profiler.start()
        if self.count_syncs and self.warmup <= batch_idx < self.warmup + self.steps:
            torch.cuda.set_sync_debug_mode("warn")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        if self.count_syncs:
            torch.cuda.set_sync_debug_mode("default")
        self.synchronize()
        self.last_end = time.perf_counter()
        if self.warmup <= batch_idx < self.warmup + self.steps:
            self.times.append(1000 * (self.last_end - self.begin))
        if self.record_losses:
            metrics = trainer.callback_metrics
            self.losses.append({k: float(v) for k, v in metrics.items() if k.endswith("/total")})

    def on_train_end(self, trainer, module) -> None:  # noqa: ANN001
        if self.op_profiler is not None:
            self.op_profiler.stop()
        if self.exclusive is not None:
            self.exclusive.__exit__(None, None, None)
            self.exclusive = None


@contextlib.contextmanager
def exclusive_gpu() -> Iterator[None]:
    """Held over the timed steps of a row: with ``--parallel`` rows of several processes build and compile at once,
    but only one is timed at a time, at normal CPU priority while the others run at nice 10."""
    import fcntl

    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        try:
            yield
        finally:
            os.setpriority(os.PRIO_PROCESS, 0, 10)
            fcntl.flock(lock, fcntl.LOCK_UN)


def kernel_time_ms(prof: Any) -> float:  # noqa: ANN401 (torch.profiler.profile)
    """The device time of every CUDA kernel ``prof`` recorded, in ms."""
    events = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    return sum(e.self_device_time_total for e in events) / 1000


def top_kernels(prof: Any, count: int = 8) -> str:  # noqa: ANN401 (torch.profiler.profile)
    """The ``count`` kernels with the most device time: ``name share%``."""
    events = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    total = sum(e.self_device_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_device_time_total, reverse=True)
    return "; ".join(f"{e.key[:90]} {100 * e.self_device_time_total / total:.1f}%" for e in events[:count])


def top_ops(prof: Any, count: int = 8) -> str:  # noqa: ANN401 (torch.profiler.profile)
    """The ``count`` host operators whose own kernels took the most device time, each with the innermost function of
    this repository that called it: ``op (file:function) share%`` (``-``: none, e.g. the backward's operators, run
    by autograd's own thread)."""
    events = [e for e in prof.key_averages(group_by_stack_n=12) if e.device_type == torch.autograd.DeviceType.CPU]
    events = [e for e in events if e.self_device_time_total > 0]
    total = sum(e.self_device_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_device_time_total, reverse=True)
    packages = tuple(f"{path.name}/" for path in REPO.iterdir() if (path / "__init__.py").exists())

    def site(event: Any) -> str:  # noqa: ANN401 (a profiler event); frames read "package/file.py(line): function"
        frames = [frame for frame in event.stack if frame.startswith(packages)]
        return "{}:{}".format(frames[0].split("(")[0], frames[0].split(": ")[-1]) if frames else "-"

    return "; ".join(f"{e.key} ({site(e)}) {100 * e.self_device_time_total / total:.1f}%" for e in events[:count])


def run_rows(specs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The measurements ``specs`` (one entry; path, batch, mode ``time``/``data``/``curve``, steps, seed, ...) on one
    module built once: each spec is its own ``Trainer.fit`` (fresh optimizers, peak memory reset). Compiling changes
    the module for good, so compiled specs come last; channels_last is undone for the specs without it."""
    first = specs[0]
    device, size = torch.device(first["device"]), tuple(first["size"])
    torch.backends.cudnn.benchmark = True
    torch._dynamo.config.recompile_limit = 64
    seed_everything(first["seed"], verbose=False)
    module = build_entry(first["entry"], size, device, first["cli_args"], first["tiny"], first["seed"])
    batches: dict[int, dict] = {}
    for spec in specs:
        try:
            if spec["mode"] == "curve" and spec is not first:  # a curve starts from its seed's initialisation
                seed_everything(spec["seed"], verbose=False)
                module = build_entry(spec["entry"], size, device, spec["cli_args"], spec["tiny"], spec["seed"])
            yield measure(spec, module, batches)
        except Exception as error:  # one failing row does not stop the others; its traceback goes to stderr
            traceback.print_exc()
            yield {k: spec[k] for k in ("entry", "path", "batch")} | {"note": failure(error)}


def measure(spec: dict[str, Any], module: torch.nn.Module, batches: dict[int, dict]) -> dict[str, Any]:
    from lightning.pytorch import Trainer

    from datamodules.fashion_datamodule import FashionDataModule
    from lightning_modules.fast_training import FastTraining

    device, size, mode = torch.device(spec["device"]), tuple(spec["size"]), spec["mode"]
    precision, switches = PATHS[spec["path"]]
    if not switches.get("channels_last"):
        module.to(memory_format=torch.contiguous_format)
    warmup, steps = spec["warmup"], spec["steps"]
    count_syncs = device.type == "cuda" and mode == "time"
    profile = bool(spec.get("profile")) and count_syncs
    op_steps = OP_PROFILE_STEPS if profile else 0
    recorder = StepRecorder(device, warmup if mode != "curve" else 0, steps, mode == "curve", count_syncs, profile)
    datamodule = loader = None
    if mode == "time":
        if spec["batch"] not in batches:
            batches[spec["batch"]] = make_batch(spec["data_root"], size, spec["batch"], device)
        loader = torch.utils.data.DataLoader([batches[spec["batch"]]] * (warmup + steps + op_steps), batch_size=None)
    else:
        datamodule = FashionDataModule(dataset="mpv", root=spec["data_root"], image_size=size,
                                       batch_size=spec["batch"], num_workers=spec["workers"],
                                       pin_memory=device.type == "cuda", val_subset=1)  # fmt: skip
        datamodule.setup("fit")
        if len(datamodule.train_dataloader()) < warmup + steps:
            raise ValueError(f"{spec['data_root']} has fewer than {warmup + steps} batches of {spec['batch']}")
    fast = FastTraining(**switches)
    trainer = Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=precision, max_epochs=1,
        limit_train_batches=warmup + steps + op_steps, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, benchmark=True,
        callbacks=[recorder, fast],
    )  # fmt: skip
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    begin = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("always")
        trainer.fit(module, train_dataloaders=loader, datamodule=datamodule)
    fit_s = time.perf_counter() - begin
    syncs = [
        f"{'/'.join(Path(w.filename).parts[-2:])}:{w.lineno}" for w in caught if "synchroniz" in str(w.message).lower()
    ]
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    row: dict[str, Any] = {"entry": spec["entry"], "path": spec["path"], "batch": spec["batch"]}
    if mode == "curve":
        return row | {"seed": spec["seed"], "losses": recorder.losses}
    times = recorder.times
    median = statistics.median(times)
    row |= {
        "images/s": fmt(spec["batch"] * 1000 / median, 4),
        "median ms/step": fmt(median, 4),
        "min-max ms": f"{fmt(min(times), 4)}-{fmt(max(times), 4)}",
        "steps timed": len(times),
        "peak MiB": fmt(peak, 5),
        "fit s (warm-up incl. compile)": fmt(fit_s, 3),
        "compiled": ", ".join(fast.compiled) or "-",
    }
    if mode == "time" and device.type == "cuda":
        row["host syncs/step"] = fmt(len(syncs) / max(len(times), 1), 3)
        if syncs:
            row["sync sites"] = ", ".join(dict.fromkeys(syncs))[:300]
    if mode == "data":
        waits = recorder.waits
        row["wait ms/step (median, max)"] = f"{fmt(statistics.median(waits), 3)}, {fmt(max(waits), 3)}"
        row["workers"] = spec["workers"]
    if recorder.profiler is not None:
        row["GPU busy %"] = fmt(100 * kernel_time_ms(recorder.profiler) / sum(times), 3)
        row["top kernels"] = top_kernels(recorder.profiler)
        row["top ops (caller)"] = top_ops(recorder.op_profiler)
    return row


# ---------------------------------------------------------------------------------------------- parent
def child(specs: list[dict[str, Any]], timeout: float, log: Path | None = None) -> list[dict[str, Any]]:
    """Run ``specs`` (one entry) in a fresh process; it prints one JSON row per line, as each finishes. With ``log``,
    the last ``LOG_LINES`` lines of its stderr (a failed row's traceback) go to that file when a row failed."""
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--rows", json.dumps(specs)], capture_output=True, text=True, timeout=timeout
        )
        stdout, stderr = done.stdout, done.stderr
        note = "" if done.returncode == 0 else (stderr.strip().splitlines() or ["?"])[-1]
    except subprocess.TimeoutExpired as error:  # its partial output comes as bytes, whatever ``text`` says
        stdout, stderr = (
            (error.stdout or b"").decode(errors="replace"),
            (error.stderr or b"").decode(errors="replace"),
        )
        note = f"over {timeout:.0f} s"
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if log is not None and (len(rows) < len(specs) or any("note" in row for row in rows)):
        log.write_text("\n".join(stderr.splitlines()[-LOG_LINES:]) + "\n")
    for spec in specs[len(rows) :]:
        rows.append({k: spec[k] for k in ("entry", "path", "batch")} | {"note": f"failed: {note[:200] or 'no row'}"})
    return rows


def running_means(values: list[float], window: int) -> list[float]:
    return [statistics.fmean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]


def curve_rows(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per logged total: mean |running mean - eager fp32 seed 0's| of the seed-1 run (the noise) and the fast run."""
    reference = runs.get("fp32 seed 0")
    if reference is None or "losses" not in reference:
        return [{"note": "no eager fp32 seed-0 curve"}]
    rows = []
    for key in sorted(reference["losses"][0]):
        ref = running_means([step[key] for step in reference["losses"]], CURVE_WINDOW)
        row: dict[str, Any] = {"entry": reference["entry"], "loss": key, "batches": len(ref),
                               "fp32 seed 0: first, last": f"{fmt(ref[0], 4)}, {fmt(ref[-1], 4)}"}  # fmt: skip
        for name in ("fp32 seed 1", "fast seed 0"):
            run = runs.get(name, {})
            if "losses" not in run:
                row[name] = run.get("note", "missing")
                continue
            other = running_means([step[key] for step in run["losses"]], CURVE_WINDOW)
            row[f"{name}: mean |diff|"] = fmt(statistics.fmean(abs(a - b) for a, b in zip(ref, other, strict=False)), 3)
            row[f"{name}: last"] = fmt(other[-1], 4)
        noise, fast = row.get("fp32 seed 1: mean |diff|"), row.get("fast seed 0: mean |diff|")
        if noise is not None and fast is not None:
            row["fast within noise"] = "yes" if float(fast) <= float(noise) else "no"
        rows.append(row)
    return rows


def markdown(header: dict[str, str], tables: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"- {k}: {v}" for k, v in header.items()]
    for name, rows in tables.items():
        columns = list(dict.fromkeys(k for row in rows for k in row if k != "losses"))
        lines += ["", f"### {name}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help=argparse.SUPPRESS)  # internal: run a JSON list of specs, print their rows
    parser.add_argument("--sections", default="steps,levers,data,curves", help=f"from {list(SECTIONS)}")
    parser.add_argument("--entries", default=",".join(ENTRIES), help=f"from {list(ENTRIES)}")
    parser.add_argument("--lever-entries", default="stage1,stage3", help="entries of the levers section")
    parser.add_argument("--curve-entries", default="stage1,stage2,stage3,stage4", help="entries of the curves")
    parser.add_argument("--size", type=parse_size, default=(256, 192))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--paper-batch", type=int, default=8)
    parser.add_argument("--preset-batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation happens here)")
    parser.add_argument("--curve-steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--data-root", default=str(REPO / "data" / "synthetic_mpv"))
    parser.add_argument("--cli-args", type=shlex.split, default=[], help="LightningCLI overrides for every stage")
    parser.add_argument("--profile", action="store_true", help="top CUDA kernels of the steps rows")
    parser.add_argument("--quick", action="store_true", help="2 + 2 steps, 8-batch curves (CPU smoke test)")
    parser.add_argument("--tiny", action="store_true", help="the CPU preset's networks (configs/tiny/): smoke tests")
    parser.add_argument("--row-timeout-s", type=float, default=240.0, help="per row")
    parser.add_argument("--compiled-paper-batch", action=argparse.BooleanOptionalAction, default=True,
                        help="also the fast path at the paper batch (a second compilation)")  # fmt: skip
    parser.add_argument("--eager", action=argparse.BooleanOptionalAction, default=True,
                        help="the eager bf16 rows of the steps section (--no-eager: the fast path's only)")  # fmt: skip
    parser.add_argument("--curve-parallel", type=int, default=3, help="curve runs at once, over all curve entries "
                        "(one GPU is shared)")  # fmt: skip
    parser.add_argument("--parallel", type=int, default=1, help="entries at once: builds and compilation overlap, "
                        "timed steps take turns (exclusive_gpu)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write FILE.json and FILE.md")
    args = parser.parse_args(argv)
    if args.rows:
        os.nice(10)  # compile and build at low priority; exclusive_gpu raises it for the timed steps
        for row in run_rows(json.loads(args.rows)):
            print(json.dumps(row), flush=True)
        return
    if args.quick:
        args.steps, args.warmup, args.curve_steps = 2, 2, 8
    data_root, data_note = ensure_dataset(args.data_root, args.size, args.quick)
    entries = [e for e in args.entries.split(",") if e]
    if set(entries) - set(ENTRIES):
        parser.error(f"--entries: unknown {sorted(set(entries) - set(ENTRIES))}; choose from {list(ENTRIES)}")
    sections = [s for s in args.sections.split(",") if s]
    base = {"device": args.device, "size": list(args.size), "data_root": data_root, "cli_args": args.cli_args,
            "warmup": args.warmup, "steps": args.steps, "seed": 0, "workers": args.workers, "mode": "time",
            "tiny": args.tiny}  # fmt: skip
    header = {
        "command": shlex.join(["python", "scripts/bench_train.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "device": (torch.cuda.get_device_name() if args.device == "cuda" else "CPU") + f" ({os.cpu_count()} CPU cores)",
        "versions": f"torch {torch.__version__} (CUDA {torch.version.cuda})",
        "size": f"{args.size[0]}x{args.size[1]}",
        "data": data_note,
        "fast": "bf16-mixed + " + ", ".join(f"{k}={v}" for k, v in PATHS["fast"][1].items()),
    }
    print("\n".join(f"{k}: {v}" for k, v in header.items()), flush=True)
    tables: dict[str, list[dict[str, Any]]] = {}
    table_lock = threading.Lock()

    def save() -> None:
        if args.out:
            args.out.with_suffix(".json").write_text(json.dumps({"header": header, "tables": tables}, indent=1))
            args.out.with_suffix(".md").write_text(markdown(header, tables) + "\n")

    def add(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        log = args.out.with_name(f"{args.out.name}.{specs[0]['entry']}.log") if args.out else None
        rows = child([base | spec for spec in specs], args.row_timeout_s * len(specs), log)
        with table_lock:  # entries run in threads (--parallel)
            for spec, row in zip(specs, rows, strict=True):
                tables.setdefault(spec["table"], []).append(row)
                shown = ", ".join(f"{k}={v}" for k, v in row.items() if k != "losses")
                print(f"[{time.strftime('%H:%M:%S')}] {spec['table']}: {shown}", flush=True)
            save()
        return rows

    levers = [e for e in args.lever_entries.split(",") if e]
    entry_specs: list[list[dict[str, Any]]] = []
    for entry in entries if {"steps", "levers", "data"} & set(sections) else []:  # one process per entry
        step = {"entry": entry, "table": "Training step", "profile": args.profile}
        eager = [step | {"path": "bf16", "batch": b} for b in (args.paper_batch, args.preset_batch) if args.eager]
        lever_specs = [{"entry": entry, "table": "Levers, one at a time", "path": p, "batch": args.preset_batch}
                       for p in ("fp32", "bf16+cl", "bf16+fused", "bf16+lazy-r1")]  # fmt: skip
        compiled = [step | {"path": "fast", "batch": args.preset_batch}]
        if args.compiled_paper_batch:
            compiled.append(step | {"path": "fast", "batch": args.paper_batch})
        fed = {"entry": entry, "table": "Fast path fed by the train loader", "path": "fast", "mode": "data",
               "batch": args.preset_batch, "steps": 3 * args.steps}  # fmt: skip
        specs = (eager + compiled if "steps" in sections else []) + (lever_specs if "levers" in sections and entry in
                 levers else []) + ([fed] if "data" in sections else [])  # fmt: skip
        specs.sort(key=lambda spec: spec["path"] == "fast")  # compiled last: compiling changes the module for good
        if specs:
            entry_specs.append(specs)
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(add, entry_specs))
    if "curves" in sections:  # every entry's runs in one pool: curve runs are not timed
        curve_entries = [e for e in args.curve_entries.split(",") if e]
        jobs = [{"entry": entry, "table": f"Loss curves, raw ({entry})", "path": path, "batch": args.paper_batch,
                 "mode": "curve", "seed": seed, "warmup": 0, "steps": args.curve_steps}
                for entry in curve_entries for _, path, seed in CURVE_RUNS]  # fmt: skip

        def curve_log(spec: dict[str, Any]) -> Path | None:
            name = f"{spec['entry']}.curve-{spec['path']}-{spec['seed']}.log"
            return args.out.with_name(f"{args.out.name}.{name}") if args.out else None

        with ThreadPoolExecutor(args.curve_parallel) as pool:
            results = list(
                pool.map(lambda spec: child([base | spec], args.row_timeout_s * 3, curve_log(spec))[0], jobs)
            )
        for index, entry in enumerate(curve_entries):
            runs = {}
            for offset, (name, _, _) in enumerate(CURVE_RUNS):
                spec, row = jobs[index * len(CURVE_RUNS) + offset], results[index * len(CURVE_RUNS) + offset]
                tables.setdefault(spec["table"], []).append(row)
                runs[name] = row
            tables.setdefault("Loss curves", []).extend(curve_rows(runs))
            print(f"[{time.strftime('%H:%M:%S')}] curves of {entry}: {tables['Loss curves'][-1]}", flush=True)
        save()
    summary = {k: v for k, v in tables.items() if not k.startswith("Loss curves, raw")}
    print(f"\n{markdown(header, summary)}", flush=True)


if __name__ == "__main__":
    main()
