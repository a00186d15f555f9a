"""Discrete draws (``datamodules/synthetic/sampling.py``): the same samples as ``Generator.choice``."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.synthetic.sampling import Categorical, pick


def test_pick_draws_what_choice_draws_and_leaves_the_generator_in_step() -> None:
    options = [0.0, 1.5, -2.0, 7.25, 3.0]
    ours, numpys = np.random.default_rng(4), np.random.default_rng(4)
    assert [pick(ours, options) for _ in range(500)] == [numpys.choice(options) for _ in range(500)]
    assert ours.random() == numpys.random()


def test_categorical_draws_what_weighted_choice_draws_with_its_frequencies() -> None:
    probs = (0.55, 0.35, 0.1)
    draw = Categorical(probs)
    ours, numpys = np.random.default_rng(5), np.random.default_rng(5)
    drawn = [draw(ours) for _ in range(4000)]
    assert drawn == [int(numpys.choice(3, p=probs)) for _ in range(4000)]
    assert ours.random() == numpys.random()
    np.testing.assert_allclose(np.bincount(drawn) / len(drawn), probs, atol=0.03)


def test_categorical_rejects_probabilities_that_do_not_sum_to_one() -> None:
    with pytest.raises(ValueError, match=r"sum to 1, got \(0.5, 0.2\)"):
        Categorical((0.5, 0.2))
