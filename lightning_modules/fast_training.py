"""The GPU training economies as one callback: compiled networks, channels_last, fused Adam, lazy R1.

None of them changes what a stage computes (up to bf16 and kernel rounding, and R1's schedule); each is a switch, so
``scripts/bench_train.py`` can measure its share on its own. ``configs/presets/gpu.yaml`` (the GPU preset) turns all of
them on; the CLI's ``--fast_training.*`` keys default to off, so the papers' eager path stays the default elsewhere.

- ``compile``: ``nn.Module.compile()`` on every network of every stage in the model (each direct child module with
  parameters of a ``StageModule``: generators, discriminators, the perceptual loss with its VGG19, frozen feeder
  stages' networks too), in place, so state-dict keys and checkpoints are unchanged. Compiled graphs have no double
  backward: ``StageModule.discriminator_loss`` runs R1's forward eagerly.
- ``channels_last``: the model's 4-D weights and every training batch's 4-D floating tensors (``channels_last_batch``)
  in channels_last, so cuDNN runs NHWC convolutions without converting layouts (its measured share is in
  docs/BENCHMARKS.md).
- ``fused_adam``: ``Adam``/``AdamW`` step with the fused kernel (``torch.optim``'s ``fused=True``), set on the
  optimizers the stage built, so the configs' optimizer arguments stay as they are.
- ``r1_interval``: lazy R1 every ``k`` training batches at ``k`` times the weight
  (``losses.adversarial.lazy_r1_weight``, StyleGAN2's k = 16), set on every stage.

Graphs are static (``dynamic=False``): a network called at several shapes gets one graph per shape. Inductor's
coalescing tiling analysis (``torch._inductor.config.triton.coalesce_tiling_analysis``) is off while a compiled fit
runs (``coalesce_tiling_analysis=False``, restored at teardown): on torch 2.11 (H200, 2026-12-04) it failed to
generate the backward kernels of stage 2 and stage 4, static shapes too, with ``InductorError: TypeError: Expected a
number but got Mul`` (``tiling_utils.analyze_memory_coalescing`` calls ``int()`` on a symbolic tiling factor; the
same code is in torch 2.14). Off, Inductor picks tilings by its older per-dependency scores.
"""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn
from torch._inductor import config as inductor_config
from torchmetrics import Metric

from contract.errors import ConfigError
from lightning_modules.stage import StageModule

FUSABLE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


def stage_networks(model: nn.Module) -> dict[str, nn.Module]:
    """Every network of every ``StageModule`` in ``model``, by qualified name: the direct children that hold parameters,
    other than stages (searched in turn) and metrics."""
    networks = {}
    for prefix, stage in model.named_modules():
        if not isinstance(stage, StageModule):
            continue
        for name, child in stage.named_children():
            if isinstance(child, StageModule | Metric) or next(child.parameters(), None) is None:
                continue
            networks[f"{prefix}.{name}" if prefix else name] = child
    return networks


def channels_last_batch(batch: dict) -> None:
    """The 4-D floating tensors of ``batch`` (nested dicts too) to channels_last, in place; values and shapes stay."""
    for key, value in batch.items():
        if isinstance(value, dict):
            channels_last_batch(value)
        elif isinstance(value, torch.Tensor) and value.dim() == 4 and value.is_floating_point():
            batch[key] = value.contiguous(memory_format=torch.channels_last)


def fuse_adam(optimizer: torch.optim.Optimizer) -> bool:
    """Switch an ``Adam``/``AdamW`` to its fused kernel in place (state already there is moved to match); False for
    other optimizers."""
    if not isinstance(optimizer, FUSABLE_OPTIMIZERS):
        return False
    for group in optimizer.param_groups:
        group["fused"], group["foreach"] = True, False
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if "step" in state:  # a resumed run: fused Adam keeps its step count on the parameter's device
                state["step"] = torch.as_tensor(state["step"], dtype=torch.float32, device=param.device)
    return True


class FastTraining(Callback):
    """Compile, channels_last, fused Adam and lazy R1 for ``fit`` (see the module docstring).

    Args:
        compile: compile every stage network (``stage_networks``) with ``torch.compile``.
        compile_mode: ``torch.compile``'s mode (``default``; ``max-autotune-no-cudagraphs`` tunes longer).
        channels_last: the model's 4-D weights and the training batches' 4-D images in channels_last.
        fused_adam: step Adam/AdamW with the fused kernel.
        r1_interval: R1 on every ``k``-th training batch at ``k`` times its weight (1 = every batch, the papers').
        coalesce_tiling_analysis: Inductor's coalescing tiling analysis while a compiled fit runs (off: see the module
            docstring); ignored without ``compile``.
    """

    def __init__(
        self,
        compile: bool = False,
        compile_mode: str = "default",
        channels_last: bool = False,
        fused_adam: bool = False,
        r1_interval: int = 1,
        coalesce_tiling_analysis: bool = False,
    ) -> None:
        if r1_interval < 1:
            raise ConfigError(f"fast_training.r1_interval: must be >= 1, got {r1_interval}")
        self.compile, self.compile_mode = compile, compile_mode
        self.channels_last, self.fused_adam, self.r1_interval = channels_last, fused_adam, r1_interval
        self.coalesce_tiling_analysis = coalesce_tiling_analysis
        self.compiled: list[str] = []
        self._inductor_setting: bool | None = None  # the process's setting, while a compiled fit has replaced it

    @property
    def active(self) -> bool:
        return self.compile or self.channels_last or self.fused_adam or self.r1_interval != 1

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        for module in pl_module.modules():
            if isinstance(module, StageModule):
                module.r1_interval = self.r1_interval
        if not self.active:
            return
        if self.channels_last:
            pl_module.to(memory_format=torch.channels_last)
        if self.compile:
            self._inductor_setting = inductor_config.triton.coalesce_tiling_analysis
            inductor_config.triton.coalesce_tiling_analysis = self.coalesce_tiling_analysis
            for name, network in stage_networks(pl_module).items():
                network.compile(mode=self.compile_mode, dynamic=False)  # one graph per shape: no symbolic shapes
                self.compiled.append(name)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._inductor_setting is not None:
            inductor_config.triton.coalesce_tiling_analysis, self._inductor_setting = self._inductor_setting, None

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: object, batch_idx: int) -> None:
        if self.channels_last and isinstance(batch, dict):
            channels_last_batch(batch)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a resumed run's optimizer state is loaded (it holds the group options it was saved with)."""
        if not self.active:
            return
        fused = [fuse_adam(optimizer) for optimizer in trainer.optimizers] if self.fused_adam else []
        if trainer.logger is not None:
            trainer.logger.log_hyperparams({
                "fast_training/compile": f"{self.compile_mode}: {', '.join(self.compiled)}" if self.compile else "off",
                "fast_training/channels_last": self.channels_last,
                "fast_training/fused_adam": f"{sum(fused)} of {len(trainer.optimizers)} optimizers" if fused else "off",
                "fast_training/r1_interval": self.r1_interval,
            })  # fmt: skip
