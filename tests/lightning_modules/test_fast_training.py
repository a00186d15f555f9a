"""``FastTraining`` (``lightning_modules/fast_training.py``): a compiled training step gives the eager step's losses,
R1 works on a compiled discriminator, fused Adam steps like Adam, and the networks found are the stage's own."""

from __future__ import annotations

import shutil

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from torch import nn
from torch.utils.data import DataLoader

from lightning_modules.fast_training import FastTraining, channels_last_batch, fuse_adam, stage_networks
from lightning_modules.layout import LayoutModule

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
needs_compiler = pytest.mark.skipif(COMPILER is None, reason="torch.compile on a CPU needs a C++ compiler")


def tiny_spg(tiny_nets: dict) -> LayoutModule:
    torch.manual_seed(0)
    return LayoutModule(variant="spg", image_size=(64, 48), loss_weights={"perc_p": 0.0}, **tiny_nets)


def tiny_clothflow(tiny_nets: dict) -> LayoutModule:
    torch.manual_seed(0)
    return LayoutModule(variant="clothflow", image_size=(64, 48), generator=tiny_nets["generator"])


class StepLosses(Callback):
    """The logged ``train/g/total`` of every training batch."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.losses.append(float(trainer.callback_metrics["train/g/total"]))


def fit(module: LayoutModule, batch: dict, steps: int, *callbacks: Callback) -> list[float]:
    recorder = StepLosses()
    trainer = Trainer(
        accelerator="cpu", max_steps=steps, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[recorder, *callbacks],
    )  # fmt: skip
    trainer.fit(module, DataLoader([batch] * steps, batch_size=None))
    return recorder.losses


def test_the_networks_are_the_stages_generators_and_discriminators(tiny_nets: dict) -> None:
    networks = stage_networks(tiny_spg(tiny_nets))
    assert sorted(networks) == sorted(
        ["layout_generator", "coarse_generator", "layout_discriminator", "coarse_discriminator"]
    )


def test_channels_last_batch_changes_the_layout_of_4d_float_tensors_only() -> None:
    """Nested dicts too; values unchanged; integer maps (parsing labels) and other ranks keep their layout."""
    torch.manual_seed(0)
    image, labels, pose = torch.randn(2, 3, 8, 6), torch.randint(0, 20, (2, 1, 8, 6)), torch.randn(2, 18, 2)
    batch = {"img": image, "parse": labels, "kp": pose, "masks": {"face": torch.rand(2, 1, 8, 6), "cloth": image}}
    channels_last_batch(batch)
    assert batch["img"].is_contiguous(memory_format=torch.channels_last) and not image.is_contiguous(
        memory_format=torch.channels_last
    )
    assert batch["masks"]["cloth"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch["img"], image) and torch.equal(batch["masks"]["cloth"], image)
    assert batch["parse"] is labels and batch["kp"] is pose


@needs_compiler
def test_compiled_training_steps_give_the_eager_losses(tiny_nets: dict, synthetic_batch: dict) -> None:
    """Three training steps of a tiny stage 1 (ClothFlow's G_layout, cross entropy, the config's Adam), fp32 on the
    CPU, compiled with channels_last weights and fused Adam: the losses equal the eager run's up to kernel rounding,
    and they change from step to step (the optimizer steps the compiled network). Inductor's coalescing tiling
    analysis is off while the compiled fit runs and the process's setting is back afterwards."""
    from torch._inductor import config as inductor_config

    class TilingSetting(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
            seen.append(inductor_config.triton.coalesce_tiling_analysis)

    seen: list[bool] = []
    eager = fit(tiny_clothflow(tiny_nets), synthetic_batch, 3)
    fast = FastTraining(compile=True, channels_last=True, fused_adam=True)
    module = tiny_clothflow(tiny_nets)
    with inductor_config.patch({"triton.coalesce_tiling_analysis": True}):
        compiled = fit(module, synthetic_batch, 3, fast, TilingSetting())
        assert inductor_config.triton.coalesce_tiling_analysis is True
    assert seen == [False] * 3
    assert fast.compiled == ["layout_generator"]
    assert module.layout_generator._compiled_call_impl is not None
    conv = next(m for m in module.layout_generator.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert module.trainer.optimizers[0].param_groups[0]["fused"]
    assert len(compiled) == len(eager) == 3 and eager[0] != pytest.approx(eager[2])
    torch.testing.assert_close(torch.tensor(compiled), torch.tensor(eager), rtol=1e-4, atol=1e-5)


@needs_compiler
def test_r1_runs_through_a_compiled_discriminator_and_gives_the_eager_loss() -> None:
    """A compiled graph has no double backward; ``discriminator_loss`` runs R1's forward eagerly, so the R1 batch of a
    compiled D trains and equals the eager D's loss and gradients."""
    torch.manual_seed(0)
    eager_d = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 3, padding=1))
    compiled_d = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 3, padding=1))
    compiled_d.load_state_dict(eager_d.state_dict())
    compiled_d.compile()
    stage = LayoutModule(variant="clothflow", image_size=(64, 48), generator=lambda i, o: nn.Conv2d(i, o, 1))
    stage.r1_interval = 4  # batch 0 (no trainer) is an R1 batch
    real, fake = torch.randn(2, 3, 16, 12), torch.randn(2, 3, 16, 12)
    losses = []
    for discriminator in (eager_d, compiled_d):
        loss = stage.discriminator_loss(discriminator, real, fake, gp_weight=1.0)
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(eager_d.parameters(), compiled_d.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-6)


def test_fused_adam_takes_the_steps_adam_takes() -> None:
    """Two plain Adam steps (the state a resumed run brings: step counts as CPU scalars), then one optimizer switched to
    the fused kernel: its next five steps are plain Adam's, and the parameters did move."""
    torch.manual_seed(0)
    plain, fused = nn.Linear(5, 3), nn.Linear(5, 3)
    fused.load_state_dict(plain.state_dict())
    start = [p.detach().clone() for p in plain.parameters()]
    opts = [torch.optim.Adam(n.parameters(), lr=2e-4, betas=(0.0, 0.999), weight_decay=5e-4) for n in (plain, fused)]
    x = torch.randn(16, 5)

    def steps(count: int) -> None:
        for _ in range(count):
            for net, opt in zip((plain, fused), opts, strict=True):
                opt.zero_grad()
                net(x).pow(2).mean().backward()
                opt.step()

    steps(2)
    assert fuse_adam(opts[1]) and not fuse_adam(torch.optim.SGD(plain.parameters(), lr=0.1))
    steps(5)
    assert opts[1].param_groups[0]["fused"]
    assert all(float(state["step"]) == 7 for state in opts[1].state.values())
    assert not torch.equal(start[0], plain.weight)
    for a, b in zip(plain.parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
