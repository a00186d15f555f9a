"""Discrete draws from a ``numpy.random.Generator`` at Python level, without ``Generator.choice``'s per-call
overhead (some 10 us a call, against 1-2 us here: a triplet makes a dozen such draws). Each consumes the
generator exactly as the ``choice`` call it replaces, so a seed draws the same samples either way."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options``, uniformly: ``rng.choice(options)`` (one ``integers`` draw)."""
    return options[rng.integers(len(options))]


class Categorical:
    """Index ``i`` with probability ``probs[i]``: ``rng.choice(len(probs), p=probs)``, one uniform draw placed
    among the normalised cumulative sums (computed once, as ``choice`` computes them at every call)."""

    def __init__(self, probs: Sequence[float]) -> None:
        cdf = np.cumsum(np.asarray(probs, np.float64))
        if not np.isclose(cdf[-1], 1.0) or (np.asarray(probs) < 0).any():
            raise ValueError(f"probabilities must be non-negative and sum to 1, got {tuple(probs)}")
        self.cdf = (cdf / cdf[-1]).tolist()

    def __call__(self, rng: np.random.Generator) -> int:
        return bisect.bisect_right(self.cdf, rng.random())
