"""Compact samples -> contract samples: the per-sample tensor arithmetic of the input pipeline, for a sample or a batch.

A reader's ``load_compact`` (``datamodules.readers.base``) sends what was read, resized to ``image_size``:

==================  ==================================  ===================================================
compact key         shape, dtype                        expanded into (``contract.sample``)
==================  ==================================  ===================================================
src_img, tgt_img    [3,H,W] uint8, or float in [-1, 1]  the image as float in [-1, 1] (uint8: stored at
                                                        ``image_size``; float: resized in the worker)
src_kpts, tgt_kpts  [18,3] float                        kept; ``{side}_pose`` [18,H,W] drawn from them
src_parse, ...      [H,W] uint8 LIP-20                  ``{side}_parse`` long and ``{side}_masks``
cloth               [3,H,W] uint8 or float              ``cloth`` float (float zeros: no cloth);
                                                        ``src_agnostic`` from ``src_img`` and ``src_parse``
cloth_mask          [1,H,W] bool                        ``cloth_mask`` float {0, 1}
vis_gt              [H,W] uint8                         ``vis_gt`` long (``flow_gt`` passes through)
augment_matrix      [2,3] float64 (with augmentation)   ``PairedAugmentation.apply`` of the expanded batch;
augment_flip        [] bool                             both keys are consumed
==================  ==================================  ===================================================

Every other key (``flow_gt``, ``tgt_attributes``, ``meta``) passes through. ``expand_batch`` takes any leading
dimensions: the worker path (``DatasetReader.load``) expands one compact sample with it, the device path
(``FashionDataModule(batch_transforms="device")``) the collated batch on the GPU. Its arithmetic is elementwise
per pixel and per joint, so on the CPU a batch expands to exactly its samples' expansions stacked
(``tests/datamodules/test_batch_expansion.py``). Nothing here checks the data or waits for the device: the worker
checked the keypoints and the labels when it read them.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import default_collate

from datamodules.augment import PairedAugmentation
from datamodules.parsing import cloth_agnostic_image, derived_masks
from datamodules.pose import KeypointMapEncoder

SIDES = ("src", "tgt")
COMPACT_PERSON_KEYS = ("img", "kpts", "parse")
COMPACT_IMAGE_KEYS = ("src_img", "tgt_img", "cloth")
AUGMENT_KEYS = ("augment_matrix", "augment_flip")
# The compact keys that ``expand_batch`` replaces; every other key passes through (``vis_gt`` as long).
EXPANDED_KEYS = frozenset(
    {f"{side}_{key}" for side in SIDES for key in COMPACT_PERSON_KEYS} | {"cloth", "cloth_mask", *AUGMENT_KEYS}
)


def to_signed_unit(image: Tensor) -> Tensor:
    """``uint8 [0, 255]`` -> float32 in [-1, 1] (a new tensor, computed in place). The divisor is a tensor on the
    image's device: CUDA divides by a host scalar as a product with its reciprocal, a bit off the CPU's quotient."""
    return image.to(torch.float32, copy=True).div_(torch.full((), 127.5, device=image.device)).sub_(1.0)


def signed_image(image: Tensor) -> Tensor:
    """A compact image ``[..., 3, H, W]``: uint8 -> ``to_signed_unit``; float (already in [-1, 1]) unchanged."""
    return to_signed_unit(image) if image.dtype == torch.uint8 else image


def expand_person(person: dict[str, Tensor], keypoint_maps: KeypointMapEncoder) -> dict:
    """A compact person ``{img [...,3,H,W], kpts [...,18,3], parse [...,H,W] uint8}`` -> ``{img, kpts, pose
    [...,18,H,W], parse [...,H,W] long, masks {group: [...,1,H,W]}}`` (``contract.sample.PERSON_KEYS``)."""
    img, parse = signed_image(person["img"]), person["parse"].long()
    return {
        "img": img,
        "kpts": person["kpts"],
        "pose": keypoint_maps.draw(person["kpts"], tuple(img.shape[-2:])),
        "parse": parse,
        "masks": derived_masks(parse, check=False),
    }


def expand_cloth(cloth: Tensor, cloth_mask: Tensor) -> tuple[Tensor, Tensor]:
    """A compact garment ``[...,3,H,W]`` and mask ``[...,1,H,W]`` bool -> float in [-1, 1] and float {0, 1}."""
    return signed_image(cloth), cloth_mask.float()


def expand_batch(
    compact: dict, keypoint_maps: KeypointMapEncoder, augmentation: PairedAugmentation | None = None
) -> dict:
    """A compact sample or batch (module docstring; any leading dims, any device) -> the contract sample or batch
    with the keys, dtypes and shapes the reader would have given; ``augmentation`` applies ``augment_matrix``."""
    out: dict = {}
    for side in SIDES:
        person = expand_person({key: compact[f"{side}_{key}"] for key in COMPACT_PERSON_KEYS}, keypoint_maps)
        out.update({f"{side}_{key}": value for key, value in person.items()})
    out["src_agnostic"] = cloth_agnostic_image(out["src_img"], out["src_parse"])
    out["cloth"], out["cloth_mask"] = expand_cloth(compact["cloth"], compact["cloth_mask"])
    for key, value in compact.items():
        if key not in EXPANDED_KEYS:
            out[key] = value.long() if key == "vis_gt" else value
    if "augment_matrix" in compact:
        if augmentation is None:
            raise ValueError("expand_batch: the batch carries augment_matrix but no augmentation was given")
        out.update(augmentation.apply(out, compact["augment_matrix"], compact["augment_flip"]))
    return out


def is_compact(batch: object) -> bool:
    """Whether ``batch`` is a compact sample or batch (it has keypoints but no keypoint maps)."""
    return isinstance(batch, dict) and "src_kpts" in batch and "src_pose" not in batch


def collate_compact(samples: list[dict]) -> dict:
    """``default_collate`` of compact samples; an image key that is uint8 in some samples and float in others (a
    garment stored at another size, a missing one) is converted to float in all (``signed_image``, exact)."""
    for key in COMPACT_IMAGE_KEYS:
        if len({sample[key].dtype for sample in samples}) > 1:
            samples = [{**sample, key: signed_image(sample[key])} for sample in samples]
    return default_collate(samples)
