"""The garment attribute classifier (``models/attribute_classifier.py``): per-group probabilities, any input size,
bad groups refused, and it learns kinds and patterns that only the image shows."""

import pytest
import torch

from models.attribute_classifier import AttributeClassifier

NAMES = ["kind=a", "kind=b", "pattern=solid", "pattern=stripes", "pattern=checks"]


def test_each_group_is_a_probability_distribution_and_any_size_is_resized() -> None:
    network = AttributeClassifier(NAMES, [2, 3], input_size=(32, 24), width=4).eval()
    images = torch.rand(3, 3, 32, 24) * 2 - 1
    kinds, patterns = network(images).exp().split([2, 3], dim=1)
    torch.testing.assert_close(kinds.sum(1), torch.ones(3))
    torch.testing.assert_close(patterns.sum(1), torch.ones(3))
    big = images.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # each pixel a 2x2 block
    torch.testing.assert_close(network(big), network(images), atol=1e-5, rtol=1e-4)


def test_groups_that_do_not_fit_the_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"groups \[2, 2\] must each have 2\+ attributes and sum to the 5"):
        AttributeClassifier(NAMES, [2, 2])
    with pytest.raises(ValueError, match="expects images"):
        AttributeClassifier(NAMES, [2, 3], width=4)(torch.zeros(1, 1, 32, 24))


def test_it_learns_a_kind_from_the_shape_and_a_pattern_from_the_texture() -> None:
    from scripts.train_attribute_classifier import LEARNING_RATE  # the training command's own optimiser settings

    def draw(kind: int, pattern: int) -> torch.Tensor:
        image = torch.full((3, 32, 24), -1.0)
        rows = slice(4, 28) if kind else slice(4, 14)  # kind b is a long garment, kind a a short one
        cloth = torch.zeros(24, 24) + 0.5
        y, x = torch.meshgrid(torch.arange(24), torch.arange(24), indexing="ij")
        if pattern == 1:
            cloth = torch.where(y % 4 < 2, 0.9, -0.5)
        elif pattern == 2:
            cloth = torch.where((y // 3 + x // 3) % 2 == 0, 0.9, -0.5)
        image[:, rows, :] = cloth[: rows.stop - rows.start]
        return image

    labels = torch.tensor([(k, p) for k in range(2) for p in range(3)] * 4)
    images = torch.stack([draw(int(k), int(p)) for k, p in labels]) + 0.05 * torch.randn(len(labels), 3, 32, 24)
    torch.manual_seed(0)
    network = AttributeClassifier(NAMES, [2, 3], input_size=(32, 24), width=8)
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    for _ in range(60):
        kinds, patterns = network(images).split([2, 3], dim=1)
        loss = torch.nn.functional.nll_loss(kinds, labels[:, 0]) + torch.nn.functional.nll_loss(patterns, labels[:, 1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    network.eval()
    kinds, patterns = network(images).split([2, 3], dim=1)
    assert (kinds.argmax(1) == labels[:, 0]).all() and (patterns.argmax(1) == labels[:, 1]).all()
