"""GPU speed and memory of every stage and of the try-on chain (``make bench``); ``--device cpu --quick`` smoke-tests.

What it measures (one markdown table each, printed at the end and written with ``--out``):

1. **Inference** of each stage's ``forward(batch)`` and of the chain (``TryOnPipeline``, task ``tryon``: stage 1 ->
   2 (cascade) -> 3 -> 4 with ``fusion=True``): latency at batch 1 and throughput at batch 64, for the fast-path
   options of ``models.fast_inference`` (fp32 / bf16 autocast / bf16 weights, channels_last, ``torch.compile``, CUDA
   graphs). Every row checks its outputs against fp32 eager on the same batch: max abs difference of the stage's
   main output (stage 1 ``coarse``, stage 2 ``warped_cloth``, stage 3 ``tryon``, stage 4 ``image``, chain
   ``result``) and of the worst output key.
2. **Fast-path checks**: host syncs of the eager fp32 forward (``torch.cuda.set_sync_debug_mode``) and the number of
   graphs / graph breaks ``torch.compile`` produced.
Training steps and the data pipeline have their own scripts: ``scripts/bench_train.py`` and ``scripts/bench_data.py``
(``make bench`` runs all three).

Networks are the default configs at paper widths: each ``configs/<stage>.yaml`` is parsed by the project's own
LightningCLI (``lightning_modules.cli.run_cli(args, run=False)``, so the model is what
``vton fit -c`` builds) with ``--data.init_args.image_size`` set to ``--size``; weights are random (speed does not
depend on them). Input batches are real samples of the synthetic set (``--data-root``, or a small set generated into
a temporary folder when it is missing).

Timing: warm-up calls, then repeats timed one call each with CUDA events (host clock on the CPU), the number of
repeats chosen to fill about ``--seconds-per-config`` (at least 5); median and min-max in ms. "fp32" is PyTorch's
default (cuDNN may use TF32); ``cudnn.benchmark`` is on. Phases run in this order under a global time budget
(``--budget-s``): A eager rows and host-sync checks, D the chain compiled (the targets), E the stages compiled, F extra
compiled variants (bf16 weights; no channels_last), chain first. A row that does not
fit is "skipped: time budget", a row that fails "failed: <reason>", and the run goes on; results are saved after
every row.

    python scripts/bench_gpu.py --out bench.json                       # ~8 minutes on one H100 / H200
    python scripts/bench_gpu.py --device cpu --quick --size 64x48 --only stage3 --out /tmp/b.md   # smoke test
    (add ``--cli-args '--model.init_args.generator.init_args.base_width 4'`` for tiny networks on a slow CPU)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import json
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch._dynamo

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from datamodules.synthetic.cli import parse_size  # noqa: E402 (HxW, multiples of 8: the image sizes)
from models.fast_inference import (  # noqa: E402 (the repository root is put on the path first)
    InferenceOptions,
    accelerate,
    compare_outputs,
    cuda_graphed,
    host_syncs,
    map_tensors,
)

# entry -> (config, extra CLI overrides, main output key)
STAGES: dict[str, tuple[str, list[str], str]] = {
    "stage1": ("stage1_layout", [], "coarse"),
    "stage2": ("stage2_warp", [], "warped_cloth"),
    "stage2_tps": ("stage2_warp_tps", [], "warped_cloth"),
    "stage2_flow": ("stage2_warp_flow", [], "flow"),
    "stage3": ("stage3_synthesis", [], "tryon"),
    "stage4": ("stage4_refine", [], "image"),
    "stage4_intrinsic": ("stage4_refine_intrinsic", ["--model.init_args.flow_checkpoint", "null"], "image"),
}
DEFAULT_STAGES = ("stage1", "stage2", "stage3", "stage4")
SECTIONS = ("chain",)
DEFAULT_ONLY = ",".join((*DEFAULT_STAGES, *SECTIONS))
EAGER_CONFIGS = ("fp32", "fp32+cl", "bf16", "bf16+cl", "bf16+cl+graphs")
FAST = "bf16+cl"  # compiled first (phases D and E); its "+graphs" row reuses the same compiled function
EXTRA_COMPILED = ("bf16-weights+cl", "bf16")  # phase F, chain first, while the budget lasts


def parse_options(name: str, compile_mode: str) -> InferenceOptions:
    """``"bf16+cl+compile+graphs"`` -> ``InferenceOptions``."""
    precision, *flags = name.split("+")
    unknown = set(flags) - {"cl", "compile", "graphs"}
    if unknown:
        raise ValueError(f"bench_gpu: unknown flags {sorted(unknown)} in configuration {name!r}")
    return InferenceOptions(precision, "cl" in flags, "compile" in flags, "graphs" in flags, compile_mode)


def parse_ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Report:
    """Rows per table, saved (JSON + markdown) after every row."""

    header: dict[str, str]
    out: Path | None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)
        shown = ", ".join(f"{k}={v}" for k, v in row.items())
        print(f"[{time.strftime('%H:%M:%S')}] {table}: {shown}", flush=True)
        self.save()

    def markdown(self) -> str:
        lines = [f"- {key}: {value}" for key, value in self.header.items()]
        for table, rows in self.rows.items():
            columns = list(dict.fromkeys(key for row in rows for key in row))
            lines += ["", f"### {table}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        if self.out is None:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.with_suffix(".json").write_text(json.dumps({"header": self.header, "tables": self.rows}, indent=1))
        self.out.with_suffix(".md").write_text(self.markdown())


def fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if value == value else "nan"


class Budget:
    """The global deadline and the per-row alarm (``SIGALRM``; the main thread only): no row starts after the
    deadline (a compiled row needs ``COMPILE_RESERVE_S`` left), and a row is abandoned ``GRACE_S`` after it."""

    COMPILE_RESERVE_S = 60.0
    GRACE_S = 30.0

    def __init__(self, seconds: float, per_config: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.per_config = per_config

    def exhausted(self, reserve: float = 0.0) -> bool:
        return time.monotonic() + reserve > self.deadline

    @contextlib.contextmanager
    def alarm(self) -> Iterator[None]:
        if not hasattr(signal, "SIGALRM") or self.per_config <= 0:
            yield
            return

        def expire(signum: int, frame: Any) -> None:
            raise TimeoutError(f"over --config-timeout-s {self.per_config} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.alarm(int(max(5, min(self.per_config, self.deadline + self.GRACE_S - time.monotonic()))))
        try:
            yield
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def failure(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"failed: {type(error).__name__}: {text[0][:200] if text else ''}"


def cleanup(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------- building
def build_stage(
    entry: str, size: tuple[int, int], device: torch.device, extra: list[str], tiny: bool = False, seed: int = 0
) -> torch.nn.Module:
    """The LightningModule of ``configs/<config>.yaml`` as ``vton fit -c`` builds it, at ``size``, on ``device``,
    with the LightningCLI overrides ``extra`` (``--cli-args``); ``tiny`` adds the CPU preset ``configs/tiny/``. The
    weights are initialised from ``seed`` (the CLI's ``--seed_everything``, which leaves the global RNGs there)."""
    from lightning_modules.cli import run_cli

    config, overrides, _ = STAGES[entry]
    args = ["-c", str(REPO / "configs" / f"{config}.yaml")]
    args += ["-c", str(REPO / "configs" / "tiny" / f"{config}.yaml")] if tiny else []
    args += ["--data.init_args.image_size", f"[{size[0]}, {size[1]}]"]
    args += ["--trainer.logger", "false", "--seed_everything", str(seed), *overrides, *extra]
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        cli = run_cli(args, run=False)
    return cli.model.to(device).eval()


def build_chain(size: tuple[int, int], device: torch.device, extra: list[str]) -> torch.nn.Module:
    """``TryOnPipeline`` (task ``tryon``) over stages 1, 2 (cascade), 3 and 4 (``fusion=True``) at paper widths."""
    from lightning_modules.pipeline import TryOnPipeline

    stages = {
        "layout": build_stage("stage1", size, device, extra),
        "warp": build_stage("stage2", size, device, extra),
        "synthesis": build_stage("stage3", size, device, extra),
        "refine": build_stage("stage4", size, device, [*extra, "--model.init_args.fusion", "true"]),
    }
    return TryOnPipeline(task="tryon", image_size=size, stages=stages).to(device).eval()


def ensure_dataset(root: str | None, size: tuple[int, int], quick: bool) -> tuple[str, str]:
    """``(root, note)``: ``root`` if it holds an MPV-layout set, else a small synthetic set generated now."""
    if root and (Path(root) / "data_pair.txt").is_file():
        return root, f"{root} (existing)"
    from datamodules.synthetic.dataset import SynthConfig, synthesize

    n_train = 4 if quick else 512
    folder = tempfile.mkdtemp(prefix="bench_synthetic_")
    workers = 1 if quick else max(1, min(16, os.cpu_count() or 1))
    synthesize(SynthConfig(out=folder, layout="mpv", height=size[0], width=size[1], n_train=n_train, n_test=4,
                           seed=0, workers=workers))  # fmt: skip
    return folder, f"generated {n_train} training samples ({root or 'no --data-root'} missing)"


def make_batch(root: str, size: tuple[int, int], batch_size: int, device: torch.device) -> dict:
    """``batch_size`` training samples of the set at ``root`` (cycled if it has fewer), collated, on ``device``."""
    from torch.utils.data import default_collate

    from datamodules.fashion_datamodule import FashionDataModule

    datamodule = FashionDataModule(dataset="mpv", root=root, image_size=size, batch_size=batch_size, num_workers=0)
    datamodule.setup("fit")
    dataset = datamodule.train_set
    samples = [dataset[i % len(dataset)] for i in range(min(batch_size, len(dataset)))]
    samples = [samples[i % len(samples)] for i in range(batch_size)]
    return map_tensors(default_collate(samples), lambda t: t.to(device))


# ---------------------------------------------------------------------------------------------- timing
def time_calls(fn: Callable[[], Any], device: torch.device, warmup: int, repeats: int | None, seconds: float):
    """Per-call milliseconds after ``warmup`` calls, and the last call's output. ``repeats=None``: enough calls to
    fill about ``seconds`` (5 to 200)."""
    output = None
    for _ in range(warmup):
        output = fn()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)

    def one() -> float:
        nonlocal output
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            output = fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        begin = time.perf_counter()
        output = fn()
        return 1000 * (time.perf_counter() - begin)

    times = [one()]
    count = repeats if repeats is not None else int(min(200, max(5, 1000 * seconds / max(times[0], 1e-3))))
    times += [one() for _ in range(count - 1)]
    return times, output


@dataclass
class Context:
    args: argparse.Namespace
    device: torch.device
    budget: Budget
    report: Report
    data_root: str
    batches: dict[int, dict] = field(default_factory=dict)

    def batch(self, size: int) -> dict:
        if size not in self.batches:
            self.batches[size] = make_batch(self.data_root, self.args.size, size, self.device)
        return self.batches[size]


def inference_rows(ctx: Context, entry: str, module: torch.nn.Module, configs: list[str], main_key: str) -> None:
    """One row per (batch size, configuration) of ``entry``; compiled "+graphs" rows reuse the compiled function."""
    from torch._dynamo.utils import counters

    args, device = ctx.args, ctx.device
    for batch_size in args.batch_sizes:
        batch = ctx.batch(batch_size)
        table = f"Inference, batch {batch_size}"
        reference = None  # fp32 eager outputs, computed for the first row that runs
        compiled: dict[str, Callable] = {}
        for name in configs:
            row: dict[str, Any] = {"entry": entry, "config": name}
            options = parse_options(name, args.compile_mode)
            if ctx.budget.exhausted(Budget.COMPILE_RESERVE_S if options.compile else 0.0):
                ctx.report.add(table, row | {"note": "skipped: time budget (--budget-s)"})
                continue
            if device.type != "cuda" and (options.compile or options.cuda_graphs):
                ctx.report.add(table, row | {"note": "skipped: compile / CUDA graphs need a CUDA device"})
                continue
            try:
                with ctx.budget.alarm():
                    if reference is None:
                        with torch.no_grad():
                            reference = module(batch)
                    begin = time.monotonic()
                    base = name.removesuffix("+graphs")
                    if options.compile and options.cuda_graphs and base in compiled:
                        fn = cuda_graphed(compiled[base], options.warmup)  # the compiled function of the row before
                    else:
                        if options.compile:
                            torch._dynamo.reset()
                            counters.clear()
                        fn = accelerate(copy.deepcopy(module), options)
                    call = lambda f=fn, b=batch: f(b)  # noqa: E731
                    first = time.monotonic()
                    call()
                    setup_s = time.monotonic() - first
                    if options.compile and not options.cuda_graphs:
                        compiled[name] = fn
                        graphs = counters["stats"]["unique_graphs"]
                        breaks = sum(counters["graph_break"].values())
                        ctx.report.add(
                            "Fast-path checks",
                            {"entry": entry, "batch": batch_size, "check": f"torch.compile ({name})",
                             "result": f"{graphs} graph(s), {breaks} graph break(s)"
                             + (f": {'; '.join(list(counters['graph_break'])[:3])}" if breaks else "")},
                        )  # fmt: skip
                    times, output = time_calls(call, device, 2 if not args.quick else 1, args.repeats,
                                               args.seconds_per_config)  # fmt: skip
                    diffs = compare_outputs(reference, output)
                    del output
                median = statistics.median(times)
                row |= {
                    "median ms": fmt(median, 4),
                    "min-max ms": f"{fmt(min(times), 4)}-{fmt(max(times), 4)}",
                    "images/s": fmt(batch_size * 1000 / median, 4),
                    "repeats": len(times),
                    f"max abs diff ({main_key})": fmt(diffs.get(main_key, float("nan"))),
                    "worst key diff": _worst(diffs),
                    "first call s": fmt(setup_s),
                    "total s": fmt(time.monotonic() - begin),
                }
            except Exception as error:  # one configuration failing must not end the run
                row["note"] = failure(error)
            ctx.report.add(table, row)
            fn = call = None
            cleanup(device)
        compiled.clear()
        del reference
        cleanup(device)


def _worst(diffs: dict[str, float]) -> str:
    if not diffs:
        return "-"
    key = max(diffs, key=lambda k: float("inf") if diffs[k] != diffs[k] else diffs[k])
    return f"{fmt(diffs[key])} ({key})"


# ---------------------------------------------------------------------------------------------- checks
def checks_row(ctx: Context, entry: str, module: torch.nn.Module) -> None:
    """Host syncs of the eager fp32 forward at the smallest batch."""
    row: dict[str, Any] = {"entry": entry, "batch": min(ctx.args.batch_sizes), "check": "host syncs (eager fp32)"}
    if ctx.device.type != "cuda":
        ctx.report.add("Fast-path checks", row | {"result": "n/a: needs a CUDA device"})
        return
    try:
        found = host_syncs(module, ctx.batch(min(ctx.args.batch_sizes)))
        row["result"] = "none" if not found else "; ".join(_short(f) for f in found[:8])
    except Exception as error:
        row["result"] = failure(error)
    ctx.report.add("Fast-path checks", row)


def _short(location: str) -> str:
    path = Path(location.rsplit(":", 1)[0])
    with contextlib.suppress(ValueError):
        return f"{path.relative_to(REPO)}:{location.rsplit(':', 1)[1]}"
    return location


# ---------------------------------------------------------------------------------------------- main
def header(args: argparse.Namespace, argv: list[str], device: torch.device, data_note: str) -> dict[str, str]:
    import kornia
    import lightning

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return {
        "command": shlex.join(["python", "scripts/bench_gpu.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "device": f"{name} ({os.cpu_count()} CPU cores)",
        "versions": f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), "
        f"lightning {lightning.__version__}, kornia {kornia.__version__}",
        "size": f"{args.size[0]}x{args.size[1]}",
        "timing": "CUDA events per call after warm-up; median and min-max over the repeats (host clock on CPU); "
        "fp32 = PyTorch defaults (cuDNN TF32 allowed), cudnn.benchmark on",
        "compile": f"torch.compile mode {args.compile_mode!r}, dynamic=False; graphs = explicit CUDA graph capture",
        "data": data_note,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(256, 192), help="image H x W (256x192)")
    parser.add_argument("--only", default=DEFAULT_ONLY, help=f"entries and sections, from {list(STAGES)} + "
                        f"{list(SECTIONS)} (default {DEFAULT_ONLY})")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="write FILE.json and FILE.md (all tables)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny repeats and batches (CPU smoke test)")
    parser.add_argument("--batch-sizes", type=parse_ints, default=None, help="latency, throughput batches (1,64)")
    parser.add_argument("--data-root", default=str(REPO / "data" / "synthetic_mpv"))
    parser.add_argument(
        "--configs",
        default=",".join(EAGER_CONFIGS),
        help=f"eager rows (phase A), from {list(EAGER_CONFIGS)}; the compiled rows always run",
    )
    parser.add_argument("--repeats", type=int, default=None, help="fixed repeats (default: fill the time below)")
    parser.add_argument("--seconds-per-config", type=float, default=1.0, help="timed seconds per row (approx.)")
    parser.add_argument(
        "--cli-args",
        type=shlex.split,
        default=[],
        help="LightningCLI overrides for every stage, "
        "e.g. smaller widths for a smoke test: '--model.init_args.generator.init_args.base_width 4'",
    )
    parser.add_argument("--compile-mode", default="default", help="default | max-autotune-no-cudagraphs")
    parser.add_argument("--budget-s", type=float, default=450.0, help="start no new row after this many seconds")
    parser.add_argument("--config-timeout-s", type=int, default=180, help="abandon one row after this many seconds")
    args = parser.parse_args(argv)
    args.batch_sizes = args.batch_sizes or ([1, 2] if args.quick else [1, 64])
    if args.quick:
        args.repeats = args.repeats or 2
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(STAGES) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown names {unknown}; choose from {list(STAGES) + list(SECTIONS)}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available; pass --device cpu (with --quick) for a smoke test")
    torch.backends.cudnn.benchmark = True
    torch._dynamo.config.recompile_limit = 64  # many modules of the same classes are compiled in one process
    stages = [name for name in STAGES if name in selected]
    eager = [name.strip() for name in args.configs.split(",") if name.strip()]
    if set(eager) - set(EAGER_CONFIGS):
        parser.error(f"--configs: unknown {sorted(set(eager) - set(EAGER_CONFIGS))}; choose from {list(EAGER_CONFIGS)}")

    started = time.monotonic()
    budget = Budget(args.budget_s, args.config_timeout_s)
    data_root, data_note = ensure_dataset(args.data_root, args.size, args.quick)
    report = Report(header(args, sys.argv[1:] if argv is None else argv, device, data_note), args.out)
    ctx = Context(args, device, budget, report, data_root)
    print("\n".join(f"{k}: {v}" for k, v in report.header.items()), flush=True)

    entries: dict[str, tuple[torch.nn.Module | None, str]] = {}

    def entry(name: str) -> tuple[torch.nn.Module | None, str]:
        if name not in entries:
            try:
                build = build_chain if name == "chain" else partial(build_stage, name)
                module = build(args.size, device, args.cli_args)
                entries[name] = (module, "")
            except Exception as error:
                entries[name] = (None, failure(error))
        return entries[name]

    def run(name: str, configs: list[str]) -> None:
        module, error = entry(name)
        if module is None:
            for batch_size in args.batch_sizes:
                report.add(f"Inference, batch {batch_size}", {"entry": name, "config": "-", "note": error})
            return
        main_key = "result" if name == "chain" else STAGES[name][2]
        inference_rows(ctx, name, module, configs, main_key)

    inferred = [*stages, *(["chain"] if "chain" in selected else [])]
    for name in inferred:  # phase A: eager rows and host syncs
        module, _ = entry(name)
        if module is not None:
            checks_row(ctx, name, module)
        run(name, eager)
    fast = [f"{FAST}+compile", f"{FAST}+compile+graphs"]
    if "chain" in selected:  # phase D: the targets
        run("chain", fast)
    for name in stages:  # phase E
        run(name, fast)
    for extra in EXTRA_COMPILED:  # phase F
        for name in inferred[::-1]:
            run(name, [f"{extra}+compile", f"{extra}+compile+graphs"])
    print(f"\n{report.markdown()}\ntotal {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
