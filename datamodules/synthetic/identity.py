"""Identity of a synthetic person: body proportions, skin tone, hair style and colour, face marks."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from datamodules.synthetic.colours import hsv
from datamodules.synthetic.sampling import pick
from datamodules.synthetic.skeleton import CANONICAL_SHAPE, BodyShape

# Skin tones (RGB 0-255), light to dark, jittered per person.
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 224, 200), (241, 198, 170), (226, 178, 142), (205, 150, 112), (176, 120, 86),
    (142, 94, 64), (110, 70, 46), (84, 54, 38),
)  # fmt: skip
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (28, 24, 24), (58, 40, 30), (104, 70, 42), (196, 160, 100), (150, 70, 40), (168, 168, 168),
)  # fmt: skip
HAIR_STYLES: tuple[str, ...] = ("short", "buzz", "bob", "long", "bun", "bald")
EYE_COLOURS: tuple[tuple[int, int, int], ...] = ((60, 40, 25), (40, 80, 120), (70, 100, 60), (30, 25, 20))


@dataclass(frozen=True)
class Identity:
    """Who is in the picture (everything but pose, outfit and background).

    ``marks`` ``[K, 4]``: face marks as (X, Y) on the head's unit sphere (front hemisphere), radius, darkness
    (moles: few, large, dark; freckles: many, small, light). ``blush`` in [0, 0.35] reddens the cheeks.
    """

    shape: BodyShape
    skin: np.ndarray  # [3]
    hair_style: str
    hair_colour: np.ndarray  # [3]
    fringe: bool
    eye_colour: np.ndarray  # [3]
    lip_colour: np.ndarray  # [3]
    marks: np.ndarray  # [K, 4] float32
    blush: float


def sample_body_shape(rng: np.random.Generator) -> BodyShape:
    """Proportions jittered around ``BodyShape()``: lengths +-5%, widths +-12%, limb radii -12%..+15%."""
    base = CANONICAL_SHAPE
    length = rng.uniform(0.95, 1.05)
    width = rng.uniform(0.88, 1.12)
    hips = rng.uniform(0.88, 1.12)
    girth = rng.uniform(0.88, 1.15)
    return replace(
        base,
        shoulder_half=base.shoulder_half * width,
        waist_half=base.waist_half * 0.5 * (width + hips),
        hip_half=base.hip_half * hips,
        upper_arm=base.upper_arm * length,
        forearm=base.forearm * length,
        thigh=base.thigh * length,
        shin=base.shin * length,
        head_radius=base.head_radius * rng.uniform(0.95, 1.05),
        radii={k: (a * girth, b * girth) for k, (a, b) in base.radii.items()},
    )


def _marks(rng: np.random.Generator) -> np.ndarray:
    moles = [
        (rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.6), rng.uniform(0.025, 0.04), 0.55)
        for _ in range(rng.integers(0, 3))
    ]
    freckles = []
    if rng.random() < 0.3:
        for _ in range(rng.integers(8, 18)):
            side = pick(rng, (-1.0, 1.0))
            freckles.append((side * rng.uniform(0.15, 0.6), rng.uniform(0.05, 0.35), rng.uniform(0.012, 0.02), 0.25))
    return np.array(moles + freckles, dtype=np.float32).reshape(-1, 4)


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw a person: body shape, skin tone (8 tones, +-6% jitter), hair (6 styles; natural colours, 10% dyed),
    eyes, lips, moles / freckles / blush."""
    skin = np.array(SKIN_TONES[rng.integers(len(SKIN_TONES))], np.float32) / 255 * rng.uniform(0.94, 1.06, 3)
    if rng.random() < 0.1:
        hair = hsv(rng.random(), rng.uniform(0.5, 0.9), rng.uniform(0.4, 0.9))
    else:
        hair = np.array(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], np.float32) / 255 * rng.uniform(0.9, 1.1)
    lip = skin * np.array([0.85, 0.55, 0.55], np.float32) * rng.uniform(0.85, 1.0)
    return Identity(
        shape=sample_body_shape(rng),
        skin=np.clip(skin, 0, 1).astype(np.float32),
        hair_style=HAIR_STYLES[rng.integers(len(HAIR_STYLES))],
        hair_colour=np.clip(hair, 0, 1).astype(np.float32),
        fringe=bool(rng.random() < 0.3),
        eye_colour=np.array(EYE_COLOURS[rng.integers(len(EYE_COLOURS))], np.float32) / 255,
        lip_colour=np.clip(lip, 0, 1).astype(np.float32),
        marks=_marks(rng),
        blush=float(rng.uniform(0.0, 0.35) if rng.random() < 0.4 else 0.0),
    )
