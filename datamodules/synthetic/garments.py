"""Garments in a garment texture space, their coverage on the body, and the flat in-shop garment image.

Garment coordinates (body units): the front panel of a top or dress and the skirt share the body plane's
coordinates (x = the wearer's left, y down, neck joint at 0); each sleeve has its own frame, a straight
tube laid flat from the shoulder at ``SLEEVE_FLAT_ANGLE`` (how the garment lies in a product photo). A
point of a sleeve at ``(s, t)`` (``s`` along the arm from the shoulder, ``t`` across) has garment
coordinates ``origin + s * axis + t * normal``; on the body the same ``(s, t)`` is the arm part's local
coordinate, so the sleeve on the person and the flat sleeve show the same pattern. The flat garment is laid
out on the canonical ``BodyShape()`` (its "canonical shape"); on a person the panel follows the wearer's
outline plus ``ease``.

Kinds (issue 3): tops (tank, short sleeves, long sleeves) and dresses (the in-shop garment, LIP 5 / 6);
lower garments trousers (LIP 9) and skirts (LIP 12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from contract.sample import LIP_LABELS
from datamodules.synthetic import kernels
from datamodules.synthetic.colours import garment_colour
from datamodules.synthetic.kernels import BODY
from datamodules.synthetic.sampling import Categorical
from datamodules.synthetic.skeleton import CANONICAL_SHAPE, BodyShape
from datamodules.synthetic.textures import Texture, sample_texture

TOP_KINDS: tuple[str, ...] = ("tank", "short_sleeve", "long_sleeve", "dress")
LOWER_KINDS: tuple[str, ...] = ("trousers", "skirt")
TROUSER_FABRIC = Categorical((0.45, 0.35, 0.1, 0.1))  # solid, noise (denim), checks, stripes
NECKLINES: tuple[str, ...] = ("crew", "v", "scoop")
SLEEVE_FLAT_ANGLE = {"short_sleeve": np.radians(50.0), "long_sleeve": np.radians(22.0)}
WAIST_Y = 0.8  # body-frame y of the waistband of trousers and skirts
DRESS_SKIRT_TOP = 0.7  # body-frame y where a dress's skirt panel starts flaring
ARMHOLE = (0.1, 0.36)  # body-frame y where a sleeveless armhole leaves the strap and where it reaches the side

UPPER_CLOTHES, DRESS = LIP_LABELS.index("upper_clothes"), LIP_LABELS.index("dress")
PANTS, SKIRT = LIP_LABELS.index("pants"), LIP_LABELS.index("skirt")


@dataclass(frozen=True)
class Top:
    """The in-shop garment: a top or a dress. Lengths in body units, ``hem``/``skirt_hem`` body-frame y."""

    kind: str
    texture: Texture
    neckline: str
    neck_half: float
    neck_depth: float
    ease: float
    hem: float
    sleeve_length: float  # from the shoulder along the arm; 0 for a tank
    sleeve_ease: float
    strap_half: float  # tank: straps cover |x| < strap_half above the armholes
    skirt_hem: float  # dress: body-frame y of the hem
    skirt_flare: float  # dress: half-width at the hem

    @property
    def label(self) -> int:
        return DRESS if self.kind == "dress" else UPPER_CLOTHES


@dataclass(frozen=True)
class Lower:
    """Trousers (``length`` = covered fraction of the shin) or a skirt (``length`` = hem y, ``flare`` = hem
    half-width)."""

    kind: str
    texture: Texture
    ease: float
    length: float
    flare: float

    @property
    def label(self) -> int:
        return PANTS if self.kind == "trousers" else SKIRT


@dataclass(frozen=True)
class Outfit:
    top: Top
    lower: Lower | None  # None under a dress
    shoes: np.ndarray  # [3]


def sample_top(rng: np.random.Generator, shape: BodyShape, kind: str | None = None) -> Top:
    """Draw a top or dress (``kind`` in ``TOP_KINDS``; uniform when ``None``) with any texture family."""
    kind = kind if kind is not None else TOP_KINDS[rng.integers(len(TOP_KINDS))]
    if kind not in TOP_KINDS:
        raise ValueError(f"unknown top kind {kind!r}; expected one of {TOP_KINDS}")
    neckline = NECKLINES[rng.integers(len(NECKLINES))]
    depth = {"crew": rng.uniform(0.05, 0.1), "v": rng.uniform(0.18, 0.3), "scoop": rng.uniform(0.14, 0.22)}[neckline]
    half = {"crew": rng.uniform(0.13, 0.17), "v": rng.uniform(0.13, 0.18), "scoop": rng.uniform(0.18, 0.24)}[neckline]
    sleeve = {
        "tank": 0.0,
        "short_sleeve": shape.upper_arm * rng.uniform(0.25, 0.5),
        "long_sleeve": shape.upper_arm + shape.forearm * rng.uniform(0.9, 1.0),
        "dress": [0.0, shape.upper_arm * rng.uniform(0.25, 0.45)][rng.integers(2)],
    }[kind]
    return Top(
        kind=kind,
        texture=sample_texture(rng),
        neckline=neckline,
        neck_half=half,
        neck_depth=depth,
        ease=rng.uniform(0.01, 0.06),
        hem=rng.uniform(0.95, 1.1),
        sleeve_length=sleeve,
        sleeve_ease=rng.uniform(0.02, 0.05) if sleeve < shape.upper_arm else rng.uniform(0.01, 0.03),
        strap_half=half + rng.uniform(0.06, 0.1),
        skirt_hem=rng.uniform(1.5, 2.3),
        skirt_flare=rng.uniform(0.45, 0.8),
    )


def sample_lower(rng: np.random.Generator, kind: str | None = None) -> Lower:
    """Draw trousers or a skirt (``kind`` in ``LOWER_KINDS``); trousers favour plain and noise (denim) fabrics."""
    kind = kind if kind is not None else LOWER_KINDS[rng.integers(len(LOWER_KINDS))]
    if kind not in LOWER_KINDS:
        raise ValueError(f"unknown lower garment {kind!r}; expected one of {LOWER_KINDS}")
    if kind == "trousers":
        family = ("solid", "noise", "checks", "stripes")[TROUSER_FABRIC(rng)]
        return Lower(kind, sample_texture(rng, family), rng.uniform(0.02, 0.06), rng.uniform(0.85, 1.0), 0.0)
    family = ("solid", "stripes", "checks", "dots", "noise", "gradient")[rng.integers(6)]
    return Lower(kind, sample_texture(rng, family), 0.03, rng.uniform(1.45, 2.1), rng.uniform(0.4, 0.7))


def sample_outfit(rng: np.random.Generator, shape: BodyShape, top_kind: str | None = None) -> Outfit:
    """A top (or dress), the lower garment that goes with it and shoes."""
    top = sample_top(rng, shape, top_kind)
    lower = None if top.kind == "dress" else sample_lower(rng)
    return Outfit(top, lower, garment_colour(rng) * np.float32(0.6))


# --- coverage in garment coordinates (evaluated by ``kernels``) --------------------------------------------


def top_code(shape: BodyShape, top: Top) -> np.ndarray:
    """The top block of a look code (``kernels.TOP`` floats): neck half-width and depth, V neck, ease, panel
    bottom (a dress's panel runs down to the crotch, its skirt is a separate part), sleeveless, strap half-width,
    the armhole's start and end heights."""
    bottom = shape.torso_bottom if top.kind == "dress" else top.hem
    return np.array(
        [top.neck_half, top.neck_depth, top.neckline == "v", top.ease, bottom, top.sleeve_length == 0.0,
         top.strap_half, *ARMHOLE], np.float64
    )  # fmt: skip


def _garment_map(kernel: Callable, shape: BodyShape, top: Top, *arrays: np.ndarray) -> np.ndarray:
    """A garment kernel over arrays, one point per call (for checks and plots; the renderer calls the kernels
    from compiled code)."""
    params = np.concatenate([shape.code, top_code(shape, top)])
    return np.vectorize(lambda *v: kernel(params, 0, BODY, *v), otypes=[np.float32])(*arrays)


def neckline_y(shape: BodyShape, top: Top, ax: np.ndarray) -> np.ndarray:
    """Body-frame y of the front neckline at ``|x| = ax`` (round for crew and scoop, straight for V)."""
    return _garment_map(kernels.neckline_y, shape, top, ax)


def top_panel_sdf(shape: BodyShape, top: Top, ax: np.ndarray, y: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Signed distance (body units, < 0 inside) of the top's front panel at ``|x| = ax``, where the wearer's
    torso is ``half_width`` wide. A dress's panel runs down to the crotch (its skirt is a separate part)."""
    return _garment_map(kernels.top_panel_sdf, shape, top, ax, y, half_width)


def skirt_sdf(x: np.ndarray, y: np.ndarray, top_y: float, hem: float, top_half: float, hem_half: float) -> np.ndarray:
    """Signed distance of a flared skirt panel from ``top_y`` (half-width ``top_half``) to ``hem``."""
    return np.vectorize(lambda u, v: kernels.skirt_sdf(u, v, top_y, hem, top_half, hem_half), otypes=[np.float32])(x, y)


def sleeve_frame(top: Top, side: float, shape: BodyShape | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Garment-coordinate ``(origin, axis, normal)`` of the sleeve on ``side`` (-1 = wearer's right), laid flat
    on the canonical body. ``normal`` follows the limb convention (``axis`` turned +90 deg in the image)."""
    shape = shape or CANONICAL_SHAPE
    angle = SLEEVE_FLAT_ANGLE.get(top.kind, SLEEVE_FLAT_ANGLE["short_sleeve"])
    axis = np.array([side * np.sin(angle), np.cos(angle)], np.float32)
    origin = np.array([side * shape.shoulder_half, shape.shoulder_drop], np.float32)
    return origin, axis, np.array([-axis[1], axis[0]], np.float32)


def sleeve_to_garment(top: Top, side: float, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sleeve ``(s, t)`` -> garment coordinates ``(gx, gy)``."""
    origin, axis, normal = sleeve_frame(top, side)
    return origin[0] + s * axis[0] + t * normal[0], origin[1] + s * axis[1] + t * normal[1]
