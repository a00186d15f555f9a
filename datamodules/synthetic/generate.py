"""Synthetic samples in memory: triplets (source person, target person, in-shop garment) and pose sequences.

Triplet kinds (issue 3): ``same`` (one garment in both poses, MPV training style) and ``cross`` (the target
wears the in-shop garment and the source another garment of the same category, tops with tops and dresses
with dresses, so the lower garment stays: cross-garment try-on with ground truth). Both poses share the
identity, the lower garment, the shoes and the studio background; the framings are drawn independently
(whole / half / shifted). ``flow`` and ``vis`` follow the body (material points of the body's parts): in a
``cross`` triplet the flow still maps the target's garment region onto the source's garment region, whose
colours differ by design.

Randomness: every sample draws from its own ``numpy.random.Generator(PCG64)`` seeded by ``(seed, split,
index)`` (``sample_rng``), so a sample does not depend on how many samples or processes there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.synthetic import kernels
from datamodules.synthetic.backgrounds import sample_background
from datamodules.synthetic.flat import render_flat
from datamodules.synthetic.garments import TOP_KINDS, Outfit, sample_outfit, sample_top
from datamodules.synthetic.identity import Identity, sample_identity
from datamodules.synthetic.keypoints import keypoints
from datamodules.synthetic.person import build_outfit_looks
from datamodules.synthetic.pose_prior import sample_articulation, sample_framing, sample_framing_kind, sample_sequence
from datamodules.synthetic.render import Frame, Rendered, ground_truth_flow, render
from datamodules.synthetic.skeleton import Articulation, Framing, PosedBody, pose_body
from datamodules.synthetic.textures import texture_family

SPLIT_CODES = {"train": 0, "test": 1, "sequence_train": 2, "sequence_test": 3}
TRIPLET_KINDS: tuple[str, ...] = ("same", "cross")


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of ``split`` (``SPLIT_CODES``) for a dataset ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, SPLIT_CODES[split], index])))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float32 in [0, 1] -> uint8 (rounded), same shape."""
    out = np.empty(image.shape, np.uint8)
    kernels.to_uint8(np.ascontiguousarray(image, np.float32), out)
    return out


@dataclass
class PersonImage:
    """One rendered person: ``image`` planar ``[3, H, W]`` uint8, ``parse`` ``[H, W]`` uint8 (LIP),
    ``keypoints`` ``[18, 3]`` (x, y, visible), the framing kind, the body yaw (radians), and the kind
    (``garments.TOP_KINDS``) and pattern (``textures.TEXTURE_FAMILIES``) of the top or dress worn."""

    image: np.ndarray
    parse: np.ndarray
    keypoints: np.ndarray
    framing: str
    yaw: float
    top_kind: str
    top_pattern: str


@dataclass
class Triplet:
    """Source and target person, the in-shop garment the target wears (``cloth`` ``[3, H, W]`` uint8, ``cloth_mask``
    ``[H, W]`` bool), target -> source ``flow`` ``[2, H, W]`` (pixels) and ``vis`` ``[H, W]``."""

    kind: str
    source: PersonImage
    target: PersonImage
    cloth: np.ndarray
    cloth_mask: np.ndarray
    flow: np.ndarray
    vis: np.ndarray


@dataclass
class PoseSequence:
    """``frames`` of one person in a ``kind`` sequence; ``flows[t - 1]`` = (flow, vis) from frame t to t - 1."""

    kind: str
    frames: list[PersonImage]
    flows: list[tuple[np.ndarray, np.ndarray]]
    cloth: np.ndarray
    cloth_mask: np.ndarray


def _render_people(
    identity: Identity,
    outfits: list[Outfit],
    poses: list[Articulation],
    framings: list[tuple[Framing, str]],
    background: np.ndarray,
) -> tuple[list[PersonImage], list[tuple[Rendered, PosedBody]]]:
    """Render ``identity`` in each (outfit, pose, framing) over one background, evaluating shared looks once."""
    bodies = [pose_body(identity.shape, pose, framing) for pose, (framing, _) in zip(poses, framings, strict=True)]
    looks = build_outfit_looks(identity, outfits)
    frames = [Frame(body, part_looks) for body, part_looks in zip(bodies, looks, strict=True)]
    rendered = render(frames, [background] * len(frames))
    people = [
        PersonImage(
            to_uint8(r.image), r.parse, keypoints(b, r.part), kind, pose.yaw, o.top.kind, texture_family(o.top.texture)
        )
        for r, b, (_, kind), pose, o in zip(rendered, bodies, framings, poses, outfits, strict=True)
    ]
    return people, list(zip(rendered, bodies, strict=True))


def generate_triplet(rng: np.random.Generator, height: int, width: int, cross_garment_fraction: float = 0.5) -> Triplet:
    """One triplet at ``height x width``; ``cross`` with probability ``cross_garment_fraction``."""
    kind = "cross" if rng.random() < cross_garment_fraction else "same"
    identity = sample_identity(rng)
    outfit = sample_outfit(rng, identity.shape)
    source_outfit = outfit
    if kind == "cross":
        category = ("dress",) if outfit.top.kind == "dress" else tuple(k for k in TOP_KINDS if k != "dress")
        other = sample_top(rng, identity.shape, category[rng.integers(len(category))])
        source_outfit = Outfit(other, outfit.lower, outfit.shoes)
    poses = [sample_articulation(rng, identity.shape) for _ in range(2)]
    framings = []
    for pose in poses:
        framing_kind = sample_framing_kind(rng)
        framings.append((sample_framing(rng, identity.shape, [pose], height, width, framing_kind), framing_kind))
    background = sample_background(rng, height, width)
    (source, target), ((rs, bs), (rt, _)) = _render_people(
        identity, [source_outfit, outfit], poses, framings, background
    )
    flow, vis = ground_truth_flow(rt, rs, bs)
    cloth, mask = render_flat(outfit.top, height, width)
    return Triplet(kind, source, target, to_uint8(cloth), mask, flow, vis)


def generate_sequence(rng: np.random.Generator, height: int, width: int, kind: str, length: int) -> PoseSequence:
    """``length`` frames of one person in a ``kind`` pose sequence (``pose_prior.SEQUENCE_KINDS``) with one
    framing, and the flows between consecutive frames."""
    identity = sample_identity(rng)
    outfit = sample_outfit(rng, identity.shape)
    poses = sample_sequence(rng, identity.shape, kind, length)
    framing_kind = "whole" if rng.random() < 0.7 else "half"
    framing = sample_framing(rng, identity.shape, poses, height, width, framing_kind)
    background = sample_background(rng, height, width)
    frames, rendered = _render_people(
        identity, [outfit] * length, poses, [(framing, framing_kind)] * length, background
    )
    flows = [ground_truth_flow(rendered[t][0], *rendered[t - 1]) for t in range(1, length)]
    cloth, mask = render_flat(outfit.top, height, width)
    return PoseSequence(kind, frames, flows, to_uint8(cloth), mask)
