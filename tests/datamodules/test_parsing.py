"""Parsing PNGs as indices, CIHP label 10, label validation, derived masks and the cloth-agnostic image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contract.errors import DatasetFormatError
from datamodules.parsing import cloth_agnostic_image, derived_masks, read_parsing, to_lip_labels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VITON_PARSE = FIXTURES / "viton/test/image-parse/000001_0.png"  # mode P with the LIP palette
MPV_PARSE = FIXTURES / "mpv/parse_cihp/1LJ21D005-G11@10=person_half_front.png"  # mode L, CIHP ids


def test_palette_png_is_read_as_indices_not_colours():
    labels = read_parsing(VITON_PARSE)
    assert Image.open(VITON_PARSE).mode == "P"
    assert labels.dtype == torch.long and labels.shape == (256, 192)
    assert torch.equal(labels, torch.from_numpy(np.array(Image.open(VITON_PARSE)).astype(np.int64)))
    assert torch.unique(labels).tolist() == [0, 2, 5, 9, 13, 14, 15, 16]


def test_cihp_torso_skin_is_mapped_and_lip_is_kept():
    raw = torch.from_numpy(np.array(Image.open(MPV_PARSE)).astype(np.int64))
    skin = raw == 10
    assert skin.any()
    assert torch.equal(read_parsing(MPV_PARSE, "lip"), raw)  # LIP 10 (jumpsuits) is a real label
    mapped = read_parsing(MPV_PARSE, "cihp")
    assert (mapped[skin] == 0).all() and torch.equal(mapped[~skin], raw[~skin])
    assert (read_parsing(MPV_PARSE, "cihp", torso_skin_label=11)[skin] == 11).all()


def test_label_options_are_validated():
    with pytest.raises(ValueError, match="label_set must be one of"):
        to_lip_labels(torch.zeros(2, 2, dtype=torch.long), "atr")
    with pytest.raises(ValueError, match="torso_skin_label must be a LIP id 0..19, got 20"):
        to_lip_labels(torch.zeros(2, 2, dtype=torch.long), "cihp", 20)


def test_labels_out_of_range_are_listed(tmp_path):
    path = tmp_path / "bad.png"
    Image.fromarray(np.array([[0, 20], [255, 5]], dtype=np.uint8), mode="L").save(path)
    with pytest.raises(DatasetFormatError) as info:
        read_parsing(path)
    assert str(info.value) == f"{path}: labels [20, 255] out of range 0..19 (LIP-20 ids expected)"


def test_rgb_and_corrupt_pngs_are_rejected(tmp_path):
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (4, 4)).save(rgb)
    with pytest.raises(DatasetFormatError) as info:
        read_parsing(rgb)
    assert str(info.value) == f"{rgb}: parsing must be a single-channel index PNG (mode L or P), got mode RGB"
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png")
    with pytest.raises(DatasetFormatError) as info:
        read_parsing(corrupt)
    assert str(info.value) == f"{corrupt}: unreadable or corrupt image file"


def test_derived_masks_follow_mask_groups_and_batch():
    parse = torch.tensor([[0, 5, 6, 7], [13, 4, 2, 1], [14, 15, 3, 9], [16, 17, 18, 19]])
    masks = derived_masks(parse)
    expected = {
        "cloth": [[0, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        "face": [[0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        "hair": [[0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
        "arms": [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]],
        "legs": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]],
        "background": [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    }
    for name, mask in expected.items():
        assert masks[name].shape == (1, 4, 4) and masks[name].dtype == torch.float32
        assert masks[name][0].tolist() == mask, name
    batched = derived_masks(parse.expand(2, 4, 4))
    assert batched["cloth"].shape == (2, 1, 4, 4)


def test_cloth_agnostic_image_greys_only_the_cloth_region():
    image = torch.linspace(-1, 1, 3 * 2 * 3).view(3, 2, 3)
    parse = torch.tensor([[5, 0, 13], [6, 7, 9]])
    out = cloth_agnostic_image(image, parse)
    cloth = torch.tensor([[True, False, False], [True, True, False]])
    assert (out[:, cloth] == 0).all()
    assert torch.equal(out[:, ~cloth], image[:, ~cloth])
    assert torch.equal(cloth_agnostic_image(image[None], parse[None])[0], out)


def test_derived_masks_match_group_membership_of_every_label():
    from contract.sample import MASK_GROUPS

    parse = torch.arange(20).repeat(3, 2).view(2, 6, 10).transpose(-1, -2)  # batched, non-contiguous, all 20 ids
    masks = derived_masks(parse)
    for name, ids in MASK_GROUPS.items():
        assert torch.equal(masks[name], torch.isin(parse, torch.tensor(ids)).unsqueeze(-3).float()), name
        assert masks[name].is_contiguous()
    covered = torch.stack(list(masks.values())).sum(dim=0)[:, 0]
    ungrouped = torch.isin(parse, torch.tensor([9, 10, 11, 12]))  # pants, jumpsuits, scarf, skirt: no group
    assert torch.equal(covered, (~ungrouped).float())  # the groups are disjoint


def test_derived_masks_reject_labels_outside_lip20():
    with pytest.raises(DatasetFormatError, match=r"derived_masks: labels \[-1, 20\] out of range 0..19"):
        derived_masks(torch.tensor([[0, 20], [-1, 3]]))


def test_parsing_read_as_uint8_holds_the_same_labels():
    """The readers keep the file's bytes (``batch_expansion`` converts to long); CIHP's 10 is mapped either way."""
    labels = read_parsing(MPV_PARSE, "cihp", dtype=torch.uint8)
    assert labels.dtype == torch.uint8 and torch.equal(labels.long(), read_parsing(MPV_PARSE, "cihp"))
    assert not (labels == 10).any()
    checked = derived_masks(labels.long())
    assert all(torch.equal(checked[name], mask) for name, mask in derived_masks(labels.long(), check=False).items())
