"""Dressing a person (``datamodules/synthetic/person.py``): every LIP label sits on the colour it names."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from contract.sample import LIP_LABELS
from datamodules.synthetic.garments import Outfit, sample_lower, sample_top
from datamodules.synthetic.identity import sample_identity
from datamodules.synthetic.person import build_looks, build_outfit_looks, top_parts
from datamodules.synthetic.render import Frame, render
from datamodules.synthetic.skeleton import Articulation, Framing, pose_body
from datamodules.synthetic.textures import Solid

L = {name: i for i, name in enumerate(LIP_LABELS)}
TOP, PANTS, SHOES = np.float32([0.8, 0.1, 0.1]), np.float32([0.1, 0.2, 0.8]), np.float32([0.1, 0.6, 0.1])


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Colour direction (shading multiplies all channels, so it keeps the direction)."""
    return rgb / np.linalg.norm(rgb, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    ("top_kind", "lower_kind"), [("short_sleeve", "trousers"), ("long_sleeve", "skirt"), ("dress", None)]
)
def test_labels_match_the_colours_drawn(top_kind: str, lower_kind: str | None) -> None:
    rng = np.random.default_rng(1)
    identity = replace(sample_identity(rng), hair_style="bald")
    top = replace(sample_top(rng, identity.shape, top_kind), texture=Solid(TOP))
    lower = None if lower_kind is None else replace(sample_lower(rng, lower_kind), texture=Solid(PANTS))
    looks = build_looks(identity, Outfit(top, lower, SHOES))
    body = pose_body(identity.shape, Articulation(upper_arm=((0.4, 0.0), (0.4, 0.0))), Framing(60.0, (96.0, 50.0)))
    rendered = render([Frame(body, looks)], [np.ones((3, 256, 192), np.float32)])[0]
    image = rendered.image.transpose(1, 2, 0)
    expected = {
        top.label: TOP, L["left_arm"]: identity.skin, L["right_arm"]: identity.skin, L["left_shoe"]: SHOES,
        L["right_shoe"]: SHOES,
    }  # fmt: skip
    if lower is not None:
        expected[lower.label] = PANTS
    if lower_kind != "trousers":  # bare legs under a skirt or a dress
        expected |= {L["left_leg"]: identity.skin, L["right_leg"]: identity.skin}
    for label, colour in expected.items():
        inner = ndimage.binary_erosion(rendered.parse == label, iterations=2)
        assert inner.sum() > 20, f"{LIP_LABELS[label]} missing for {top_kind}/{lower_kind}"
        cos = _chroma(image[inner]) @ _chroma(colour)
        assert np.median(cos) > 0.995, f"{LIP_LABELS[label]} pixels do not have its colour"
    assert (rendered.parse[rendered.part < 0] == 0).all()
    # Long sleeves leave only the hands as arm skin (about 250 px here); short sleeves show the forearms (1100 px).
    arm_skin = np.isin(rendered.parse, (L["left_arm"], L["right_arm"])).sum()
    assert (arm_skin < 350) if top_kind == "long_sleeve" else (arm_skin > 700)


def test_left_labels_are_on_the_persons_left() -> None:
    rng = np.random.default_rng(2)
    identity = sample_identity(rng)
    top = sample_top(rng, identity.shape, "tank")
    looks = build_looks(identity, Outfit(top, sample_lower(rng, "skirt"), SHOES))
    body = pose_body(identity.shape, Articulation(), Framing(60.0, (96.0, 50.0)))
    parse = render([Frame(body, looks)], [np.ones((3, 256, 192), np.float32)])[0].parse
    xs = np.arange(192)[None, :].repeat(256, 0)
    # Frontal body: the person's left is the image's right.
    for left, right in (("left_arm", "right_arm"), ("left_leg", "right_leg"), ("left_shoe", "right_shoe")):
        assert xs[parse == L[left]].mean() > 96 > xs[parse == L[right]].mean()


def test_outfits_differing_in_the_top_share_the_other_looks() -> None:
    # A cross-garment pair: same lower garment and shoes, another top. Every part but the top's is one look object
    # for both (evaluated once), and rendering with the shared looks changes no pixel.
    rng = np.random.default_rng(3)
    identity = sample_identity(rng)
    lower = sample_lower(rng, "trousers")
    first = Outfit(sample_top(rng, identity.shape, "short_sleeve"), lower, SHOES)
    second = Outfit(sample_top(rng, identity.shape, "long_sleeve"), lower, SHOES)
    shared = build_outfit_looks(identity, [first, second, first])
    assert shared[0] is shared[2]
    for name, look in shared[1].items():
        assert (look is shared[0][name]) == (name not in top_parts(second.top))
    assert top_parts(second.top) == {"torso", "r_upper_arm", "l_upper_arm", "r_forearm", "l_forearm"}
    bodies = [pose_body(identity.shape, Articulation(yaw=yaw), Framing(60.0, (96.0, 50.0))) for yaw in (0.3, -0.2)]
    background = [np.ones((3, 256, 192), np.float32)] * 2
    together = render([Frame(bodies[0], shared[0]), Frame(bodies[1], shared[1])], background)
    apart = [
        render([Frame(b, build_looks(identity, o))], background[:1])[0]
        for b, o in zip(bodies, (first, second), strict=True)
    ]
    for a, b in zip(together, apart, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.parse, b.parse)
