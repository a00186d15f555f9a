"""``vton-data synth`` (write the synthetic dataset) and ``vton-data grid`` (picture of samples)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from datamodules.cli import at_least
from datamodules.synthetic.dataset import LAYOUTS, SynthConfig, synthesize

GRID_OUT = Path("outputs/synthetic_samples.png")  # under the ignored outputs/, never the tracked docs picture


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` -> ``(256, 192)`` (height x width, each a multiple of 8 and at least 32)."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"size must look like HEIGHTxWIDTH (e.g. 256x192), got {text!r}")
    height, width = int(match[1]), int(match[2])
    if height % 8 or width % 8 or min(height, width) < 32:
        raise argparse.ArgumentTypeError(f"size {text!r}: height and width must be multiples of 8 and at least 32")
    return height, width


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def run_synth(args: argparse.Namespace) -> int:
    height, width = args.size
    config = SynthConfig(
        out=str(args.out), layout=args.layout, height=height, width=width, n_train=args.n_train, n_test=args.n_test,
        seed=args.seed, cross_garment_fraction=args.cross_garment_fraction, n_seq=args.n_seq,
        n_seq_test=args.n_seq_test, seq_len=args.seq_len, workers=args.workers,
    )  # fmt: skip
    start = time.perf_counter()
    try:
        counts = synthesize(config, overwrite=args.overwrite)
    except FileExistsError as error:
        print(f"vton-data synth: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    pairs = counts["train"] + counts["test"]
    print(
        f"wrote {counts['train']} train + {counts['test']} test triplets, {counts['sequence_train']} + "
        f"{counts['sequence_test']} sequences ({args.layout}, {height}x{width}, seed {args.seed}) to {args.out} "
        f"in {seconds:.1f} s ({pairs / max(seconds, 1e-9):.1f} triplets/s with {args.workers} worker(s))"
    )
    return 0


def run_grid(args: argparse.Namespace) -> int:
    from datamodules.synthetic.sample_grid import sample_grid  # imports torch: only for this command

    height, width = args.size
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sample_grid(args.n, height, width, args.seed, args.cross_garment_fraction).save(args.out, optimize=True)
    print(f"wrote {args.n} synthetic triplets ({height}x{width}, seed {args.seed}) to {args.out}")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``synth`` and ``grid`` on the ``vton-data`` parser."""
    synth = subparsers.add_parser(
        "synth",
        help="write the synthetic multi-pose dataset in a real layout",
        description="Render synthetic people in pairs (and sequences) of poses with exact ground truth, written in "
        "the MPV or DeepFashion layout plus synthetic_gt/ flow and visibility files. Deterministic for a seed.",
    )
    synth.add_argument("--out", type=Path, required=True, help="dataset root to create")
    synth.add_argument("--layout", choices=LAYOUTS, default="mpv")
    synth.add_argument(
        "--size", type=parse_size, default=(256, 192), help="HEIGHTxWIDTH, multiples of 8 (default 256x192)"
    )
    synth.add_argument("--n-train", type=at_least(0), default=100, help="train triplets (default 100)")
    synth.add_argument("--n-test", type=at_least(0), default=20, help="test triplets (default 20)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument(
        "--cross-garment-fraction", type=_fraction, default=0.5,
        help="fraction of triplets whose source wears another garment than the listed cloth (default 0.5)",
    )  # fmt: skip
    synth.add_argument("--n-seq", type=at_least(0), default=0, help="train pose sequences (walk / turn / arm swing)")
    synth.add_argument("--n-seq-test", type=at_least(0), default=0, help="test pose sequences")
    synth.add_argument("--seq-len", type=at_least(2), default=8, help="frames per sequence (>= 2, default 8)")
    synth.add_argument("--workers", type=at_least(1), default=1, help="processes (output is identical for any number)")
    synth.add_argument("--overwrite", action="store_true", help="replace a previous synthetic set in --out")
    synth.set_defaults(func=run_synth)

    grid = subparsers.add_parser(
        "grid",
        help="write a picture grid of synthetic samples",
        description="Render synthetic triplets side by side (source, target, cloth, parsing, flow, visibility). "
        f"Written to {GRID_OUT} unless --out names another file (the README's picture is docs/synthetic_samples.png).",
    )
    grid.add_argument("--out", type=Path, default=GRID_OUT, help=f"PNG file to write (default {GRID_OUT})")
    grid.add_argument("--size", type=parse_size, default=(256, 192))
    grid.add_argument("--n", type=at_least(1), default=4, help="rows (triplets)")
    grid.add_argument("--seed", type=int, default=0)
    grid.add_argument("--cross-garment-fraction", type=_fraction, default=0.5)
    grid.set_defaults(func=run_grid)
