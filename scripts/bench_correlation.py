"""Time seed 002's correlation head and report its peak memory (run on a GPU by the lead; ``--device cpu`` smoke-tests).

For each feature size and batch size, two parts of ``models.single_transform.SingleTransform`` are timed from the pose
features ``z_s, z_t [B, 35, h, w]`` on:

- ``corr``: Eq. 1 correlation (one ``bmm``) + Eq. 9 soft mutual filtering + Eq. 2 normalisation, giving
  ``Q_gamma [B, h w, h, w]`` (4096 x 64 x 64 at the paper's 256 x 256, 2816 x 64 x 44 at DeepFashion's 256 x 176);
- ``head``: ``corr`` followed by ``C_l`` (128, 128, 96, 64, 32, 2), forward only and forward + backward.

Timing: CUDA events around each call after ``--warmup`` untimed calls, ``--repeats`` timed calls, median and
min-max spread in milliseconds; peak memory is ``torch.cuda.max_memory_allocated`` during one call above what was
allocated before it (inputs and weights excluded). Mixed precision via ``torch.autocast`` (``--dtype bf16`` by
default). Prints a markdown table (paste it into ``docs/BENCHMARKS.md`` with the device line it prints first).

    python scripts/bench_correlation.py                       # bf16, batch 1 and 8, 64x64 and 64x44
    python scripts/bench_correlation.py --device cpu --sizes 16x12 --batch-sizes 1 2 --repeats 3   # smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from models.correlation import correlation, normalize_per_target, soft_mutual_filter
from models.flow_head import PAPER_WIDTHS, FlowHead

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
FEATURE_CHANNELS = 35  # m (seed 002, Appendix A)


def filtered_correlation(z_s: torch.Tensor, z_t: torch.Tensor) -> torch.Tensor:
    corr = correlation(z_s, z_t)
    return normalize_per_target(soft_mutual_filter(corr) * corr)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> tuple[list[float], int]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` calls, and the peak extra memory of one call."""
    for _ in range(warmup):
        fn()
    cuda = device.type == "cuda"
    times = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            begin = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - begin))
    peak = 0
    if cuda:
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    return times, peak


def bench(size: tuple[int, int], batch: int, args: argparse.Namespace, device: torch.device) -> list[str]:
    """Markdown rows of one (feature size, batch) configuration."""
    height, width = size
    z_s, z_t = (
        torch.nn.functional.normalize(torch.rand(batch, FEATURE_CHANNELS, height, width, device=device), dim=1)
        for _ in range(2)
    )
    head = FlowHead(height * width, PAPER_WIDTHS).to(device)
    autocast = torch.autocast(device.type, dtype=DTYPES[args.dtype], enabled=args.dtype != "fp32")

    def corr_only() -> object:
        with torch.no_grad(), autocast:
            return filtered_correlation(z_s, z_t)

    def head_forward() -> object:
        with torch.no_grad(), autocast:
            return head(filtered_correlation(z_s, z_t))

    def head_backward() -> object:
        z_s.requires_grad_(True)
        with autocast:
            out = head(filtered_correlation(z_s, z_t))
        out.float().square().mean().backward()
        z_s.grad = None
        head.zero_grad(set_to_none=True)
        return out

    rows = []
    for name, fn in (
        ("corr (Eq. 1, 9, 2)", corr_only),
        ("corr + C_l fwd", head_forward),
        ("corr + C_l fwd+bwd", head_backward),
    ):
        times, peak = time_call(fn, device, args.warmup, args.repeats)
        shape = f"[{batch}, {height * width}, {height}, {width}]"
        rows.append(
            f"| {name} | {shape} | {args.dtype} | {statistics.median(times):.3f} | {min(times):.3f}-{max(times):.3f} "
            f"| {peak / 2**20:.1f} |"
        )
    return rows


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"feature size must be HxW (e.g. 64x44), got {text!r}") from error
    return height, width


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(64, 64), (64, 44)], help="feature h x w")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_correlation: CUDA is not available; pass --device cpu for a smoke test")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}, warm-up {args.warmup}, repeats {args.repeats}\n")
    print("| part | Q_gamma shape | dtype | median ms | min-max ms | peak extra MiB |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        for batch in args.batch_sizes:
            for row in bench(size, batch, args, device):
                print(row)


if __name__ == "__main__":
    main()
