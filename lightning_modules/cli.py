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

from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningCLI

from datamodules.fashion_datamodule import FashionDataModule


class VtonCLI(LightningCLI):
    """LightningCLI with the project's argument links: the data's resolution is the model's (every stage
    module takes ``image_size: tuple[int, int]``), so it is set in one place."""

    def add_arguments_to_parser(self, parser) -> None:  # noqa: ANN001 (jsonargparse parser)
        parser.link_arguments("data.image_size", "model.init_args.image_size")


def main(args: list[str] | None = None) -> None:
    """Run the CLI; ``args`` replaces ``sys.argv[1:]`` (tests), and DDP re-launches reuse ``sys.argv`` untouched."""
    VtonCLI(
        LightningModule,
        FashionDataModule,
        subclass_mode_model=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
    )


if __name__ == "__main__":
    main()
