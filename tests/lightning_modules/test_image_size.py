"""``lightning_modules/image_size.py``: the sizes a config's networks take, checked from the parsed config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract.errors import ConfigError
from lightning_modules.cli import run_cli
from lightning_modules.image_size import SizeConstraint, check_image_size, nearby_sizes, size_constraints

REPO = Path(__file__).resolve().parents[2]
GENERATOR = {"class_path": "models.generator.ResNetGenerator", "init_args": {"base_width": 4}}


def test_the_constraints_come_from_every_nested_class_with_its_defaults() -> None:
    model = {
        "class_path": "lightning_modules.layout.LayoutModule",
        "init_args": {"generator": GENERATOR, "coarse_generator": {**GENERATOR, "init_args": {"n_down": 2}}},
    }
    assert list(size_constraints(model)) == [
        SizeConstraint("model.init_args.generator", "ResNetGenerator", 8),  # Table I's default n_down = 3
        SizeConstraint("model.init_args.coarse_generator", "ResNetGenerator", 4),
    ]
    refine = {"class_path": "models.single_transform.SingleTransform", "init_args": {"pose_encoder": None}}
    assert list(size_constraints(refine)) == [SizeConstraint("model", "SingleTransform", 4)]  # its pose encoder's
    gmm = {"class_path": "models.gmm.GeometricMatchingModule", "init_args": {"num_downsamples": 3}}
    assert list(size_constraints({"gmm": gmm})) == [SizeConstraint("model.gmm", "GeometricMatchingModule", 1, 32)]


def test_nearby_sizes_are_multiples_below_and_above() -> None:
    assert nearby_sizes((250, 190), 8) == [[248, 184], [256, 192]]
    assert nearby_sizes((5, 20), 8) == [[8, 16], [8, 24]]
    assert nearby_sizes((256, 192), 8) == [[256, 192]]
    assert nearby_sizes((70, 66), 4, min_side=64) == [[68, 64], [72, 68]]  # the low choice [68, 64] keeps 64
    assert nearby_sizes((64, 48), 1, min_side=64) == [[86, 64]]  # below the minimum: scaled up, aspect kept
    assert nearby_sizes((64, 48), 8, min_side=64) == [[88, 64]]


def test_a_size_that_fits_passes_and_one_that_does_not_names_the_key_and_the_sizes_that_work() -> None:
    check_image_size([256, 192], GENERATOR)
    with pytest.raises(ConfigError) as error:
        check_image_size([250, 192], GENERATOR)
    assert str(error.value) == (
        "data.init_args.image_size: [250, 192] does not fit this config's networks (H and W must be multiples of 8: "
        "ResNetGenerator at model needs multiples of 8); sizes that work nearby: [248, 192] or [256, 192]"
    )
    with pytest.raises(ConfigError, match=r"image_size: expected \[H, W\], two positive integers"):
        check_image_size([256], GENERATOR)


@pytest.mark.parametrize(
    ("config", "size", "works"),
    [
        ("stage1_layout.yaml", "[252, 188]", "[248, 184] or [256, 192]"),
        ("stage4_refine.yaml", "[258, 178]", "[256, 176] or [260, 180]"),
        ("stage2_warp_tps.yaml", "[64, 48]", "[86, 64]"),  # the GMMs' regressor needs 64 (4 + 2 halvings)
    ],
)
def test_the_cli_refuses_the_size_before_building_anything(config, size, works, monkeypatch) -> None:
    built = []
    monkeypatch.setattr("lightning_modules.cli.VtonCLI.instantiate_classes", lambda self: built.append(self))
    with pytest.raises(
        ConfigError, match=rf"data.init_args.image_size: .* sizes that work nearby: {re.escape(works)}$"
    ):
        run_cli(["fit", "-c", str(REPO / "configs" / config), "--data.image_size", size])
    assert not built
