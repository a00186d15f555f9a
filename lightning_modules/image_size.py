"""The image size a config's networks can take, checked from the parsed config before anything is built.

Networks with stride-2 levels that are undone later (encoder-decoders) need ``H`` and ``W`` divisible by a power of
two; such a class in ``models/`` states it with a static ``size_multiple(args) -> int`` over its constructor
arguments (defaults filled in). ``check_image_size`` walks the model's config (every nested ``class_path`` /
``init_args``), takes the least common multiple of what the classes state and raises a ``ConfigError`` naming the
key ``data.init_args.image_size`` and the nearest sizes that work. Networks a module builds from its own defaults
(no ``class_path`` in the config) are checked when they run.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Iterator, Mapping
from typing import Any

from contract.errors import ConfigError

IMAGE_SIZE_KEY = "data.init_args.image_size"


def _import(class_path: str) -> type | None:
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None  # the parser has already accepted the path; anything else is not a network of ours


def size_constraints(config: Any, key: str = "model") -> Iterator[tuple[str, str, int]]:
    """``(config key, class name, multiple)`` for every class in ``config`` (a dict of the parsed config) that states
    a ``size_multiple``, depth first."""
    if isinstance(config, Mapping):
        if isinstance(config.get("class_path"), str):
            cls = _import(config["class_path"])
            init_args = dict(config.get("init_args") or {})
            if cls is not None and hasattr(cls, "size_multiple"):
                bound = inspect.signature(cls).bind_partial(
                    **{k: v for k, v in init_args.items() if k in inspect.signature(cls).parameters}
                )
                bound.apply_defaults()
                yield key, cls.__name__, int(cls.size_multiple(bound.arguments))
            for name, value in init_args.items():
                yield from size_constraints(value, f"{key}.init_args.{name}")
        else:
            for name, value in config.items():
                yield from size_constraints(value, f"{key}.{name}")
    elif isinstance(config, list | tuple):
        for index, value in enumerate(config):
            yield from size_constraints(value, f"{key}[{index}]")


def nearby_sizes(size: tuple[int, int], multiple: int) -> list[list[int]]:
    """The sizes closest to ``size`` (below and above) whose sides are positive multiples of ``multiple``."""
    low = [max(multiple, side // multiple * multiple) for side in size]
    high = [-(-side // multiple) * multiple for side in size]
    return [low] if low == high else [low, high]


def check_image_size(image_size: Any, model_config: Any) -> None:
    """Raise ``ConfigError`` unless ``image_size`` ``[H, W]`` suits every network of ``model_config`` (module doc)."""
    if (
        not isinstance(image_size, list | tuple)
        or len(image_size) != 2
        or not all(isinstance(side, int) and side > 0 for side in image_size)
    ):
        raise ConfigError(f"{IMAGE_SIZE_KEY}: expected [H, W], two positive integers, got {image_size!r}")
    constraints = [c for c in size_constraints(model_config) if c[2] > 1]
    if not constraints:
        return
    multiple = math.lcm(*(c[2] for c in constraints))
    if all(side % multiple == 0 for side in image_size):
        return
    reasons = "; ".join(f"{name} at {key} needs multiples of {m}" for key, name, m in constraints if m == multiple)
    if not reasons:
        reasons = "; ".join(f"{name} at {key} needs multiples of {m}" for key, name, m in constraints)
    choices = " or ".join(str(size) for size in nearby_sizes(tuple(image_size), multiple))
    raise ConfigError(
        f"{IMAGE_SIZE_KEY}: {list(image_size)} does not fit this config's networks (H and W must be multiples of "
        f"{multiple}: {reasons}); sizes that work nearby: {choices}"
    )
