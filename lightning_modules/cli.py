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

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI


class VtonCLI(LightningCLI):
    """LightningCLI with the project's defaults and links: the DataModule is ``FashionDataModule`` unless a config
    names another ``class_path`` (``SequenceDataModule`` in ``configs/temporal.yaml``), and the data's resolution is
    the model's (every module takes ``image_size: tuple[int, int]``), so it is set in one place."""

    def add_arguments_to_parser(self, parser) -> None:  # noqa: ANN001 (jsonargparse parser)
        parser.set_defaults({"data": {"class_path": "datamodules.fashion_datamodule.FashionDataModule"}})
        parser.link_arguments("data.init_args.image_size", "model.init_args.image_size")


def main(args: list[str] | None = None, run: bool = True) -> VtonCLI:
    """Run the CLI; ``args`` replaces ``sys.argv[1:]`` (tests), and DDP re-launches reuse ``sys.argv`` untouched.
    ``run=False`` only builds the model, data and trainer of a config (benchmarks): ``args`` then has no subcommand."""
    return VtonCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
        run=run,
    )


if __name__ == "__main__":
    main()
