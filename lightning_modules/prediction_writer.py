"""``PredictionWriter``: the files ``vton predict`` writes, one result image and one side-by-side grid per sample.

For a sample named ``<name>`` (``meta["name"]``, see ``datamodules.predict_list``) it writes::

    <out_dir>/<name>.png           the result
    <out_dir>/grids/<name>.png     person | cloth | target pose | result

from ``predict_step``'s output ``{"result": [B, 3, H, W] in [-1, 1], "meta": {"name": [B names], ...}}`` and the
batch (``src_img``, ``cloth``, ``tgt_pose``). Each process writes the samples of its own batches; a file is written
to a temporary name and renamed, so a sample that two processes both hold (DistributedSampler padding) is never
left half written. Nothing is kept in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from PIL import Image
from torch import Tensor

from datamodules.visualize import make_grid

GRID_DIR = "grids"


def to_unit(image: Tensor) -> Tensor:
    """``[..., 3, H, W]`` in [-1, 1] -> [0, 1] float32 on the CPU."""
    return ((image.detach().float().cpu().clamp(-1.0, 1.0) + 1.0) / 2.0).clamp(0.0, 1.0)


def pose_picture(pose: Tensor) -> Tensor:
    """Keypoint maps ``[18, H, W]`` -> ``[3, H, W]`` white joints on black (their maximum, as the stage grids)."""
    return pose.detach().float().cpu().amax(0, keepdim=True).clamp(0.0, 1.0).expand(3, -1, -1)


def save_png(image: Tensor, path: Path) -> None:
    """Write ``[3, H, W]`` in [0, 1] as an 8-bit PNG, atomically (temporary file, then rename)."""
    pixels = (image.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    Image.fromarray(np.ascontiguousarray(pixels)).save(temporary, format="PNG")
    os.replace(temporary, path)


class PredictionWriter(BasePredictionWriter):
    """Writes each predicted sample's result and grid (module docstring).

    Args:
        out_dir: output folder (created; ``grids/`` inside it).
        grids: also write the side-by-side grids.
    """

    def __init__(self, out_dir: str = "outputs/predict", grids: bool = True) -> None:
        super().__init__(write_interval="batch")
        self.out_dir = Path(out_dir)
        self.grids = grids

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        self.write(prediction, batch)

    def write(self, prediction: dict, batch: dict) -> list[Path]:
        """Write the results of one batch; returns the result files written."""
        if not isinstance(prediction, dict) or "result" not in prediction:
            raise ValueError(
                "PredictionWriter: predict_step must return a dict with 'result' [B, 3, H, W] in [-1, 1] and "
                f"'meta' with 'name'; got {type(prediction).__name__}"
                + (f" with keys {sorted(prediction)}" if isinstance(prediction, dict) else "")
            )
        result = prediction["result"]
        meta = prediction.get("meta") or batch.get("meta") or {}
        names = list(meta.get("name", []))
        if result.dim() != 4 or result.shape[1] != 3 or len(names) != result.shape[0]:
            raise ValueError(
                f"PredictionWriter: expected 'result' [B, 3, H, W] and B names in meta['name'], got result "
                f"{tuple(result.shape)} and {len(names)} name(s)"
            )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.grids:
            (self.out_dir / GRID_DIR).mkdir(exist_ok=True)
        results = to_unit(result)
        written = []
        for i, name in enumerate(names):
            path = self.out_dir / f"{name}.png"
            save_png(results[i], path)
            written.append(path)
            if self.grids:
                columns = [to_unit(batch["src_img"][i])]
                if "cloth" in batch:
                    columns.append(to_unit(batch["cloth"][i]))
                columns += [pose_picture(batch["tgt_pose"][i]), results[i]]
                save_png(make_grid([columns]), self.out_dir / GRID_DIR / f"{name}.png")
        return written
