"""Generate a whole synthetic dataset on disk (what ``vton-data synth`` runs).

Sample ``i`` of a split is drawn from its own generator (``generate.sample_rng(seed, split, i)``) and written
by one job; list files are assembled afterwards in index order. The output is therefore byte-identical for
a seed whatever the number of worker processes.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import shutil
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from contract.sample import SYNTHETIC_GT_DIR
from datamodules.synthetic.generate import generate_sequence, generate_triplet, sample_rng
from datamodules.synthetic.pose_prior import SEQUENCE_KINDS
from datamodules.synthetic.writer import (
    MPV_DIRS,
    write_deepfashion_lists,
    write_deepfashion_triplet,
    write_mpv_triplet,
    write_sequence,
)

LAYOUTS: tuple[str, ...] = ("mpv", "deepfashion")
SPLITS: tuple[str, ...] = ("train", "test")
# What a layout owns inside the output folder (removed first with ``overwrite``; nothing else is touched).
OWNED = {
    "mpv": (*MPV_DIRS, "data_pair.txt"),
    "deepfashion": (
        *SPLITS, *(f"{s}M_lip" for s in SPLITS), *(f"{s}.lst" for s in SPLITS),
        *(f"fasion-resize-{kind}-{s}.csv" for kind in ("annotation", "pairs") for s in SPLITS),
    ),
}  # fmt: skip


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.

    A triplet allocates some 5 MB in image-sized arrays. By default blocks over 128 kB are mapped anew and
    unmapped when freed, so every triplet page-faults its buffers in again (about 250 faults): measured
    interleaved on the benchmark machine, a triplet takes about 2 ms less with the mmap threshold at 32 MB and
    the trim threshold at 256 MB. Nothing happens where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 256 << 20)


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of ``vton-data synth`` (see its ``--help``)."""

    out: str
    layout: str = "mpv"
    height: int = 256
    width: int = 192
    n_train: int = 100
    n_test: int = 20
    seed: int = 0
    cross_garment_fraction: float = 0.5
    n_seq: int = 0
    n_seq_test: int = 0
    seq_len: int = 8
    workers: int = 1

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.height % 8 or self.width % 8 or min(self.height, self.width) < 32:
            raise ValueError(f"size must be multiples of 8 and at least 32, got {self.height}x{self.width}")
        counts = {"n_train": self.n_train, "n_test": self.n_test, "n_seq": self.n_seq, "n_seq_test": self.n_seq_test}
        if any(v < 0 for v in counts.values()):
            raise ValueError(f"sample counts must be >= 0, got {counts}")
        if not 0.0 <= self.cross_garment_fraction <= 1.0:
            raise ValueError(f"cross_garment_fraction must be in [0, 1], got {self.cross_garment_fraction}")
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be at least 2, got {self.seq_len}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


def _triplet_job(job: tuple[SynthConfig, str, int]) -> str | tuple[list[str], str, list[str]]:
    config, split, index = job
    triplet = generate_triplet(
        sample_rng(config.seed, split, index), config.height, config.width, config.cross_garment_fraction
    )
    root = Path(config.out)
    if config.layout == "mpv":
        return write_mpv_triplet(root, split, index, triplet)
    return write_deepfashion_triplet(root, split, index, triplet)


def _sequence_job(job: tuple[SynthConfig, str, int]) -> str:
    config, split, index = job
    rng = sample_rng(config.seed, f"sequence_{split}", index)
    kind = SEQUENCE_KINDS[rng.integers(len(SEQUENCE_KINDS))]
    sequence = generate_sequence(rng, config.height, config.width, kind, config.seq_len)
    return write_sequence(Path(config.out), split, index, sequence)


def _prepare(out: Path, layout: str, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; pass overwrite (--overwrite) to replace a previous synthetic set"
            )
        for name in (*OWNED[layout], SYNTHETIC_GT_DIR, "sequences"):
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def synthesize(config: SynthConfig, overwrite: bool = False) -> dict[str, int]:
    """Write the dataset described by ``config``; returns the number of triplets / sequences per split."""
    out = Path(config.out)
    _prepare(out, config.layout, overwrite)
    counts = {}
    keep_freed_memory()
    if config.workers > 1:  # compile (or load) the kernels here once: the forked workers inherit them
        generate_triplet(sample_rng(config.seed, "test", 0), 16, 16)
    parallel = config.workers > 1
    with multiprocessing.Pool(config.workers, keep_freed_memory) if parallel else nullcontext() as pool:
        run = partial(pool.imap, chunksize=4) if pool else map  # imap keeps the order of the jobs
        pair_lines = []
        for split, n in (("train", config.n_train), ("test", config.n_test)):
            results = list(run(_triplet_job, [(config, split, i) for i in range(n)]))
            counts[split] = n
            if config.layout == "mpv":
                pair_lines += results
            else:
                annotations = [row for rows, _, _ in results for row in rows]
                names = [name for _, _, listed in results for name in listed]
                write_deepfashion_lists(out, split, annotations, [pair for _, pair, _ in results], names)
        if config.layout == "mpv":
            (out / "data_pair.txt").write_text("".join(f"{line}\n" for line in pair_lines))
        sequence_lines = []
        for split, n in (("train", config.n_seq), ("test", config.n_seq_test)):
            sequence_lines += list(run(_sequence_job, [(config, split, i) for i in range(n)]))
            counts[f"sequence_{split}"] = n
    if sequence_lines:
        (out / "sequences" / "sequences.txt").write_text("".join(f"{line}\n" for line in sequence_lines))
    (out / SYNTHETIC_GT_DIR).mkdir(exist_ok=True)
    settings = {k: v for k, v in asdict(config).items() if k not in ("out", "workers")}
    (out / SYNTHETIC_GT_DIR / "generator.json").write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")
    return counts
