"""Compact samples expanded batched (``datamodules/batch_expansion.py``) give the worker path's batches bit for bit.

Every comparison runs both paths of ``FashionDataModule`` on the CPU with the same code: ``batch_transforms="worker"``
(each sample built, and augmented, on its own) against ``"device"`` (compact samples collated, then
``on_after_batch_transfer`` expands the batch, augmentation included). Keys, their order, dtypes, shapes and every
value must be equal: images too, as the uint8 -> [-1, 1] conversion is the same float arithmetic either way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from datamodules.batch_expansion import collate_compact, expand_batch, is_compact
from datamodules.fashion_datamodule import FashionDataModule
from datamodules.readers.mpv import MPVReader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUGMENT = {"hflip_prob": 0.5, "rotate_degrees": 15.0, "translate": 0.1, "scale_range": (0.8, 1.2)}


def assert_identical(a: object, b: object, where: str = "batch") -> None:
    """Same keys in the same order, same dtypes and shapes, equal values (meta strings included)."""
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, torch.Tensor):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert torch.equal(a, b), f"{where}: max difference {(a.double() - b.double()).abs().max()}"
    else:
        assert a == b, where


def both_paths(split: str = "train", **options) -> tuple[list[dict], list[dict], list[dict]]:
    """The batches of ``split`` (in order, batch 4) built in the workers, as the device path's loader sends them
    (compact) and as its ``on_after_batch_transfer`` expands them."""
    batches = {}
    for mode in ("worker", "device"):
        dm = FashionDataModule(num_workers=0, batch_size=4, shuffle=False, batch_transforms=mode, **options)
        dm.setup("fit" if split == "train" else "test")
        loader = dm.train_dataloader() if split == "train" else dm.test_dataloader()
        batches[mode] = list(loader)
        expanded = [dm.on_after_batch_transfer(batch, 0) for batch in batches[mode]]
        batches[f"{mode} expanded"] = expanded
    assert all(not is_compact(batch) for batch in batches["worker"])
    assert all(new is old for new, old in zip(batches["worker expanded"], batches["worker"], strict=True))
    return batches["worker"], batches["device"], batches["device expanded"]


@pytest.mark.parametrize(
    ("layout", "options"),
    [
        ("mpv", {}),  # disk maps, images at their stored size (sent as uint8), flow and attributes
        ("deepfashion", {"image_size": (64, 48), "pose_map": "gaussian", "pose_sigma": 3.0}),  # no cloth
        ("mpv", {"image_size": (32, 24), "pose_map": "gaussian"}),  # resized in the workers (sent as float)
        ("mpv", {"hflip_prob": 0.5}),  # some samples flipped, the others untouched
        ("mpv", AUGMENT),
        ("deepfashion", {"image_size": (64, 48), **AUGMENT}),
    ],
)
def test_device_batches_equal_worker_batches_on_synthetic_sets(tiny_synthetic_roots, layout: str, options: dict):
    worker, compact, expanded = both_paths(dataset=layout, root=str(tiny_synthetic_roots[layout]), **options)
    assert len(worker) == 2 and all(is_compact(batch) for batch in compact)
    for old, new in zip(worker, expanded, strict=True):
        assert_identical(old, new)
    assert "flow_gt" in worker[0] and worker[0]["vis_gt"].dtype == torch.long
    if "hflip_prob" in options:
        assert set(worker[0]["meta"]["hflip"] + worker[1]["meta"]["hflip"]) == {"0", "1"}


@pytest.mark.parametrize(
    ("dataset", "folder", "split", "options"),
    [
        ("mpv", "mpv", "train", {"image_size": (256, 192)}),  # DTLD layout, CIHP parsing, at the stored size
        ("mpv", "mpv", "train", {"image_size": (64, 48), **AUGMENT}),
        ("viton", "viton", "test", {"image_size": (256, 192)}),  # palette PNG parsing, JPEG cloth masks
        ("viton-hd", "viton-hd", "test", {"image_size": (128, 96), "pose_radius": 2.0}),  # 1024x768 resized
    ],
)
def test_device_batches_equal_worker_batches_on_real_format_files(dataset, folder, split, options):
    worker, compact, expanded = both_paths(split, dataset=dataset, root=str(FIXTURES / folder), **options)
    stored_size = options["image_size"] in ((256, 192),)
    assert compact[0]["src_img"].dtype == (torch.uint8 if stored_size else torch.float32)
    for old, new in zip(worker, expanded, strict=True):
        assert_identical(old, new)


def test_compact_samples_are_what_was_read(tiny_synthetic_roots):
    reader = MPVReader(tiny_synthetic_roots["mpv"], "train", image_size=(64, 48))
    record = reader.records[0]
    compact, full = reader.load_compact(record), reader.load(record)
    assert list(compact) == [
        "src_img", "src_kpts", "src_parse", "tgt_img", "tgt_kpts", "tgt_parse", "cloth", "cloth_mask",
        "flow_gt", "vis_gt", "tgt_attributes", "meta",
    ]  # fmt: skip
    dtypes = {key: value.dtype for key, value in compact.items() if key != "meta"}
    assert dtypes == {
        "src_img": torch.uint8, "src_kpts": torch.float32, "src_parse": torch.uint8, "tgt_img": torch.uint8,
        "tgt_kpts": torch.float32, "tgt_parse": torch.uint8, "cloth": torch.uint8, "cloth_mask": torch.bool,
        "flow_gt": torch.float32, "vis_gt": torch.uint8, "tgt_attributes": full["tgt_attributes"].dtype,
    }  # fmt: skip
    assert compact["src_img"].shape == (3, 64, 48) and compact["cloth_mask"].shape == (1, 64, 48)
    assert_identical(expand_batch(compact, reader.keypoint_maps), full)
    resized = MPVReader(tiny_synthetic_roots["mpv"], "train", image_size=(32, 24)).load_compact(record)
    assert resized["src_img"].dtype == torch.float32 and resized["src_parse"].dtype == torch.uint8


def test_a_garment_of_another_size_makes_the_batch_float_and_stays_exact(tmp_path: Path):
    """One cloth of the MPV fixture stored at 75x100 is resized in the worker (float), the other sent as uint8:
    ``collate_compact`` converts the uint8 one, and the expanded batch is still the worker batch."""
    root = Path(shutil.copytree(FIXTURES / "mpv", tmp_path / "mpv"))
    cloth = "AD121D0HY-Q11@18=cloth_front"  # the second train row's
    image = root / "cloth_image" / f"{cloth}.jpg"
    Image.open(image).resize((75, 100)).save(image)
    mask = next((root / "cloth_mask").glob(f"{cloth}*"))
    Image.open(mask).resize((75, 100), Image.NEAREST).save(mask)
    reader = MPVReader(root, "train", image_size=(256, 192))
    samples = [reader.load_compact(record) for record in reader.records]
    assert [sample["cloth"].dtype for sample in samples] == [torch.uint8, torch.float32]
    assert collate_compact(samples)["cloth"].dtype == torch.float32
    worker, _, expanded = both_paths(dataset="mpv", root=str(root), image_size=(256, 192))
    assert_identical(worker[0], expanded[0])


def test_an_augmented_compact_batch_needs_the_augmentation(tiny_synthetic_roots):
    dm = FashionDataModule(
        dataset="mpv", root=str(tiny_synthetic_roots["mpv"]), num_workers=0, batch_transforms="device", hflip_prob=1.0
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["augment_matrix"].shape == (8, 2, 3) and batch["augment_flip"].all()
    assert batch["meta"]["hflip"] == ["1"] * 8
    with pytest.raises(ValueError, match="augment_matrix but no augmentation"):
        expand_batch(batch, dm.keypoint_maps)
