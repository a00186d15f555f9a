"""Parsing metrics (``metrics/parsing.py``): mIoU and pixel accuracy by hand, ignore index, exact accumulation."""

from __future__ import annotations

import math

import pytest
import torch

from metrics.parsing import ParsingIoU, as_labels


def test_miou_and_pixel_accuracy_by_hand() -> None:
    # class 0: TP 1, FN 1, FP 0 -> 1/2; class 1: TP 2, FP 1 -> 2/3; the other 18 LIP classes appear nowhere.
    target = torch.tensor([[[0, 0], [1, 1]]])
    preds = torch.tensor([[[0, 1], [1, 1]]])
    metric = ParsingIoU()
    metric.update(preds, target)
    result = metric.compute()
    assert result["miou"].item() == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result["pixel_accuracy"].item() == pytest.approx(3 / 4)
    iou = metric.class_iou()
    assert iou[:2].tolist() == pytest.approx([1 / 2, 2 / 3]) and torch.isnan(iou[2:]).all()


def test_a_class_only_predicted_counts_with_iou_zero() -> None:
    metric = ParsingIoU(num_classes=4)
    metric.update(torch.tensor([[[0, 3]]]), torch.tensor([[[0, 0]]]))
    # class 0: 1 / 2; class 3: 0 / 1; classes 1, 2: absent.
    assert metric.compute()["miou"].item() == pytest.approx(0.25)


def test_scores_are_arg_maxed_like_labels() -> None:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 20, 8, 6, generator=g)
    target = torch.randint(0, 20, (2, 8, 6), generator=g)
    from_scores, from_labels = ParsingIoU(), ParsingIoU()
    from_scores.update(scores, target)
    from_labels.update(scores.argmax(1), target)
    assert torch.equal(from_scores.confusion, from_labels.confusion)
    assert from_scores.confusion.sum() == 2 * 8 * 6


def test_ignore_index_leaves_pixels_out() -> None:
    target = torch.tensor([[[0, 1, 255, 255]]])
    preds = torch.tensor([[[0, 1, 1, 0]]])
    metric = ParsingIoU(num_classes=2, ignore_index=255)
    metric.update(preds, target)
    result = metric.compute()
    assert result["miou"].item() == pytest.approx(1.0) and result["pixel_accuracy"].item() == pytest.approx(1.0)
    assert metric.confusion.sum() == 2


def test_partial_last_batch_and_merged_states_equal_one_pass() -> None:
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 20, (4, 8, 6), generator=g)
    preds = torch.where(torch.rand(4, 8, 6, generator=g) < 0.6, target, torch.randint(0, 20, (4, 8, 6), generator=g))
    whole, split, rank_a, rank_b = ParsingIoU(), ParsingIoU(), ParsingIoU(), ParsingIoU()
    whole.update(preds, target)
    split.update(preds[:3], target[:3])
    split.update(preds[3:], target[3:])
    rank_a.update(preds[:3], target[:3])
    rank_b.update(preds[3:], target[3:])
    rank_a.merge_state(rank_b)
    for metric in (split, rank_a):
        assert torch.equal(metric.confusion, whole.confusion)
        for key, value in whole.compute().items():
            torch.testing.assert_close(metric.compute()[key], value)
    assert not math.isclose(whole.compute()["miou"].item(), 1.0)


@pytest.mark.parametrize(
    ("preds", "target", "message"),
    [
        (
            torch.zeros(1, 2, 2, dtype=torch.long),
            torch.full((1, 2, 2), 20),
            "target labels lie in [20, 20], expected 0..19",
        ),
        (torch.full((1, 2, 2), -1), torch.zeros(1, 2, 2, dtype=torch.long), "predicted labels lie in [-1, -1]"),
        (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), "integer labels shaped like target"),
        (torch.zeros(1, 5, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), "do not match 20 classes"),
        (torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2), "target must be integer labels"),
    ],
)
def test_bad_input_raises(preds: torch.Tensor, target: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError) as info:
        ParsingIoU().update(preds, target)
    assert message in str(info.value)


def test_ignore_index_is_the_only_label_allowed_outside_the_range() -> None:
    with pytest.raises(ValueError, match=r"expected 0..1 or 255"):
        as_labels(torch.zeros(1, 1, 2, dtype=torch.long), torch.tensor([[[255, 7]]]), 2, "X", ignore_index=255)
