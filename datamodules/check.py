"""``vton-data check --root DIR --format mpv|deepfashion|viton|viton-hd``: validate a dataset in one pass.

For every split whose list file exists, the check reads the list files (malformed lines, entries naming unknown
files) and loads every file of every entry once (missing or unreadable files, image sizes, keypoint counts, parsing
labels, ground-truth shapes), with the readers' own loading code, so the messages are those the readers raise at run
time. Each problem is printed on its own line (``<file>[:<line>]: <what>``), then a summary; the exit code is 0 only
when there is no problem.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Hashable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from contract.errors import DatasetFormatError
from datamodules.cli import at_least
from datamodules.readers.base import READER_CLASSES, SPLITS, DatasetReader, ProblemGroup, SampleRecord, get_reader_class

CHUNK = 64  # records per worker task


@dataclass(frozen=True)
class Problem:
    """One defect of a dataset; ``message`` names the file (and the line for list and CSV files)."""

    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class CheckReport:
    """Problems in order of discovery (each once) and what was checked."""

    problems: list[Problem]
    samples: dict[str, int]  # split -> entries that load cleanly


def run_check(root: str | Path, fmt: str, reader_options: dict | None = None, workers: int = 1) -> CheckReport:
    """Check every split of the dataset at ``root`` in ``fmt`` layout (see the module doc); ``reader_options`` are
    the DataModule's ``reader_options`` (e.g. ``{"annotation_csv": ...}`` when several CSVs match); ``workers``
    processes load the files (``inspect_records``)."""
    reader_class = get_reader_class(fmt)
    options = reader_options or {}
    messages: list[str] = []
    groups: dict[str, ProblemGroup] = {}  # one line per shared cause, over all splits
    samples: dict[str, int] = {}
    cache: dict[Hashable, list[str]] = {}  # shared by the splits: a file listed twice is read once
    probe = reader_class(root, SPLITS[0], **options)
    probe.require_root()  # a root that is not there is a user mistake (one line, exit 2), not a dataset problem
    splits = probe.splits_present()
    if not splits:
        return CheckReport([Problem(missing_lists(probe))], samples)
    for split in splits:
        reader = reader_class(root, split, **options)
        scan = reader.scan()
        for cause, group in scan.groups.items():
            groups.setdefault(cause, ProblemGroup(cause, group.hint)).merge(group)
        messages += scan.problems[len(scan.groups) :] + reader.auxiliary_problems()  # after the groups' lines
        clean = 0
        for found in inspect_records(reader, scan.records, cache, workers):
            messages += found
            clean += not found
        samples[split] = clean
    messages[:0] = [group.message() for group in groups.values()]
    return CheckReport([Problem(message) for message in dict.fromkeys(messages)], samples)


def inspect_records(
    reader: DatasetReader, records: list[SampleRecord], cache: dict[Hashable, list[str]], workers: int
) -> Iterator[list[str]]:
    """The problems of each record's files, in the records' order (``DatasetReader.inspect``).

    With ``workers > 1`` the records are loaded in chunks of ``CHUNK`` by that many processes (one torch thread
    each), each chunk with its own cache: a file shared by entries of two chunks is read twice, which costs little
    since entries rarely share files, and the problems are the same (``run_check`` prints each once).
    """
    if workers <= 1 or len(records) <= CHUNK:
        yield from (reader.inspect(record, cache) for record in records)
        return
    chunks = [records[start : start + CHUNK] for start in range(0, len(records), CHUNK)]
    with ProcessPoolExecutor(workers, initializer=start_worker, initargs=(reader,)) as pool:
        for found in pool.map(inspect_chunk, chunks):
            yield from found


_worker_reader: DatasetReader | None = None  # the reader of a worker process (``start_worker``)


def start_worker(reader: DatasetReader) -> None:
    """Set up a worker process of ``inspect_records``: its reader (sent once) and one torch thread."""
    global _worker_reader
    _worker_reader = reader
    torch.set_num_threads(1)


def inspect_chunk(records: list[SampleRecord]) -> list[list[str]]:
    """``DatasetReader.inspect`` of each record with one cache for the chunk (a worker process's task)."""
    cache: dict[Hashable, list[str]] = {}
    return [_worker_reader.inspect(record, cache) for record in records]


def missing_lists(reader: DatasetReader) -> str:
    """The problem of a dataset with no list file for any split: the names looked for under its root."""
    try:
        names = reader.list_names()
    except DatasetFormatError as exc:  # the layout itself is wrong (e.g. not an MPV root)
        return str(exc)
    return f"{reader.root}: no pair list found (looked for {', '.join(names)})"


def check_dataset(root: str | Path, fmt: str, reader_options: dict | None = None) -> list[Problem]:
    """Every problem of the dataset at ``root`` in ``fmt`` layout (empty when it is clean)."""
    return run_check(root, fmt, reader_options).problems


def parse_reader_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> ``(KEY, VALUE)``, the value read as JSON when it is JSON (``true``, ``40``), else a string."""
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    report = run_check(args.root, args.format, dict(args.reader_option), args.workers)
    for problem in report.problems:
        print(problem)
    counted = ", ".join(f"{count} {split}" for split, count in report.samples.items()) or "none"
    verdict = f"{len(report.problems)} problem(s)" if report.problems else "no problems"
    took = f"{time.perf_counter() - start:.1f} s with {args.workers} worker(s)"
    print(f"{args.format} dataset at {args.root}: {verdict}; clean samples: {counted} ({took})")
    return 1 if report.problems else 0


def add_subcommand(subparsers: argparse._SubParsersAction) -> None:
    """Register ``check`` on the ``vton-data`` parser."""
    parser = subparsers.add_parser("check", help="validate a dataset and print every problem with file and line")
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument("--format", required=True, choices=sorted(READER_CLASSES), help="dataset layout")
    parser.add_argument(
        "--reader-option",
        type=parse_reader_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a reader option as in the DataModule's reader_options, e.g. crop_176=true (repeatable)",
    )
    parser.add_argument(
        "--workers",
        type=at_least(1),
        default=os.cpu_count() or 1,
        help="processes loading the files (default: the number of CPU cores, %(default)s here)",
    )
    parser.set_defaults(func=_main)
