"""``lightning_modules/parse_errors.py``: jsonargparse's nested messages -> one line with the closest valid key.

The messages are produced by the real parser (``run_cli`` on ``configs/stage1_layout.yaml`` and
``configs/stage4_refine.yaml``), so a jsonargparse release that words them differently fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import ConfigError
from lightning_modules.cli import run_cli
from lightning_modules.parse_errors import closest, explain_parse_error

REPO = Path(__file__).resolve().parents[2]


def parse_error(config: str, *args: str) -> str:
    with pytest.raises(ConfigError) as error:
        run_cli(["fit", "-c", str(REPO / "configs" / config), *args], run=True)
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--model.init_args.gp_weigth", "2"),
         "model.init_args.gp_weigth: unknown key; did you mean model.init_args.gp_weight?"),
        (("--traner.max_steps", "3"), "traner.max_steps: unknown key; did you mean trainer.max_steps?"),
        (("--trainer.max_stepz", "3"), "trainer.max_stepz: unknown key; did you mean trainer.max_steps?"),
        (("--data.init_args.batch_sise", "3"),
         "data.init_args.batch_sise: unknown key; did you mean data.init_args.batch_size?"),
        (("--model.init_args.discriminator.init_args.num_scale", "3"),
         "model.init_args.discriminator.init_args.num_scale: unknown key; did you mean "
         "model.init_args.discriminator.init_args.num_scales?"),
        (("--model", "lightning_modules.layout.LayotModule"),
         "model: lightning_modules.layout has no class LayotModule; did you mean "
         "lightning_modules.layout.LayoutModule?"),
        (("--model.init_args.gp_weight", "abc"), "model.init_args.gp_weight: Expected a float. Got value: abc"),
    ],
)  # fmt: skip
def test_a_mistyped_key_names_the_key_and_the_closest_valid_one(args, expected) -> None:
    assert parse_error("stage1_layout.yaml", *args) == expected


def test_a_typo_in_a_config_file_and_a_nested_network_key(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("trainer:\n  max_stepz: 3\n")
    assert parse_error("stage1_layout.yaml", "-c", str(typo)) == (
        "trainer.max_stepz: unknown key; did you mean trainer.max_steps?"
    )
    key = "model.init_args.warping.init_args.pose_encoder.init_args"
    assert parse_error("stage4_refine.yaml", f"--{key}.widht", "3") == (
        f"{key}.widht: unknown key; did you mean {key}.width?"
    )


def test_a_key_with_nothing_close_gets_no_guess_and_unknown_messages_stay_one_line() -> None:
    assert closest("zzzz", ["trainer.max_steps", "model"]) is None
    assert explain_parse_error("unrecognized arguments: --zzzz 3", ["trainer.max_steps"]) == "zzzz: unknown key"
    assert explain_parse_error("Parser key \"config\": File does not exist: '/x.yaml'") == (
        "config: File does not exist: '/x.yaml'"
    )
