"""Human parsing: index PNGs -> LIP-20 label maps, CIHP's label 10, the labels a label set does not expect, derived
masks and the cloth-agnostic image.

Label maps are ``[..., H, W]`` long tensors with LIP-20 ids (``contract.sample.LIP_LABELS``). Parsing PNGs are read as
the indices they store (mode ``L`` or ``P``); they are never converted to RGB, which would turn a palette PNG into
colours.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from contract.errors import DatasetFormatError
from contract.sample import CIHP_TORSO_SKIN, CIHP_TORSO_SKIN_DEFAULT, MASK_GROUPS, NUM_PARSE_LABELS

LABEL_SETS = ("lip", "cihp")
INDEX_PNG_MODES = ("L", "P")
# The ids a map read with a label set should not hold. LIP and CIHP (FORMATS.md section 5) share the ids 0..19 and
# differ only at 10: LIP's "jumpsuits" (rare) is CIHP's "torso skin" (the neck, on nearly every CIHP-parsed person),
# so a LIP map holding 10 is likely a CIHP map read as LIP (a real jumpsuit warns too). CIHP expects every id: the one
# LIP label a CIHP parser never writes, jumpsuits, has CIHP's torso-skin id, so a LIP map read as CIHP cannot be told
# from its ids (its jumpsuits would become ``torso_skin_label``).
UNEXPECTED_LABELS: dict[str, tuple[int, ...]] = {"lip": (CIHP_TORSO_SKIN,), "cihp": ()}


def check_label_range(labels: Tensor, source: str) -> None:
    """Raise if any label lies outside ``0..19``; the message lists the offending values."""
    low, high = torch.aminmax(labels) if labels.numel() else (0, 0)
    if low < 0 or high >= NUM_PARSE_LABELS:
        bad = torch.unique(labels[(labels < 0) | (labels >= NUM_PARSE_LABELS)])
        raise DatasetFormatError(
            f"{source}: labels {bad.tolist()} out of range 0..{NUM_PARSE_LABELS - 1} (LIP-20 ids expected)"
        )


def to_lip_labels(labels: Tensor, label_set: str, torso_skin_label: int = CIHP_TORSO_SKIN_DEFAULT) -> Tensor:
    """Map a ``lip`` or ``cihp`` label map to LIP-20: CIHP's 10 (torso skin) becomes ``torso_skin_label``.

    LIP's 10 is "jumpsuits", so a LIP map is returned unchanged. The default target, background, follows
    ``contract.sample.CIHP_TORSO_SKIN_DEFAULT`` (VITON-HD groups ``background = [0, 10]``).
    """
    if label_set not in LABEL_SETS:
        raise ValueError(f"label_set must be one of {LABEL_SETS}, got {label_set!r}")
    if not 0 <= torso_skin_label < NUM_PARSE_LABELS:
        raise ValueError(f"torso_skin_label must be a LIP id 0..{NUM_PARSE_LABELS - 1}, got {torso_skin_label}")
    if label_set == "lip":
        return labels
    return labels.masked_fill(labels == CIHP_TORSO_SKIN, torso_skin_label)


def unexpected_labels(labels: Tensor, label_set: str) -> list[int]:
    """The ids of ``labels`` (as stored, before ``to_lip_labels``) that ``label_set`` does not expect."""
    return [label for label in UNEXPECTED_LABELS[label_set] if bool((labels == label).any())]


def read_parsing(
    path: Path,
    label_set: str = "lip",
    torso_skin_label: int = CIHP_TORSO_SKIN_DEFAULT,
    dtype: torch.dtype = torch.long,
) -> Tensor:
    """Read a parsing PNG (mode ``L`` or ``P``) as indices -> ``[H, W]`` LIP-20 labels (see ``to_lip_labels``) of
    ``dtype`` (``torch.uint8``: the file's bytes, as the readers keep them until ``batch_expansion``)."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            mode = image.mode
            labels = np.array(image) if mode in INDEX_PNG_MODES else None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetFormatError(f"{path}: unreadable or corrupt image file") from exc
    if labels is None:
        raise DatasetFormatError(f"{path}: parsing must be a single-channel index PNG (mode L or P), got mode {mode}")
    labels = torch.from_numpy(labels)  # uint8: checked and mapped before the one conversion to long
    check_label_range(labels, str(path))
    return to_lip_labels(labels, label_set, torso_skin_label).to(dtype)


def _group_table(ids: tuple[int, ...]) -> Tensor:
    """``[20]`` bool lookup table, True for the label ids of a group (indexing it is much faster than ``isin``)."""
    table = torch.zeros(NUM_PARSE_LABELS, dtype=torch.bool)
    table[list(ids)] = True
    return table


GROUP_NAMES = tuple(MASK_GROUPS)
CLOTH_TABLE = _group_table(MASK_GROUPS["cloth"])  # [20] bool
MASK_TABLE = torch.stack([_group_table(MASK_GROUPS[name]) for name in GROUP_NAMES]).float()  # [G, 20] float {0, 1}


@functools.cache
def tables_on(device: torch.device) -> tuple[Tensor, Tensor]:
    """``(MASK_TABLE, CLOTH_TABLE)`` on ``device``, copied once (a copy per call would wait for the GPU)."""
    return MASK_TABLE.to(device), CLOTH_TABLE.to(device)


def derived_masks(parse: Tensor, check: bool = True) -> dict[str, Tensor]:
    """``parse [..., H, W]`` (long) -> ``{group: [..., 1, H, W] float {0, 1}}`` for every group of
    ``contract.sample.MASK_GROUPS`` (cloth region, face, hair, arms, legs, background).

    One gather from the ``[G, 20]`` label -> group table builds all ``G`` masks; each mask is a contiguous slice of
    that ``[G, ..., H, W]`` result. Labels outside ``0..19`` raise ``DatasetFormatError`` (``check_label_range``);
    ``check=False`` skips that test (and its host sync on a GPU) for labels already checked, e.g. when read.
    """
    if check:
        check_label_range(parse, "derived_masks")
    table = tables_on(parse.device)[0]
    masks = table.index_select(1, parse.reshape(-1)).view(len(GROUP_NAMES), *parse.shape)
    return {name: mask.unsqueeze(-3) for name, mask in zip(GROUP_NAMES, masks, strict=True)}


def cloth_agnostic_image(image: Tensor, parse: Tensor) -> Tensor:
    """``I_s`` without clothes: ``image [..., 3, H, W]`` in [-1, 1] with the cloth region (``MASK_GROUPS["cloth"]``
    of ``parse [..., H, W]``, long) set to 0, i.e. mid grey."""
    return image.masked_fill(tables_on(parse.device)[1][parse].unsqueeze(-3), 0.0)
