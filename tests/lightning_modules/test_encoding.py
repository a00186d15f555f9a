"""Encodings the stages feed their networks (``lightning_modules/encoding.py``)."""

import torch

from lightning_modules.encoding import label_mask, straight_through_label_mask


def test_straight_through_mask_is_the_hard_mask_forward_and_the_soft_one_backward() -> None:
    logits = torch.randn(2, 5, 4, 3, requires_grad=True)
    probs = logits.softmax(1)
    mask = straight_through_label_mask(probs, [1, 3])
    torch.testing.assert_close(mask, label_mask(probs.argmax(1), [1, 3]), rtol=0, atol=0)
    weights = torch.randn(2, 1, 4, 3)
    (got,) = torch.autograd.grad((mask * weights).sum(), logits, retain_graph=True)
    (want,) = torch.autograd.grad(((probs[:, 1:2] + probs[:, 3:4]) * weights).sum(), logits)
    torch.testing.assert_close(got, want)
    assert got.abs().sum() > 0
