"""Part looks (``datamodules/synthetic/looks.py``): silhouettes, covers and labels in material coordinates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from contract.sample import LIP_LABELS
from datamodules.synthetic.identity import sample_identity
from datamodules.synthetic.looks import HAIRLINES, Cover, GarmentFrame, HairBackLook, HeadLook, LimbLook
from datamodules.synthetic.textures import Solid

SKIN, CLOTH = np.float32([0.8, 0.6, 0.5]), np.float32([0.1, 0.2, 0.9])
FRAME = GarmentFrame(np.float32([0.0, 0.0]), np.float32([0.0, 1.0]), np.float32([-1.0, 0.0]))


def _eval(look, *coords):
    return look.evaluate(tuple(np.float32(c) for c in coords))


def test_limb_is_a_tapered_capsule() -> None:
    limb = LimbLook(1.0, (0.2, 0.1), SKIN, 14)
    sdf, rgb, label = _eval(limb, [0.0, 1.0, 0.5, -0.3, 1.0], [0.2, 0.1, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(sdf, [0.0, 0.0, -0.15, 0.1, -0.1], atol=1e-6)  # edges, centre, beyond cap, end
    np.testing.assert_allclose(rgb[:, 2], SKIN)  # unshaded on the centre line
    assert rgb[0, 0] < SKIN[0]  # darker towards the edge
    assert (label == 14).all()


def test_cover_takes_over_up_to_its_end() -> None:
    cover = Cover(end=0.4, ease=0.05, texture=Solid(CLOTH), label=5, frame=FRAME)
    limb = LimbLook(1.0, (0.1, 0.1), SKIN, 15, cover)
    sdf, rgb, label = _eval(limb, [0.2, 0.8, 0.2, -0.1], [0.0, 0.0, 0.13, 0.0])
    np.testing.assert_array_equal(label, [5, 15, 5, 5])  # sleeve, forearm skin, loose sleeve edge, shoulder cap
    np.testing.assert_allclose(rgb[:, 0], CLOTH, atol=1e-6)
    np.testing.assert_allclose(rgb[:, 1], SKIN, atol=1e-6)
    assert sdf[2] < 0 < sdf[2] + 0.05  # the sleeve is wider than the arm (ease)


def test_head_hair_and_face_labels() -> None:
    identity = replace(
        sample_identity(np.random.default_rng(0)), hair_style="short", fringe=False, marks=np.zeros((0, 4), np.float32)
    )
    front, back = HAIRLINES["short"]
    head = HeadLook(identity)
    # crown, forehead below the hairline, back of the head above the back hairline, the face's centre
    points = np.float32([[0.0, -1.0, 0.0], [0.0, front + 0.2, 0.97], [0.0, back - 0.2, -0.97], [0.0, 0.3, 0.95]]).T
    sdf, rgb, label = head.evaluate(tuple(points))
    hair, face = LIP_LABELS.index("hair"), LIP_LABELS.index("face")
    np.testing.assert_array_equal(label, [hair, face, hair, face])
    assert (sdf < 0).all()  # the silhouette comes from the sphere placement


@pytest.mark.parametrize("style", ["short", "bob", "long", "bun"])
def test_hair_volume_box(style: str) -> None:
    identity = replace(sample_identity(np.random.default_rng(0)), hair_style=style)
    look = HairBackLook(identity)
    u0, v0, u1, v1 = look.bounds
    sdf, _, label = _eval(look, [0.5 * (u0 + u1), u0 - 0.1, u1 + 0.1], [0.5 * (v0 + v1), v0 - 0.1, v1 + 0.1])
    assert sdf[0] < 0 and (sdf[1:] > 0).all()
    assert (label == LIP_LABELS.index("hair")).all()
