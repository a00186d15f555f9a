"""Time synthetic data generation on this CPU, one process (``make bench-synth``).

Four rates, each the median (and min-max spread) over ``--repeats`` runs of ``--n`` triplets at ``--size``, per
second of the timed process's CPU time (user + system: the per-core rate; it leaves out time spent waiting
for the CPU, but jobs sharing the core's caches still slow it, which the spread shows) and per second of
wall-clock time:

- in memory: ``generate_triplet`` (two people rendered with parsing and keypoints, exact flow and visibility,
  the in-shop garment), nothing written;
- written: ``vton-data synth`` on one worker into a temporary folder (adds JPEG / PNG / JSON / ``.npz`` encoding),
  per ``--scratch`` folder;
- writing alone: the MPV writer on triplets already in memory (the nine files per triplet), which bounds the
  written rate whatever the rendering costs, per ``--scratch`` folder;
- sequence pairs in memory: ``generate_sequence`` of ``SEQUENCE_LENGTH`` frames, counted in consecutive pairs
  (each with its exact flow), since every frame serves two pairs.

Each run is a fresh child process that first sets the generator's process options (``keep_freed_memory``, as
``vton-data synth`` does) and makes one warm-up triplet. Output goes to temporary folders under each ``--scratch``
folder (default: the system temp folder); the section reports what creating a file costs there, which varies a
lot between machines (on some virtual machines a disk folder costs ten times a memory-backed one such as
``/dev/shm``). ``--baseline DIR`` (a checkout of another version, e.g. ``git archive <commit>
datamodules | tar -x -C DIR``) is timed the same way, its runs interleaved with the current ones so that both
see the same machine load. A last part profiles one written run and splits the time by stage. ``--update
docs/BENCHMARKS.md`` writes the "Synthetic data generation" section there (creating the file if needed,
replacing only that section).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numba
import numpy as np
import PIL

import datamodules.synthetic.dataset as dataset
from datamodules.synthetic.cli import parse_size
from datamodules.synthetic.dataset import SynthConfig, synthesize
from datamodules.synthetic.generate import generate_sequence, generate_triplet, sample_rng
from datamodules.synthetic.writer import write_mpv_triplet

SECTION = "## Synthetic data generation"
TARGET_PER_CORE = 100.0  # pairs per second per core (issue 3)
ROOT = Path(__file__).resolve().parents[1]
SEQUENCE_LENGTH = 8
SMALL = (64, 48)  # a size where pixels cost little: what remains is per-call and per-part overhead
# Profile rows: label and the (module file, function) whose cumulative times it sums (none nested in another).
STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "sample identity, outfit, poses, framings; pose the skeleton",
        (
            ("identity.py", "sample_identity"),
            ("garments.py", "sample_outfit"),
            ("pose_prior.py", "sample_articulation"),
            ("pose_prior.py", "sample_framing"),
            ("skeleton.py", "pose_body"),
        ),
    ),
    ("background (sample_background)", (("backgrounds.py", "sample_background"),)),
    ("rasterise people and in-shop garment (render)", (("render.py", "render"),)),
    ("flow and visibility (ground_truth_flow)", (("render.py", "ground_truth_flow"),)),
    ("keypoints (keypoints)", (("keypoints.py", "keypoints"),)),
    ("JPEG encoding and writing (write_jpeg)", (("writer.py", "write_jpeg"),)),
    ("PNG encoding and writing (write_png)", (("writer.py", "write_png"),)),
    ("OpenPose JSON (write_openpose)", (("writer.py", "write_openpose"),)),
    ("flow/vis .npz (write_ground_truth)", (("writer.py", "write_ground_truth"),)),
)


def code_revision() -> str:
    """The checkout's short commit, marked ``+changes`` when the working tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    except OSError:
        return "an unknown commit"
    if commit.returncode:
        return "an unknown commit"
    return commit.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed_rate(n: int, job: Callable[[], object]) -> tuple[float, float]:
    """``n / seconds`` of running ``job``: (per CPU second of this process, per wall-clock second)."""
    cpu, wall = time.process_time(), time.perf_counter()
    job()
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def file_creation_ms(scratch: Path | None, count: int = 200) -> float:
    """CPU milliseconds to create and write one 20 kB file in a fresh folder under ``scratch``."""
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        cpu = time.process_time()
        for i in range(count):
            (Path(folder) / f"{i}.bin").write_bytes(bytes(20_000))
        return (time.process_time() - cpu) / count * 1000


def write_triplets(root: Path, triplets: list) -> None:
    for i, triplet in enumerate(triplets):
        write_mpv_triplet(root, "train", i, triplet)


def run_rates(n: int, height: int, width: int, seed: int, scratches: list[Path | None]) -> list[list]:
    """``[label, per CPU second, per wall second]`` of this process's generator (one warm-up triplet first):
    in memory, then written and writing alone under each of ``scratches``, then sequence pairs in memory."""
    keep_freed_memory = getattr(dataset, "keep_freed_memory", None)  # a baseline may predate it
    if keep_freed_memory is not None:
        keep_freed_memory()
    generate_triplet(sample_rng(seed, "test", 0), height, width)
    in_memory = timed_rate(n, lambda: [generate_triplet(sample_rng(seed, "train", i), height, width) for i in range(n)])
    rates = [["in memory", *in_memory]]
    triplets = [generate_triplet(sample_rng(seed, "train", i), height, width) for i in range(n)]
    for scratch in scratches:
        where = f"`{scratch or tempfile.gettempdir()}`"
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            config = SynthConfig(out=folder + "/set", height=height, width=width, n_train=n, n_test=0, seed=seed)
            rates.append([f"written, {where}", *timed_rate(n, partial(synthesize, config))])
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            rates.append([f"writing alone, {where}", *timed_rate(n, partial(write_triplets, Path(folder), triplets))])
    count = max(n // SEQUENCE_LENGTH, 2)
    kinds = ("walk", "turn", "arm_swing")
    sequences = timed_rate(
        count * (SEQUENCE_LENGTH - 1),
        lambda: [
            generate_sequence(sample_rng(seed, "sequence_train", i), height, width, kinds[i % 3], SEQUENCE_LENGTH)
            for i in range(count)
        ],
    )
    return [*rates, ["sequence pairs in memory", *sequences]]


def child_rates(root: Path, args: argparse.Namespace, seed: int) -> list[list]:
    """``run_rates`` in a fresh process importing the generator from ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root))
    height, width = args.size
    command = [sys.executable, __file__, "--size", f"{height}x{width}", "--n", str(args.n), "--seed", str(seed)]
    command += ["--child", *(["--scratch", *map(str, args.scratch)] if args.scratch else [])]
    result = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"timing run of {root} failed:\n{result.stderr}")
    return json.loads(result.stdout)


def stage_shares(n: int, height: int, width: int, seed: int, scratch: Path | None) -> list[tuple[str, float]]:
    """Share of the profiled written run spent in each of ``STAGES`` (cumulative times), after one warm-up
    triplet (which loads or compiles the kernels)."""
    dataset.keep_freed_memory()
    generate_triplet(sample_rng(seed, "test", 0), height, width)
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        config = SynthConfig(out=folder + "/set", height=height, width=width, n_train=n, n_test=0, seed=seed)
        profile.runcall(synthesize, config)
    stats = pstats.Stats(profile).stats
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())
    shares = []
    for label, functions in STAGES:
        cumulative = sum(
            ct
            for (path, _, name), (_, _, _, ct, _) in stats.items()
            if any(path.endswith(file) and name == function for file, function in functions)
        )
        shares.append((label, cumulative / total))
    return shares


def _cells(rates: list[list]) -> str:
    """Median and min-max of the CPU and wall rates of one row over the runs."""
    cells = []
    for values in zip(*(rate[1:] for rate in rates), strict=True):
        cells.append(f"{statistics.median(values):.1f} | {min(values):.1f} - {max(values):.1f}")
    return " | ".join(cells)


def report(args: argparse.Namespace) -> str:
    height, width = args.size
    load_before = os.getloadavg()[0]
    runs: dict[str, list[list[list]]] = {"current": [], "baseline": []}
    for r in range(args.repeats):
        runs["current"].append(child_rates(ROOT, args, args.seed + r))
        if args.baseline:
            runs["baseline"].append(child_rates(args.baseline, args, args.seed + r))
    small_args = argparse.Namespace(**{**vars(args), "size": SMALL, "scratch": None})
    small = statistics.median(child_rates(ROOT, small_args, args.seed + r)[0][1] for r in range(3))
    scratches = args.scratch or [None]
    shares = stage_shares(args.n, height, width, args.seed, scratches[0])
    folders = [Path(s or tempfile.gettempdir()) for s in scratches]
    create = {folder: file_creation_ms(folder) for folder in folders}
    load_after = os.getloadavg()[0]
    labels = [row[0] for row in runs["current"][0]]
    median = {label: statistics.median(run[i][1] for run in runs["current"]) for i, label in enumerate(labels)}
    in_memory, pairs = median["in memory"], median["sequence pairs in memory"]
    written = {folder: median[f"written, `{folder}`"] for folder in folders}
    writing = {folder: median[f"writing alone, `{folder}`"] for folder in folders}
    command = f"python scripts/bench_synth.py --size {height}x{width} --n {args.n} --repeats {args.repeats}"
    if args.scratch:
        command += " --scratch " + " ".join(str(s) for s in args.scratch)
    if args.baseline:
        command += f" --baseline <{args.baseline_label}>"
    rows = []
    for version, label in (("current", "this version"), ("baseline", args.baseline_label)):
        if runs[version]:
            for i, row in enumerate(runs[version][0]):
                rows.append(f"| {label} | {row[0]} | " + _cells([run[i] for run in runs[version]]) + " |")
    files = "; ".join(
        f"in `{f}`: {written[f]:.0f} written per CPU second, writing alone {writing[f]:.0f} (the files cost "
        f"{1000 / writing[f]:.1f} ms of the {1000 / written[f]:.1f} ms a written triplet takes; creating one 20 kB "
        f"file costs {create[f]:.2f} ms of CPU there)"
        for f in folders
    )
    lines = [
        SECTION,
        "",
        f"Device: {cpu_name()}, {os.cpu_count()} cores visible, one process (one core) per run; Python "
        f"{platform.python_version()}, numpy {np.__version__}, Pillow {PIL.__version__}, numba {numba.__version__}. "
        f"One-minute load average {load_before:.2f} before and {load_after:.2f} after the runs. Code at "
        f"{code_revision()}.",
        "",
        f"Command: `{command}` (each run: a fresh process, {args.n} triplets at {height}x{width}; median and min-max "
        f"over {args.repeats} runs{', interleaved with the baseline' if args.baseline else ''}). In memory: "
        "2 people + parsing + keypoints + flow/vis + in-shop garment. Written: `vton-data synth`, MPV layout, one "
        "worker, into a temporary folder in the named folder. Writing alone: the nine files of each triplet from "
        f"triplets in memory. Sequence pairs: {SEQUENCE_LENGTH}-frame sequences (walk, turn, arm swing) with the flow "
        f"between consecutive frames, counted in pairs ({SEQUENCE_LENGTH - 1} per sequence).",
        "",
        "| version | per second, one core | per CPU second: median | min - max | per wall second: median | min - max |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Target (issue 3): {TARGET_PER_CORE:.0f} pairs/s per core. Measured per CPU second (medians): {in_memory:.0f} "
        f"triplets (a pair and its in-shop garment) in memory, {in_memory / TARGET_PER_CORE:.0%} of the target; "
        f"{pairs:.0f} sequence pairs in memory; {files}.",
        "",
        "Where the time goes (cProfile of one written run of this version; shares of the total, the rest is "
        "part set-up, texture sampling and Python glue):",
        "",
        "| stage | share |",
        "|---|---|",
        *(f"| {label} | {share:.0%} |" for label, share in shares),
        "",
        "What bounds it: the rasteriser is compiled (numba, `datamodules/synthetic/kernels.py`). Each part is one "
        "kernel call over the rows of its pixel box, each row narrowed to the pixels over the part's local box; "
        "parts are composited front to back, so pixels already covered by parts in front are skipped, and "
        "the silhouette, texture and compositing cost some 40-80 ns per covered pixel (the face features most). "
        f"At {SMALL[0]}x{SMALL[1]}, with 16 times fewer pixels, a triplet still takes {1000 / small:.1f} ms in memory "
        f"({small:.0f} per CPU second), {in_memory / small:.0%} of a full-size one: that is per-triplet Python work "
        "(sampling the identity, outfit, textures, poses and framings, posing the skeleton, building the look "
        "codes, one kernel call per part). Written, each triplet creates nine files (three JPEGs, three PNGs, "
        "two JSONs, one .npz); JPEG encoding and the file system's cost of creating files bound the written "
        "rate. `vton-data synth` sets glibc's malloc to keep freed memory (`keep_freed_memory`): otherwise "
        "each triplet page-faults its image buffers in again. The first run after a change to the kernels "
        "compiles them (about 20 s of CPU, then cached in `__pycache__`; `vton-data synth --workers N` compiles "
        "once in the parent before forking); `--workers N` scales across cores with byte-identical output.",
        "",
    ]
    return "\n".join(lines)


def update_section(path: Path, section: str) -> None:
    """Replace the ``SECTION`` of ``path`` (up to the next level-2 heading) with ``section``, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nSpeed and memory, with device and command.\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(256, 192))
    parser.add_argument("--n", type=int, default=100, help="triplets per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", type=Path, help="root of another version's datamodules/ to time alongside")
    parser.add_argument("--baseline-label", default="baseline", help="its name in the table (e.g. a commit)")
    parser.add_argument(
        "--scratch", type=Path, nargs="+", help="folders the temporary output goes to, each timed (default: temp)"
    )
    parser.add_argument("--update", type=Path, help="markdown file whose benchmark section to write")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one run, JSON rates to stdout
    args = parser.parse_args(argv)
    for scratch in args.scratch or []:
        scratch.mkdir(parents=True, exist_ok=True)
    args.scratch = [scratch.resolve() for scratch in args.scratch] if args.scratch else None
    args.baseline = args.baseline.resolve() if args.baseline else None
    if args.child:
        print(json.dumps(run_rates(args.n, *args.size, args.seed, args.scratch or [None])))
        return 0
    section = report(args)
    print(section)
    if args.update:
        update_section(args.update, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
