"""Paired geometric augmentation of one contract sample (``DESIGN.md``, data contract).

One affine transform ``T`` (rotation and scale about the image centre, translation, then an optional horizontal
flip) is drawn per sample from the caller's ``torch.Generator`` and applied alike to the source and the target person:
both come from one camera in the real datasets, so a shared transform keeps their relation (and the synthetic flow
ground truth) exact. The in-shop garment (``cloth``, ``cloth_mask``) is not moved.

Pixel convention: pixel centres at integer coordinates (``align_corners=True``, as ``contract.flow``), so the flip is
``x -> W - 1 - x``; kornia's ``warp_affine`` does the resampling.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from kornia.geometry.transform import warp_affine
from torch import Tensor

from contract.sample import (
    COCO18_FLIP_PAIRS,
    GROUND_TRUTH_KEYS,
    LIP_FLIP_PAIRS,
    MASK_GROUPS,
    NUM_JOINTS,
    NUM_PARSE_LABELS,
    SAMPLE_KEYS,
)


def _swap_permutation(pairs: tuple[tuple[int, int], ...], size: int) -> Tensor:
    """Index permutation ``[size]`` that swaps each pair (an involution)."""
    perm = list(range(size))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return torch.tensor(perm)


JOINT_FLIP_PERMUTATION = _swap_permutation(COCO18_FLIP_PAIRS, NUM_JOINTS)
LABEL_FLIP_PERMUTATION = _swap_permutation(LIP_FLIP_PAIRS, NUM_PARSE_LABELS)
_IDENTITY = torch.eye(2, 3, dtype=torch.float64)
UNMOVED_KEYS = ("tgt_attributes",)  # besides the contract's cloth, cloth_mask and meta


@functools.cache
def _permutations_on(device: torch.device) -> tuple[Tensor, Tensor]:
    """``(JOINT_FLIP_PERMUTATION, LABEL_FLIP_PERMUTATION)`` on ``device``, copied once (no host sync per batch)."""
    return JOINT_FLIP_PERMUTATION.to(device), LABEL_FLIP_PERMUTATION.to(device)


def _check_shape(key: str, tensor: object, expected: tuple[int, ...]) -> None:
    if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
        got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
        raise ValueError(f"PairedAugmentation: sample[{key!r}] has shape {got}, expected {expected}")


def _reorder(tensor: Tensor, order: Tensor) -> Tensor:
    """``tensor [B, J, ...]`` with each sample's rows taken in the order ``order [B, J]`` (one row copy, no gather)."""
    batch, rows = order.shape
    index = (order + rows * torch.arange(batch, device=order.device)[:, None]).flatten()
    return tensor.flatten(0, 1).index_select(0, index).view_as(tensor)


def _per_sample(flags: Tensor, tensor: Tensor) -> Tensor:
    """``flags [B]`` shaped to broadcast over ``tensor [B, ...]``."""
    return flags.view(-1, *(1,) * (tensor.dim() - 1))


def _warp_channels(
    tensors: dict[str, Tensor], fills: dict[str, float], matrices: Tensor, mode: str
) -> dict[str, Tensor]:
    """Warp several ``[B, C, H, W]`` tensors by the forward pixel ``matrices [B, 2, 3]`` in one kornia call.

    Pixels that come from outside the frame take ``fills[name]``; each tensor keeps its dtype (integer maps are
    rounded back, so use ``mode="nearest"`` for them).
    """
    names = list(tensors)
    first = tensors[names[0]]
    height, width = first.shape[-2:]
    stacked = torch.cat([tensors[name].float() for name in names], dim=1)
    fill = torch.cat([torch.full((tensors[name].shape[1],), fills[name], device=first.device) for name in names])
    warped = warp_affine(
        stacked,
        matrices.to(first.device, torch.float32),
        (height, width),
        mode=mode,
        padding_mode="fill",
        align_corners=True,
        fill_value=fill,
    )
    chunks = warped.split([tensors[name].shape[1] for name in names], dim=1)
    out = {}
    for name, chunk in zip(names, chunks, strict=True):
        dtype = tensors[name].dtype
        out[name] = chunk.to(dtype) if dtype.is_floating_point else chunk.round().to(dtype)
    return out


def flip_meta(meta: dict[str, str], flip: bool) -> dict[str, str]:
    """A copy of a sample's ``meta`` with ``meta["hflip"]``, ``"1"`` or ``"0"``."""
    return {**meta, "hflip": "1" if flip else "0"}


class PairedAugmentation:
    """Random affine + horizontal flip applied to the source and target person of one sample alike.

    What moves how (``T`` is the drawn forward pixel transform, ``q`` an output pixel):

    - ``src_img``, ``tgt_img``, ``src_agnostic``: bilinear, pixels from outside the frame filled with
      ``image_fill``; ``src_pose``, ``tgt_pose``: bilinear (the maps are warped, not redrawn), filled with 0.
    - ``src_parse``, ``tgt_parse``, ``src_masks``, ``tgt_masks``: nearest; new pixels are background (label 0, and
      each mask is filled with 1 exactly when its ``MASK_GROUPS`` entry contains label 0).
    - ``src_kpts``, ``tgt_kpts``: visible joints are transformed exactly; one that the transform moves out of
      ``[0, W-1] x [0, H-1]`` gets visibility 0 and a zero keypoint map (the contract's missing joint). Visible
      joints already outside (OpenPose reports some just past the border and the readers keep them) stay visible,
      so a flip stays its own inverse; missing joints stay missing with their coordinates untouched.
    - A flip swaps the joint rows and keypoint-map channels of ``COCO18_FLIP_PAIRS`` and the labels of
      ``LIP_FLIP_PAIRS`` (a mirrored right arm is a left arm).
    - ``flow_gt`` / ``vis_gt`` (target -> source offsets): with ``r = T^-1 q``,
      ``flow'(q) = T(r + flow(r)) - q = A flow(r)`` (``A`` = linear part of ``T``), flow resampled bilinear, vis
      nearest; vis is 0 (background) wherever ``r`` lies outside the frame. A pixel marked visible whose source
      point ``q + flow'(q)`` the transform pushed out of the frame is no longer visible in the source: vis 2.
    - ``cloth``, ``cloth_mask`` and ``tgt_attributes`` (the target garment's kind and pattern, which a flip or an
      affine does not change) are returned unchanged; ``meta`` is copied and gets ``meta["hflip"]`` = ``"1"`` or
      ``"0"`` (the contract's meta holds strings).

    Randomness comes only from the ``generator`` handed to ``__call__`` (exactly five uniforms are drawn per sample),
    so a dataset that derives the generator from ``(seed, epoch, index)`` is deterministic whatever the number of
    workers. The papers name no augmentation; the defaults (a flip with probability 0.5, no rotation, shift or zoom)
    are this project's choice.

    ``__call__`` = ``draw_transform`` + ``apply`` on a batch of one; ``FashionDataModule(batch_transforms="device")``
    draws in its workers and calls ``apply`` on the whole batch on the GPU (``datamodules.batch_expansion``). The
    arithmetic is elementwise per sample, so on the CPU both give the same tensors bit for bit.

    Args:
        hflip_prob: probability of a horizontal flip.
        degrees: rotation angle drawn uniformly from ``[-degrees, degrees]`` (about the image centre).
        translate: shift drawn uniformly from ``[-translate, translate]`` times the width (x) and the height (y).
        scale: zoom factor drawn uniformly from ``[scale[0], scale[1]]`` (about the image centre).
        image_fill: value, in the contract's [-1, 1], of image pixels that come from outside the frame
            (default 1.0 = white, the studio background of MPV and DeepFashion).
    """

    def __init__(
        self,
        hflip_prob: float = 0.5,
        degrees: float = 0.0,
        translate: float = 0.0,
        scale: tuple[float, float] = (1.0, 1.0),
        image_fill: float = 1.0,
    ) -> None:
        if not 0.0 <= hflip_prob <= 1.0:
            raise ValueError(f"PairedAugmentation: hflip_prob must be in [0, 1], got {hflip_prob}")
        if degrees < 0.0:
            raise ValueError(f"PairedAugmentation: degrees must be >= 0, got {degrees}")
        if not 0.0 <= translate <= 1.0:
            raise ValueError(f"PairedAugmentation: translate must be in [0, 1], got {translate}")
        if len(scale) != 2 or not 0.0 < scale[0] <= scale[1]:
            raise ValueError(f"PairedAugmentation: scale must be (low, high) with 0 < low <= high, got {scale}")
        self.hflip_prob = hflip_prob
        self.degrees = degrees
        self.translate = translate
        self.scale = (float(scale[0]), float(scale[1]))
        self.image_fill = image_fill

    def draw_transform(self, height: int, width: int, generator: torch.Generator) -> tuple[Tensor, bool]:
        """Draw the forward pixel transform ``[2, 3]`` (float64; ``p' = M[:, :2] p + M[:, 2]``) and the flip flag."""
        u = torch.rand(5, generator=generator, dtype=torch.float64).tolist()
        flip = u[0] < self.hflip_prob
        angle = math.radians((2.0 * u[1] - 1.0) * self.degrees)
        shift = torch.tensor(
            [(2.0 * u[2] - 1.0) * self.translate * width, (2.0 * u[3] - 1.0) * self.translate * height],
            dtype=torch.float64,
        )
        zoom = self.scale[0] + u[4] * (self.scale[1] - self.scale[0])
        centre = torch.tensor([(width - 1) / 2.0, (height - 1) / 2.0], dtype=torch.float64)
        cos, sin = math.cos(angle), math.sin(angle)
        linear = zoom * torch.tensor([[cos, sin], [-sin, cos]], dtype=torch.float64)
        offset = centre + shift - linear @ centre
        if flip:  # x -> W - 1 - x after the affine
            linear = torch.diag(torch.tensor([-1.0, 1.0], dtype=torch.float64)) @ linear
            offset = torch.stack((width - 1 - offset[0], offset[1]))
        return torch.cat((linear, offset[:, None]), dim=1), flip

    def __call__(self, sample: dict, generator: torch.Generator) -> dict:
        """Augment one contract sample (no batch dim); returns a new dict, the input is not modified."""
        height, width = _check_sample(sample)
        matrix, flip = self.draw_transform(height, width, generator)
        out = {**sample, "meta": flip_meta(sample["meta"], flip)}
        if torch.equal(matrix, _IDENTITY):
            return out
        one = {key: value for key, value in sample.items() if key in MOVED_KEYS}
        moved = self.apply(_map_tensors(one, lambda t, _: t[None]), matrix[None], torch.tensor([flip]), False)
        return out | _map_tensors(moved, lambda t, _: t[0])

    def apply(self, batch: dict, matrices: Tensor, flips: Tensor, keep_identity: bool = True) -> dict:
        """Move a batch of contract samples ``[B, ...]`` by drawn transforms (``draw_transform``): ``matrices
        [B, 2, 3]`` float64, ``flips [B]`` bool. Returns the moved keys only (``MOVED_KEYS`` the batch has). With
        ``keep_identity`` a sample whose matrix is the identity keeps its values (``torch.where``, a copy of every
        moved tensor; ``__call__`` returns before for the identity and skips it). The batch is not checked
        (``__call__`` checks a sample) and nothing waits for the device, so a GPU batch is moved as fast as its
        kernels run."""
        height, width = batch["src_img"].shape[-2:]
        device = batch["src_img"].device
        matrices = matrices.to(device, torch.float64)
        flips = flips.to(device)
        moving = (matrices != torch.eye(2, 3, dtype=torch.float64, device=device)).flatten(1).any(dim=1)  # [B]
        joint_flip, label_flip = _permutations_on(device)
        # Per sample: its flip permutation or the identity, [B, J] and [B, 20].
        joint_order = torch.where(flips[:, None], joint_flip, torch.arange(NUM_JOINTS, device=device))
        label_order = torch.where(flips[:, None], label_flip, torch.arange(NUM_PARSE_LABELS, device=device))

        smooth = {key: batch[key] for key in ("src_img", "tgt_img", "src_agnostic", "src_pose", "tgt_pose")}
        smooth_fill = {key: self.image_fill if key.endswith(("img", "agnostic")) else 0.0 for key in smooth}
        labels: dict[str, Tensor] = {key: batch[key][:, None] for key in ("src_parse", "tgt_parse")}
        label_fill = dict.fromkeys(labels, 0.0)
        for side in ("src", "tgt"):
            for name, mask in batch[f"{side}_masks"].items():
                labels[f"{side}_masks/{name}"] = mask
                label_fill[f"{side}_masks/{name}"] = 1.0 if 0 in MASK_GROUPS[name] else 0.0
        if "flow_gt" in batch:
            smooth["flow_gt"], smooth_fill["flow_gt"] = batch["flow_gt"], 0.0
            labels["vis_gt"], label_fill["vis_gt"] = batch["vis_gt"][:, None], 0.0
        smooth = _warp_channels(smooth, smooth_fill, matrices, "bilinear")
        labels = _warp_channels(labels, label_fill, matrices, "nearest")

        out: dict = {key: smooth[key] for key in ("src_img", "tgt_img", "src_agnostic")}
        for side in ("src", "tgt"):
            kpts, left_frame = _transform_keypoints(batch[f"{side}_kpts"], matrices, height, width)
            pose = smooth[f"{side}_pose"].masked_fill(left_frame[:, :, None, None], 0.0)
            parse = labels[f"{side}_parse"][:, 0]
            out[f"{side}_kpts"], out[f"{side}_pose"] = _reorder(kpts, joint_order), _reorder(pose, joint_order)
            out[f"{side}_parse"] = label_order.gather(1, parse.flatten(1)).view_as(parse)
            out[f"{side}_masks"] = {name: labels[f"{side}_masks/{name}"] for name in batch[f"{side}_masks"]}
        if "flow_gt" in batch:
            out["flow_gt"], out["vis_gt"] = _transform_flow(smooth["flow_gt"], labels["vis_gt"][:, 0], matrices)
        if not keep_identity:
            return out
        return _map_tensors(out, lambda t, key: torch.where(_per_sample(moving, t), t, _lookup(batch, key)))


MOVED_KEYS = (
    *(f"{side}_{key}" for side in ("src", "tgt") for key in ("img", "kpts", "pose", "parse", "masks")),
    "src_agnostic",
    *GROUND_TRUTH_KEYS,
)


def _map_tensors(tensors: dict, fn: Callable[[Tensor, str], Tensor]) -> dict:
    """``fn(tensor, key)`` on every tensor of a sample dict and of its nested mask dicts (key ``"src_masks/cloth"``)."""
    return {
        key: {name: fn(v, f"{key}/{name}") for name, v in value.items()} if isinstance(value, dict) else fn(value, key)
        for key, value in tensors.items()
    }


def _lookup(sample: dict, path: str) -> Tensor:
    """``sample["src_masks"]["cloth"]`` for ``"src_masks/cloth"``, ``sample[key]`` for a plain key."""
    key, _, name = path.partition("/")
    return sample[key][name] if name else sample[key]


def _transform_keypoints(kpts: Tensor, matrices: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Move the visible joints of ``kpts [B, J, 3]`` by ``matrices [B, 2, 3]`` (float64); returns the new keypoints
    and a ``[B, J]`` mask of the joints the transform moved out of the frame (now visibility 0)."""
    visible = kpts[..., 2] > 0
    m = matrices[:, None]  # [B, 1, 2, 3]
    x, y = kpts[..., 0].double(), kpts[..., 1].double()
    moved_x = m[..., 0, 0] * x + m[..., 0, 1] * y + m[..., 0, 2]
    moved_y = m[..., 1, 0] * x + m[..., 1, 1] * y + m[..., 1, 2]
    moved = torch.stack((moved_x, moved_y), dim=-1).to(kpts.dtype)
    outside_before = _outside(kpts[..., 0], kpts[..., 1], height, width)
    left_frame = visible & ~outside_before & _outside(moved_x, moved_y, height, width)
    xy = torch.where(visible[..., None], moved, kpts[..., :2])
    return torch.cat((xy, kpts[..., 2:].masked_fill(left_frame[..., None], 0.0)), dim=-1), left_frame


def _transform_flow(flow: Tensor, vis: Tensor, matrices: Tensor) -> tuple[Tensor, Tensor]:
    """Finish the flow ground truth after resampling ``flow [B, 2, H, W]`` and ``vis [B, H, W]`` at ``r = T^-1 q``.

    Returns ``A flow(r)``; vis becomes 0 where ``r`` lies outside the frame (nearest resampling would still read the
    border pixel there, while the images are partly fill) and 1 -> 2 where ``q + flow'(q)`` left the frame. ``A`` and
    its inverse are applied elementwise (closed-form 2x2 inverse), the same arithmetic for every batch size.
    """
    height, width = flow.shape[-2:]
    linear = matrices[:, :, :2].to(flow.device, torch.float32)[..., None, None]  # [B, 2, 2, 1, 1]
    offset = matrices[:, :, 2].to(flow.device, torch.float32)[..., None, None]  # [B, 2, 1, 1]
    a, b, c, d = linear[:, 0, 0], linear[:, 0, 1], linear[:, 1, 0], linear[:, 1, 1]  # [B, 1, 1]
    fx, fy = flow[:, 0].float(), flow[:, 1].float()
    flow = torch.stack((a * fx + b * fy, c * fx + d * fy), dim=1).to(flow.dtype)
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device).float(), torch.arange(width, device=flow.device).float(), indexing="ij"
    )
    gx, gy = xs - offset[:, 0], ys - offset[:, 1]
    det = a * d - b * c
    vis = vis.masked_fill(_outside((d * gx - b * gy) / det, (a * gy - c * gx) / det, height, width), 0)
    return flow, vis.masked_fill((vis == 1) & _outside(xs + flow[:, 0], ys + flow[:, 1], height, width), 2)


def _outside(x: Tensor, y: Tensor, height: int, width: int, tolerance: float = 1e-4) -> Tensor:
    """Pixel coordinates ``x``, ``y`` (same shape) -> mask of those outside ``[0, W-1] x [0, H-1]``."""
    return (x < -tolerance) | (x > width - 1 + tolerance) | (y < -tolerance) | (y > height - 1 + tolerance)


def _check_sample(sample: dict) -> tuple[int, int]:
    """Validate the keys and shapes the augmentation relies on; returns ``(H, W)``."""
    missing = [key for key in SAMPLE_KEYS if key not in sample]
    if missing:
        raise KeyError(f"PairedAugmentation: sample lacks key(s) {missing}")
    unknown = sorted(set(sample) - set(SAMPLE_KEYS) - set(GROUND_TRUTH_KEYS) - set(UNMOVED_KEYS))
    if unknown:
        raise KeyError(f"PairedAugmentation: unknown key(s) {unknown}; it would not know how to move them")
    if ("flow_gt" in sample) != ("vis_gt" in sample):
        raise KeyError("PairedAugmentation: flow_gt and vis_gt come together; the sample has only one of them")
    img = sample["src_img"]
    if not isinstance(img, Tensor) or img.dim() != 3:
        raise ValueError(f"PairedAugmentation: sample['src_img'] must be [3, H, W], got {getattr(img, 'shape', img)}")
    height, width = img.shape[-2:]
    expected = {
        "src_img": (3, height, width),
        "tgt_img": (3, height, width),
        "src_agnostic": (3, height, width),
        "src_pose": (NUM_JOINTS, height, width),
        "tgt_pose": (NUM_JOINTS, height, width),
        "src_kpts": (NUM_JOINTS, 3),
        "tgt_kpts": (NUM_JOINTS, 3),
        "src_parse": (height, width),
        "tgt_parse": (height, width),
    }
    if "flow_gt" in sample:
        expected.update(flow_gt=(2, height, width), vis_gt=(height, width))
    for key, shape in expected.items():
        _check_shape(key, sample[key], shape)
    for key in ("src_parse", "tgt_parse", "vis_gt"):
        if key not in sample:
            continue
        labels, high = sample[key], (NUM_PARSE_LABELS if key.endswith("parse") else 3)
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"PairedAugmentation: sample[{key!r}] must hold integer labels, got {labels.dtype}")
        if labels.numel() and (labels.min() < 0 or labels.max() >= high):
            raise ValueError(
                f"PairedAugmentation: sample[{key!r}] has labels in [{int(labels.min())}, {int(labels.max())}], "
                f"expected 0..{high - 1}"
            )
    for side in ("src", "tgt"):
        masks = sample[f"{side}_masks"]
        if not isinstance(masks, dict):
            raise ValueError(f"PairedAugmentation: sample['{side}_masks'] must be a dict, got {type(masks).__name__}")
        for name, mask in masks.items():
            if name not in MASK_GROUPS:
                raise KeyError(f"PairedAugmentation: sample['{side}_masks'] has unknown mask {name!r}")
            _check_shape(f"{side}_masks/{name}", mask, (1, height, width))
    return height, width
