"""Suite-wide test settings.

One torch thread: the suite runs on 2-core CI machines where intra-op threads of tiny ops mostly contend (a few
one-batch training steps measured 46 s with two threads on a busy machine, 0.7 s with one). Tests that need
more set it themselves.

Determinism: deterministic algorithms wherever torch has a choice, and every test starts from the same random state
(torch, numpy, random), whatever ran before it, so a test's figures do not depend on the order, the selection
(``-k``) or ``PYTHONHASHSEED``. What still differs between torch releases are the kernels' rounding: the learning
tests assert margins measured on torch 2.11 and 2.14.1 (their docstrings give the figures).
"""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.synthetic.dataset import SynthConfig, synthesize

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


@pytest.fixture(autouse=True)
def same_random_state() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


@pytest.fixture(scope="session")
def tiny_synthetic_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic sets at 64x48 with exact flow/visibility, written once per session (no ``make data`` needed):
    ``{"mpv": root, "deepfashion": root}`` (8 train, 4 test)."""
    base = tmp_path_factory.mktemp("synthetic")
    roots = {}
    for layout in ("mpv", "deepfashion"):
        roots[layout] = base / layout
        synthesize(SynthConfig(out=str(roots[layout]), layout=layout, height=64, width=48, n_train=8, n_test=4, seed=3))
    return roots
