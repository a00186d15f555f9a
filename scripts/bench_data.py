"""Input-pipeline speed of ``FashionDataModule``'s train loader, for each ``batch_transforms`` mode.

For each mode (``worker``: the workers build whole contract samples; ``device``: they send compact samples and
``on_after_batch_transfer`` expands the batch on ``--device``) it measures, after a warm-up of two batches per
worker:

1. **loader**: batches as the workers deliver them (``next(iterator)`` only): samples/s, median and min-max ms of
   the per-batch intervals (as ``scripts/bench_gpu.py``'s data row);
2. **expand** (device mode): the expansion of one batch already on the device, ``on_after_batch_transfer``, timed
   with CUDA events (host clock on the CPU): median and min-max ms per batch, the samples/s it bounds, its peak
   extra GPU memory and the host syncs it makes (``torch.cuda.set_sync_debug_mode``; none expected);
3. **delivered**: the whole input pipeline as a training step would receive it: each batch taken from the
   loader, moved to the device (non-blocking, pinned memory on CUDA) and, in device mode, expanded, then
   synchronised; samples/s and per-batch intervals. The workers keep loading meanwhile, so this is the loader rate
   bounded by transfer and expansion.
4. **per-sample CPU**: ``dataset[i]`` in this process (one torch thread, as in a worker), CPU time per sample and
   the functions that take most of it (cProfile);
5. **exactness**: the first ``--batch`` training samples expanded on ``--device`` against the same samples built in
   the workers' way on the CPU: the largest absolute difference per key (0 everywhere on the CPU).

The dataset is ``--root`` (default ``data/synthetic_mpv``; ``make data``); when it is missing, a small synthetic set
is generated into a temporary folder (``scripts/bench_gpu.py``'s ``ensure_dataset``). Markdown tables go to stdout,
``--out FILE`` also writes them as JSON.

    python scripts/bench_data.py --device cpu --workers 2 --batch 8 --quick     # CPU smoke test (about a minute)
    python scripts/bench_data.py --out bench_data.json                          # a GPU machine: 16 workers, batch 32
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench_gpu import ensure_dataset, fmt  # noqa: E402 (scripts/ is on the path: this script's folder)
from lightning.fabric.utilities.apply_func import move_data_to_device  # noqa: E402
from torch.utils.data import default_collate  # noqa: E402

from datamodules.batch_expansion import collate_compact  # noqa: E402 (the repository root is put on the path)
from datamodules.fashion_datamodule import FashionDataModule  # noqa: E402
from datamodules.synthetic.cli import parse_size  # noqa: E402
from models.fast_inference import host_syncs  # noqa: E402

MODES = ("worker", "device")
AUGMENTATION = {"hflip_prob": 0.5, "rotate_degrees": 10.0, "translate": 0.05, "scale_range": (0.9, 1.1)}


def spread(ms: list[float]) -> dict[str, str]:
    """Median and min-max of per-batch milliseconds."""
    return {"median ms": fmt(statistics.median(ms), 4), "min-max ms": f"{fmt(min(ms), 4)}-{fmt(max(ms), 4)}"}


def intervals(batches: Iterator[dict], warm: int, timed: int, deliver: Callable[[dict], Any]) -> list[float]:
    """Milliseconds between consecutive deliveries (``deliver(next(batches))``) after ``warm`` untimed ones."""
    for _ in range(warm):
        deliver(next(batches))
    times = []
    last = time.perf_counter()
    for _ in range(timed):
        deliver(next(batches))
        now = time.perf_counter()
        times.append(1000 * (now - last))
        last = now
    return times


def device_ms(fn: Callable[[], Any], device: torch.device) -> float:
    """Milliseconds of ``fn()`` on ``device``: CUDA events on its stream, the host clock on the CPU."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end)
    begin = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - begin)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_datamodule(args: argparse.Namespace, root: str, mode: str, device: torch.device) -> FashionDataModule:
    datamodule = FashionDataModule(
        dataset="mpv",
        root=root,
        image_size=args.size,
        batch_size=args.batch,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        batch_transforms=mode,
        **(AUGMENTATION if args.augment else {}),
    )
    datamodule.setup("fit")
    return datamodule


def loader_rows(args: argparse.Namespace, root: str, mode: str, device: torch.device) -> dict[str, Any]:
    """The loader, expand and delivered figures of one mode (module docstring)."""
    datamodule = make_datamodule(args, root, mode, device)
    loader = datamodule.train_dataloader()
    warm = min(2 * max(args.workers, 1), len(loader) // 4)
    timed = min(len(loader) - warm, args.batches or (8 if args.quick else 200))
    if timed < 2:
        raise SystemExit(f"bench_data: {root} gives {len(loader)} batches of {args.batch}; too few to time")
    row: dict[str, Any] = {"mode": mode, "workers": args.workers, "batch": args.batch}

    loaded = intervals(iter(loader), warm, timed, lambda batch: None)
    row |= {"loader samples/s": fmt(1000 * args.batch / statistics.mean(loaded), 4)}
    row |= {f"loader {key}": value for key, value in spread(loaded).items()}

    expand_times: list[float] = []

    def deliver(batch: dict) -> None:
        on_device = move_data_to_device(batch, device)
        if mode == "device":
            expand_times.append(device_ms(lambda: datamodule.on_after_batch_transfer(on_device, 0), device))
        synchronize(device)

    delivered = intervals(iter(loader), warm, timed, deliver)
    if mode == "device":
        expand_times = expand_times[warm:]
        row |= {f"expand {key}": value for key, value in spread(expand_times).items()}
        row["expand samples/s"] = fmt(1000 * args.batch / statistics.median(expand_times), 4)
    row |= {"delivered samples/s": fmt(1000 * args.batch / statistics.mean(delivered), 4)}
    row |= {f"delivered {key}": value for key, value in spread(delivered).items()}
    row |= {"batches timed": timed, "warm-up batches": warm}
    del loader  # its workers and pin-memory thread end here: the checks below must see no sync of theirs
    gc.collect()
    if mode == "device":
        row |= expansion_checks(datamodule, device)
    return row


def expansion_checks(datamodule: FashionDataModule, device: torch.device) -> dict[str, str]:
    """Host syncs and peak extra memory of one expansion on a CUDA device (nothing to report on the CPU), of a batch
    collated here: no loader runs meanwhile (the sync debug mode is process-wide, a pin-memory thread would count)."""
    if device.type != "cuda":
        return {}
    dataset = datamodule.train_set
    batch = collate_compact([dataset[(index, 0)] for index in range(min(datamodule.hparams.batch_size, len(dataset)))])
    on_device = move_data_to_device(batch, device)
    synchronize(device)
    syncs = host_syncs(lambda b: datamodule.on_after_batch_transfer(b, 0), on_device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    datamodule.on_after_batch_transfer(on_device, 0)
    peak = (torch.cuda.max_memory_allocated(device) - before) / 2**20
    return {"expand host syncs": ", ".join(syncs) or "none", "expand peak MiB": fmt(peak, 4)}


def cpu_profile(args: argparse.Namespace, root: str, mode: str) -> dict[str, Any]:
    """CPU milliseconds per sample of ``dataset[i]`` in this process, one torch thread, and the top functions."""
    datamodule = make_datamodule(args, root, mode, torch.device("cpu"))
    dataset = datamodule.train_set
    count = min(len(dataset), args.profile_samples)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for index in range(min(5, count)):  # warm-up: file caches, allocator
            dataset[(index, 0)]
        begin = time.process_time()
        for index in range(count):
            dataset[(index, 0)]
        total = time.process_time() - begin
        profile = cProfile.Profile(time.process_time)  # a second pass: the profiler's overhead is not in ``total``
        profile.enable()
        for index in range(count):
            dataset[(index, 0)]
        profile.disable()
    finally:
        torch.set_num_threads(threads)
    stats = pstats.Stats(profile).sort_stats("tottime")
    top = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:6]  # (file, line, name) -> times
    hot = [f"{name if file == '~' else f'{Path(file).stem}.{name}'} {fmt(1000 * entry[2] / count, 2)}"
           for (file, _, name), entry in top]  # fmt: skip
    return {
        "mode": mode,
        "CPU ms/sample": fmt(1000 * total / count, 4),
        "samples": count,
        "top functions (own CPU ms/sample)": "; ".join(hot),
    }


def exactness(args: argparse.Namespace, root: str, device: torch.device) -> list[dict[str, str]]:
    """Per key: the largest absolute difference between the device expansion and the worker batch (module doc)."""
    cpu = torch.device("cpu")
    worker, compact = (make_datamodule(args, root, mode, cpu) for mode in MODES)
    keys = [(index, 0) for index in range(min(args.batch, len(worker.train_set)))]
    reference = default_collate([worker.train_set[key] for key in keys])
    sent = move_data_to_device(collate_compact([compact.train_set[key] for key in keys]), device)
    expanded = move_data_to_device(compact.on_after_batch_transfer(sent, 0), cpu)
    rows = []
    for key, value in reference.items():
        if key == "meta":
            rows.append(
                {"key": key, "dtype": "str", "max abs diff": "equal" if expanded[key] == value else "DIFFERENT"}
            )
            continue
        pairs = value.items() if isinstance(value, dict) else [("", value)]
        for name, tensor in pairs:
            got = expanded[key][name] if name else expanded[key]
            if (got.dtype, got.shape) == (tensor.dtype, tensor.shape):
                diff = fmt((got.double() - tensor.double()).abs().max().item(), 3)
            else:
                diff = f"DIFFERENT: {got.dtype} {tuple(got.shape)}"
            rows.append({"key": f"{key}/{name}" if name else key, "dtype": str(tensor.dtype), "max abs diff": diff})
    return rows


def markdown(header: dict[str, str], tables: dict[str, list[dict[str, Any]]]) -> str:
    lines = [f"- {key}: {value}" for key, value in header.items()]
    for title, rows in tables.items():
        columns = list(dict.fromkeys(key for row in sorted(rows, key=len, reverse=True) for key in row))
        lines += ["", f"### {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "synthetic_mpv"), help="MPV-layout dataset root")
    parser.add_argument("--size", type=parse_size, default=(256, 192), help="image H x W (256x192)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=None, help="timed batches (default 200; 8 with --quick)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"from {list(MODES)}")
    parser.add_argument("--augment", action="store_true", help=f"paired augmentation on: {AUGMENTATION}")
    parser.add_argument("--profile-samples", type=int, default=None, help="per-sample CPU profile (100; 20 quick)")
    parser.add_argument("--quick", action="store_true", help="few batches (CPU smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables as JSON to FILE")
    args = parser.parse_args(argv)
    args.profile_samples = args.profile_samples or (20 if args.quick else 100)
    modes = [mode for mode in args.modes.split(",") if mode]
    if not set(modes) <= set(MODES):
        parser.error(f"--modes: expected names from {list(MODES)}, got {args.modes!r}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here (use --device cpu)")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    root, note = ensure_dataset(args.root, args.size, quick=False)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    header = {
        "command": shlex.join(["python", "scripts/bench_data.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "device": f"{name} ({os.cpu_count()} CPU cores), torch {torch.__version__}",
        "data": f"{note}, {args.size[0]}x{args.size[1]}, augmentation {'on' if args.augment else 'off'}",
        "timing": "host clock between batches after warm-up; expand: CUDA events (host clock on CPU)",
    }
    tables: dict[str, list[dict[str, Any]]] = {"Train loader": [], "Per-sample CPU (one process, one thread)": []}
    tables[f"Exactness: expanded on {device.type} vs built in the workers"] = exactness(args, root, device)
    for mode in modes:
        tables["Train loader"].append(loader_rows(args, root, mode, device))
        print(f"[{time.strftime('%H:%M:%S')}] {tables['Train loader'][-1]}", file=sys.stderr, flush=True)
    for mode in modes:
        tables["Per-sample CPU (one process, one thread)"].append(cpu_profile(args, root, mode))
    print(markdown(header, tables), end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"header": header, "tables": tables}, indent=1) + "\n")


if __name__ == "__main__":
    main()
