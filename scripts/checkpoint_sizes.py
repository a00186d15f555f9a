"""Size of each stage's checkpoint at the configs' paper widths, with its frozen feeders embedded (as checkpoints
were written before) and kept by file (``lightning_modules.feeders``, now).

Each row builds the module of ``configs/<config>.yaml`` as ``vton fit -c`` does (``run_cli(args, run=False)``, no
logger), with the ``*_checkpoint`` arguments pointing at checkpoints of earlier rows written into ``--scratch``; the
weights are random (sizes do not depend on them; no pretrained download: an absent VGG19 is built untrained, and
pretrained backbones are never saved). The checkpoint is what Lightning writes for it: the state dict after the
module's ``on_save_checkpoint``, the hyper-parameters and the optimizer states, Adam's two moments per trainable
parameter filled by one step on zero gradients; the loop, callback and data-position entries (a few kB) are left out.

    python scripts/checkpoint_sizes.py                      # every row (about 3 min on 2 cores, 4.5 GB in --scratch)
    python scripts/checkpoint_sizes.py --only stage1_layout,stage2_warp+layout
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MB = 1e6

# row -> (configs, {model argument: the earlier row whose checkpoint it takes})
ROWS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "stage1_layout": (("stage1_layout",), {}),
    "stage2_warp": (("stage2_warp",), {}),
    "stage2_warp+layout": (("stage2_warp",), {"layout_checkpoint": "stage1_layout"}),
    "stage2_warp_tps": (("stage2_warp_tps",), {}),
    "stage2_warp_flow": (("stage2_warp_flow",), {}),
    "stage3_synthesis+layout+warp": (
        ("stage3_synthesis",),
        {"layout_checkpoint": "stage1_layout", "warp_checkpoint": "stage2_warp_tps"},
    ),
    "stage4_refine": (("stage4_refine",), {}),
    "stage4_refine_fusion": (("stage4_refine", "stage4_refine_fusion"), {}),
    "stage4_refine_intrinsic+flow": (("stage4_refine_intrinsic",), {"flow_checkpoint": "stage2_warp_flow"}),
    "temporal+synthesis": (("temporal",), {"synthesis_checkpoint": "stage3_synthesis+layout+warp"}),
    "e2e": (
        ("e2e",),
        {
            "layout_checkpoint": "stage1_layout",
            "warp_checkpoint": "stage2_warp",
            "synthesis_checkpoint": "stage3_synthesis+layout+warp",
            "refine_checkpoint": "stage4_refine_fusion",
        },
    ),
}


def build(configs: tuple[str, ...], feeders: dict[str, Path]) -> torch.nn.Module:
    """The LightningModule ``vton fit`` builds from ``configs`` with the ``*_checkpoint`` arguments ``feeders``."""
    from lightning_modules.cli import run_cli

    args = [arg for config in configs for arg in ("-c", str(REPO / "configs" / f"{config}.yaml"))]
    args += ["--trainer.logger", "false"]
    for argument, path in feeders.items():
        args += [f"--model.init_args.{argument}", str(path)]
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        return run_cli(args, run=False).model


def optimizer_states(module: torch.nn.Module) -> list[dict]:
    """The state dicts of the module's optimizers after one step on zero gradients (Adam's moments allocated)."""
    optimizers = module.configure_optimizers()
    optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return [optimizer.state_dict() for optimizer in optimizers]


def saved_mb(checkpoint: dict, path: Path) -> float:
    torch.save(checkpoint, path)
    return path.stat().st_size / MB


def measure(row: str, scratch: Path) -> dict[str, object]:
    """Build ``row``, save its checkpoint both ways; the figures of its table row. The checkpoint kept in ``scratch``
    (``<row>.ckpt``, feeders by file) feeds later rows."""
    from lightning_modules.stage import is_pretrained_key

    configs, takes = ROWS[row]
    feeders = {argument: scratch / f"{source}.ckpt" for argument, source in takes.items()}
    start = time.perf_counter()
    torch.manual_seed(0)
    module = build(configs, feeders)
    built = time.perf_counter() - start
    state = module.state_dict()
    prefixes = tuple(module.all_feeders())
    counted = {key: value for key, value in state.items() if not is_pretrained_key(key)}
    feeder_params = sum(v.numel() for k, v in counted.items() if k.startswith(prefixes) and v.is_floating_point())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    optimizers = optimizer_states(module)
    common = {"pytorch-lightning_version": lightning.__version__, "hyper_parameters": dict(module.hparams)}
    embedded = {**common, "state_dict": counted, "optimizer_states": optimizers}
    kept = {**common, "state_dict": dict(module.state_dict()), "optimizer_states": optimizers}
    module.on_save_checkpoint(kept)
    with_feeders = saved_mb(embedded, scratch / "embedded.ckpt")
    (scratch / "embedded.ckpt").unlink()
    now = saved_mb(kept, scratch / f"{row}.ckpt")
    optimizer_mb = saved_mb({"optimizer_states": optimizers}, scratch / "optimizers.pt")
    (scratch / "optimizers.pt").unlink()
    del module, state, counted, embedded, kept, optimizers
    gc.collect()
    return {
        "row": row,
        "configs": " + ".join(f"{c}.yaml" for c in configs),
        "feeders": ", ".join(f"{argument} = {source}" for argument, source in takes.items()) or "-",
        "trainable_m": trainable / 1e6,
        "feeder_m": feeder_params / 1e6,
        "with_feeders_mb": with_feeders,
        "now_mb": now,
        "optimizer_mb": optimizer_mb,
        "seconds": time.perf_counter() - start,
        "build_seconds": built,
    }


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| checkpoint of | `*_checkpoint` arguments (rows above) | trainable params (M) | frozen feeder params (M) "
        "| feeders embedded (MB) | feeders by file (MB) | of which optimizer state (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['configs']} | {r['feeders']} | {r['trainable_m']:.1f} | {r['feeder_m']:.1f} "
            f"| {r['with_feeders_mb']:.0f} | {r['now_mb']:.0f} | {r['optimizer_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated rows of {list(ROWS)}")
    parser.add_argument("--scratch", default=None, help="folder for the checkpoints (default: a temporary one)")
    options = parser.parse_args()
    asked = options.only.split(",")
    unknown = [row for row in asked if row not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {list(ROWS)}")
    rows = [row for row in ROWS if row in asked]  # a feeder's row before the rows it feeds
    needed = list(dict.fromkeys(source for row in rows for source in ROWS[row][1].values()))
    missing = [row for row in needed if row not in rows]
    if missing:
        parser.error(f"rows {missing} feed the rows asked for; add them to --only")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(dir=options.scratch) as folder:
        results = []
        for row in rows:
            results.append(measure(row, Path(folder)))
            r = results[-1]
            print(f"{row}: {r['now_mb']:.0f} MB ({r['with_feeders_mb']:.0f} MB with feeders), built in "
                  f"{r['build_seconds']:.1f} s, {r['seconds']:.1f} s in all", file=sys.stderr)  # fmt: skip
    print(table(results))


if __name__ == "__main__":
    main()
