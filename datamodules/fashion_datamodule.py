"""``FashionDataModule``: MPV, DeepFashion, VITON and VITON-HD layouts (real or synthetic) as contract batches."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import torch
from lightning.fabric.plugins import Precision
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.accelerators import CUDAAccelerator
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from contract.errors import ConfigError, DatasetFormatError
from datamodules.augment import PairedAugmentation, flip_meta
from datamodules.batch_expansion import collate_compact, expand_batch, is_compact
from datamodules.fingerprint import records_fingerprint
from datamodules.pose import KeypointMapEncoder
from datamodules.predict_list import PredictionList
from datamodules.readers.base import DatasetReader, SampleRecord, get_reader_class

log = logging.getLogger(__name__)


def augmentation_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded by ``(seed, epoch, index)`` only: the same draws whatever worker loads the sample."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


# The optional prediction-list columns the try-on chain cannot do without: stage 1 reads the source parsing
# (``src_parse``, ``src_masks``, ``src_agnostic``) and stages 2 and 4 the source pose (``src_pose``). The cloth mask
# may fall back to the garment's non-white area (``datamodules.predict_list``).
PREDICT_REQUIRED_COLUMNS = ("person_pose", "parsing")
# ``reader_options`` keys that also apply to a prediction list (``parse_label_set`` too: ``predict_label_set``).
PREDICT_READER_OPTIONS = ("torso_skin_label", "mask_threshold", "white_threshold")
BATCH_TRANSFORMS = ("auto", "worker", "device")


def converts_inputs(trainer: Trainer) -> bool:
    """Whether the trainer's precision plugin casts the batch before ``on_after_batch_transfer`` (``*-true``,
    ``64``, DeepSpeed, FSDP): it would cast the compact keypoints and augmentation matrices too."""
    return type(trainer.precision_plugin).convert_input is not Precision.convert_input


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` that Lightning counts as resumable (it has ``state_dict`` / ``load_state_dict``), so a
    mid-epoch resume does not warn that the data position is lost: ``FashionDataModule`` keeps that position in
    its own checkpoint state and starts the resumed epoch's sampler after the consumed batches."""

    def state_dict(self) -> dict:
        """Empty: the position is in ``FashionDataModule.state_dict``."""
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        """Nothing to restore here (the DataModule restores the position)."""


def make_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int,
    sampler: DistributedSampler | None = None,
    pin_memory: bool = False,
    loader_class: type[DataLoader] = DataLoader,
    collate_fn: Callable[[list], Any] | None = None,
) -> DataLoader:
    """The project's DataLoader: order from ``sampler`` only (training) or the dataset's order, never a dropped
    last batch (every evaluation sample counts), persistent workers when there are any, which ignore Ctrl-C (the
    main process handles it: ``lightning_modules.interrupt``); ``collate_fn`` None is ``default_collate``."""
    return loader_class(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        drop_last=False,
        worker_init_fn=ignore_interrupts if num_workers > 0 else None,
    )


def ignore_interrupts(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: a worker ignores SIGINT, so Ctrl-C in a terminal (sent to the whole process
    group) stops the main process alone, without a traceback per worker; workers end with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class FashionDataset(Dataset):
    """Contract samples of one split: ``reader.load(record)``, then the optional paired augmentation.

    Keys are sample indices or ``(index, epoch)`` pairs (from ``EpochIndexSampler``); the augmentation draws from
    ``augmentation_generator(seed, epoch, index)``. With ``compact``, the samples are ``reader.load_compact(record)``
    (``datamodules.batch_expansion``) and the augmentation is only drawn: its matrix and flip go along as
    ``augment_matrix`` and ``augment_flip`` (and ``meta["hflip"]``), for ``expand_batch`` to apply.
    """

    def __init__(
        self,
        reader: DatasetReader,
        records: list[SampleRecord],
        augmentation: PairedAugmentation | None = None,
        seed: int = 0,
        compact: bool = False,
    ) -> None:
        self.reader = reader
        self.records = records
        self.augmentation = augmentation
        self.seed = seed
        self.compact = compact

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        record = self.records[index]
        generator = augmentation_generator(self.seed, epoch, index) if self.augmentation is not None else None
        if not self.compact:
            sample = self.reader.load(record)
            return sample if generator is None else self.augmentation(sample, generator)
        sample = self.reader.load_compact(record)
        if generator is not None:
            matrix, flip = self.augmentation.draw_transform(*self.reader.image_size, generator)
            sample["meta"] = flip_meta(sample["meta"], flip)
            sample |= {"augment_matrix": matrix, "augment_flip": torch.tensor(flip)}
        return sample


class EpochIndexSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled by ``seed + epoch``, split across ranks) yielding ``(index, epoch)`` keys.

    Lightning calls ``set_epoch`` on it every epoch (in the main process, so persistent workers see the new epoch
    through the keys) and, since it is a ``DistributedSampler``, leaves it in place under DDP.

    ``resume_at(epoch, skip)`` makes the next iteration (only that one) start after the first ``skip`` keys of this
    rank's share of ``epoch``'s order, without loading them; ``len`` stays the whole share, as Lightning counts the
    resumed epoch's batches from its restored progress.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip = 0

    def resume_at(self, epoch: int, skip: int) -> None:
        """Start the next iteration at sample ``skip`` of this rank's share of epoch ``epoch``."""
        if epoch < 0 or skip < 0:
            raise ValueError(f"EpochIndexSampler.resume_at: epoch and skip must be >= 0, got {epoch} and {skip}")
        self.set_epoch(epoch)
        self.skip = skip

    def __iter__(self):
        epoch, skip = self.epoch, self.skip
        self.skip = 0
        indices = list(super().__iter__())[skip:]
        return ((index, epoch) for index in indices)


class FashionDataModule(LightningDataModule):
    """One DataModule for every supported layout; batches follow the data contract (``contract.sample``).

    Splits: ``fit`` trains on the ``train`` split and validates on the ``test`` split (or ``val_subset`` evenly
    spaced samples of it, the same for every seed); ``test`` uses the whole ``test`` split, and so does ``predict``
    unless ``predict_list`` names a prediction list (``datamodules.predict_list``; its rows must give the person's
    pose and parsing, ``PREDICT_REQUIRED_COLUMNS``). Validation, test and predict loaders keep the last partial batch.

    Exact resume: the checkpoint state (``state_dict``) holds the epoch and the number of training batches of it
    that the fit loop has trained on (``batch_progress.current.processed``: a batch cut short by Ctrl-C is not one
    of them and is trained on after the resume; the loader itself runs one batch ahead). After
    ``load_state_dict`` the next ``train_dataloader`` starts that epoch's order after those batches, without
    loading them; later epochs start at their beginning. Same ``batch_size`` and number of processes assumed.

    Batch transforms (``batch_transforms``): with ``"worker"`` every DataLoader worker builds the whole contract
    sample on the CPU (keypoint maps, masks, cloth-agnostic image, float images, augmentation). With ``"device"``
    the workers send compact samples (uint8 images and parsing, keypoints, bool cloth mask: the table of
    ``datamodules.batch_expansion``) and ``on_after_batch_transfer`` expands the collated batch on the device it
    landed on, augmentation included (drawn in the workers from the same generator, applied batched). ``"auto"``
    is ``"device"`` when the trainer's accelerator is CUDA and ``"worker"`` otherwise (also without a trainer).
    The expanded batch has the keys, dtypes and shapes of the worker batch, and the same code computes both: on the
    CPU it is bit-identical; on a GPU the images, masks, parsing, agnostic image and disk keypoint maps are too,
    while Gaussian maps and augmented (warped) tensors follow the GPU's float rounding. A precision that casts the
    inputs before the hook (``*-true``, ``64``) would cast the compact keypoints too: ``"auto"`` then stays on the
    workers and ``"device"`` is refused. ``predict_list`` samples are always built in the workers.

    Bad data: by default the first problem found when reading the list files raises ``DatasetFormatError`` at
    ``setup``, and a bad file raises when its sample is loaded (the messages of ``vton-data check``). With
    ``skip_bad_samples=True``, ``setup`` checks every sample's files once and drops those with problems; the count
    per split is in ``skipped_samples`` (for the LightningModule to log) and a warning lists the first problem.

    Args:
        dataset: ``mpv``, ``deepfashion``, ``viton`` or ``viton-hd`` (synthetic data uses the ``mpv`` or
            ``deepfashion`` layout).
        root: dataset root folder.
        image_size: ``[H, W]`` of every sample tensor (MPV/VITON 256x192, DeepFashion 256x176).
        pose_map: keypoint map encoding, ``disk`` or ``gaussian`` (``pose.KeypointMapEncoder``).
        pose_radius: disk radius in pixels (SPG-VTON, seed 003 section III-A: 4).
        pose_sigma: Gaussian sigma in pixels (seed 002 section 3 names none; 6 as GFLA).
        hflip_prob, rotate_degrees, translate, scale_range: training augmentation (``augment.PairedAugmentation``;
            the papers name none, so it is off by default).
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader worker processes; results do not depend on it.
        seed: seeds the training order (``seed + epoch``) and the augmentation (``seed, epoch, index``).
        val_subset: number of test samples used for validation (``None``: all).
        skip_bad_samples: drop samples with problems at ``setup`` instead of raising (counted and warned).
        reader_options: extra reader arguments, e.g. ``parse_label_set``, ``torso_skin_label``,
            ``mask_threshold``; MPV ``pair_list``; DeepFashion ``annotation_frame``, ``crop_176``,
            ``white_threshold``, ``annotation_csv``, ``pairs_csv`` (see ``docs/DATA.md``).
        pin_memory: pin batches in page-locked memory (faster copies to a GPU).
        shuffle: shuffle the training split.
        predict_list: a prediction list, CSV or MPV demo list (``datamodules.predict_list``), for ``vton predict``;
            ``None``: predict on the ``test`` split. ``reader_options`` keys ``torso_skin_label``,
            ``mask_threshold`` and ``white_threshold`` apply to it too, and ``parse_label_set`` as
            ``predict_label_set`` resolves it.
        batch_transforms: where the per-sample tensor arithmetic runs, ``"auto"``, ``"worker"`` or ``"device"``
            (see above).
    """

    def __init__(
        self,
        dataset: str = "mpv",
        root: str = "data/mpv",
        image_size: tuple[int, int] = (256, 192),
        pose_map: str = "disk",
        pose_radius: float = 4.0,
        pose_sigma: float = 6.0,
        hflip_prob: float = 0.0,
        rotate_degrees: float = 0.0,
        translate: float = 0.0,
        scale_range: tuple[float, float] = (1.0, 1.0),
        batch_size: int = 8,
        num_workers: int = 4,
        seed: int = 0,
        val_subset: int | None = None,
        skip_bad_samples: bool = False,
        reader_options: dict | None = None,
        pin_memory: bool = False,
        shuffle: bool = True,
        predict_list: str | None = None,
        batch_transforms: str = "auto",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if batch_transforms not in BATCH_TRANSFORMS:
            raise ConfigError(
                f"data.init_args.batch_transforms: expected one of {', '.join(BATCH_TRANSFORMS)}, "
                f"got {batch_transforms!r}"
            )
        self.reader_class = get_reader_class(dataset)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.keypoint_maps = KeypointMapEncoder(pose_map, pose_radius, pose_sigma)
        if seed < 0:
            raise ValueError(f"FashionDataModule: seed must be >= 0, got {seed}")
        if val_subset is not None and val_subset < 1:
            raise ValueError(f"FashionDataModule: val_subset must be None or >= 1, got {val_subset}")
        augmenting = hflip_prob > 0 or rotate_degrees > 0 or translate > 0 or tuple(scale_range) != (1.0, 1.0)
        self.augmentation = (
            PairedAugmentation(hflip_prob, rotate_degrees, translate, tuple(scale_range)) if augmenting else None
        )
        self.skipped_samples: dict[str, int] = {}
        self._splits: dict[str, tuple[DatasetReader, list[SampleRecord]]] = {}
        self.train_set: FashionDataset | None = None
        self.val_set: FashionDataset | None = None
        self.test_set: FashionDataset | None = None
        self.predict_set: PredictionList | None = None  # the predict_list samples
        self.resume_position: tuple[int, int] | None = None  # (epoch, batches taken), for the next train loader

    def make_reader(self, split: str) -> DatasetReader:
        options = dict(self.hparams.reader_options or {})
        return self.reader_class(
            self.hparams.root, split, image_size=self.image_size, keypoint_maps=self.keypoint_maps, **options
        )

    def split_records(self, split: str) -> tuple[DatasetReader, list[SampleRecord]]:
        """The reader and the usable records of a split (read once; bad samples raise or are skipped)."""
        if split not in self._splits:
            reader = self.make_reader(split)
            scan = reader.scan()
            if self.hparams.skip_bad_samples:
                records = self._drop_bad_samples(reader, split)
            elif scan.problems:
                raise DatasetFormatError(scan.problems[0])
            else:
                records = scan.records
            if not records:
                raise ValueError(
                    f"FashionDataModule: the {split} split of the {self.hparams.dataset} dataset at "
                    f"{self.hparams.root} has no samples"
                )
            self._splits[split] = (reader, records)
        return self._splits[split]

    def fingerprint(self, split: str = "train") -> str:
        """Which files a split is made of, as one sha256 (``datamodules.fingerprint.records_fingerprint``)."""
        return records_fingerprint(self.split_records(split)[1], self.hparams.root)

    def _drop_bad_samples(self, reader: DatasetReader, split: str) -> list[SampleRecord]:
        scan = reader.scan()
        cache: dict[Hashable, list[str]] = {}
        problems = list(scan.problems)
        records = []
        for record in scan.records:
            found = reader.inspect(record, cache)
            if found:
                problems.extend(found)
            else:
                records.append(record)
        skipped = scan.dropped + len(scan.records) - len(records)
        self.skipped_samples[split] = skipped
        if problems:
            unique = list(dict.fromkeys(problems))
            for problem in unique:
                log.warning("skipped: %s", problem)
            rank_zero_warn(
                f"FashionDataModule: skipped {skipped} of {skipped + len(records)} {split} samples of "
                f"{self.hparams.dataset} at {self.hparams.root} ({len(unique)} problem(s); first: {unique[0]}). "
                f"`vton-data check --root {self.hparams.root} --format {self.hparams.dataset}` lists them all."
            )
        return records

    def expands_on_device(self) -> bool:
        """Whether the loaders send compact samples for ``on_after_batch_transfer`` to expand (``batch_transforms``,
        class docstring); raises ``ConfigError`` for ``"device"`` under a precision that casts the inputs."""
        mode, trainer = self.hparams.batch_transforms, self.trainer
        casts = trainer is not None and converts_inputs(trainer)
        if mode == "device" and casts:
            raise ConfigError(
                f"data.init_args.batch_transforms: 'device' needs a precision that leaves the batch as loaded "
                f"(32, 16-mixed or bf16-mixed); trainer.precision {trainer.precision!r} casts it first: use 'worker'"
            )
        if mode == "auto":
            return trainer is not None and isinstance(trainer.accelerator, CUDAAccelerator) and not casts
        return mode == "device"

    def setup(self, stage: str | None = None) -> None:
        compact = self.expands_on_device()
        where = "expanded on the device" if compact else "built in the workers"
        rank_zero_info(f"FashionDataModule: samples {where} (batch_transforms={self.hparams.batch_transforms})")
        if stage in (None, "fit"):
            reader, records = self.split_records("train")
            self.train_set = FashionDataset(reader, records, self.augmentation, self.hparams.seed, compact)
        if stage in (None, "fit", "validate"):
            reader, records = self.split_records("test")
            if self.hparams.val_subset is not None and self.hparams.val_subset < len(records):
                picks = np.linspace(0, len(records) - 1, self.hparams.val_subset).round().astype(int)
                records = [records[i] for i in picks]
            self.val_set = FashionDataset(reader, records, compact=compact)
        if stage in (None, "test") or (stage == "predict" and self.hparams.predict_list is None):
            self.test_set = FashionDataset(*self.split_records("test"), compact=compact)
        if stage in (None, "predict") and self.hparams.predict_list is not None:
            self.predict_set = self.make_predict_list()

    def make_predict_list(self) -> PredictionList:
        """The ``predict_list`` samples at this module's size and pose encoding (errors name the list file and line)."""
        hp = self.hparams
        options = {key: value for key, value in (hp.reader_options or {}).items() if key in PREDICT_READER_OPTIONS}
        return PredictionList(
            hp.predict_list,
            image_size=self.image_size,
            pose_map=hp.pose_map,
            pose_radius=hp.pose_radius,
            pose_sigma=hp.pose_sigma,
            required=PREDICT_REQUIRED_COLUMNS,
            parse_label_set=self.predict_label_set(),
            **options,
        )

    def predict_label_set(self) -> str:
        """The label set of the list rows that name none and lie in no known layout: the one this dataset's reader
        reads its parsings with (``reader_options.parse_label_set``, ``auto`` resolved by the format: e.g. ``cihp``
        for an MPV root in the DTLD layout); ``auto`` (``lip``) when ``root`` holds no MPV layout to resolve by."""
        try:
            return self.make_reader("test").parse_label_set
        except DatasetFormatError:
            return "auto"

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "batches"}``: the training position the fit loop has reached (class docstring); a finished
        epoch is saved as the start of the next one. Empty outside a fit."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != TrainerFn.FITTING:
            return {}
        epoch = trainer.current_epoch
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if batches >= trainer.num_training_batches:
            epoch, batches = epoch + 1, 0
        return {"epoch": int(epoch), "batches": int(batches)}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Restore the position saved by ``state_dict`` for the next ``train_dataloader``."""
        if not state_dict:
            return
        missing = [key for key in ("epoch", "batches") if key not in state_dict]
        if missing:
            raise KeyError(
                f"FashionDataModule.load_state_dict: the checkpoint's datamodule state {state_dict} lacks {missing}"
            )
        epoch, batches = int(state_dict["epoch"]), int(state_dict["batches"])
        if epoch < 0 or batches < 0:
            raise ValueError(f"FashionDataModule.load_state_dict: negative position {state_dict} in the checkpoint")
        self.resume_position = (epoch, batches)

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        sampler = EpochIndexSampler(
            self.train_set,
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            shuffle=self.hparams.shuffle,
            seed=self.hparams.seed,
        )
        if self.resume_position is not None:
            epoch, batches = self.resume_position
            sampler.resume_at(epoch, batches * self.hparams.batch_size)
            self.resume_position = None
        return self._loader(self.train_set, sampler=sampler, loader_class=ResumableDataLoader)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set if self.hparams.predict_list is None else self.predict_set)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """A compact batch (``batch_transforms`` on the device) is expanded where it landed
        (``batch_expansion.expand_batch``, with this module's keypoint maps and augmentation); others pass as they
        are."""
        return expand_batch(batch, self.keypoint_maps, self.augmentation) if is_compact(batch) else batch

    def _loader(
        self,
        dataset: Dataset,
        sampler: DistributedSampler | None = None,
        loader_class: type[DataLoader] = DataLoader,
    ) -> DataLoader:
        hp = self.hparams
        collate = collate_compact if getattr(dataset, "compact", False) else None
        return make_loader(dataset, hp.batch_size, hp.num_workers, sampler, hp.pin_memory, loader_class, collate)
