"""Paired geometric augmentation of one contract sample (``DESIGN.md``, data contract).

One affine transform ``T`` (rotation and scale about the image centre, translation, then an optional horizontal
flip) is drawn per sample from the caller's ``torch.Generator`` and applied alike to the source and the target person:
both come from one camera in the real datasets, so a shared transform keeps their relation (and the synthetic flow
ground truth) exact. The in-shop garment (``cloth``, ``cloth_mask``) is not moved.

Pixel convention: pixel centres at integer coordinates (``align_corners=True``, as ``contract.flow``), so the flip is
``x -> W - 1 - x``; kornia's ``warp_affine`` does the resampling.
"""

from __future__ import annotations

import math

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


def _check_shape(key: str, tensor: object, expected: tuple[int, ...]) -> None:
    if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
        got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
        raise ValueError(f"PairedAugmentation: sample[{key!r}] has shape {got}, expected {expected}")


def _warp_channels(tensors: dict[str, Tensor], fills: dict[str, float], matrix: Tensor, mode: str) -> dict[str, Tensor]:
    """Warp several ``[C, H, W]`` tensors by the forward pixel ``matrix [2, 3]`` in one kornia call.

    Pixels that come from outside the frame take ``fills[name]``; each tensor keeps its dtype (integer maps are
    rounded back, so use ``mode="nearest"`` for them).
    """
    names = list(tensors)
    first = tensors[names[0]]
    height, width = first.shape[-2:]
    stacked = torch.cat([tensors[name].float() for name in names]).unsqueeze(0)
    fill = torch.cat([torch.full((tensors[name].shape[0],), fills[name]) for name in names]).to(first.device)
    warped = warp_affine(
        stacked,
        matrix.to(first.device, torch.float32).unsqueeze(0),
        (height, width),
        mode=mode,
        padding_mode="fill",
        align_corners=True,
        fill_value=fill,
    )[0]
    chunks = warped.split([tensors[name].shape[0] for name in names])
    out = {}
    for name, chunk in zip(names, chunks, strict=True):
        dtype = tensors[name].dtype
        out[name] = chunk.to(dtype) if dtype.is_floating_point else chunk.round().to(dtype)
    return out


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
        out = dict(sample)
        out["meta"] = {**sample["meta"], "hflip": "1" if flip else "0"}
        if torch.equal(matrix, _IDENTITY):
            return out

        smooth = {key: sample[key] for key in ("src_img", "tgt_img", "src_agnostic", "src_pose", "tgt_pose")}
        smooth_fill = {key: self.image_fill if key.endswith(("img", "agnostic")) else 0.0 for key in smooth}
        labels: dict[str, Tensor] = {"src_parse": sample["src_parse"][None], "tgt_parse": sample["tgt_parse"][None]}
        label_fill = dict.fromkeys(labels, 0.0)
        for side in ("src", "tgt"):
            for name, mask in sample[f"{side}_masks"].items():
                labels[f"{side}_masks/{name}"] = mask
                label_fill[f"{side}_masks/{name}"] = 1.0 if 0 in MASK_GROUPS[name] else 0.0
        if "flow_gt" in sample:
            smooth["flow_gt"], smooth_fill["flow_gt"] = sample["flow_gt"], 0.0
            labels["vis_gt"], label_fill["vis_gt"] = sample["vis_gt"][None], 0.0
        smooth = _warp_channels(smooth, smooth_fill, matrix, "bilinear")
        labels = _warp_channels(labels, label_fill, matrix, "nearest")

        out.update({key: smooth[key] for key in ("src_img", "tgt_img", "src_agnostic")})
        for side in ("src", "tgt"):
            kpts, pose, parse = sample[f"{side}_kpts"], smooth[f"{side}_pose"], labels[f"{side}_parse"][0]
            kpts, left_frame = _transform_keypoints(kpts, matrix, height, width)
            pose = pose.masked_fill(left_frame[:, None, None], 0.0)
            if flip:
                kpts, pose = kpts[JOINT_FLIP_PERMUTATION], pose[JOINT_FLIP_PERMUTATION]
                parse = LABEL_FLIP_PERMUTATION.to(parse.device)[parse]
            out[f"{side}_kpts"], out[f"{side}_pose"], out[f"{side}_parse"] = kpts, pose, parse
            out[f"{side}_masks"] = {name: labels[f"{side}_masks/{name}"] for name in sample[f"{side}_masks"]}
        if "flow_gt" in sample:
            out["flow_gt"], out["vis_gt"] = _transform_flow(smooth["flow_gt"], labels["vis_gt"][0], matrix)
        return out


def _transform_keypoints(kpts: Tensor, matrix: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Move the visible joints of ``kpts [J, 3]``; returns the new keypoints and a ``[J]`` mask of the joints the
    transform moved out of the frame (now visibility 0)."""
    visible = kpts[:, 2] > 0
    matrix = matrix.to(kpts.device)
    moved = kpts[:, :2].double() @ matrix[:, :2].T + matrix[:, 2]
    out = kpts.clone()
    out[visible, :2] = moved[visible].to(kpts.dtype)
    left_frame = visible & ~_outside(kpts[:, :2].T, height, width) & _outside(moved.T, height, width)
    out[left_frame, 2] = 0.0
    return out, left_frame


def _transform_flow(flow: Tensor, vis: Tensor, matrix: Tensor) -> tuple[Tensor, Tensor]:
    """Finish the flow ground truth after resampling ``flow [2, H, W]`` and ``vis [H, W]`` at ``r = T^-1 q``.

    Returns ``A flow(r)``; vis becomes 0 where ``r`` lies outside the frame (nearest resampling would still read the
    border pixel there, while the images are partly fill) and 1 -> 2 where ``q + flow'(q)`` left the frame.
    """
    height, width = flow.shape[-2:]
    linear = matrix[:, :2].to(flow.device, torch.float32)
    offset = matrix[:, 2].to(flow.device, torch.float32)
    flow = torch.einsum("ij,jhw->ihw", linear, flow.float()).to(flow.dtype)
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
    )
    grid = torch.stack((xs, ys)).float()
    pre_image = torch.einsum("ij,jhw->ihw", torch.linalg.inv(linear), grid - offset[:, None, None])
    vis = vis.masked_fill(_outside(pre_image, height, width), 0)
    return flow, vis.masked_fill((vis == 1) & _outside(grid + flow, height, width), 2)


def _outside(points: Tensor, height: int, width: int, tolerance: float = 1e-4) -> Tensor:
    """``[2, H, W]`` pixel coordinates -> ``[H, W]`` mask of those outside ``[0, W-1] x [0, H-1]``."""
    x, y = points[0], points[1]
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
