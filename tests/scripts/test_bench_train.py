"""``scripts/bench_train.py``: the loss-curve comparison by hand, and a CPU smoke run of one entry's rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_bench():  # noqa: ANN201 (a module)
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location("bench_train", REPO / "scripts" / "bench_train.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_train"] = bench
    spec.loader.exec_module(bench)
    return bench


def curve(values: list[float]) -> dict:
    return {"entry": "stage2", "losses": [{"train/g/total": v} for v in values]}


def test_running_means_by_hand() -> None:
    assert load_bench().running_means([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]


def test_a_fast_curve_closer_to_the_reference_than_the_other_seed_is_within_the_noise() -> None:
    bench = load_bench()
    reference = [10.0 - 0.01 * i for i in range(60)]
    runs = {
        "fp32 seed 0": curve(reference),
        "fp32 seed 1": curve([v + 0.5 for v in reference]),  # another seed: 0.5 away throughout
        "fast seed 0": curve([v + 0.1 for v in reference]),
    }
    (row,) = bench.curve_rows(runs)
    assert row["fp32 seed 1: mean |diff|"] == "0.5" and row["fast seed 0: mean |diff|"] == "0.1"
    assert row["fast within noise"] == "yes"
    runs["fast seed 0"] = curve([v + 0.9 for v in reference])
    assert bench.curve_rows(runs)[0]["fast within noise"] == "no"


def test_a_cpu_run_of_one_entrys_rows_times_steps_and_records_a_loss_curve(tiny_synthetic_roots: dict) -> None:
    """Stage 3's tiny preset at 64x48 on the CPU: a timed fp32 row (every step counted, no peak memory on a CPU) and a
    3-batch loss curve with lazy R1, from the real loader."""
    bench = load_bench()
    base = {"device": "cpu", "size": [64, 48], "data_root": str(tiny_synthetic_roots["mpv"]), "cli_args": [],
            "warmup": 1, "steps": 2, "seed": 0, "workers": 0, "tiny": True, "entry": "stage3", "batch": 2}  # fmt: skip
    specs = [base | {"path": "fp32", "mode": "time"}, base | {"path": "bf16+lazy-r1", "mode": "curve", "warmup": 0,
             "steps": 3, "seed": 1}]  # fmt: skip
    timed, curve_row = list(bench.run_rows(specs))
    assert "note" not in timed, timed
    assert timed["steps timed"] == 2 and float(timed["images/s"]) > 0 and timed["compiled"] == "-"
    assert len(curve_row["losses"]) == 3
    assert {"train/g/total", "train/d/total"} <= set(curve_row["losses"][0])
    assert curve_row["losses"][0] != curve_row["losses"][2]  # the optimizers step


def test_an_entry_with_too_few_batches_for_its_curve_is_a_row_with_a_note(tiny_synthetic_roots: dict) -> None:
    bench = load_bench()
    spec = {"device": "cpu", "size": [64, 48], "data_root": str(tiny_synthetic_roots["mpv"]), "cli_args": [],
            "warmup": 0, "steps": 50, "seed": 0, "workers": 0, "tiny": True, "entry": "stage2", "batch": 2,
            "path": "fp32", "mode": "curve"}  # fmt: skip
    (row,) = bench.run_rows([spec])
    assert row["note"].startswith("failed:") and "fewer than 50 batches" in row["note"]


def test_curves_follow_their_seed_the_same_seed_twice_gives_the_same_losses(tiny_synthetic_roots: dict) -> None:
    """Seeds 0, 1, 0 in one process: the seed-0 curves equal, seed 1's differs (a curve whose weights did not follow
    its seed made the 'fp32 seed 0 vs seed 1' noise of the benchmark zero)."""
    bench = load_bench()
    base = {"device": "cpu", "size": [64, 48], "data_root": str(tiny_synthetic_roots["mpv"]), "cli_args": [],
            "warmup": 0, "steps": 2, "workers": 0, "tiny": True, "entry": "stage2", "batch": 2, "path": "fp32",
            "mode": "curve"}  # fmt: skip
    first, other, again = (row["losses"] for row in bench.run_rows([base | {"seed": s} for s in (0, 1, 0)]))
    assert first == again
    assert first[0]["train/warp/total"] != other[0]["train/warp/total"]  # another initialisation
