"""``RunRecord``: what a comparison of runs needs, in the run's logger and in ``<log dir>/run.json``.

At the start of ``fit``: the seed (``seed_everything``'s, ``PL_GLOBAL_SEED``), the device (GPU name, or the CPU and
its cores) and the number of processes, the git revision, and the training split's fingerprint
(``FashionDataModule.fingerprint``: list entries, file names and sizes, one sha256). At the end, and when the fit is
interrupted: the optimizer steps (``trainer.global_step``: every optimizer's steps, so a GAN stage's batch with a
generator and a discriminator update counts two), the training batches, the images seen (batches x the stage's
batch size, ``StageModule._batch_size``, x processes; a temporal sample, one sequence, counts once) and the wall time
of the fit. The counts and the time carry over a resumed fit (the callback's state is in
the checkpoint), so they cover the whole run. Logged as ``run/...`` hyper-parameters: W&B's config panel, the CSV and
TensorBoard ``hparams.yaml``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

RUN_FILE = "run.json"


def device_name(trainer: Trainer) -> str:
    """The GPU's name, or the device type and the machine's cores."""
    device = trainer.strategy.root_device
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({os.cpu_count()} cores)"


class RunRecord(Callback):
    """Records a fit's seed, device, revision, data fingerprint, steps, images and wall time (module docstring)."""

    def __init__(self, revision: str = "unknown") -> None:
        self.revision = revision
        self.batches = self.images = 0
        self.seconds = 0.0  # of the fits before a resume
        self._started = 0.0
        self.record: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "images": self.images, "seconds": self.seconds + self._elapsed()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches, self.images, self.seconds = state_dict["batches"], state_dict["images"], state_dict["seconds"]

    def _elapsed(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.monotonic()
        datamodule = trainer.datamodule
        fingerprint = getattr(datamodule, "fingerprint", None)
        hparams = getattr(datamodule, "hparams", {})
        self.record = {
            "seed": int(os.environ["PL_GLOBAL_SEED"]) if "PL_GLOBAL_SEED" in os.environ else None,
            "device": device_name(trainer),
            "processes": trainer.world_size,
            "git_revision": self.revision,
            "data": str(hparams["root"]) if "root" in hparams else None,
            "data_fingerprint": fingerprint("train") if callable(fingerprint) else None,
        }
        self._publish(trainer, "running")

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.batches += 1
        self.images += (getattr(pl_module, "_batch_size", None) or 0) * trainer.world_size  # StageModule's count

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._publish(trainer, "finished")

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if self.record:
            self._publish(trainer, f"stopped: {type(exception).__name__}")

    def _publish(self, trainer: Trainer, status: str) -> None:
        self.record |= {
            "status": status,
            "optimizer_steps": trainer.global_step,
            "training_batches": self.batches,
            "images_seen": self.images,
            "wall_time_s": round(self.seconds + self._elapsed(), 1),
        }
        if not trainer.is_global_zero:
            return
        if trainer.logger is not None:
            trainer.logger.log_hyperparams({"run": dict(self.record)})
        if trainer.log_dir is not None:
            path = Path(trainer.log_dir) / RUN_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.record, indent=2) + "\n")
