"""Loading a trained stage from its checkpoint to feed (frozen) or fine-tune another stage.

An earlier stage's checkpoint given to another stage's ``--ckpt_path`` is refused (``checkpoint_match``): LightningCLI
would merge that checkpoint's hyper-parameters over the new run's. A stage names its inputs' checkpoints as model
arguments and loads them here, with strict key matching and errors that name the stage; the frozen feeders a
checkpoint records by file (``feeders``) are read back from their files.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters

from contract.errors import StageCheckpointError
from lightning_modules.feeders import FEEDERS_KEY, verify_feeder
from lightning_modules.stage import is_pretrained_key

ModuleT = TypeVar("ModuleT", bound=LightningModule)


@contextmanager
def own_hyperparameters() -> Iterator[None]:
    """Build a stage inside another module's ``__init__`` so that it records its own hyper-parameters.

    LightningCLI hands the config of the module it is building to every ``save_hyperparameters()`` called meanwhile
    (a context variable); a stage built or loaded inside that module must record its own arguments instead.
    """
    token = _given_hyperparameters.set(None)
    try:
        yield
    finally:
        _given_hyperparameters.reset(token)


def load_stage(
    path: str,
    module_class: type[ModuleT],
    stage: str,
    frozen: bool = True,
    overrides: dict | None = None,
    drop_prefixes: tuple[str, ...] = (),
) -> ModuleT:
    """Rebuild ``module_class`` from the checkpoint at ``path`` (its saved hyper-parameters) and load its weights.

    Args:
        path: a checkpoint written by ``vton fit`` of that stage.
        module_class: the stage's LightningModule class.
        stage: the name used in error messages (e.g. ``"stage 1 (layout)"``).
        frozen: put the module in eval mode with ``requires_grad=False`` (teacher-forcing inputs of a later stage).
        overrides: hyper-parameters replacing the saved ones (e.g. ``{"layout_checkpoint": None}``).
        drop_prefixes: saved state-dict keys with these prefixes are ignored (the submodules ``overrides`` removed,
            e.g. ``("layout.",)``); every other key must match exactly (the recorded feeders' keys are read back
            from their files).

    Raises:
        StageCheckpointError: the file is missing, a feeder file it records is missing or changed, or its keys differ
            from the module's (both lists named).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise StageCheckpointError(f"{stage}: checkpoint {str(file)!r} not found")
    checkpoint = torch.load(file, map_location="cpu", mmap=True, weights_only=False)
    for prefix, entry in checkpoint.get(FEEDERS_KEY, {}).items():  # before building: its messages name this file
        if not prefix.startswith(drop_prefixes):
            verify_feeder(f"{stage}: checkpoint {str(file)!r}", prefix, entry)
    with own_hyperparameters(), warnings.catch_warnings():  # the dropped keys; every other key is checked below
        warnings.filterwarnings("ignore", message="Found keys that are not in the model state dict")
        module = module_class.load_from_checkpoint(file, map_location="cpu", strict=False, **(overrides or {}))
    feeders = tuple(checkpoint.get(FEEDERS_KEY, {}))
    saved = {key for key in checkpoint["state_dict"] if not key.startswith(drop_prefixes)}
    own = {key for key in module.state_dict() if not is_pretrained_key(key) and not key.startswith(feeders)}
    missing, unexpected = sorted(own - saved), sorted(saved - own)
    if missing or unexpected:
        raise StageCheckpointError(
            f"{stage}: checkpoint {str(file)!r} does not fit {module_class.__name__}: "
            f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, "
            f"unexpected keys {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
        )
    if frozen:
        module.requires_grad_(False)
        module.eval()
    return module
