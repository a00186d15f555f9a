"""``PredictionWriter``: the files ``vton predict`` writes, one result image and one side-by-side grid per sample.

For a sample named ``<name>`` (``meta["name"]``, see ``datamodules.predict_list``) it writes::

    <out_dir>/<name>.png           the result
    <out_dir>/grids/<name>.png     person | cloth | target pose | result

from ``predict_step``'s output ``{"result": [B, 3, H, W] in [-1, 1], "meta": {"name": [B names], ...}}`` and the
batch (``src_img``, ``cloth``, ``tgt_pose``). Each process writes the samples of its own batches; a file is written
to a temporary name and renamed, so a sample that two processes both hold (DistributedSampler padding) is never
left half written. Only the list of sequence frames written is kept in memory.

A pose sequence (a list row whose pose is a folder of OpenPose JSONs, ``datamodules.predict_list``) gives samples
named ``<sequence>/<frame stem>`` with ``meta["sequence"]`` and ``meta["frame"]`` (the frame index); their results go
to ``<out_dir>/<sequence>/<frame stem>.png`` and, once every process has written its frames (``on_predict_end``,
global rank 0), into the animated ``<out_dir>/<sequence>.gif``: frames in index order, ``frame_duration_ms`` each,
looping forever. GIF holds 256 colours per frame (Pillow quantizes each frame; the PNGs are exact), and Pillow merges
a frame identical to the one before into it (a longer frame).
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

from contract.errors import ConfigError
from datamodules.visualize import make_grid

GRID_DIR = "grids"


def to_unit(image: Tensor) -> Tensor:
    """``[..., 3, H, W]`` in [-1, 1] -> [0, 1] float32 on the CPU."""
    return ((image.detach().float().cpu().clamp(-1.0, 1.0) + 1.0) / 2.0).clamp(0.0, 1.0)


def pose_picture(pose: Tensor) -> Tensor:
    """Keypoint maps ``[18, H, W]`` -> ``[3, H, W]`` white joints on black (their maximum, as the stage grids)."""
    return pose.detach().float().cpu().amax(0, keepdim=True).clamp(0.0, 1.0).expand(3, -1, -1)


def save_atomically(image: Image.Image, path: Path, image_format: str, **params: Any) -> None:
    """``image.save`` to a temporary name beside ``path``, then rename: readers never see a half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    image.save(temporary, format=image_format, **params)
    os.replace(temporary, path)


def save_png(image: Tensor, path: Path) -> None:
    """Write ``[3, H, W]`` in [0, 1] as an 8-bit PNG, atomically."""
    pixels = (image.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    save_atomically(Image.fromarray(np.ascontiguousarray(pixels)), path, "PNG")


def save_gif(frames: list[Path], path: Path, duration_ms: int) -> None:
    """The PNGs ``frames`` (in order) as one animated GIF, ``duration_ms`` per frame, looping forever; atomically."""
    images = [Image.open(frame).convert("RGB") for frame in frames]
    save_atomically(
        images[0], path, "GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0, disposal=1
    )


class PredictionWriter(BasePredictionWriter):
    """Writes each predicted sample's result and grid (module docstring).

    Args:
        out_dir: output folder (created; ``grids/`` inside it).
        grids: also write the side-by-side grids.
        frame_duration_ms: how long each frame of a pose sequence's GIF shows (100 ms: 10 frames per second; our
            choice, no paper names one).
    """

    def __init__(self, out_dir: str = "outputs/predict", grids: bool = True, frame_duration_ms: int = 100) -> None:
        super().__init__(write_interval="batch")
        if frame_duration_ms <= 0:
            raise ConfigError(f"PredictionWriter: frame_duration_ms must be positive, got {frame_duration_ms}")
        self.out_dir = Path(out_dir)
        self.grids = grids
        self.frame_duration_ms = frame_duration_ms
        self.frames: list[tuple[str, int, str]] = []  # (sequence, frame index, result file) written by this process

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.frames = []

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Global rank 0 assembles each sequence's GIF from the frames every process wrote."""
        trainer.strategy.barrier()  # every process's frame files are on disk
        frames = self.frames
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            parts: list[list[tuple[str, int, str]]] = [[] for _ in range(trainer.world_size)]
            torch.distributed.all_gather_object(parts, frames)
            frames = [frame for part in parts for frame in part]
        if trainer.is_global_zero:
            self.write_animations(frames)

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
        sequences = list(meta.get("sequence", [""] * len(names)))
        frame_indices = list(meta.get("frame", [""] * len(names)))
        results = to_unit(result)
        written = []
        for i, name in enumerate(names):
            path = self.out_dir / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_png(results[i], path)
            written.append(path)
            if sequences[i]:
                self.frames.append((sequences[i], int(frame_indices[i]), str(path)))
            if self.grids:
                columns = [to_unit(batch["src_img"][i])]
                if "cloth" in batch:
                    columns.append(to_unit(batch["cloth"][i]))
                columns += [pose_picture(batch["tgt_pose"][i]), results[i]]
                grid = self.out_dir / GRID_DIR / f"{name}.png"
                grid.parent.mkdir(parents=True, exist_ok=True)
                save_png(make_grid([columns]), grid)
        return written

    def write_animations(self, frames: list[tuple[str, int, str]]) -> list[Path]:
        """``<out_dir>/<sequence>.gif`` of each sequence in ``frames`` ``(sequence, index, result file)``, in index
        order (a frame written twice, e.g. by DistributedSampler padding, counts once); returns the GIFs."""
        by_sequence: dict[str, dict[int, Path]] = {}
        for sequence, index, path in frames:
            by_sequence.setdefault(sequence, {})[index] = Path(path)
        written = []
        for sequence, paths in sorted(by_sequence.items()):
            gif = self.out_dir / f"{sequence}.gif"
            save_gif([paths[index] for index in sorted(paths)], gif, self.frame_duration_ms)
            written.append(gif)
        return written
