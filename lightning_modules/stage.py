"""Plumbing every stage module shares: weighted named losses, symmetric G/D updates, image-grid logging.

The pattern follows imaginaire: a stage computes a ``dict`` of named, unweighted losses; the weights come
from the config (``loss_weights``), a weight of 0 switches a loss off (it is then not even computed), and
each term is logged as ``train/<net>/<name>`` next to the weighted total ``train/<net>/total``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor
from torch.optim import Optimizer
from torchvision.utils import make_grid, save_image

from contract.errors import ConfigError
from lightning_modules.checkpoint_match import check_stage, check_state_fits, stage_name
from lightning_modules.feeders import FEEDERS_KEY, FeederEntry, externalise, feeder_entry, restore_feeders
from losses.adversarial import Scores, gradient_penalty, lazy_r1_weight, lsgan_d_loss

# State-dict keys of frozen pretrained backbones (loaded from their own files at construction, e.g. VGG19):
# kept out of checkpoints (80 MB each) and refilled from the constructed module when a checkpoint loads.
PRETRAINED_KEY_MARKERS = (".vgg.",)


def is_pretrained_key(key: str) -> bool:
    return any(marker in f".{key}" for marker in PRETRAINED_KEY_MARKERS)


def merge_loss_weights(
    defaults: Mapping[str, float],
    overrides: Mapping[str, float] | None,
    argument: str = "loss_weights",
    item: str = "loss",
) -> dict[str, float]:
    """Defaults updated by ``overrides`` (as floats); an unknown name is an error naming ``argument`` and the valid
    names (``item``: what a name stands for, e.g. ``"stage"`` for the chain's ``stage_lrs``)."""
    weights = dict(defaults)
    for name, value in (overrides or {}).items():
        if name not in weights:
            raise ConfigError(f"{argument}: unknown {item} {name!r}; this {'chain' if item == 'stage' else 'stage'} "
                             f"has {sorted(weights)}")  # fmt: skip
        weights[name] = float(value)
    return weights


class StageModule(LightningModule):
    """Base class of the stage LightningModules (no layers here; subclasses get their networks injected).

    Subclasses set ``self.loss_weights`` (see ``merge_loss_weights``), call ``weighted_total`` and ``update``
    from their ``training_step``, and implement ``evaluate`` and ``grid_columns`` (``validation_step`` is here).
    A frozen earlier stage loaded from a checkpoint file is recorded with ``record_feeder``: checkpoints then keep its
    file's path and sha256 instead of its weights (``lightning_modules.feeders``).
    """

    loss_weights: dict[str, float]
    # R1 on every ``r1_interval``-th training batch at that many times its weight (``lazy_r1_weight``); 1 = every
    # batch, as the papers train. ``lightning_modules.fast_training.FastTraining`` sets it (the GPU preset: 16).
    r1_interval: int = 1
    stage_name: ClassVar[str]  # "stage 1 (layout)": what error messages call the stage
    # The ``*_checkpoint`` arguments of this stage and the stage class each one takes (``checkpoint_match``).
    checkpoint_arguments: ClassVar[dict[str, type[LightningModule]]] = {}

    def __init__(self) -> None:
        super().__init__()
        # Which pretrained backbone weights this run uses ("imagenet:<file>" or "random (...)"): recorded in the
        # run's hyper-parameters at fit start, so a run trained without them can be told apart.
        self.pretrained_status: dict[str, str] = {}
        self.feeders: dict[str, FeederEntry] = {}  # frozen feeder stages: attribute name -> their file's record

    def record_feeder(self, attribute: str, path: str, source: str = "") -> None:
        """The frozen module ``self.<attribute>`` holds the weights under ``source`` of the checkpoint at ``path``."""
        self.feeders[attribute] = feeder_entry(path, source)

    def all_feeders(self) -> dict[str, FeederEntry]:
        """The records of the frozen feeders of this module and of the stages inside it, by state-dict prefix."""
        return {
            f"{name}.{attribute}." if name else f"{attribute}.": entry
            for name, module in self.named_modules()
            if isinstance(module, StageModule)
            for attribute, entry in module.feeders.items()
            if getattr(module, attribute, None) is not None
        }

    def on_fit_start(self) -> None:
        if self.logger is not None and self.pretrained_status:
            self.logger.log_hyperparams({f"pretrained/{k}": v for k, v in self.pretrained_status.items()})

    def uses(self, name: str) -> bool:
        """Whether the loss ``name`` is switched on (weight != 0)."""
        return self.loss_weights[name] != 0.0

    def weighted_total(
        self, losses: Mapping[str, Tensor], net: str, weights: Mapping[str, float] | None = None
    ) -> Tensor:
        """``sum_k w_k * losses[k]`` with ``w = weights`` (default ``self.loss_weights``); logs every term and the
        total under ``train/<net>/``."""
        batch_size = self._batch_size
        weights = self.loss_weights if weights is None else weights
        total = sum(weights[name] * value for name, value in losses.items())
        for name, value in losses.items():
            self.log(f"train/{net}/{name}", value.detach(), batch_size=batch_size)
        self.log(f"train/{net}/total", total.detach(), prog_bar=True, batch_size=batch_size)
        return total

    def update(self, optimizer: Optimizer, loss: Tensor, grad_clip: float = 0.0) -> None:
        """One manual-optimization step of the network(s) behind ``optimizer`` (G or D alike).

        ``toggled_optimizer`` freezes the parameters of the other optimizers meanwhile, so a generator loss
        that runs through D leaves D's gradients untouched.
        """
        with self.toggled_optimizer(optimizer):
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            if grad_clip > 0:
                self.clip_gradients(optimizer, gradient_clip_val=grad_clip, gradient_clip_algorithm="norm")
            optimizer.step()

    def discriminator_loss(
        self,
        discriminator: torch.nn.Module,
        real: Tensor,
        fake: Tensor,
        gp_weight: float,
        d_loss: Callable[[Scores, Scores], Tensor] = lsgan_d_loss,
    ) -> Tensor:
        """``d_loss(D(real), D(fake)) + R1(real)``, both inputs detached; the R1 weight is ``gp_weight`` on every
        ``r1_interval``-th training batch times ``r1_interval``, else 0 (``losses.adversarial.lazy_r1_weight``).

        The penalty's forward runs eagerly (``torch.compiler.set_stance("force_eager")``): a compiled graph has no
        double backward. Off those batches, D sees ``real`` without a gradient and may run compiled.
        """
        weight = lazy_r1_weight(self.training_batch_index, self.r1_interval, gp_weight) if gp_weight > 0 else 0.0
        real = real.detach()
        if weight == 0.0:
            return d_loss(discriminator(real), discriminator(fake.detach()))
        real = real.requires_grad_()
        with torch.compiler.set_stance("force_eager"):
            real_scores = discriminator(real)
        return d_loss(real_scores, discriminator(fake.detach())) + gradient_penalty(real_scores, real, weight)

    @property
    def training_batch_index(self) -> int:
        """The index of the current training batch over all epochs (restored on resume); 0 without a trainer."""
        return self._trainer.fit_loop.total_batch_idx if self._trainer is not None else 0

    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        """Run the stage on a ``val``/``test`` batch, update that split's metrics, return the outputs."""
        raise NotImplementedError

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Named ``[B, 3, H, W]`` images in [0, 1] for the validation grid (inputs | outputs | target)."""
        raise NotImplementedError

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        out = self.evaluate(batch, "val")
        if batch_idx == 0:
            self.log_image_grid("val/grid", self.grid_columns(batch, out), self.hparams.num_logged_images)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Pretrained backbones and frozen feeders stay out of the checkpoint (the feeders' files are recorded)."""
        state = checkpoint["state_dict"]
        for key in [key for key in state if is_pretrained_key(key)]:
            del state[key]
        feeders = externalise(state, self.all_feeders())
        if feeders:
            checkpoint[FEEDERS_KEY] = feeders

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Read the frozen feeders this module has back from their files and refill the pretrained backbones; a
        Trainer restoring ``--ckpt_path`` also checks the checkpoint's stage, variant, keys and shapes."""
        path = self._trainer.ckpt_path if self._trainer is not None else None
        class_path = f"{type(self).__module__}.{type(self).__qualname__}"
        if path is not None:
            check_stage(str(path), checkpoint, class_path, self.hparams)
        name = "checkpoint" if path is None else f"--ckpt_path {path}"
        for prefix, entry in restore_feeders(checkpoint, name, self._has_module).items():
            owner, _, attribute = prefix[:-1].rpartition(".")
            self.get_submodule(owner).feeders[attribute] = entry
        state, own = checkpoint["state_dict"], self.state_dict()
        state.update({k: v for k, v in own.items() if is_pretrained_key(k) and k not in state})
        if path is not None:
            check_state_fits(str(path), stage_name(class_path), state, own)

    def _has_module(self, prefix: str) -> bool:
        """Whether the submodule at the state-dict ``prefix`` (``"layout."``) exists."""
        try:
            self.get_submodule(prefix[:-1])
        except AttributeError:
            return False
        return True

    @property
    def _batch_size(self) -> int | None:
        return getattr(self, "_current_batch_size", None)

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        self._current_batch_size = int(batch["tgt_img"].shape[0])

    def log_image_grid(self, key: str, columns: Mapping[str, Tensor], max_rows: int = 4) -> None:
        """Log one image grid: a row per sample, a column per named ``[B, 3, H, W]`` tensor in [0, 1].

        W&B gets the grid with the column names as caption, TensorBoard an image; any other logger (CSV) a PNG
        under ``<log_dir>/images/<key>_step<global_step>.png``. Only rank 0 writes.
        """
        if not self.trainer.is_global_zero or self.trainer.sanity_checking:
            return
        tiles = torch.stack([t[:max_rows].detach().float().clamp(0, 1).cpu() for t in columns.values()], dim=1)
        grid = make_grid(tiles.flatten(0, 1), nrow=tiles.shape[1], padding=2, pad_value=1.0)  # row = one sample
        logger = self.logger
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[grid], caption=[" | ".join(columns)], step=self.global_step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid, self.global_step)
        elif logger is not None and logger.log_dir is not None:
            folder = Path(logger.log_dir) / "images"
            folder.mkdir(parents=True, exist_ok=True)
            save_image(grid, folder / f"{key.replace('/', '_')}_step{self.global_step:07d}.png")
