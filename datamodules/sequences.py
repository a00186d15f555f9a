"""Pose sequences for the temporal work: windows of consecutive frames from two layouts (``docs/DATA.md``).

``synthetic`` (what ``vton-data synth --n-seq`` writes): ``<root>/sequences/sequences.txt`` lines
``<seq id> <T> <kind> <split>``; ``<root>/sequences/<seq id>/image/<t:04d>.jpg``, ``pose/<t:04d>_keypoints.json``,
``parse/<t:04d>.png``, ``synthetic_gt/<t-1:04d>__<t:04d>.npz`` (flow from frame t to frame t-1), ``cloth.jpg``,
``cloth_mask.png``.

``video`` (real users' frames): ``<root>/<split>/<video id>/frames/<name>.(jpg|png)`` with
``openpose/<name>_keypoints.json`` (COCO-18 or BODY_25), optional ``parsing/<name>.png`` (all frames or none),
optional ``cloth.jpg`` with ``cloth_mask.(png|jpg)``. Every frame name ends in its frame number (``frame_0007``,
``12``); frames are ordered by it and must be consecutive.

A window is ``n_frames`` consecutive frames; windows start every ``stride`` frames. Files are loaded with the
``DatasetReader`` helpers, so sizes, parsing label sets and error messages are those of the pair readers.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from contract.errors import DatasetFormatError
from contract.flow import resize_flow
from contract.sample import SYNTHETIC_GT_DIR
from datamodules.fashion_datamodule import make_loader
from datamodules.pose import KeypointMapEncoder
from datamodules.readers.base import (
    SPLITS,
    DatasetReader,
    FileIndex,
    PersonRecord,
    ProblemLog,
    RawPerson,
    SampleRecord,
    Scan,
    check_listed_files,
    check_size,
    first_existing,
    list_rows,
    read_list_lines,
    resize_labels,
)

SEQUENCE_LAYOUTS = ("synthetic", "video")
SEQUENCE_COLUMNS = ("seq_id", "frames", "kind", "split")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
_FRAME_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class SequenceRecord:
    """The files of one sequence, frames in time order; ``frame_numbers`` are consecutive integers."""

    name: str  # sequence / video id
    split: str
    entry: str  # "<sequences.txt>:<line>" or the video folder
    frames: tuple[PersonRecord, ...]
    frame_numbers: tuple[int, ...]
    cloth: Path | None = None
    cloth_mask: Path | None = None
    ground_truth: tuple[Path, ...] | None = None  # [T - 1]: element t - 1 holds the flow from frame t to frame t - 1

    def pair(self, source: int, target: int) -> SampleRecord:
        """The pair record (frame ``source`` -> frame ``target``, positions in ``frames``) the base loaders take;
        carries the ground truth when ``target == source + 1``."""
        truth = self.ground_truth[source] if self.ground_truth is not None and target == source + 1 else None
        return SampleRecord(
            self.frames[source], self.frames[target], self.split, self.entry, self.cloth, self.cloth_mask, truth
        )


def numbered_frames(directory: Path, files: FileIndex, where: str) -> tuple[list[tuple[int, str]], list[str]]:
    """``[(frame number, file name)]`` of the image files in ``directory`` sorted by number, and the problems:
    a name without a trailing frame number, two files with one number, a gap in the numbers."""
    problems, numbered = [], []
    for name in sorted(files.names(directory)):
        stem, suffix = Path(name).stem, Path(name).suffix.lower()
        if suffix not in FRAME_SUFFIXES:
            continue
        match = _FRAME_NUMBER.search(stem)
        if match is None:
            problems.append(f"{where}: frame name {name!r} does not end in a frame number")
            continue
        numbered.append((int(match.group(1)), name))
    numbered.sort()
    for (previous, first), (number, second) in zip(numbered, numbered[1:], strict=False):
        if number == previous:
            problems.append(f"{where}: frames {first} and {second} have the same frame number {number}")
        elif number != previous + 1:
            problems.append(f"{where}: gap in frame numbers: {first} is followed by {second}")
    return numbered, problems


class SequenceReader(DatasetReader):
    """Reads the sequences of one split and loads windows of consecutive frames (``load_window``).

    Args: those of ``DatasetReader``. ``scan()`` also lists every consecutive frame pair as a ``SampleRecord``
    (source ``t - 1``, target ``t``), so ``reader.inspect`` checks sequence files like pair files.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sequences: list[SequenceRecord] | None = None

    @abstractmethod
    def scan_sequences(self, scan: Scan) -> list[SequenceRecord]:
        """This split's sequences whose listed files exist; problems go to ``scan``."""

    def scan_lists(self) -> Scan:
        scan = Scan()
        self._sequences = self.scan_sequences(scan)
        scan.records = [seq.pair(t - 1, t) for seq in self._sequences for t in range(1, len(seq.frames))]
        return scan

    @property
    def sequences(self) -> list[SequenceRecord]:
        """The split's sequences; raises the first problem of ``scan()``."""
        scan = self.scan()
        if scan.problems:
            raise DatasetFormatError(scan.problems[0])
        return self._sequences

    @property
    def native_size(self) -> None:
        """No dataset-wide size: videos may differ; a window's frames are checked against its first frame."""
        return None

    def load_window(self, sequence: SequenceRecord, start: int, n_frames: int) -> dict:
        """Frames ``start .. start + n_frames - 1`` of ``sequence`` resized to ``image_size``, stacked on a leading
        time axis T: ``img [T,3,H,W]`` in [-1, 1], ``kpts [T,18,3]``, ``pose [T,18,H,W]``, ``parse [T,H,W]``,
        ``masks {group: [T,1,H,W]}``, ``cloth [3,H,W]``, ``cloth_mask [1,H,W]``, ``frame_index [T]`` and, for the
        synthetic layout, ``flow_gt [T-1,2,H,W]`` / ``vis_gt [T-1,H,W]`` (element t: flow from frame t+1 to frame t,
        so ``warp(img[t], flow_gt[t]) ~ img[t+1]`` where ``vis_gt[t] == 1``)."""
        if start < 0 or n_frames < 1 or start + n_frames > len(sequence.frames):
            raise ValueError(
                f"{sequence.entry}: window {start}..{start + n_frames - 1} outside the {len(sequence.frames)} frames"
            )
        log = ProblemLog(strict=True)
        span = range(start, start + n_frames)
        people: list[RawPerson] = [self.load_person(sequence.frames[t], log) for t in span]
        first = tuple(people[0].image.shape[-2:])
        for t, person in zip(span, people, strict=True):
            check_size(sequence.frames[t].image, tuple(person.image.shape[-2:]), first, "the window's first frame")
        size = self.image_size
        frames = [self.resize_person(person) for person in people]
        sample: dict[str, Any] = {
            key: torch.stack([frame[key] for frame in frames]) for key in ("img", "kpts", "pose", "parse")
        }
        sample["masks"] = {
            group: torch.stack([frame["masks"][group] for frame in frames]) for group in frames[0]["masks"]
        }
        cloth = self.load_cloth(sequence.pair(start, start), log) if sequence.cloth is not None else None
        sample["cloth"], sample["cloth_mask"] = self.resize_cloth(cloth)
        sample["frame_index"] = torch.tensor(sequence.frame_numbers[start : start + n_frames], dtype=torch.long)
        if sequence.ground_truth is not None and n_frames > 1:
            truth = [self.load_ground_truth(sequence.pair(t - 1, t), log) for t in span[1:]]
            sample["flow_gt"] = resize_flow(torch.stack([flow for flow, _ in truth]), size)
            sample["vis_gt"] = torch.stack([resize_labels(vis, size) for _, vis in truth]).long()
        sample["meta"] = {
            "dataset": self.format_name,
            "split": sequence.split,
            "entry": sequence.entry,
            "sequence": sequence.name,
            "frames": ",".join(sequence.frames[t].name for t in span),
            "has_parse": "0" if people[0].parse is None else "1",
            "has_cloth": "0" if sequence.cloth is None else "1",
        }
        return sample


class SyntheticSequenceReader(SequenceReader):
    """The synthetic layout (module docstring); ``sequences.txt`` lists both splits."""

    format_name = "sequences-synthetic"

    @property
    def list_path(self) -> Path:
        return self.root / "sequences" / "sequences.txt"

    def splits_present(self) -> list[str]:
        if not self.list_path.is_file():
            return []
        return sorted({line.split()[3] for line in read_list_lines(self.list_path) if len(line.split()) == 4})

    def scan_sequences(self, scan: Scan) -> list[SequenceRecord]:
        files, sequences = FileIndex(), []
        for entry, (seq_id, count, _kind, split) in list_rows(
            self.list_path, read_list_lines(self.list_path), SEQUENCE_COLUMNS, scan
        ):
            if split not in SPLITS:
                scan.problems.append(f"{entry}: split must be one of {SPLITS}, got {split!r}")
                continue
            if not count.isdigit() or int(count) < 1:
                scan.problems.append(f"{entry}: frame count must be a positive integer, got {count!r}")
                continue
            if split != self.split:
                continue
            base = self.root / "sequences" / seq_id
            numbered, problems = numbered_frames(base / "image", files, entry)
            numbers = [number for number, _ in numbered]
            if not problems and numbers != list(range(int(count))):
                listed = f"{numbers[0]}..{numbers[-1]}" if numbers else "none"
                problems.append(
                    f"{entry}: lists {count} frames (0..{int(count) - 1}) but {base / 'image'} has {listed}"
                )
            frames = tuple(
                PersonRecord(f"{t:04d}", base / "image" / f"{t:04d}.jpg", base / "parse" / f"{t:04d}.png",
                             base / "pose" / f"{t:04d}_keypoints.json")
                for t in range(int(count))
            )  # fmt: skip
            truth = tuple(base / SYNTHETIC_GT_DIR / f"{t - 1:04d}__{t:04d}.npz" for t in range(1, int(count)))
            named = {"cloth": base / "cloth.jpg", "cloth mask": base / "cloth_mask.png"}
            named |= {f"frame {f.name} pose": f.pose_json for f in frames}
            named |= {f"frame {f.name} parsing": f.parse for f in frames}
            named |= {f"ground truth {path.stem}": path for path in truth}
            problems += [] if problems else check_listed_files(entry, named, files)
            record = SequenceRecord(
                seq_id,
                split,
                entry,
                frames,
                tuple(range(int(count))),
                base / "cloth.jpg",
                base / "cloth_mask.png",
                truth,
            )
            scan.problems.extend(problems)
            if not problems:
                sequences.append(record)
        return sequences


class VideoSequenceReader(SequenceReader):
    """The video layout of real users' frames (module docstring): one folder per video under ``<root>/<split>``."""

    format_name = "sequences-video"

    def splits_present(self) -> list[str]:
        return [split for split in SPLITS if (self.root / split).is_dir()]

    def scan_sequences(self, scan: Scan) -> list[SequenceRecord]:
        split_dir = self.root / self.split
        if not split_dir.is_dir():
            raise DatasetFormatError(f"{split_dir}: split folder not found")
        files, sequences = FileIndex(), []
        for video in sorted(path for path in split_dir.iterdir() if path.is_dir()):
            numbered, problems = numbered_frames(video / "frames", files, str(video))
            if not numbered and not problems:
                problems.append(f"{video}: no frames in {video / 'frames'} (expected <name>.jpg or .png)")
            has_parse = (video / "parsing").is_dir()
            frames = tuple(
                PersonRecord(
                    Path(name).stem,
                    video / "frames" / name,
                    video / "parsing" / f"{Path(name).stem}.png" if has_parse else None,
                    video / "openpose" / f"{Path(name).stem}_keypoints.json",
                )
                for _, name in numbered
            )
            named: dict[str, Path | tuple[Path, ...]] = {f"frame {f.name} pose": f.pose_json for f in frames}
            named |= {f"frame {f.name} parsing": f.parse for f in frames if f.parse is not None}
            cloth = video / "cloth.jpg" if files.exists(video / "cloth.jpg") else None
            masks = (video / "cloth_mask.png", video / "cloth_mask.jpg")
            if cloth is not None:
                named["cloth mask"] = masks
            problems += check_listed_files(str(video), named, files)
            scan.problems.extend(problems)
            if not problems:
                sequences.append(
                    SequenceRecord(
                        video.name, self.split, str(video), frames, tuple(number for number, _ in numbered),
                        cloth, first_existing(masks, files) if cloth is not None else None,
                    )
                )  # fmt: skip
        return sequences


SEQUENCE_READERS: dict[str, type[SequenceReader]] = {
    "synthetic": SyntheticSequenceReader,
    "video": VideoSequenceReader,
}


def window_starts(sequence: SequenceRecord, n_frames: int, stride: int) -> list[int]:
    """First frame position of every window: ``0, stride, ...`` while the window fits; too short a sequence raises."""
    if len(sequence.frames) < n_frames:
        raise DatasetFormatError(
            f"{sequence.entry}: sequence {sequence.name} has {len(sequence.frames)} frames, "
            f"fewer than n_frames={n_frames}"
        )
    return list(range(0, len(sequence.frames) - n_frames + 1, stride))


class SequenceDataset(Dataset):
    """Windows of ``n_frames`` consecutive frames (every ``stride`` frames) of a split's sequences, in sequence order.

    Sample ``i`` is window ``i`` in the order (sequence, start): a whole window is loaded by one worker, so frame
    order never depends on ``num_workers``.
    """

    def __init__(self, reader: SequenceReader, n_frames: int = 4, stride: int = 1) -> None:
        if n_frames < 1 or stride < 1:
            raise ValueError(f"SequenceDataset: n_frames and stride must be >= 1, got {n_frames} and {stride}")
        self.reader = reader
        self.n_frames = n_frames
        self.windows = [(seq, start) for seq in reader.sequences for start in window_starts(seq, n_frames, stride)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict:
        sequence, start = self.windows[index]
        return self.reader.load_window(sequence, start, self.n_frames)


class SequenceDataModule(LightningDataModule):
    """Batches of frame windows ``[B, T, ...]`` (see ``SequenceReader.load_window``) from either layout.

    ``fit`` trains on the ``train`` split (shuffled by ``seed + epoch``, split across ranks) and validates on
    ``test``; ``test`` and ``predict`` use ``test``. Validation, test and predict loaders keep the last partial batch.

    Args:
        root: dataset root folder.
        layout: ``synthetic`` or ``video`` (``docs/DATA.md``, "Pose sequences").
        image_size: ``[H, W]`` of every frame tensor.
        n_frames: frames per window T.
        stride: frames between the starts of consecutive windows.
        pose_map, pose_radius, pose_sigma: keypoint map encoding, as ``FashionDataModule``.
        batch_size: windows per batch.
        num_workers: DataLoader worker processes; batches do not depend on it.
        seed: seeds the training order.
        shuffle: shuffle the training windows.
        reader_options: extra reader arguments (``parse_label_set``, ``torso_skin_label``, ``mask_threshold``).
        pin_memory: pin batches in page-locked memory (faster copies to a GPU, without the host waiting).
    """

    def __init__(
        self,
        root: str = "data/synthetic_mpv",
        layout: str = "synthetic",
        image_size: tuple[int, int] = (256, 192),
        n_frames: int = 4,
        stride: int = 1,
        pose_map: str = "disk",
        pose_radius: float = 4.0,
        pose_sigma: float = 6.0,
        batch_size: int = 4,
        num_workers: int = 4,
        seed: int = 0,
        shuffle: bool = True,
        reader_options: dict | None = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if layout not in SEQUENCE_READERS:
            raise ValueError(f"SequenceDataModule: layout must be one of {SEQUENCE_LAYOUTS}, got {layout!r}")
        if n_frames < 1 or stride < 1:
            raise ValueError(f"SequenceDataModule: n_frames and stride must be >= 1, got {n_frames} and {stride}")
        self.save_hyperparameters()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.keypoint_maps = KeypointMapEncoder(pose_map, pose_radius, pose_sigma)
        self._sets: dict[str, SequenceDataset] = {}

    def dataset(self, split: str) -> SequenceDataset:
        """The windows of a split (read once)."""
        if split not in self._sets:
            reader = SEQUENCE_READERS[self.hparams.layout](
                self.hparams.root,
                split,
                image_size=self.image_size,
                keypoint_maps=self.keypoint_maps,
                **(self.hparams.reader_options or {}),
            )
            windows = SequenceDataset(reader, self.hparams.n_frames, self.hparams.stride)
            if not len(windows):
                raise ValueError(f"SequenceDataModule: the {split} split at {self.hparams.root} has no sequences")
            self._sets[split] = windows
        return self._sets[split]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.dataset("train")
        self.dataset("test")

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        sampler = DistributedSampler(
            self.dataset("train"),
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
            shuffle=self.hparams.shuffle,
            seed=self.hparams.seed,
        )
        return self._loader(self.dataset("train"), sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"))

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"))

    def _loader(self, dataset: SequenceDataset, sampler: DistributedSampler | None = None) -> DataLoader:
        hp = self.hparams
        return make_loader(dataset, hp.batch_size, hp.num_workers, sampler, hp.pin_memory)
