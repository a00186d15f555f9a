"""Identities (``datamodules/synthetic/identity.py``): body shape jitter, skin, hair, face marks."""

from __future__ import annotations

import numpy as np

from datamodules.synthetic.identity import HAIR_STYLES, sample_body_shape, sample_identity
from datamodules.synthetic.skeleton import BodyShape


def test_body_shapes_stay_near_the_default_proportions() -> None:
    base, rng = BodyShape(), np.random.default_rng(0)
    for _ in range(100):
        shape = sample_body_shape(rng)
        assert 0.95 <= shape.upper_arm / base.upper_arm <= 1.05
        assert np.isclose(shape.upper_arm / shape.forearm, base.upper_arm / base.forearm)  # one length factor
        assert 0.88 <= shape.shoulder_half / base.shoulder_half <= 1.12
        assert 0.88 <= shape.radii["thigh"][0] / base.radii["thigh"][0] <= 1.15
        assert shape.shoulder_half > shape.waist_half > shape.hip_half  # a plausible torso outline


def test_identities_cover_the_styles_and_marks() -> None:
    rng = np.random.default_rng(1)
    people = [sample_identity(rng) for _ in range(200)]
    assert {p.hair_style for p in people} == set(HAIR_STYLES)
    assert any(len(p.marks) > 0 for p in people) and any(p.blush > 0 for p in people)
    for p in people:
        assert p.skin.shape == (3,) and p.skin.min() >= 0 and p.skin.max() <= 1
        assert p.marks.shape[1] == 4 and (p.marks[:, 2] > 0).all()
    tones = np.stack([p.skin.mean() for p in people])
    assert tones.max() - tones.min() > 0.4  # light to dark skin
