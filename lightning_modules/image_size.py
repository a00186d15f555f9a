"""The image size a config's networks can take, checked from the parsed config before anything is built.

A class in ``models/`` states what it needs with static methods over its constructor arguments (defaults filled in):
``size_multiple(args) -> int`` when its stride-2 levels are undone later (encoder-decoders: ``H`` and ``W`` divisible
by a power of two), ``min_side(args) -> int`` when its features must keep at least one position (CP-VTON's GMM).
``check_image_size`` walks the model's config (every nested ``class_path`` / ``init_args``), takes the least common
multiple and the largest minimum of what the classes state and raises a ``ConfigError`` naming the key
``data.init_args.image_size`` and the nearest sizes that work. Networks a module builds from its own defaults (no
``class_path`` in the config) are checked when they run.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from contract.errors import ConfigError

IMAGE_SIZE_KEY = "data.init_args.image_size"


class SizeConstraint(NamedTuple):
    """What the class ``name`` at config ``key`` needs of ``H`` and ``W``: multiples of ``multiple``, at least
    ``min_side``."""

    key: str
    name: str
    multiple: int = 1
    min_side: int = 1


def _import(class_path: str) -> type | None:
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None  # the parser has already accepted the path; anything else is not a network of ours


def size_constraints(config: Any, key: str = "model") -> Iterator[SizeConstraint]:
    """A ``SizeConstraint`` for every class in ``config`` (a dict of the parsed config) that states a
    ``size_multiple`` or a ``min_side``, depth first."""
    if isinstance(config, Mapping):
        if isinstance(config.get("class_path"), str):
            cls = _import(config["class_path"])
            init_args = dict(config.get("init_args") or {})
            if cls is not None and (hasattr(cls, "size_multiple") or hasattr(cls, "min_side")):
                parameters = inspect.signature(cls).parameters
                bound = inspect.signature(cls).bind_partial(**{k: v for k, v in init_args.items() if k in parameters})
                bound.apply_defaults()
                multiple = int(cls.size_multiple(bound.arguments)) if hasattr(cls, "size_multiple") else 1
                min_side = int(cls.min_side(bound.arguments)) if hasattr(cls, "min_side") else 1
                yield SizeConstraint(key, cls.__name__, multiple, min_side)
            for name, value in init_args.items():
                yield from size_constraints(value, f"{key}.init_args.{name}")
        else:
            for name, value in config.items():
                yield from size_constraints(value, f"{key}.{name}")
    elif isinstance(config, list | tuple):
        for index, value in enumerate(config):
            yield from size_constraints(value, f"{key}[{index}]")


def nearby_sizes(size: tuple[int, int], multiple: int, min_side: int = 1) -> list[list[int]]:
    """The sizes closest to ``size`` (below and above) whose sides are positive multiples of ``multiple`` and at least
    ``min_side``; a size with a side below ``min_side`` is scaled up (aspect ratio kept) to the smallest that works."""
    if min(size) < min_side:
        scale = min_side / min(size)
        return [[-(-math.ceil(side * scale) // multiple) * multiple for side in size]]
    low = [max(multiple, side // multiple * multiple) for side in size]
    high = [-(-side // multiple) * multiple for side in size]
    choices = [low] if low == high else [low, high]
    return [choice for choice in choices if min(choice) >= min_side]


def check_image_size(image_size: Any, model_config: Any) -> None:
    """Raise ``ConfigError`` unless ``image_size`` ``[H, W]`` suits every network of ``model_config`` (module doc)."""
    if (
        not isinstance(image_size, list | tuple)
        or len(image_size) != 2
        or not all(isinstance(side, int) and side > 0 for side in image_size)
    ):
        raise ConfigError(f"{IMAGE_SIZE_KEY}: expected [H, W], two positive integers, got {image_size!r}")
    constraints = [c for c in size_constraints(model_config) if c.multiple > 1 or c.min_side > 1]
    if not constraints:
        return
    multiple = math.lcm(*(c.multiple for c in constraints))
    min_side = max(c.min_side for c in constraints)
    needs = []
    if any(side % multiple for side in image_size):
        binding = [c for c in constraints if c.multiple == multiple] or [c for c in constraints if c.multiple > 1]
        needs.append(f"H and W must be multiples of {multiple}: " + "; ".join(
            f"{c.name} at {c.key} needs multiples of {c.multiple}" for c in binding))  # fmt: skip
    if min(image_size) < min_side:
        binding = [c for c in constraints if c.min_side == min_side]
        needs.append(f"H and W must be at least {min_side}: " + "; ".join(
            f"{c.name} at {c.key} needs sides >= {c.min_side}" for c in binding))  # fmt: skip
    if not needs:
        return
    choices = " or ".join(str(size) for size in nearby_sizes(tuple(image_size), multiple, min_side))
    raise ConfigError(
        f"{IMAGE_SIZE_KEY}: {list(image_size)} does not fit this config's networks ({'; '.join(needs)}); "
        f"sizes that work nearby: {choices}"
    )
