"""The line ``vton fit`` prints once at start when it trains on a CPU: what is being trained and where to go."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.accelerators import CPUAccelerator

PAPER_WIDTH_PARAMETERS = 5_000_000  # the smallest paper-width stage has 5.8 M (the flow regressor); the presets < 2 M


def cpu_notice(trainer: Trainer, model: LightningModule, datamodule: LightningDataModule | None) -> str | None:
    """``None`` unless ``trainer`` runs on the CPU; otherwise one line with the trainable parameters, the image size
    and batch, and, for networks of paper width, that they need a GPU and the preset that runs on a CPU."""
    if not isinstance(trainer.accelerator, CPUAccelerator):
        return None
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    size = getattr(datamodule, "image_size", None)
    batch = getattr(datamodule, "hparams", {}).get("batch_size")
    shape = f" at {size[0]}x{size[1]}, batch {batch}" if size is not None and batch is not None else ""
    why = "no GPU found" if not torch.cuda.is_available() else "accelerator cpu"
    line = f"vton: training on the CPU ({why}): {parameters / 1e6:.1f} M trainable parameters{shape}."
    if parameters >= PAPER_WIDTH_PARAMETERS:
        line += (
            " Paper-width networks need a GPU (README, 'On a CPU': about 100 s a batch, 10 GB resident on 2 cores);"
            " for a CPU try-out add the stage's preset after its config, e.g. -c configs/tiny/stage1_layout.yaml."
        )
    return line
