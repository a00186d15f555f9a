"""``LearningRateScaling`` (``lightning_modules/lr_scaling.py``): the factor by rule, and the rates a fit steps with."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from torch import nn
from torch.utils.data import DataLoader

from contract.errors import ConfigError
from lightning_modules.lr_scaling import LearningRateScaling, lr_factor


def test_the_factor_of_each_rule_by_hand() -> None:
    assert lr_factor("sqrt", 32, 8) == pytest.approx(2.0)
    assert lr_factor("linear", 32, 8) == pytest.approx(4.0)
    assert lr_factor("none", 32, 8) == 1.0
    assert lr_factor("sqrt", 8, 8) == 1.0  # the paper's batch keeps the config's rates
    with pytest.raises(ConfigError, match="lr_scaling.rule: unknown rule 'cubic'"):
        lr_factor("cubic", 32, 8)
    with pytest.raises(ConfigError, match="reference_batch_size: must be >= 1"):
        LearningRateScaling("sqrt", 0)


class TwoGroups(LightningModule):
    """Adam with two parameter groups at different rates (as the chain's per-stage rates); records the rates of the
    first step."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(2, 1), nn.Linear(2, 1)
        self.rates: list[float] = []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.rates = [group["lr"] for group in self.trainer.optimizers[0].param_groups]
        return (self.a(batch) + self.b(batch)).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            [{"params": self.a.parameters(), "lr": 2e-4}, {"params": self.b.parameters(), "lr": 1e-4}]
        )


class Batches(LightningDataModule):
    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.save_hyperparameters()

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.randn(64, 2), batch_size=self.hparams.batch_size)


def fit(module: LightningModule, datamodule: LightningDataModule, callback: LearningRateScaling, **trainer) -> None:
    Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, callbacks=[callback], **trainer).fit(module, datamodule=datamodule)  # fmt: skip


def test_every_group_steps_at_its_rate_times_the_factor_of_the_global_batch() -> None:
    module, callback = TwoGroups(), LearningRateScaling("sqrt", 8)
    fit(module, Batches(16), callback, accumulate_grad_batches=2)  # global batch 32: factor 2
    assert callback.factor == pytest.approx(2.0)
    assert module.rates == pytest.approx([4e-4, 2e-4])
    module = TwoGroups()
    fit(module, Batches(16), LearningRateScaling("none", 8))
    assert module.rates == pytest.approx([2e-4, 1e-4])


def test_a_data_module_without_a_batch_size_is_one_clear_error() -> None:
    class NoBatchSize(LightningDataModule):
        def train_dataloader(self) -> DataLoader:
            return DataLoader(torch.randn(8, 2), batch_size=4)

    with pytest.raises(ConfigError, match="the data module has no batch_size"):
        fit(TwoGroups(), NoBatchSize(), LearningRateScaling("sqrt", 8))
