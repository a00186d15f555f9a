"""Flow metrics (``metrics/flow.py``): end-point error and visibility accuracy by hand, exact accumulation."""

from __future__ import annotations

import pytest
import torch

from metrics.flow import EndPointError, VisibilityAccuracy


def test_epe_by_hand_over_the_valid_pixels() -> None:
    target = torch.randn(2, 2, 6, 5)
    preds = target + torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # |(3, 4)| = 5 px everywhere
    valid = torch.ones(2, 6, 5, dtype=torch.bool)
    valid[:, :2] = False
    preds[:, :, :2] += 100.0  # huge errors, but outside the valid mask
    metric = EndPointError()
    metric.update(preds, target, valid)
    assert metric.compute().item() == pytest.approx(5.0, abs=1e-5)
    assert metric.num_pixels.item() == 2 * 4 * 5
    everywhere = EndPointError()
    everywhere.update(preds, target, valid[:, None].long())  # [B, 1, H, W] 0/1 masks work too
    everywhere.update(preds[:, :, 2:], target[:, :, 2:])  # no mask: every pixel
    assert everywhere.compute().item() == pytest.approx(5.0, abs=1e-5)


def test_epe_weighs_pixels_not_batches() -> None:
    target = torch.zeros(4, 2, 6, 5)
    preds = torch.zeros(4, 2, 6, 5)
    preds[3, 0] = 8.0  # only the last image is wrong, by 8 px
    valid = torch.zeros(4, 6, 5, dtype=torch.bool)
    valid[:3, :3] = True  # 15 valid pixels in each of the first three images
    valid[3, :1] = True  # 5 in the last one
    whole, split, rank_a, rank_b = EndPointError(), EndPointError(), EndPointError(), EndPointError()
    whole.update(preds, target, valid)
    split.update(preds[:3], target[:3], valid[:3])
    split.update(preds[3:], target[3:], valid[3:])
    rank_a.update(preds[:3], target[:3], valid[:3])
    rank_b.update(preds[3:], target[3:], valid[3:])
    rank_a.merge_state(rank_b)
    expected = 8.0 * 5 / (3 * 15 + 5)
    for metric in (whole, split, rank_a):
        assert metric.compute().item() == pytest.approx(expected, abs=1e-6)


def test_visibility_accuracy_by_hand_from_logits_and_labels() -> None:
    target = torch.tensor([[[0, 1, 2, 2]]])
    labels = torch.tensor([[[0, 1, 1, 2]]])
    logits = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float()
    from_labels, from_logits = VisibilityAccuracy(), VisibilityAccuracy()
    from_labels.update(labels, target)
    from_logits.update(logits, target)
    assert from_labels.compute().item() == pytest.approx(0.75)
    assert from_logits.compute().item() == pytest.approx(0.75)
    # A partial last batch adds its pixels: 3 of 4 then 0 of 2 -> 3 / 6; merged ranks agree.
    rank_a, rank_b = VisibilityAccuracy(), VisibilityAccuracy()
    rank_a.update(logits, target)
    rank_b.update(torch.tensor([[[1, 1]]]), torch.tensor([[[0, 2]]]))
    rank_a.merge_state(rank_b)
    from_labels.update(torch.tensor([[[1, 1]]]), torch.tensor([[[0, 2]]]))
    assert from_labels.compute().item() == pytest.approx(0.5)
    assert rank_a.compute().item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: EndPointError().update(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)), "flows [B, 2, H, W]"),
        (
            lambda: EndPointError().update(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.ones(1, 4, 5)),
            "valid must be [B, H, W] = (1, 4, 4)",
        ),
        (
            lambda: VisibilityAccuracy().update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 3)),
            "target labels lie in [3, 3], expected 0..2",
        ),
        (
            lambda: VisibilityAccuracy().update(torch.zeros(1, 20, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)),
            "do not match 3 classes",
        ),
    ],
)
def test_bad_input_raises(call, message: str) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
