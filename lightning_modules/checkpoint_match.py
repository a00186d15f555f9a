"""Whether a ``--ckpt_path`` checkpoint is one of the config's stage, variant and networks.

``--ckpt_path`` resumes (or tests, predicts with) the stage the config builds; an earlier stage feeding this one is a
model argument (``--model.init_args.layout_checkpoint`` ...). A checkpoint's stage is the module class LightningCLI
recorded in its hyper-parameters (``_class_path``); its variant and networks are the structural hyper-parameters:
``variant`` / ``task`` / ``fusion``, ``image_size`` / ``n_frames``, whether each ``*_checkpoint`` feeder is set, and
the arguments of every network factory (a ``class_path`` naming an ``nn.Module``). Checked twice: on the parsed config
before LightningCLI merges the checkpoint's hyper-parameters over it (``vton``, an existing file), and when a Trainer
restores the checkpoint (also ``--ckpt_path last`` / ``best`` / ``hpc``), there with the state dict's keys and shapes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from contract.errors import StageCheckpointError

STAGE_KEYS = ("variant", "task", "fusion")  # which kind of a stage it is
SHAPE_KEYS = ("image_size", "n_frames")
SHOWN = 3  # differences named in one message
PLAIN = (str, int, float, bool, type(None), list)


def import_class(class_path: str) -> type | None:
    """The class at ``module.Name``, or ``None`` where there is none."""
    module, _, name = class_path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if isinstance(found, type) else None


def stage_name(class_path: str) -> str:
    """``"stage 1 (layout)"`` for the stage modules (their ``stage_name``), the class path otherwise."""
    return getattr(import_class(class_path), "stage_name", None) or class_path


def check_config_fits(path: str, model: Mapping) -> None:
    """The ``vton`` check of the file ``path`` given to ``--ckpt_path`` against the parsed config's ``model``
    (``{"class_path", "init_args"}``), before anything is built."""
    try:
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as error:  # any unreadable file: pickle, zip or torch errors alike
        raise StageCheckpointError(f"--ckpt_path {path}: not a readable checkpoint ({type(error).__name__})") from error
    check_stage(path, checkpoint, model["class_path"], model.get("init_args") or {})


def check_stage(path: str, checkpoint: Mapping, class_path: str, hparams: Mapping) -> None:
    """Stage, variant and networks of the ``--ckpt_path`` checkpoint at ``path`` against a module of ``class_path``
    with hyper-parameters ``hparams``.

    Raises:
        StageCheckpointError: another stage's checkpoint (both stages named, and the ``*_checkpoint`` argument that
            takes it), or the same stage's with other structural hyper-parameters (the first ones named).
    """
    saved = checkpoint.get("hyper_parameters") or {}
    saved_class = saved.get("_class_path")
    if saved_class is not None and saved_class != class_path:
        raise StageCheckpointError(f"--ckpt_path {path}: {other_stage(saved_class, class_path, path)}")
    differences = structural_differences(saved, hparams)
    if differences:
        more = f"; and {len(differences) - SHOWN} more" if len(differences) > SHOWN else ""
        raise StageCheckpointError(
            f"--ckpt_path {path}: this {stage_name(class_path)} checkpoint does not match the config: "
            f"{'; '.join(differences[:SHOWN])}{more}; use the config (and overrides) it was trained with"
        )


def other_stage(saved_class: str, class_path: str, path: str) -> str:
    """What to say of a checkpoint of ``saved_class`` given to a config building ``class_path``."""
    saved, own = stage_name(saved_class), stage_name(class_path)
    taking = getattr(import_class(class_path), "checkpoint_arguments", {})
    found = import_class(saved_class)
    fitting = [arg for arg, cls in taking.items() if found is not None and issubclass(found, cls)]
    said = f"a {saved} checkpoint, but the config builds {own}; --ckpt_path resumes the config's own stage"
    if fitting:
        return f"{said}: feed {saved} to {own} with --model.init_args.{fitting[0]} {path} instead"
    arguments = ", ".join(f"--model.init_args.{arg}" for arg in taking) or "none"
    return f"{said}, and {own} takes no {saved} checkpoint (its *_checkpoint arguments: {arguments})"


def structural_differences(saved: Mapping, config: Mapping) -> list[str]:
    """``"<key> is <saved> in the checkpoint, <config> in the config"`` for each structural hyper-parameter (module
    docstring) that differs; keys only one side has are not compared (a newer argument, an older checkpoint)."""
    shared = [key for key in saved if key in config]
    keys = [key for key in (*STAGE_KEYS, *SHAPE_KEYS) if key in shared]
    keys += [key for key in shared if key.endswith("_checkpoint") and (saved[key] is None) != (config[key] is None)]
    leaves: list[tuple[str, object, object]] = [(key, saved[key], config[key]) for key in keys]
    for key in shared:
        configs = all(value is None or isinstance(value, Mapping) for value in (saved[key], config[key]))
        if configs and (is_network(saved[key]) or is_network(config[key])):  # not a factory built in Python
            ours, theirs = flatten(saved[key], key), flatten(config[key], key)
            if set(ours) & set(theirs):
                leaves += [(leaf, ours[leaf], theirs[leaf]) for leaf in ours if leaf in theirs]
            else:  # one side names no network (None: the module's default)
                leaves.append((f"{key}.class_path", ours.get(f"{key}.class_path"), theirs.get(f"{key}.class_path")))
    differences = []
    for key, ours, theirs in leaves:
        ours, theirs = plain(ours), plain(theirs)
        if isinstance(ours, PLAIN) and isinstance(theirs, PLAIN) and ours != theirs:
            differences.append(f"{config_key(key)} is {ours!r} in the checkpoint, {theirs!r} in the config")
    return differences


def config_key(key: str) -> str:
    """The config key a user sets for the module's hyper-parameter ``key`` (``image_size`` is linked from the data)."""
    return "data.init_args.image_size" if key == "image_size" else f"model.init_args.{key}"


def is_network(value: object) -> bool:
    """A network factory's config: ``{"class_path": <an nn.Module class>, "init_args": ...}``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("class_path"), str):
        return False
    found = import_class(value["class_path"])
    return found is not None and issubclass(found, nn.Module)


def flatten(value: object, prefix: str) -> dict[str, object]:
    """Dotted keys to the leaves of nested mappings (``generator.init_args.base_width``)."""
    if not isinstance(value, Mapping):
        return {prefix: value}
    return {leaf: v for key, item in value.items() for leaf, v in flatten(item, f"{prefix}.{key}").items()}


def plain(value: object) -> object:
    """Tuples as lists (the config parser gives tuples, checkpoints keep lists)."""
    return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def check_state_fits(path: str, stage: str, saved: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> None:
    """The state dict ``saved`` of the ``--ckpt_path`` checkpoint at ``path`` has the keys and shapes of the
    module's ``own`` (``stage``: the module's stage name).

    Raises:
        StageCheckpointError: missing or unexpected keys (the first ones named) or the first tensor whose shape differs.
    """
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    mismatched = [key for key in own if key in saved and tuple(own[key].shape) != tuple(saved[key].shape)]
    problem = ""
    if mismatched:
        key = mismatched[0]
        problem = f"{key} is {list(saved[key].shape)} in the checkpoint, {list(own[key].shape)} in the model"
    elif missing or unexpected:
        problem = f"missing keys {missing[:SHOWN]}, unexpected keys {unexpected[:SHOWN]}"
    if problem:
        raise StageCheckpointError(
            f"--ckpt_path {path}: this {stage} checkpoint does not fit the config's networks: {problem}; use the "
            "config (and overrides) it was trained with"
        )
