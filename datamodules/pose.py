"""Keypoints: OpenPose JSON -> COCO-18 ``[18, 3]``, rescaling between pixel frames, and keypoint maps ``[18, H, W]``.

Keypoints are ``[18, 3]`` float32 rows ``(x, y, visibility)`` in pixels of an image, COCO-18 order
(``contract.sample.COCO18_JOINTS``), pixel centres at integer coordinates. A missing joint has visibility 0 and is
stored as ``(0, 0, 0)``; joints detected slightly outside the image (real OpenPose output does this) stay visible.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from contract.errors import DatasetFormatError
from contract.sample import BODY25_TO_COCO18, NUM_JOINTS

OPENPOSE_KEYS = ("pose_keypoints_2d", "pose_keypoints")  # OpenPose >= 1.2, OpenPose 1.0
COCO18_VALUES = 3 * NUM_JOINTS  # 54
BODY25_VALUES = 3 * 25  # 75


def coco18_from_openpose(values: Sequence[float], source: str) -> Tensor:
    """Flat OpenPose ``(x, y, confidence)`` triples -> ``[18, 3]`` (x, y, visibility).

    54 values are COCO-18, 75 values BODY_25 (mapped by ``contract.sample.BODY25_TO_COCO18``). A joint is missing when
    its confidence is 0 or ``x <= 1`` or ``y <= 1`` (the CP-VTON rule, FORMATS.md 0.3). ``source`` names the file in
    errors.
    """
    if len(values) not in (COCO18_VALUES, BODY25_VALUES):
        raise DatasetFormatError(
            f"{source}: expected {COCO18_VALUES} (COCO-18) or {BODY25_VALUES} (BODY_25) pose values, got {len(values)}"
        )
    try:
        triples = torch.tensor([float(v) for v in values], dtype=torch.float32).view(-1, 3)
    except (TypeError, ValueError) as exc:
        raise DatasetFormatError(f"{source}: pose values must be numbers") from exc
    if not torch.isfinite(triples).all():
        raise DatasetFormatError(f"{source}: pose values must be finite numbers")
    if len(values) == BODY25_VALUES:
        triples = triples[list(BODY25_TO_COCO18)]
    visible = (triples[:, 2] > 0) & (triples[:, 0] > 1) & (triples[:, 1] > 1)
    return _with_visibility(triples[:, :2], visible)


def read_openpose_json(path: Path) -> Tensor:
    """Read ``people[0]`` of an OpenPose JSON file -> ``[18, 3]``; an empty ``people`` list means all joints missing.

    Accepts ``pose_keypoints_2d`` (OpenPose >= 1.2: DTLD's MPV, VITON-HD) and ``pose_keypoints`` (OpenPose 1.0: VITON,
    MPV competition copy). Several people: the first is taken, as CP-VTON and its forks do.
    """
    if not path.is_file():
        raise DatasetFormatError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path}: not a UTF-8 text file") from exc
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise DatasetFormatError(f"{path}: no 'people' list")
    if not people:
        return torch.zeros(NUM_JOINTS, 3)
    person = people[0]
    key = next((k for k in OPENPOSE_KEYS if isinstance(person, dict) and k in person), None)
    if key is None:
        raise DatasetFormatError(f"{path}: people[0] has neither 'pose_keypoints_2d' nor 'pose_keypoints'")
    if not isinstance(person[key], list):
        raise DatasetFormatError(f"{path}: people[0].{key} is not a list")
    return coco18_from_openpose(person[key], str(path))


def keypoints_from_yx(ys: Sequence[float], xs: Sequence[float]) -> Tensor:
    """DeepFashion annotation lists (y first; ``-1`` = missing) -> ``[18, 3]``. Lengths are checked by the caller."""
    points = torch.tensor([[float(x), float(y)] for y, x in zip(ys, xs, strict=True)], dtype=torch.float32)
    return _with_visibility(points, (points >= 0).all(dim=1))


def _with_visibility(xy: Tensor, visible: Tensor) -> Tensor:
    """``[J, 2]`` coordinates + ``[J]`` bool -> ``[J, 3]``; missing joints become ``(0, 0, 0)``."""
    out = torch.cat((xy, visible[:, None].float()), dim=1)
    out[~visible] = 0.0
    return out


def shift_keypoints(kpts: Tensor, dx: float = 0.0, dy: float = 0.0, sx: float = 1.0, sy: float = 1.0) -> Tensor:
    """``[18, 3]`` -> visible joints mapped by ``x' = sx * x + dx``, ``y' = sy * y + dy``; missing joints untouched."""
    moved = kpts[:, :2] * torch.tensor([sx, sy], dtype=kpts.dtype) + torch.tensor([dx, dy], dtype=kpts.dtype)
    return torch.cat((torch.where(kpts[:, 2:] > 0, moved, kpts[:, :2]), kpts[:, 2:]), dim=1)


def rescale_keypoints(kpts: Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> Tensor:
    """Move ``[18, 3]`` keypoints from an ``(H, W)`` image to the same picture resized to ``to_size = (H', W')``.

    Matches an image resize that maps the image edges onto each other (``align_corners=False``, the area-correct
    resize the readers use): ``x' = (x + 0.5) * W' / W - 0.5``, likewise for y.
    """
    (h, w), (h2, w2) = from_size, to_size
    sx, sy = w2 / w, h2 / h
    return shift_keypoints(kpts, dx=0.5 * sx - 0.5, dy=0.5 * sy - 0.5, sx=sx, sy=sy)


EXP_UNDERFLOW = 110.0  # exp(-x) is exactly 0 in float32 for x > 103.98; 110 leaves a margin for any exp kernel


@dataclass(frozen=True)
class KeypointMapEncoder:
    """Keypoints ``[..., J, 3]`` -> one map per joint ``[..., J, H, W]`` in [0, 1]; a missing joint gives a zero map.

    ``kind="disk"``: 1 inside a disk of ``radius`` pixels around the joint, 0 outside. SPG-VTON (seed 003, section
    III-A "Human pose embedding") uses radius 4 at 256x192, the default; Intrinsic Flow (seed 004, section 3) uses
    radius 8 on DeepFashion. ``kind="gaussian"``: ``exp(-d^2 / (2 sigma^2))``, the "small Gaussian envelopes" of seed
    002 (section 3; its sigma is not given: 6 px, as in GFLA/PATN's DeepFashion maps, FORMATS.md 1.6). Radius and sigma
    are in pixels of the map being drawn (the configured image size).

    Each joint is drawn only inside a square box around it, of half-width ``radius`` (disks) or
    ``sigma * sqrt(2 * EXP_UNDERFLOW)`` (Gaussians: beyond it ``exp`` underflows to exactly 0 in float32) plus a
    pixel of margin, shifted to lie inside the map. Inside the box the float32 formula is evaluated exactly as on the
    full map, so the maps equal the dense ``[J, H, W]`` evaluation bit for bit (nothing is truncated). A visible joint
    at an infinite coordinate gives a zero map; a visible NaN coordinate raises ``ValueError`` (``check``).

    Leading dimensions (a batch) are drawn joint by joint with the same arithmetic, on the keypoints' device, so a
    batch of maps equals the maps of its samples stacked (``datamodules.batch_expansion`` draws them on the GPU).
    """

    kind: str = "disk"
    radius: float = 4.0
    sigma: float = 6.0

    def __post_init__(self) -> None:
        if self.kind not in ("disk", "gaussian"):
            raise ValueError(f"KeypointMapEncoder: kind must be 'disk' or 'gaussian', got {self.kind!r}")
        if not (self.radius > 0 and self.sigma > 0 and math.isfinite(self.radius) and math.isfinite(self.sigma)):
            raise ValueError(f"KeypointMapEncoder: radius and sigma must be > 0, got {self.radius} and {self.sigma}")

    def __call__(self, kpts: Tensor, size: tuple[int, int]) -> Tensor:
        """``kpts [..., J, 3]`` in pixels of an ``(H, W)`` image -> ``[..., J, H, W]`` float32 (``check``, then
        ``draw``)."""
        self.check(kpts)
        return self.draw(kpts, size)

    @staticmethod
    def check(kpts: Tensor) -> None:
        """Raise ``ValueError`` if a visible joint of ``kpts [..., J, 3]`` has a NaN coordinate (a host sync on a GPU:
        the data module checks in its workers, on the CPU)."""
        visible = kpts[..., 2] > 0
        if kpts[..., :2][visible].isnan().any():
            raise ValueError(f"KeypointMapEncoder: visible keypoints must not be NaN, got {kpts[visible].tolist()}")

    def draw(self, kpts: Tensor, size: tuple[int, int]) -> Tensor:
        """The maps ``[..., J, H, W]`` float32 of ``kpts [..., J, 3]`` on their device, without ``check`` and without
        a host sync: every joint's box is evaluated, a missing (or non-finite) joint's about a stand-in centre
        ``2 * reach + 2`` pixels outside the map, where disks are 0 and Gaussians underflow to exactly 0."""
        height, width = size
        device = kpts.device
        joints = kpts.reshape(-1, 3)
        count = len(joints)
        maps = torch.zeros(count, height, width, device=device)
        if not count:
            return maps.view(*kpts.shape[:-1], height, width)
        disk = self.kind == "disk"
        reach = self.radius if disk else self.sigma * math.sqrt(2.0 * EXP_UNDERFLOW)
        centres = joints[:, :2].float()
        drawn = (joints[:, 2] > 0) & centres.isfinite().all(dim=1)  # [n]
        centres = centres.masked_fill(~drawn[:, None], -2.0 * reach - 2.0)  # draws exact zeros (docstring)
        box = math.ceil(2.0 * reach) + 4  # covers floor(c - reach) - 1 .. ceil(c + reach) + 1
        box_w, box_h = min(width, box), min(height, box)  # box size per axis, at most the map
        # box origin per joint and axis, shifted inside the map; float32 integers, exact below 2^24
        origin = (centres - reach).floor() - 1
        origin_x = origin[:, :1].clamp(max=float(width - box_w)).clamp(min=0)
        origin_y = origin[:, 1:].clamp(max=float(height - box_h)).clamp(min=0)
        px = origin_x + torch.arange(box_w, dtype=torch.float32, device=device)  # [n, bw] pixel x
        py = origin_y + torch.arange(box_h, dtype=torch.float32, device=device)  # [n, bh] pixel y
        dist2 = ((px - centres[:, :1]) ** 2)[:, None, :] + ((py - centres[:, 1:]) ** 2)[:, :, None]  # [n, bh, bw]
        values = (dist2 <= self.radius**2).float() if disk else torch.exp(-dist2 / (2.0 * self.sigma**2))
        index = torch.arange(count, device=device)[:, None, None] * height + py.long()[:, :, None]
        flat = index * width + px.long()[:, None, :]
        maps.view(-1)[flat.view(-1)] = values.view(-1)
        return maps.view(*kpts.shape[:-1], height, width)
