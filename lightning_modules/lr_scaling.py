"""Learning rates scaled with the batch: the configs' rates are the papers', for the papers' batch; a larger batch
(the GPU preset's) scales every optimizer's rates once, at fit start.

Rules (``rule``): ``"sqrt"`` multiplies by ``sqrt(B / B_ref)``, the square-root rule for Adam (Malladi et al., NeurIPS
2022, "On the SDEs and scaling rules for adaptive gradient algorithms": Adam's noise scale stays put when the rate
grows with the square root of the batch); ``"linear"`` by ``B / B_ref`` (Goyal et al. 2017, for SGD); ``"none"``
keeps the configs' rates. ``B`` is the global batch: the data module's ``batch_size`` times the number of processes
times ``accumulate_grad_batches``; ``B_ref`` the batch the rates were tuned for (8: SPG-VTON Sec. IV-C, and every
stage config's data piece). The CLI's ``--lr_scaling.rule`` defaults to ``none``; ``configs/presets/gpu.yaml`` uses
``sqrt``.
"""

from __future__ import annotations

import math

from lightning.pytorch import Callback, LightningModule, Trainer

from contract.errors import ConfigError

RULES = ("none", "sqrt", "linear")


def lr_factor(rule: str, batch_size: int, reference_batch_size: int) -> float:
    """The factor ``rule`` gives the learning rates at global batch ``batch_size`` (rates tuned at the reference)."""
    if rule not in RULES:
        raise ConfigError(f"lr_scaling.rule: unknown rule {rule!r}; expected one of {RULES}")
    ratio = batch_size / reference_batch_size
    return {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[rule]


class LearningRateScaling(Callback):
    """Multiplies every optimizer's learning rates by ``lr_factor(rule, global batch, reference_batch_size)`` at fit
    start, and records the factor (``lr_scaling/*``) in the run's hyper-parameters.

    Args:
        rule: ``"none"``, ``"sqrt"`` or ``"linear"`` (see the module docstring).
        reference_batch_size: the global batch the configs' learning rates were set for.
    """

    def __init__(self, rule: str = "none", reference_batch_size: int = 8) -> None:
        if reference_batch_size < 1:
            raise ConfigError(f"lr_scaling.reference_batch_size: must be >= 1, got {reference_batch_size}")
        lr_factor(rule, 1, 1)  # validates the rule
        self.rule, self.reference_batch_size = rule, reference_batch_size
        self.factor = 1.0

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.rule == "none":
            return
        datamodule = trainer.datamodule
        per_process = getattr(getattr(datamodule, "hparams", None), "batch_size", None)
        if per_process is None:
            raise ConfigError("lr_scaling: the data module has no batch_size; set --lr_scaling.rule none")
        batch = per_process * trainer.world_size * trainer.accumulate_grad_batches
        self.factor = lr_factor(self.rule, batch, self.reference_batch_size)
        for optimizer in trainer.optimizers:  # a resumed run then loads its optimizer state, scaled rates included
            for group in optimizer.param_groups:
                group["lr"] *= self.factor
        if trainer.logger is not None:
            trainer.logger.log_hyperparams({
                "lr_scaling/rule": self.rule, "lr_scaling/global_batch": batch, "lr_scaling/factor": self.factor,
                "lr_scaling/reference_batch_size": self.reference_batch_size,
            })  # fmt: skip
