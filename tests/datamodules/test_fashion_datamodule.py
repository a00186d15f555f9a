"""FashionDataModule on the real MPV fixture persons (a longer ``data_pair.txt`` over the same files), at 64x48."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator
from lightning.pytorch.plugins.precision import HalfPrecision, MixedPrecision

from contract.errors import ConfigError, DatasetFormatError
from datamodules.augment import JOINT_FLIP_PERMUTATION, LABEL_FLIP_PERMUTATION
from datamodules.batch_expansion import is_compact
from datamodules.fashion_datamodule import EpochIndexSampler, FashionDataModule

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mpv"
PERSONS = [
    "1LJ21D005/1LJ21D005-G11@10=person_half_front.jpg",
    "1VJ21D02K/1VJ21D02K-Q11@8=person_half_front.jpg",
    "4HI21D003/4HI21D003-C11@10=person_half_front.jpg",
]
CLOTH = "CO121D08G/CO121D08G-O11@10=cloth_front.jpg"
TRAIN_ROWS = [(0, 1), (1, 2), (2, 0), (0, 0), (2, 1)]
TEST_ROWS = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1), (1, 1)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The MPV fixture with 5 train and 7 test rows."""
    root = Path(shutil.copytree(FIXTURE, tmp_path / "mpv"))
    rows = [(a, b, "train") for a, b in TRAIN_ROWS] + [(a, b, "test") for a, b in TEST_ROWS]
    lines = [f"{PERSONS[a]}\t{PERSONS[b]}\t{CLOTH}\t{split}" for a, b, split in rows]
    (root / "data_pair.txt").write_text("\n".join(lines) + "\n")
    return root


def datamodule(root: Path, **kwargs) -> FashionDataModule:
    options = {"dataset": "mpv", "root": str(root), "image_size": (64, 48), "batch_size": 4, "num_workers": 0}
    return FashionDataModule(**{**options, **kwargs})


def batches(loader) -> list[dict]:
    return list(loader)


def assert_same_batches(first: list[dict], second: list[dict]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a["meta"] == b["meta"]
        for key in ("src_img", "tgt_img", "src_kpts", "tgt_pose", "src_parse", "cloth"):
            assert torch.equal(a[key], b[key]), key


def test_batches_and_evaluation_loaders_keep_the_last_partial_batch(root):
    dm = datamodule(root)
    dm.setup("fit")
    assert len(dm.train_set) == 5 and len(dm.val_set) == 7  # validation uses the test split
    batch = next(iter(dm.train_dataloader()))
    assert batch["src_img"].shape == (4, 3, 64, 48) and batch["src_pose"].shape == (4, 18, 64, 48)
    assert batch["src_parse"].dtype == torch.long and batch["src_masks"]["cloth"].shape == (4, 1, 64, 48)
    assert batch["meta"]["split"] == ["train"] * 4
    assert [len(b["src_img"]) for b in dm.val_dataloader()] == [4, 3]
    assert [len(b["src_img"]) for b in dm.train_dataloader()] == [4, 1]
    dm.setup("test")
    assert [len(b["src_img"]) for b in dm.test_dataloader()] == [4, 3]
    assert [len(b["src_img"]) for b in dm.predict_dataloader()] == [4, 3]


def test_val_subset_is_evenly_spaced_and_seed_independent(root):
    entries = []
    for seed in (0, 5):
        dm = datamodule(root, val_subset=3, seed=seed)
        dm.setup("validate")
        entries.append([record.entry.rsplit(":", 1)[1] for record in dm.val_set.records])
    assert entries == [["6", "9", "12"]] * 2  # test rows are lines 6..12


def test_training_batches_depend_on_seed_and_epoch_not_on_workers(root):
    augment = {"hflip_prob": 0.5, "translate": 0.05}
    loaders = []
    for workers in (0, 2):
        dm = datamodule(root, num_workers=workers, seed=3, **augment)
        dm.setup("fit")
        loaders.append(dm.train_dataloader())
    assert isinstance(loaders[0].sampler, EpochIndexSampler)
    epoch0 = batches(loaders[0])
    assert_same_batches(epoch0, batches(loaders[1]))
    assert_same_batches(epoch0, batches(loaders[0]))  # the same epoch again
    for loader in loaders:
        loader.sampler.set_epoch(1)
    epoch1 = batches(loaders[0])
    assert_same_batches(epoch1, batches(loaders[1]))
    flips = [[b["meta"]["entry"], b["meta"]["hflip"]] for b in epoch0]
    assert flips != [[b["meta"]["entry"], b["meta"]["hflip"]] for b in epoch1]
    other_seed = datamodule(root, seed=4, **augment)
    other_seed.setup("fit")
    assert [b["meta"]["entry"] for b in epoch0] != [b["meta"]["entry"] for b in batches(other_seed.train_dataloader())]


def test_flip_augmentation_moves_keypoints_and_swaps_labels(root):
    plain, flipped = datamodule(root, shuffle=False), datamodule(root, shuffle=False, hflip_prob=1.0)
    plain.setup("fit")
    flipped.setup("fit")
    a, b = plain.train_set[0], flipped.train_set[(0, 0)]
    assert b["meta"]["hflip"] == "1"
    visible = a["src_kpts"][:, 2] > 0
    expected = a["src_kpts"].clone()
    expected[visible, 0] = 47 - expected[visible, 0]
    assert torch.allclose(b["src_kpts"], expected[JOINT_FLIP_PERMUTATION], atol=1e-4)
    assert torch.equal(b["src_parse"], LABEL_FLIP_PERMUTATION[a["src_parse"].flip(-1)])
    assert torch.equal(b["cloth"], a["cloth"])  # the in-shop garment does not move


class BatchRecorder(LightningModule):
    """Keeps every training batch it is given, with its epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.batches: list[tuple[int, dict]] = []

    def training_step(self, batch, batch_idx):
        self.batches.append((self.current_epoch, batch))
        return self.weight * batch["src_img"].mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit_recorder(dm: FashionDataModule, max_epochs: int) -> list[tuple[int, dict]]:
    """The ``(epoch, batch)`` pairs a CPU ``Trainer`` fit of ``dm`` trains on."""
    module = BatchRecorder()
    trainer = Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=dm)
    return module.batches


def test_trainer_advances_the_augmentation_epoch(root):
    dm = datamodule(root, seed=1, hflip_prob=0.5)
    seen: dict[int, list[tuple[str, str]]] = {}
    for epoch, batch in fit_recorder(dm, max_epochs=3):
        seen.setdefault(epoch, []).extend(zip(batch["meta"]["entry"], batch["meta"]["hflip"], strict=True))
    sampler = EpochIndexSampler(dm.train_set, num_replicas=1, rank=0, seed=1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        expected = [(dm.train_set[key]["meta"]["entry"], dm.train_set[key]["meta"]["hflip"]) for key in sampler]
        assert seen[epoch] == expected
    assert len({tuple(v) for v in seen.values()}) > 1


def break_dataset(root: Path) -> None:
    """Train row 5 names a missing image; person 3's parsing (train rows 2, 3 and 5) is corrupt."""
    lines = (root / "data_pair.txt").read_text().splitlines()
    lines[4] = lines[4].replace("1VJ21D02K-Q11@8=person_half_front.jpg", "GONE.jpg", 1)
    (root / "data_pair.txt").write_text("\n".join(lines) + "\n")
    (root / "parse_cihp/4HI21D003-C11@10=person_half_front.png").write_bytes(b"corrupt")


def test_bad_samples_raise_by_default(root):
    break_dataset(root)
    with pytest.raises(DatasetFormatError) as info:
        datamodule(root).setup("fit")
    assert str(info.value) == f"{root}/data_pair.txt:5: personB image not found: {root}/images/GONE.jpg"
    (root / "data_pair.txt").write_text(
        f"{PERSONS[0]}\t{PERSONS[2]}\t{CLOTH}\ttrain\n{PERSONS[0]}\t{PERSONS[1]}\t{CLOTH}\ttest\n"
    )
    dm = datamodule(root)
    dm.setup("fit")  # the lists are fine; the corrupt file raises when its sample loads
    with pytest.raises(DatasetFormatError) as info:
        next(iter(dm.train_dataloader()))
    assert (
        str(info.value) == f"{root}/parse_cihp/4HI21D003-C11@10=person_half_front.png: unreadable or corrupt image file"
    )


def test_skip_bad_samples_drops_counts_and_warns(root):
    break_dataset(root)
    dm = datamodule(root, skip_bad_samples=True)
    with pytest.warns(UserWarning) as warned:
        dm.setup("fit")
    messages = [str(warning.message) for warning in warned]
    assert messages[0].startswith(f"FashionDataModule: skipped 3 of 5 train samples of mpv at {root} (4 problem(s); ")
    assert messages[1].startswith(f"FashionDataModule: skipped 4 of 7 test samples of mpv at {root} (1 problem(s); ")
    assert dm.skipped_samples == {"train": 3, "test": 4}
    assert [record.entry.rsplit(":", 1)[1] for record in dm.train_set.records] == ["1", "4"]
    assert len(batches(dm.train_dataloader())) == 1


def test_a_restored_position_resumes_that_epoch_after_the_taken_batches_once(root):
    dm = datamodule(root, batch_size=2)  # 5 samples: batches of 2, 2, 1
    dm.setup("fit")
    reference = dm.train_dataloader()
    reference.sampler.set_epoch(1)
    epoch_1 = batches(reference)
    dm.load_state_dict({"epoch": 1, "batches": 2})
    resumed = dm.train_dataloader()
    assert len(resumed) == 3  # Lightning counts the resumed epoch from its restored progress
    assert_same_batches(batches(resumed), epoch_1[2:])  # epoch 1's order, the first 4 samples not loaded
    later = dm.train_dataloader()  # the position applies to the first loader only
    later.sampler.set_epoch(1)
    assert_same_batches(batches(later), epoch_1)
    dm.load_state_dict({})  # a checkpoint saved outside a fit: nothing to restore
    assert dm.resume_position is None
    with pytest.raises(KeyError, match=r"lacks \['batches'\]"):
        dm.load_state_dict({"epoch": 1})


def test_predict_list_replaces_the_test_split_and_needs_pose_and_parsing(root, tmp_path):
    person, cloth = Path(PERSONS[0]).stem, Path(CLOTH).stem
    files = [f"images/{person}.jpg", f"cloth_image/{cloth}.jpg", f"pose_coco/{Path(PERSONS[1]).stem}_keypoints.json",
             f"pose_coco/{person}_keypoints.json", f"parse_cihp/{person}.png"]  # fmt: skip
    header = "person,cloth,pose,person_pose,parsing,name"
    rows = [",".join([*(str(root / file) for file in files), f"out{i}"]) for i in range(3)]
    listed = tmp_path / "list.csv"
    listed.write_text("\n".join([header, *rows]) + "\n")
    dm = datamodule(root, batch_size=2, predict_list=str(listed), reader_options={"parse_label_set": "cihp"})
    dm.setup("predict")
    assert dm.test_set is None  # the test split is not read
    loaded = batches(dm.predict_dataloader())
    assert [batch["meta"]["name"] for batch in loaded] == [["out0", "out1"], ["out2"]]
    expected = dm.make_reader("test").load(dm.split_records("test")[1][0])["src_parse"]  # test row 1: person 0
    assert torch.equal(loaded[0]["src_parse"][0], expected)  # CIHP ids mapped as the MPV reader maps them
    no_parsing = tmp_path / "no_parsing.csv"
    no_parsing.write_text("person,cloth,pose,person_pose\n" + ",".join(str(root / f) for f in files[:4]) + "\n")
    with pytest.raises(DatasetFormatError, match=rf"{no_parsing}:1: header .*missing \['parsing'\]"):
        datamodule(root, predict_list=str(no_parsing)).setup("predict")
    plain = datamodule(root)
    plain.setup("predict")
    assert plain.predict_set is None and len(batches(plain.predict_dataloader())) == 2  # the 7 test samples


@pytest.mark.parametrize("dataset", ["mpv", "deepfashion", "viton", "viton-hd"])
def test_a_root_that_does_not_exist_is_named_at_setup(tmp_path, dataset):
    absent = tmp_path / "absent"
    module = datamodule(absent, dataset=dataset)
    with pytest.raises(DatasetFormatError) as info:
        module.setup("fit")
    assert str(info.value) == f"{absent}: does not exist"


@pytest.mark.parametrize(("dataset", "default_root"), [("mpv", "data/synthetic_mpv"),
                                                         ("deepfashion", "data/synthetic_deepfashion")])  # fmt: skip
def test_the_synthetic_roots_before_make_data_say_to_run_it(tmp_path, monkeypatch, dataset, default_root):
    monkeypatch.chdir(tmp_path)  # a checkout where `make data` has not run
    with pytest.raises(DatasetFormatError) as info:
        datamodule(Path(default_root), dataset=dataset).setup("test")
    assert str(info.value) == f"{default_root}: does not exist; run `make data` to write the built-in synthetic set"


def test_a_bad_batch_transforms_value_is_one_line_naming_the_key(root):
    with pytest.raises(ConfigError) as info:
        datamodule(root, batch_transforms="gpu")
    assert str(info.value) == "data.init_args.batch_transforms: expected one of auto, worker, device, got 'gpu'"


def fake_trainer(accelerator: object, precision: object) -> SimpleNamespace:
    """What the DataModule reads of a trainer (a CUDA one cannot be built on a CPU machine)."""
    return SimpleNamespace(
        accelerator=accelerator, precision_plugin=precision, precision=precision.precision, world_size=1, global_rank=0
    )


@pytest.mark.parametrize(
    ("mode", "accelerator", "precision", "on_device"),
    [
        ("auto", None, None, False),  # no trainer: built in the workers
        ("auto", CPUAccelerator(), MixedPrecision("bf16-mixed", "cpu"), False),
        ("auto", CUDAAccelerator(), MixedPrecision("bf16-mixed", "cuda"), True),
        ("auto", CUDAAccelerator(), HalfPrecision("bf16-true"), False),  # it would cast the compact keypoints
        ("worker", CUDAAccelerator(), MixedPrecision("bf16-mixed", "cuda"), False),
        ("device", None, None, True),
        ("device", CPUAccelerator(), MixedPrecision("bf16-mixed", "cpu"), True),
    ],
)
def test_auto_expands_on_the_device_under_a_cuda_trainer_only(root, mode, accelerator, precision, on_device):
    dm = datamodule(root, batch_transforms=mode)
    dm.trainer = None if accelerator is None else fake_trainer(accelerator, precision)
    assert dm.expands_on_device() is on_device
    dm.setup("fit")
    sent = next(iter(dm.train_dataloader()))
    assert is_compact(sent) is on_device and not is_compact(dm.on_after_batch_transfer(sent, 0))


def test_device_is_refused_under_a_precision_that_casts_the_batch(root):
    dm = datamodule(root, batch_transforms="device")
    dm.trainer = fake_trainer(CUDAAccelerator(), HalfPrecision("bf16-true"))
    with pytest.raises(
        ConfigError, match=r"^data.init_args.batch_transforms: 'device' needs a precision .*'bf16-true'"
    ):
        dm.setup("fit")


def test_a_fit_with_device_transforms_trains_on_the_worker_batches(root):
    """Under a real ``Trainer``, the DataModule's ``on_after_batch_transfer`` expands the compact batches (from 2
    loader workers, augmentation drawn there) into the worker path's batches."""
    seen = {}
    for mode, workers in (("worker", 0), ("device", 2)):
        dm = datamodule(root, seed=2, batch_transforms=mode, num_workers=workers, hflip_prob=0.5, rotate_degrees=10.0)
        seen[mode] = [batch for _, batch in fit_recorder(dm, max_epochs=1)]
    assert len(seen["worker"]) == 2
    for old, new in zip(seen["worker"], seen["device"], strict=True):
        assert list(old) == list(new) and old["meta"] == new["meta"]
        tensors = {key: value for key, value in old.items() if key != "meta"}
        torch.testing.assert_close({key: new[key] for key in tensors}, tensors, rtol=0, atol=0)
