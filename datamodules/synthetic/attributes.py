"""Garment attributes of the synthetic set, written beside each triplet and read back (for the attribute
classifier that AttrRec-k and FashionIS use on the synthetic set, seed 004 Sec. 4.2).

The generator knows every garment's kind and pattern (``garments.Top.kind``, ``textures.texture_family``); the
image files do not show them, so each triplet gets ``synthetic_gt/<source stem>__<target stem>.json`` (the name of
its flow file, ``.json`` for ``.npz``)::

    {"cloth": {"image": "cloth_image/<cloth>.jpg", "top_kind": "dress", "top_pattern": "dots"},
     "source": {"image": "images/<source>.jpg", ...}, "split": "train", "target": {"image": ..., ...}}

``image`` is relative to the dataset root; ``top_kind`` is one of ``garments.TOP_KINDS``, ``top_pattern`` one of
``textures.TEXTURE_FAMILIES`` (the in-shop garment, the top or dress a person wears; the lower garment is not
recorded). The cloth is the garment the target wears. Keys are sorted and the separators fixed, so the bytes are a
function of the sample alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from contract.errors import DatasetFormatError
from contract.sample import SYNTHETIC_GT_DIR
from datamodules.synthetic.garments import TOP_KINDS
from datamodules.synthetic.textures import TEXTURE_FAMILIES

ROLES: tuple[str, ...] = ("source", "target", "cloth")
# The attribute vocabulary, in the order of an attribute classifier's outputs: kinds first, then patterns.
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {"top_kind": TOP_KINDS, "top_pattern": TEXTURE_FAMILIES}
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(
    f"{group}={value}" for group, values in ATTRIBUTE_GROUPS.items() for value in values
)


@dataclass(frozen=True)
class GarmentAttributes:
    """One image (``image``, relative to the dataset root) of a split and the kind and pattern of its garment."""

    image: str
    split: str
    top_kind: str
    top_pattern: str

    def indices(self) -> tuple[int, int]:
        """``(kind index in TOP_KINDS, pattern index in TEXTURE_FAMILIES)``, the classifier's two targets."""
        return TOP_KINDS.index(self.top_kind), TEXTURE_FAMILIES.index(self.top_pattern)

    def multi_hot(self) -> list[float]:
        """``[len(ATTRIBUTE_NAMES)]`` 0/1: the image's two attributes (what AttrRec-k recalls)."""
        kind, pattern = self.indices()
        vector = [0.0] * len(ATTRIBUTE_NAMES)
        vector[kind] = vector[len(TOP_KINDS) + pattern] = 1.0
        return vector


def attributes_path(ground_truth: Path) -> Path:
    """The attribute file beside a triplet's flow file ``synthetic_gt/<source>__<target>.npz``."""
    return ground_truth.with_suffix(".json")


def encode_attributes(split: str, garments: dict[str, tuple[str, str, str]]) -> bytes:
    """``garments``: role (``ROLES``) -> ``(image relative to the root, top kind, top pattern)`` -> the JSON bytes."""
    record = {"split": split}
    for role in ROLES:
        image, kind, pattern = garments[role]
        record[role] = {"image": image, "top_kind": kind, "top_pattern": pattern}
    return (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()


def read_attributes(path: Path) -> dict[str, GarmentAttributes]:
    """One attribute file -> role -> ``GarmentAttributes``; a malformed file or an unknown kind / pattern is a
    ``DatasetFormatError`` naming the file."""
    try:
        record = json.loads(path.read_text())
        split = record["split"]
        found = {role: GarmentAttributes(split=split, **record[role]) for role in ROLES}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetFormatError(f"{path}: not a synthetic attribute file ({type(error).__name__}: {error})") from None
    for attributes in found.values():
        if attributes.top_kind not in TOP_KINDS or attributes.top_pattern not in TEXTURE_FAMILIES:
            raise DatasetFormatError(
                f"{path}: unknown garment {attributes.top_kind!r}/{attributes.top_pattern!r}; expected kinds "
                f"{list(TOP_KINDS)} and patterns {list(TEXTURE_FAMILIES)}"
            )
    return found


def dataset_attributes(
    root: str | Path, split: str, roles: tuple[str, ...] = ("source", "target")
) -> list[GarmentAttributes]:
    """Every image of ``roles`` in ``split`` of the synthetic set at ``root``, sorted by file name and image (a
    person seen in two triplets counts once). A set written before attribute files existed is an error that says
    how to rewrite it."""
    folder = Path(root) / SYNTHETIC_GT_DIR
    files = sorted(folder.glob("*__*.json"))
    if not files:
        raise DatasetFormatError(
            f"{folder}: no garment attribute files (*__*.json); the synthetic set predates them: rewrite it with "
            "`vton-data synth ... --overwrite` (the same seed gives the same images)"
        )
    found: dict[str, GarmentAttributes] = {}
    for path in files:
        for role, attributes in read_attributes(path).items():
            if role in roles and attributes.split == split:
                found.setdefault(attributes.image, attributes)
    return [found[image] for image in sorted(found)]
