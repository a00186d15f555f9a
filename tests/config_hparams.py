"""The hyper-parameters the shipped configs give, for tests of learning (the standard: a claim that a loss falls is
tested at the config's own learning rate, betas and weight decay). ``tests/`` is on ``sys.path`` (``pyproject.toml``,
``[tool.pytest.ini_options] pythonpath``), so test modules ``from config_hparams import config_optimizer``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def config_optimizer(config: str, key: str = "g_optimizer") -> Callable:
    """The optimizer factory ``configs/<config>.yaml`` gives as ``model.init_args.<key>``: its class and arguments."""
    spec = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())["model"]["init_args"][key]
    module, _, name = spec["class_path"].rpartition(".")
    arguments = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.get("init_args", {}).items()}
    return partial(getattr(importlib.import_module(module), name), **arguments)
