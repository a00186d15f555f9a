"""``vton``: the LightningCLI entry point (``vton fit|validate|test|predict -c configs/<name>.yaml``).

Configs pick the stage with ``model.class_path`` and compose pieces by file path, relative to the
including file (``data: data/synthetic.yaml``, ``trainer: trainer/default.yaml``). Parser mode is
``omegaconf+``: interpolations are resolved once after all files and command-line overrides are merged,
so ``--model.init_args.width=32`` reaches every ``${...}`` that refers to it (plain ``omegaconf``
resolves each file as it loads; Lightning issue 13607).

GAN stages build their optimizers themselves from ``OptimizerCallable`` arguments (one per network),
hence ``auto_configure_optimizers=False``.

User mistakes end in one line on stderr and exit status 2, with no traceback (``VTON_DEBUG=1`` or ``--debug`` shows
it): a key the config does not have (with the closest valid key, ``lightning_modules.parse_errors``), an image size
the networks cannot take (checked after parsing, before anything is built: ``lightning_modules.image_size``), and
every ``contract.errors.UserInputError`` raised while the run is built or runs (a data root that does not exist,
checked with the image size for fit / validate / test so that no logger starts a run for it, a
checkpoint that does not fit: another stage's, variant's or widths' given to ``--ckpt_path`` is refused before
anything is built, ``lightning_modules.checkpoint_match``). Ctrl-C or SIGTERM during ``fit`` saves ``last.ckpt`` and
prints how to resume (``lightning_modules.interrupt``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import ArgumentError
from pathlib import Path

import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from contract.errors import ConfigError, UserInputError
from datamodules.roots import require_root
from lightning_modules.batch_limits import prefer_int_batch_limits
from lightning_modules.checkpoint_match import check_config_fits
from lightning_modules.cpu_notice import cpu_notice
from lightning_modules.fast_training import FastTraining
from lightning_modules.image_size import check_image_size
from lightning_modules.interrupt import InterruptedRun
from lightning_modules.lr_scaling import LearningRateScaling
from lightning_modules.parse_errors import explain_parse_error
from lightning_modules.run_record import RunRecord

DEBUG_FLAG = "--debug"
DEBUG_ENV = "VTON_DEBUG"
EXIT_USER_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 130, 143
ROOT_SUBCOMMANDS = ("fit", "validate", "test")  # predict may read a prediction list alone


def git_revision() -> str:
    """The checkout's commit (``-dirty`` with uncommitted changes), or why there is none."""
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


class LoggedConfig(SaveConfigCallback):
    """Writes ``config.yaml`` to the log folder (LightningCLI's default) and also records the whole resolved config and
    the git revision in the run's logger: W&B's config panel, CSV / TensorBoard ``hparams.yaml``."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.logger is None or not trainer.is_global_zero:
            return
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False, skip_check=True))
        trainer.logger.log_hyperparams({"config": config, "git_revision": git_revision()})


class VtonCLI(LightningCLI):
    """LightningCLI with the project's defaults and links: the DataModule is ``FashionDataModule`` unless a config
    names another ``class_path`` (``SequenceDataModule`` in ``configs/temporal.yaml``), and the data's resolution is
    the model's (every module takes ``image_size: tuple[int, int]``), so it is set in one place."""

    def add_arguments_to_parser(self, parser) -> None:  # noqa: ANN001 (jsonargparse parser)
        parser.set_defaults({"data": {"class_path": "datamodules.fashion_datamodule.FashionDataModule"}})
        parser.link_arguments("data.init_args.image_size", "model.init_args.image_size")
        # The GPU training economies and the batch-scaled learning rates: off unless a config turns them on
        # (configs/presets/gpu.yaml, the GPU preset).
        parser.add_lightning_class_args(FastTraining, "fast_training")
        parser.add_lightning_class_args(LearningRateScaling, "lr_scaling")

    def parse_arguments(self, parser, args) -> None:  # noqa: ANN001 (jsonargparse parser and its args)
        """LightningCLI's parsing, with a jsonargparse error turned into a one-line ``ConfigError``; a ``--ckpt_path``
        file must be a checkpoint of the config's stage, variant and networks (``checkpoint_match``)."""
        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:
            subcommands = getattr(parser, "_subcommands_action", None)
            keys = [
                action.dest
                for sub in (subcommands._name_parser_map.values() if subcommands else [parser])
                for action in sub._actions
            ]
            raise ConfigError(explain_parse_error(str(error), keys)) from error
        config = self.config.get(self.config.get("subcommand") or "")
        path = config.get("ckpt_path") if config else None
        if path and Path(path).is_file() and config.get("model"):  # before LightningCLI merges its hyper-parameters
            check_config_fits(path, config.model.as_dict())

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_image_size(config.data.init_args.image_size, config.model.as_dict())
        root = config.data.init_args.get("root")
        if self.subcommand in ROOT_SUBCOMMANDS and root is not None:  # before the logger starts a run for nothing
            require_root(root)

    def instantiate_trainer(self, **kwargs) -> Trainer:  # noqa: ANN003 (LightningCLI's trainer arguments)
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks[:0] = [InterruptedRun(), RunRecord(git_revision())]
        return trainer

    def before_fit(self) -> None:
        notice = cpu_notice(self.trainer, self.model, self.datamodule)
        if notice is not None and self.trainer.is_global_zero:
            print(notice, file=sys.stderr)


def run_cli(args: list[str] | None = None, run: bool = True) -> VtonCLI:
    """Run the CLI and return it; ``args`` replaces ``sys.argv[1:]`` (tests), and DDP re-launches reuse ``sys.argv``
    untouched. ``run=False`` only builds the model, data and trainer of a config (benchmarks): ``args`` then has no
    subcommand, and no ``config.yaml`` is written."""
    prefer_int_batch_limits()
    return VtonCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+", "exit_on_error": False},
        auto_configure_optimizers=False,
        save_config_callback=LoggedConfig if run else None,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
        run=run,
    )


def user_error(error: BaseException) -> UserInputError | None:
    """The ``UserInputError`` behind ``error`` (itself, or one it was raised from: jsonargparse wraps the errors of
    the constructors it calls), or ``None``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UserInputError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def main(args: list[str] | None = None) -> None:
    """The ``vton`` command: ``run_cli``, returning nothing, so that the console script (``sys.exit(main())``)
    exits with status 0 after a run; user mistakes and interruptions end in one line (module docstring)."""
    argv = sys.argv if args is None else args
    if DEBUG_FLAG in argv:  # removed in place: DDP re-launches reuse sys.argv and inherit the environment
        argv[:] = [arg for arg in argv if arg != DEBUG_FLAG]
        os.environ[DEBUG_ENV] = "1"
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        run_cli(args)
    except SIGTERMException:  # InterruptedRun has printed where it saved
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:  # before or after the trainer's own handling
        print("vton: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:
        mistake = user_error(error)
        if mistake is None or debug:
            raise
        print(f"vton: error: {mistake}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


if __name__ == "__main__":
    main()
