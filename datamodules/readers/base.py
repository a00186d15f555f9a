"""What every dataset reader shares: records, file loading with clear errors, and the contract-sample builder.

A reader works in two steps:

1. ``scan()`` reads the list files of one split (pairs, triplets, annotation CSVs) and checks that every file an entry
   names exists. It returns the good ``SampleRecord``s and one problem string per defect, located as
   ``<list file>:<line>: ...``. ``records`` raises the first problem as ``DatasetFormatError``.
2. ``load(record)`` reads the files of one record (images, parsing, keypoints, cloth and mask, synthetic ground truth)
   and builds the contract sample at the configured ``image_size``; a bad file raises ``DatasetFormatError`` naming it.
   It is ``datamodules.batch_expansion.expand_batch`` of ``load_compact(record)``, the compact sample (uint8 images
   and parsing, keypoints; no keypoint maps or masks) that ``FashionDataModule(batch_transforms="device")`` sends
   from its workers and expands on the GPU.

``vton-data check`` runs the same two steps (``scan`` and ``inspect``, which runs the loaders of ``load`` in a
collecting ``ProblemLog``), so a dataset that passes the check loads, and the messages are the same.

Resizing maps image edges onto each other (``align_corners=False``; area-correct antialiased bilinear for images,
``nearest-exact`` for label maps, ``pose.rescale_keypoints`` for keypoints). The synthetic flow is resized with
``contract.flow.resize_flow``, which follows the same half-pixel convention and rescales the offsets.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from contract.errors import DatasetFormatError
from contract.flow import resize_flow
from contract.sample import CIHP_TORSO_SKIN_DEFAULT, SYNTHETIC_GT_DIR
from datamodules.batch_expansion import expand_batch, expand_cloth, expand_person, to_signed_unit
from datamodules.parsing import LABEL_SETS, read_parsing
from datamodules.pose import KeypointMapEncoder, read_openpose_json, rescale_keypoints
from datamodules.roots import require_root
from datamodules.synthetic.attributes import attributes_path, read_attributes

SPLITS = ("train", "test")
READER_CLASSES = {
    "mpv": ("datamodules.readers.mpv", "MPVReader"),
    "deepfashion": ("datamodules.readers.deepfashion", "DeepFashionReader"),
    "viton": ("datamodules.readers.viton", "VitonReader"),
    "viton-hd": ("datamodules.readers.viton", "VitonHDReader"),
}
VIS_LABELS = 3  # vis_gt: 0 background, 1 visible in source, 2 occluded in source
# How parsing files are commonly named after the person's stem (MPV3D: <p>_label.png); the readers' parse_suffix
# default is the first. A missing parsing found with another of these gets a hint naming the option.
PARSE_SUFFIXES = (".png", "_label.png", "_parse.png", "_parsing.png", "_seg.png", ".jpg")


def get_reader_class(fmt: str) -> type[DatasetReader]:
    """The reader class of a dataset format name (``mpv``, ``deepfashion``, ``viton``, ``viton-hd``)."""
    if fmt not in READER_CLASSES:
        raise ValueError(f"unknown dataset format {fmt!r}; expected one of {sorted(READER_CLASSES)}")
    module, name = READER_CLASSES[fmt]
    return getattr(importlib.import_module(module), name)


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRecord:
    """The files of one person image. Keypoints come from ``pose_json`` or inline from an annotation row."""

    name: str  # the name as the list file writes it
    image: Path
    parse: Path | None = None  # None: the dataset has no parsing (the sample gets all-zero parsing)
    pose_json: Path | None = None
    keypoints: tuple[tuple[float, float, float], ...] | None = None  # inline [18][x, y, vis], reader-defined frame
    parse_label_set: str | None = None  # "lip" or "cihp" for this parsing; None: the reader's parse_label_set


@dataclass(frozen=True)
class SampleRecord:
    """One list entry: source and target person, the in-shop cloth, the synthetic ground truth if any."""

    source: PersonRecord
    target: PersonRecord
    split: str
    entry: str  # "<list file>:<line>"
    cloth: Path | None = None  # None: the dataset has no cloth for this entry (zeros, meta has_cloth = "0")
    cloth_mask: Path | None = None  # None with a cloth: the reader derives the mask from the cloth image
    ground_truth: Path | None = None  # <root>/synthetic_gt/<source stem>__<target stem>.npz


@dataclass
class ProblemGroup:
    """Entries that share one cause (a missing folder, parsing files named with another suffix, an unreadable
    annotation CSV): one problem line with their count instead of a line per file."""

    cause: str
    hint: str = ""  # after the count, e.g. the reader option that fixes it
    kinds: dict[str, None] = field(default_factory=dict)  # what the entries look for, in order of discovery
    entries: dict[str, None] = field(default_factory=dict)  # "<list file>:<line>", in order

    def merge(self, other: ProblemGroup) -> None:
        """Add the entries of ``other`` (the same cause, e.g. in another split)."""
        self.kinds |= other.kinds
        self.entries |= other.entries

    def message(self) -> str:
        """``<cause> (the <kinds> of <n> entries, the first <entry>)<hint>``; the cause alone without entries."""
        if not self.entries:
            return self.cause + self.hint
        count, first = len(self.entries), next(iter(self.entries))
        noun = "entry" if count == 1 else "entries"
        kinds = list(self.kinds)
        what = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} and {kinds[-1]}"
        return f"{self.cause} (the {what} of {count} {noun}, the first {first}){self.hint}"


@dataclass
class Scan:
    """Result of reading a split's list files: good records, problems, and how many entries gave no record.

    ``groups`` count entries under a shared cause (``group``); such an entry gives no record, and
    ``DatasetReader.scan`` puts one line per group before the other problems."""

    records: list[SampleRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dropped: int = 0
    groups: dict[str, ProblemGroup] = field(default_factory=dict)

    def group(self, cause: str, what: str | None = None, entry: str | None = None, hint: str = "") -> None:
        """Count ``entry``, which looks for ``what``, under the problem ``cause`` (just the cause without one)."""
        group = self.groups.setdefault(cause, ProblemGroup(cause, hint))
        if entry is not None:
            group.kinds[what] = None
            group.entries[entry] = None

    def grouped(self, entry: str) -> bool:
        """Whether ``entry`` is counted under a group."""
        return any(entry in group.entries for group in self.groups.values())

    def add(self, record: SampleRecord, problems: list[str]) -> None:
        """Keep ``record`` when its entry has no problems (and is in no group); otherwise record them and count the
        entry as dropped."""
        if problems or self.grouped(record.entry):
            self.problems.extend(problems)
            self.dropped += 1
        else:
            self.records.append(record)

    def put_groups_first(self) -> None:
        """Move each group's line (``ProblemGroup.message``) before the entries' own problems."""
        self.problems[:0] = [group.message() for group in self.groups.values()]


@dataclass
class RawPerson:
    """A person as stored (after the reader's crop, before resizing)."""

    image: Tensor  # [3, H, W] uint8
    keypoints: Tensor  # [18, 3] in pixels of ``image``
    parse: Tensor | None  # [H, W] uint8 LIP-20, or None when the dataset has no parsing


class ProblemLog:
    """Runs loading steps: ``strict`` re-raises the first ``DatasetFormatError``, otherwise its message is kept."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[str] = []

    def attempt(self, step: Callable[..., Any], *args: Any) -> Any:
        """``step(*args)``, or ``None`` after recording the error when not strict."""
        try:
            return step(*args)
        except DatasetFormatError as exc:
            if self.strict:
                raise
            self.problems.append(str(exc))
            return None


class FileIndex:
    """Cached directory listings, so scanning a list of thousands of entries costs one ``listdir`` per folder."""

    def __init__(self) -> None:
        self._names: dict[Path, frozenset[str] | None] = {}  # None: not a folder

    def _listing(self, directory: Path) -> frozenset[str] | None:
        if directory not in self._names:
            self._names[directory] = frozenset(os.listdir(directory)) if directory.is_dir() else None
        return self._names[directory]

    def names(self, directory: Path) -> frozenset[str]:
        return self._listing(directory) or frozenset()

    def exists(self, path: Path) -> bool:
        return path.name in self.names(path.parent)

    def is_dir(self, directory: Path) -> bool:
        return self._listing(directory) is not None

    def missing_folder(self, directory: Path) -> Path | None:
        """The outermost of ``directory`` and its ancestors that does not exist; None when ``directory`` exists."""
        if self.is_dir(directory):
            return None
        while directory.parent != directory and not self.is_dir(directory.parent):
            directory = directory.parent
        return directory


# --- file loading with clear errors --------------------------------------------------------------


def describe_size(size: tuple[int, int]) -> str:
    """``(H, W)`` -> ``"192x256 (WxH)"``: width first, as the datasets' documentation writes sizes."""
    return f"{size[1]}x{size[0]} (WxH)"


def _read_pixels(path: Path, mode: str) -> np.ndarray:
    """The pixels of an image file converted to ``mode`` (``"RGB"`` or ``"L"``), with clear errors."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            return np.array(image if image.mode == mode else image.convert(mode))
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetFormatError(f"{path}: unreadable or corrupt image file") from exc


def read_image(path: Path) -> Tensor:
    """An RGB image -> ``[3, H, W]`` uint8 (grey or RGBA files are converted to RGB)."""
    return torch.from_numpy(_read_pixels(path, "RGB")).permute(2, 0, 1)


def read_image_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` of an image file from its header."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetFormatError(f"{path}: unreadable or corrupt image file") from exc
    return height, width


def read_mask(path: Path, threshold: int = 128) -> Tensor:
    """A grey mask (PNG {0, 255} or JPEG with compression noise) -> ``[H, W]`` bool, ``value >= threshold``."""
    return torch.from_numpy(_read_pixels(path, "L") >= threshold)


def check_size(path: Path, size: tuple[int, int], expected: tuple[int, int], reference: str) -> None:
    """Raise unless ``size == expected`` (both ``(H, W)``); ``reference`` says where ``expected`` comes from."""
    if tuple(size) != tuple(expected):
        raise DatasetFormatError(
            f"{path}: size {describe_size(size)} differs from {reference} {describe_size(expected)}"
        )


def read_ground_truth(path: Path, vis_dtype: torch.dtype = torch.long) -> tuple[Tensor, Tensor]:
    """A synthetic ``.npz`` -> ``flow [2, H, W]`` float32 (target -> source pixels) and ``vis [H, W]`` 0/1/2 of
    ``vis_dtype`` (the readers keep ``torch.uint8``, the generator's, until ``batch_expansion``).

    The archive holds ``vis`` and either a dense ``flow`` [2, H, W] or the generator's compact
    ``flow_foreground`` [2, N]: the flow at the N pixels where ``vis > 0`` in row-major order, zero elsewhere."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetFormatError(f"{path}: unreadable or corrupt npz file") from exc
    if "vis" not in arrays or ("flow" in arrays) == ("flow_foreground" in arrays):
        raise DatasetFormatError(
            f"{path}: expected arrays 'vis' and one of 'flow' or 'flow_foreground', found {sorted(arrays)}"
        )
    vis = arrays["vis"]
    if "flow_foreground" in arrays:
        values, foreground = arrays["flow_foreground"], vis > 0
        if vis.ndim != 2 or values.shape != (2, np.count_nonzero(foreground)):
            raise DatasetFormatError(
                f"{path}: flow_foreground must be [2, N] with N = {np.count_nonzero(foreground)} foreground pixels "
                f"(vis > 0) of vis {vis.shape}, got {values.shape}"
            )
        arrays["flow"] = np.zeros((2, *vis.shape), np.float32)
        arrays["flow"][:, foreground] = values
    flow = arrays["flow"]
    if flow.ndim != 3 or flow.shape[0] != 2 or vis.shape != flow.shape[1:]:
        raise DatasetFormatError(f"{path}: expected flow [2, H, W] and vis [H, W], got {flow.shape} and {vis.shape}")
    if not np.isfinite(flow).all():
        raise DatasetFormatError(f"{path}: flow has non-finite values")
    outside = np.ones(vis.shape, dtype=bool)  # one pass per label instead of sorting the map (np.unique)
    for label in range(VIS_LABELS):
        outside &= vis != label
    if outside.any():
        bad = np.unique(vis[outside])
        raise DatasetFormatError(f"{path}: vis values {bad.tolist()} outside 0 (background), 1 (visible), 2 (occluded)")
    return torch.from_numpy(flow.astype(np.float32, copy=False)), torch.from_numpy(vis).to(vis_dtype)


# --- resizing ------------------------------------------------------------------------------------


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """``[C, H, W]`` float -> ``[C, *size]``, antialiased bilinear with image edges aligned."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]


def resize_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """``[H, W]`` label or bool map -> ``size``, nearest neighbour with image edges aligned; dtype kept."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[None, None].float(), size=size, mode="nearest-exact")[0, 0].to(labels.dtype)


def compact_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """A stored ``[3, H, W]`` uint8 image at ``size``: itself when it already has that size, else float in [-1, 1]
    (``to_signed_unit``, ``resize_image``, clamped); ``batch_expansion.signed_image`` finishes the first."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return resize_image(to_signed_unit(image), size).clamp_(-1.0, 1.0)


# --- the reader ----------------------------------------------------------------------------------


class DatasetReader(ABC):
    """Base of the dataset readers: list scanning is per format; loading and sample building are shared.

    Args:
        root: dataset root folder.
        split: ``"train"`` or ``"test"``.
        image_size: ``(H, W)`` of every tensor of the samples.
        keypoint_maps: the keypoint map encoding (default: disks of radius 4, SPG-VTON).
        parse_label_set: ``"lip"``, ``"cihp"`` or ``"auto"`` (the format's usual parser, see each reader): with
            ``"cihp"``, label 10 (torso skin) becomes ``torso_skin_label``.
        torso_skin_label: the LIP-20 id CIHP's 10 maps to (default ``contract.sample.CIHP_TORSO_SKIN_DEFAULT``,
            background).
        mask_threshold: grey level from which a cloth-mask pixel is cloth (CP-VTON: 128; JPEG masks are not binary).
    """

    format_name: ClassVar[str]

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        image_size: tuple[int, int] = (256, 192),
        keypoint_maps: KeypointMapEncoder | None = None,
        parse_label_set: str = "auto",
        torso_skin_label: int = CIHP_TORSO_SKIN_DEFAULT,
        mask_threshold: int = 128,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"{type(self).__name__}: split must be one of {SPLITS}, got {split!r}")
        if len(image_size) != 2 or min(image_size) < 1:
            raise ValueError(f"{type(self).__name__}: image_size must be (H, W) > 0, got {image_size}")
        if parse_label_set not in ("auto", *LABEL_SETS):
            raise ValueError(f"{type(self).__name__}: parse_label_set must be 'auto', 'lip' or 'cihp'")
        self.root = Path(root)
        self.split = split
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.keypoint_maps = keypoint_maps or KeypointMapEncoder()
        self.parse_label_set_option = parse_label_set
        self.torso_skin_label = torso_skin_label
        self.mask_threshold = mask_threshold
        self._scan: Scan | None = None
        self._native_size: tuple[int, int] | None = None

    # -- per-format parts --

    @abstractmethod
    def splits_present(self) -> list[str]:
        """The splits whose list files exist under ``root``."""

    @abstractmethod
    def scan_lists(self) -> Scan:
        """Read this split's list files into records, checking that every named file exists."""

    def default_label_set(self) -> str:
        """The parser family of this layout's parsing maps (used when ``parse_label_set="auto"``)."""
        return "lip"

    def read_keypoints(self, person: PersonRecord, raw_size: tuple[int, int] | None) -> Tensor | None:
        """``[18, 3]`` keypoints in pixels of the person image as loaded; ``raw_size`` is the file's ``(H, W)``."""
        return read_openpose_json(person.pose_json)

    def read_cloth_mask(self, record: SampleRecord, cloth: Tensor | None) -> Tensor | None:
        """``[H, W]`` bool mask of the record's cloth; ``cloth`` is its image as read (None if unreadable)."""
        mask = read_mask(record.cloth_mask, self.mask_threshold)
        if cloth is not None:
            check_size(record.cloth_mask, tuple(mask.shape), tuple(cloth.shape[-2:]), "its cloth image")
        return mask

    def crop(self, tensor: Tensor) -> Tensor:
        """Crop applied to every stored ``[..., H, W]`` map before resizing (none by default)."""
        return tensor

    def list_names(self) -> list[str]:
        """The list files this format looks for under ``root`` (``vton-data check`` names them when there is none);
        raises ``DatasetFormatError`` when the layout itself is wrong."""
        raise NotImplementedError(f"{type(self).__name__} names no list files")

    def auxiliary_problems(self) -> list[str]:
        """Problems in files of the split that no sample reads (checked by ``vton-data check`` only)."""
        return []

    # -- shared --

    @property
    def parse_label_set(self) -> str:
        return self.default_label_set() if self.parse_label_set_option == "auto" else self.parse_label_set_option

    def require_root(self) -> None:
        """Raise ``DatasetFormatError`` unless ``root`` is a folder: ``<root>: does not exist`` (with the ``make
        data`` hint for the built-in synthetic roots, ``datamodules.roots``)."""
        require_root(self.root)

    def scan(self) -> Scan:
        """The split's records and problems (read once); raises when ``root`` is not a folder."""
        if self._scan is None:
            self.require_root()
            self._scan = self.scan_lists()
            self._scan.put_groups_first()
        return self._scan

    @property
    def records(self) -> list[SampleRecord]:
        """The split's records; raises the first problem of ``scan()``."""
        scan = self.scan()
        if scan.problems:
            raise DatasetFormatError(scan.problems[0])
        return scan.records

    @property
    def native_size(self) -> tuple[int, int] | None:
        """``(H, W)`` every person image of the dataset must have: that of the first listed source image."""
        if self._native_size is None and self.scan().records:
            first = self.scan().records[0].source.image
            try:
                self._native_size = read_image_size(first)
            except DatasetFormatError:  # reported where that image itself is loaded
                return None
        return self._native_size

    def read_person_image(self, path: Path) -> Tensor:
        """A person image ``[3, H, W]`` uint8 as stored, checked against ``native_size``."""
        image = read_image(path)
        native = self.native_size
        if native is not None:
            check_size(path, tuple(image.shape[-2:]), native, "the dataset's image size")
        return image

    def load_person(self, person: PersonRecord, log: ProblemLog) -> RawPerson | None:
        """Image, keypoints and parsing of one person (each file checked even when another one fails)."""
        raw = log.attempt(self.read_person_image, person.image)
        raw_size = tuple(raw.shape[-2:]) if raw is not None else None
        keypoints = log.attempt(self.read_keypoints, person, raw_size)
        parse = None
        if person.parse is not None:
            label_set = person.parse_label_set or self.parse_label_set
            parse = log.attempt(read_parsing, person.parse, label_set, self.torso_skin_label, torch.uint8)
            if parse is not None and raw_size is not None:
                log.attempt(check_size, person.parse, tuple(parse.shape), raw_size, "its person image")
        if raw is None or keypoints is None:
            return None
        return RawPerson(self.crop(raw), keypoints, None if parse is None else self.crop(parse))

    def load_cloth(self, record: SampleRecord, log: ProblemLog) -> tuple[Tensor, Tensor] | None:
        """The cloth image ``[3, H, W]`` uint8 and its mask ``[H, W]`` bool."""
        image = log.attempt(read_image, record.cloth)
        mask = log.attempt(self.read_cloth_mask, record, image)
        if image is None or mask is None:
            return None
        return self.crop(image), self.crop(mask)

    def load_ground_truth(self, record: SampleRecord, log: ProblemLog) -> tuple[Tensor, Tensor] | None:
        """Synthetic ``flow [2, H, W]`` and ``vis [H, W]`` uint8, checked against the target image size."""
        loaded = log.attempt(read_ground_truth, record.ground_truth, torch.uint8)
        target_size = log.attempt(read_image_size, record.target.image)
        if loaded is None:
            return None
        if target_size is not None:
            log.attempt(check_size, record.ground_truth, tuple(loaded[1].shape), target_size, "the target image")
        return self.crop(loaded[0]), self.crop(loaded[1])

    def parts(self, record: SampleRecord) -> dict[str, tuple[Hashable, Callable[[ProblemLog], Any]]]:
        """The record's independently loadable parts: name -> (identity for de-duplication, loader)."""
        parts: dict[str, tuple[Hashable, Callable[[ProblemLog], Any]]] = {
            "source": (record.source, lambda log: self.load_person(record.source, log)),
        }
        if record.target != record.source:
            parts["target"] = (record.target, lambda log: self.load_person(record.target, log))
        if record.cloth is not None:
            parts["cloth"] = (("cloth", record.cloth, record.cloth_mask), lambda log: self.load_cloth(record, log))
        if record.ground_truth is not None:
            parts["ground_truth"] = (
                ("ground_truth", record.ground_truth, record.target.image),
                lambda log: self.load_ground_truth(record, log),
            )
        return parts

    def inspect(self, record: SampleRecord, cache: dict[Hashable, list[str]]) -> list[str]:
        """Every problem of the record's files; ``cache`` keeps each part's verdict, so a file shared by many
        entries is read once."""
        problems: list[str] = []
        for key, loader in self.parts(record).values():
            if key not in cache:
                log = ProblemLog(strict=False)
                loader(log)
                cache[key] = log.problems
            problems.extend(cache[key])
        return problems

    def load(self, record: SampleRecord) -> dict:
        """The contract sample of one record (see ``contract.sample``); raises ``DatasetFormatError``."""
        return expand_batch(self.load_compact(record), self.keypoint_maps)

    def load_compact(self, record: SampleRecord) -> dict:
        """The compact sample of one record (``datamodules.batch_expansion``); raises ``DatasetFormatError``."""
        log = ProblemLog(strict=True)
        loaded = {name: loader(log) for name, (_, loader) in self.parts(record).items()}
        source = loaded["source"]
        return self.compact_sample(
            record, source, loaded.get("target", source), loaded.get("cloth"), loaded.get("ground_truth")
        )

    def compact_sample(
        self,
        record: SampleRecord,
        source: RawPerson,
        target: RawPerson,
        cloth: tuple[Tensor, Tensor] | None,
        ground_truth: tuple[Tensor, Tensor] | None,
    ) -> dict:
        """Resize everything to ``image_size`` and assemble the compact dict (``batch_expansion``'s table)."""
        sample: dict[str, Any] = {}
        for side, person in (("src", source), ("tgt", target)):
            sample.update({f"{side}_{key}": value for key, value in self.compact_person(person).items()})
        sample["cloth"], sample["cloth_mask"] = self.compact_cloth(cloth)
        if ground_truth is not None:
            sample["flow_gt"] = resize_flow(ground_truth[0][None], self.image_size)[0]
            sample["vis_gt"] = resize_labels(ground_truth[1], self.image_size)
        if record.ground_truth is not None and attributes_path(record.ground_truth).is_file():
            target_garment = read_attributes(attributes_path(record.ground_truth))["target"]
            sample["tgt_attributes"] = torch.tensor(target_garment.multi_hot())  # AttrRec-k's labels
        sample["meta"] = self.meta(record, source)
        return sample

    def compact_person(self, person: RawPerson) -> dict[str, Tensor]:
        """One person at ``image_size``, compact: ``img [3,H,W]`` (``compact_image``), ``kpts [18,3]`` (checked:
        ``KeypointMapEncoder.check``), ``parse [H,W]`` uint8 (zeros without a parsing file)."""
        size = self.image_size
        keypoints = rescale_keypoints(person.keypoints, tuple(person.image.shape[-2:]), size)
        self.keypoint_maps.check(keypoints)
        parse = torch.zeros(size, dtype=torch.uint8) if person.parse is None else person.parse
        return {"img": compact_image(person.image, size), "kpts": keypoints, "parse": resize_labels(parse, size)}

    def resize_person(self, person: RawPerson) -> dict[str, Any]:
        """One person at ``image_size``: ``img [3,H,W]`` in [-1, 1], ``kpts [18,3]``, ``pose [18,H,W]``, ``parse [H,W]``
        (zeros without a parsing file) and ``masks`` (``derived_masks``)."""
        return expand_person(self.compact_person(person), self.keypoint_maps)

    def compact_cloth(self, cloth: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """The in-shop garment at ``image_size`` (``compact_image``; float zeros if None) and its mask ``[1,H,W]``
        bool."""
        size = self.image_size
        if cloth is None:
            return torch.zeros(3, *size), torch.zeros(1, *size, dtype=torch.bool)
        return compact_image(cloth[0], size), resize_labels(cloth[1], size)[None]

    def resize_cloth(self, cloth: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """The in-shop garment and its mask at ``image_size`` (``[3,H,W]`` in [-1, 1], ``[1,H,W]``); zeros if None."""
        return expand_cloth(*self.compact_cloth(cloth))

    def meta(self, record: SampleRecord, source: RawPerson) -> dict[str, str]:
        """String metadata (the same keys for every format, so batches collate)."""
        return {
            "dataset": self.format_name,
            "split": record.split,
            "entry": record.entry,
            "source": record.source.name,
            "target": record.target.name,
            "cloth": record.cloth.name if record.cloth is not None else "",
            "source_path": str(record.source.image),
            "target_path": str(record.target.image),
            "cloth_path": str(record.cloth) if record.cloth is not None else "",
            "has_parse": "0" if source.parse is None else "1",
            "has_cloth": "0" if record.cloth is None else "1",
            "same_pose": "1" if record.source == record.target else "0",
        }


def ground_truth_path(root: Path, source_image: Path, target_image: Path) -> Path | None:
    """``<root>/synthetic_gt/<source stem>__<target stem>.npz`` when the dataset has a ``synthetic_gt`` folder."""
    directory = root / SYNTHETIC_GT_DIR
    if not directory.is_dir():
        return None
    return directory / f"{source_image.stem}__{target_image.stem}.npz"


@dataclass(frozen=True)
class ParseFile:
    """A listed parsing file, ``<base><suffix>`` (one path or alternatives), ``suffix`` being the reader option
    ``parse_suffix``: a missing one whose ``<base>`` exists with another of ``PARSE_SUFFIXES`` is counted under
    ``group_renamed_parsing``."""

    path: Path | tuple[Path, ...]
    suffix: str


def other_parse_suffix(path: Path, suffix: str, files: FileIndex) -> str | None:
    """For a parsing ``path`` named ``<base><suffix>``: the first other suffix of ``PARSE_SUFFIXES`` with which
    ``<base>`` exists in the same folder, or None."""
    if not path.name.endswith(suffix):
        return None
    base = path.name[: len(path.name) - len(suffix)]
    others = (other for other in PARSE_SUFFIXES if other != suffix)
    return next((other for other in others if files.exists(path.with_name(base + other))), None)


def group_renamed_parsing(scan: Scan, folder: Path, found: str, expected: str, what: str, entry: str) -> None:
    """Count ``entry`` under "the parsing files of ``folder`` end in ``found``, not ``expected``", with the fix."""
    scan.group(
        f"{folder}: parsing files end in {found!r} where the reader expects {expected!r}",
        what,
        entry,
        hint=f"; the reader option parse_suffix sets the suffix: parse_suffix={found} (reader_options in the data "
        "config, --reader-option for vton-data check)",
    )


def check_listed_files(
    entry: str,
    named: dict[str, Path | tuple[Path, ...] | ParseFile],
    files: FileIndex,
    scan: Scan | None = None,
) -> list[str]:
    """Problems for the files of one list entry that do not exist: ``<entry>: <what> not found: <path>``.

    A tuple names alternatives (any one may exist), e.g. a cloth mask stored as PNG or JPEG. With ``scan``, a file
    whose folder does not exist (for every alternative) is counted under ``<folder>: folder not found`` instead,
    the folder being the outermost missing one, and a ``ParseFile`` found with another suffix under
    ``group_renamed_parsing``: one line for all the entries (``Scan.group``).
    """
    problems = []
    for what, listed in named.items():
        suffix = listed.suffix if isinstance(listed, ParseFile) else None
        paths = listed.path if isinstance(listed, ParseFile) else listed
        alternatives = paths if isinstance(paths, tuple) else (paths,)
        if any(files.exists(path) for path in alternatives):
            continue
        if scan is not None and group_missing_file(entry, what, alternatives, suffix, files, scan):
            continue
        problems.append(f"{entry}: {what} not found: {' or '.join(str(path) for path in alternatives)}")
    return problems


def group_missing_file(
    entry: str, what: str, alternatives: tuple[Path, ...], suffix: str | None, files: FileIndex, scan: Scan
) -> bool:
    """Count a missing file under its folder's group (``check_listed_files``) when it has one; whether it had."""
    folders = list(dict.fromkeys(files.missing_folder(path.parent) for path in alternatives))
    if all(folders):
        scan.group(missing_folders_cause(folders), what, entry)
        return True
    for path in alternatives if suffix is not None else ():
        found = other_parse_suffix(path, suffix, files)
        if found is not None:
            group_renamed_parsing(scan, path.parent, found, suffix, what, entry)
            return True
    return False


def missing_folders_cause(folders: list[Path]) -> str:
    """``<folder>: folder not found``; alternatives in one parent: ``<parent>: no folder pose/ or openpose-json/``."""
    parents = {folder.parent for folder in folders}
    if len(folders) > 1 and len(parents) == 1:
        return f"{parents.pop()}: no folder {' or '.join(f'{folder.name}/' for folder in folders)}"
    return f"{' or '.join(str(folder) for folder in folders)}: folder not found"


def first_existing(paths: tuple[Path, ...], files: FileIndex) -> Path:
    """The first of several alternative paths that exists (the first one when none does)."""
    return next((path for path in paths if files.exists(path)), paths[0])


def read_list_lines(path: Path) -> list[str]:
    """The lines of a list or CSV file (line ``n`` of the file is element ``n - 1``)."""
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(f"{path}: unreadable or not a UTF-8 text file") from exc
    return [line.rstrip("\r") for line in text.split("\n")]


def keypoint_rows(kpts: Tensor) -> tuple[tuple[float, float, float], ...]:
    """``[18, 3]`` -> hashable nested tuple for ``PersonRecord.keypoints``."""
    return tuple(tuple(float(v) for v in row) for row in kpts.tolist())


def list_rows(path: Path, lines: list[str], columns: tuple[str, ...], scan: Scan) -> Iterator[tuple[str, list[str]]]:
    """``(entry, fields)`` for each non-blank line of a TAB/space separated list (``entry`` = ``"<path>:<line>"``).

    A line with another number of fields than ``columns`` is recorded in ``scan`` as a dropped entry and skipped.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        entry, fields = f"{path}:{number}", line.split()
        if len(fields) != len(columns):
            scan.problems.append(f"{entry}: expected {len(columns)} columns ({' '.join(columns)}), got {len(fields)}")
            scan.dropped += 1
            continue
        yield entry, fields
