"""Garment attribute files of the synthetic set (``datamodules/synthetic/attributes.py``): written for every
triplet with each role's own garment, read back, and clear errors on bad or missing files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contract.errors import DatasetFormatError
from datamodules.synthetic.attributes import (
    ATTRIBUTE_NAMES,
    GarmentAttributes,
    dataset_attributes,
    read_attributes,
)
from datamodules.synthetic.dataset import SynthConfig, synthesize
from datamodules.synthetic.garments import TOP_KINDS
from datamodules.synthetic.textures import TEXTURE_FAMILIES, sample_texture, texture_family
from datamodules.synthetic.writer import DEEPFASHION_CATEGORY


def test_texture_family_is_the_family_drawn() -> None:
    rng = np.random.default_rng(0)
    assert [texture_family(sample_texture(rng, family)) for family in TEXTURE_FAMILIES] == list(TEXTURE_FAMILIES)


def test_every_triplet_gets_an_attribute_file_naming_each_roles_own_garment(tmp_path: Path) -> None:
    # DeepFashion file names encode each person's top kind (the In-shop category): an independent check of roles.
    config = SynthConfig(out=str(tmp_path), layout="deepfashion", height=64, width=48, n_train=6, n_test=2, seed=5)
    synthesize(config)
    files = sorted((tmp_path / "synthetic_gt").glob("*__*.json"))
    assert len(files) == 8 and all(f.with_suffix(".npz").is_file() for f in files)
    kinds_seen = set()
    for path in files:
        record = read_attributes(path)
        for role in ("source", "target"):
            name = Path(record[role].image).name
            assert (tmp_path / record[role].image).is_file()
            assert f"{DEEPFASHION_CATEGORY[record[role].top_kind]}id" in name, (role, name)
            kinds_seen.add(record[role].top_kind)
        assert record["cloth"].top_kind == record["target"].top_kind  # the target wears the in-shop garment
        assert record["cloth"].top_pattern == record["target"].top_pattern
    assert len(kinds_seen) > 1
    train, test = dataset_attributes(tmp_path, "train"), dataset_attributes(tmp_path, "test")
    assert len(train) == 12 and len(test) == 4  # source and target of each triplet
    assert {a.split for a in train} == {"train"} and not {a.image for a in train} & {a.image for a in test}


def test_multi_hot_marks_the_kind_and_the_pattern() -> None:
    attributes = GarmentAttributes("images/x.jpg", "test", "dress", "dots")
    vector = attributes.multi_hot()
    assert len(vector) == len(ATTRIBUTE_NAMES) == len(TOP_KINDS) + len(TEXTURE_FAMILIES)
    assert [ATTRIBUTE_NAMES[i] for i, v in enumerate(vector) if v] == ["top_kind=dress", "top_pattern=dots"]
    assert attributes.indices() == (TOP_KINDS.index("dress"), TEXTURE_FAMILIES.index("dots"))


def test_bad_files_and_a_set_without_them_are_clear_errors(tmp_path: Path) -> None:
    gt = tmp_path / "synthetic_gt"
    gt.mkdir()
    with pytest.raises(DatasetFormatError, match="no garment attribute files.*--overwrite"):
        dataset_attributes(tmp_path, "train")
    broken = gt / "a__b.json"
    broken.write_text('{"split": "train"')
    with pytest.raises(DatasetFormatError, match=r"a__b\.json: not a synthetic attribute file"):
        read_attributes(broken)
    garment = '{"image": "i.jpg", "top_kind": "cape", "top_pattern": "dots"}'
    broken.write_text(f'{{"split": "train", "source": {garment}, "target": {garment}, "cloth": {garment}}}')
    with pytest.raises(DatasetFormatError, match="unknown garment 'cape'/'dots'"):
        dataset_attributes(tmp_path, "train")
