"""The Trainer's batch limits keep ints as numbers of batches through the CLI (``lightning_modules.batch_limits``)."""

from __future__ import annotations

import pytest

from lightning_modules.cli import run_cli


@pytest.mark.parametrize(("given", "expected"), [("1", 1), ("3", 3), ("1.0", 1.0), ("0.25", 0.25)])
def test_an_integer_limit_is_a_number_of_batches_and_a_float_a_fraction(given, expected):
    args = ["-c", "configs/stage2_warp.yaml", "--trainer", "configs/trainer/smoke.yaml"]
    args += [
        "--trainer.logger",
        "false",
        "--trainer.callbacks",
        "[]",
        "--model.init_args.flow_estimator.init_args.widths",
        "[4, 4, 4, 4, 4]",
    ]
    cli = run_cli([*args, "--trainer.limit_val_batches", given, "--trainer.limit_test_batches", given], run=False)
    for limit in (cli.trainer.limit_val_batches, cli.trainer.limit_test_batches):
        assert limit == expected and type(limit) is type(expected)


def test_the_smoke_trainer_validates_one_batch():
    cli = run_cli(
        ["-c", "configs/stage2_warp.yaml", "--trainer", "configs/trainer/smoke.yaml", "--trainer.logger", "false"],
        run=False,
    )
    assert (cli.trainer.limit_train_batches, cli.trainer.limit_val_batches, cli.trainer.limit_test_batches) == (2, 1, 1)
    assert all(type(limit) is int for limit in (cli.trainer.limit_val_batches, cli.trainer.limit_test_batches))
