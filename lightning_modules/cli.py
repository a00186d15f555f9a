"""``vton``: the LightningCLI entry point (``vton fit|validate|test|predict -c configs/<name>.yaml``).

Configs pick the stage with ``model.class_path`` and compose pieces by file path, relative to the
including file (``data: data/synthetic.yaml``, ``trainer: trainer/default.yaml``). Parser mode is
``omegaconf+``: interpolations are resolved once after all files and command-line overrides are merged,
so ``--model.init_args.width=32`` reaches every ``${...}`` that refers to it (plain ``omegaconf``
resolves each file as it loads; Lightning issue 13607).

GAN stages build their optimizers themselves from ``OptimizerCallable`` arguments (one per network),
hence ``auto_configure_optimizers=False``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback


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


def run_cli(args: list[str] | None = None, run: bool = True) -> VtonCLI:
    """Run the CLI and return it; ``args`` replaces ``sys.argv[1:]`` (tests), and DDP re-launches reuse ``sys.argv``
    untouched. ``run=False`` only builds the model, data and trainer of a config (benchmarks): ``args`` then has no
    subcommand, and no ``config.yaml`` is written."""
    return VtonCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        auto_configure_optimizers=False,
        save_config_callback=LoggedConfig if run else None,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
        run=run,
    )


def main(args: list[str] | None = None) -> None:
    """The ``vton`` command: ``run_cli``, returning nothing, so that the console script (``sys.exit(main())``)
    exits with status 0 after a run."""
    run_cli(args)


if __name__ == "__main__":
    main()
