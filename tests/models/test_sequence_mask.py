"""Multi-frame co-attention mask network (``models/sequence_mask.py``): inputs it depends on, rollout, bad input."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from models.generator import ResNetGenerator
from models.sequence_mask import SequenceMaskNet

TINY = partial(ResNetGenerator, base_width=4, n_blocks=1, n_down=2, head="plain")


def tiny_net(n_previous: int = 2) -> SequenceMaskNet:
    torch.manual_seed(0)
    return SequenceMaskNet(n_previous, TINY).eval()


def test_prediction_is_a_probability_map_that_depends_on_masks_and_pose() -> None:
    net = tiny_net()
    masks, pose = torch.rand(2, 2, 1, 16, 12), torch.rand(2, 18, 16, 12)
    with torch.no_grad():
        out = net(masks, pose)
        assert ((out > 0) & (out < 1)).all()
        assert not torch.allclose(net(masks.flip(1), pose), out)  # the order of the previous masks matters
        assert not torch.allclose(net(masks, torch.zeros_like(pose)), out)
        # samples are independent: the first sample's prediction does not change with the second's inputs
        other = net(
            torch.cat([masks[:1], torch.rand(1, 2, 1, 16, 12)]), torch.cat([pose[:1], torch.rand(1, 18, 16, 12)])
        )
    torch.testing.assert_close(other[:1], out[:1])


def test_rollout_feeds_predictions_back() -> None:
    net = tiny_net()
    first, poses = torch.rand(1, 2, 1, 16, 12), torch.rand(1, 5, 18, 16, 12)
    with torch.no_grad():
        rolled = net.rollout(first, poses)
        step2 = net(first, poses[:, 2])
        step3 = net(torch.stack([first[:, 1], step2], 1), poses[:, 3])
        step4 = net(torch.stack([step2, step3], 1), poses[:, 4])
    torch.testing.assert_close(rolled, torch.stack([step2, step3, step4], 1))


def test_learns_to_copy_the_last_mask_on_a_toy_case() -> None:
    torch.manual_seed(0)
    net = SequenceMaskNet(1, TINY)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-2)
    masks = torch.zeros(4, 1, 1, 16, 12)
    for b in range(4):  # a rectangle per sample, at different places
        masks[b, 0, 0, 2 + b : 10 + b, 1 + b : 8 + b] = 1
    pose = torch.zeros(4, 18, 16, 12)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.binary_cross_entropy(net(masks, pose), masks[:, 0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_input_is_named() -> None:
    net = tiny_net()
    with pytest.raises(ValueError, match="previous_masks"):
        net(torch.rand(1, 3, 1, 16, 12), torch.rand(1, 18, 16, 12))
    with pytest.raises(ValueError, match="next_pose"):
        net(torch.rand(1, 2, 1, 16, 12), torch.rand(1, 17, 16, 12))
    with pytest.raises(ValueError, match="T > n_previous"):
        net.rollout(torch.rand(1, 2, 1, 16, 12), torch.rand(1, 2, 18, 16, 12))
    with pytest.raises(ValueError, match="n_previous"):
        SequenceMaskNet(0, TINY)


def test_size_multiple_of_the_default_generator_is_what_the_forward_pass_takes() -> None:
    multiple = SequenceMaskNet.size_multiple({"generator": None})
    net = SequenceMaskNet(2)
    assert multiple == 2**net.net.n_down == 8
    assert SequenceMaskNet.size_multiple({"generator": {"class_path": "models.generator.ResNetGenerator"}}) == 1
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 2, 1, 2 * multiple + 4, multiple), torch.rand(1, 18, 2 * multiple + 4, multiple))
