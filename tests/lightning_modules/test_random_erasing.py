"""``random_erasing`` (``lightning_modules/random_erasing.py``): one rectangle of the drawn size per chosen sample."""

import math

import pytest
import torch

from lightning_modules.random_erasing import random_erasing


def boxes(erased: torch.Tensor, value: float) -> list[tuple[int, int] | None]:
    """Per sample: ``(h, w)`` of its filled rectangle (checked to be one full rectangle), or None."""
    out = []
    for sample in erased:
        filled = (sample == value).all(0)
        if not filled.any():
            out.append(None)
            continue
        rows, cols = filled.any(1).nonzero()[:, 0], filled.any(0).nonzero()[:, 0]
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert int(filled.sum()) == h * w  # one full rectangle
        out.append((h, w))
    return out


def test_chosen_samples_get_one_rectangle_of_the_drawn_area_and_aspect_and_others_none() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(600, 2, 64, 48) + 1.0  # never equal to the fill value
    erased = random_erasing(images, p=0.5, value=-3.0, generator=generator)
    found = boxes(erased, -3.0)
    chosen = [box for box in found if box is not None]
    assert 0.44 < len(chosen) / len(found) < 0.56  # p = 0.5 (binomial sd 0.02)
    fractions = [h * w / (64 * 48) for h, w in chosen]
    assert min(fractions) > 0.015 and max(fractions) <= 0.345  # scale (0.02, 0.33) up to rounding and clamping
    assert abs(sum(fractions) / len(fractions) - 0.175) < 0.02  # U(0.02, 0.33) has mean 0.175
    log_aspects = [math.log(h / w) for h, w in chosen if h < 64 and w < 48]  # unclamped boxes
    assert min(log_aspects) > math.log(0.3) - 0.2 and max(log_aspects) < math.log(3.3) + 0.2
    assert abs(sum(log_aspects) / len(log_aspects)) < 0.15  # log r ~ U(log 0.3, log 3.3): mean -0.005
    outside = erased != -3.0
    assert torch.equal(erased[outside], images[outside])  # nothing else changes


def test_probability_zero_is_the_identity_and_one_erases_every_sample() -> None:
    images = torch.rand(50, 3, 16, 12) + 1.0
    assert torch.equal(random_erasing(images, p=0.0), images)
    assert all(box is not None for box in boxes(random_erasing(images, p=1.0), 0.0))


def test_the_same_generator_seed_gives_the_same_boxes_and_the_input_is_untouched() -> None:
    images = torch.rand(8, 3, 16, 12) + 1.0
    copy = images.clone()
    first = random_erasing(images, p=1.0, generator=torch.Generator().manual_seed(5))
    second = random_erasing(images, p=1.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second) and torch.equal(images, copy)


def test_a_non_batched_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        random_erasing(torch.zeros(3, 16, 12))
