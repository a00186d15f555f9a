"""Mask-IS (``metrics/mask_inception.py``): known answers with stand-in networks (tests only), the mask really
restricting the score, and the one-line reason when the Inception file is absent."""

import pytest
import torch
from torch import nn

from metrics.inception import INCEPTION_FILE, IS
from metrics.mask_inception import MaskIS, mask_inception_score_or_reason


class GreyVote(nn.Module):
    """uint8 image -> a confident vote for class ``(grey level at the centre) % 4``."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.dtype == torch.uint8
        centre = images[:, 0, images.shape[2] // 2, images.shape[3] // 2].long()
        return 50.0 * nn.functional.one_hot(centre % 4, 4).float()


class MeanColourLogits(nn.Module):
    """uint8 image -> logits from its mean colour over every pixel (it sees the whole image)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(2, 3)) / 8.0


def centre_mask(n: int, h: int = 16, w: int = 12) -> torch.Tensor:
    mask = torch.zeros(n, 1, h, w)
    mask[:, :, 4:12, 3:9] = 1.0
    return mask


def test_uniform_predictions_score_one() -> None:
    class Uniform(nn.Module):
        def forward(self, images):
            return torch.zeros(images.shape[0], 7)

    score = MaskIS(Uniform(), splits=2)
    score.update(torch.rand(6, 3, 16, 12) * 2 - 1, centre_mask(6))
    mean, _ = score.compute()
    assert float(mean) == pytest.approx(1.0, abs=1e-6)


def test_confident_distinct_predictions_over_n_classes_score_n() -> None:
    images = torch.stack([torch.full((3, 16, 12), k / 127.5 - 1.0) for k in range(4)])  # centre grey k -> class k
    score = MaskIS(GreyVote(), splits=1)
    score.update(images[:3], centre_mask(3))
    score.update(images[3:], centre_mask(1))  # uneven batches: every image counts once
    mean, _ = score.compute()
    assert float(mean) == pytest.approx(4.0, rel=1e-3)


def test_a_change_outside_the_mask_does_not_move_the_score_but_one_inside_does() -> None:
    torch.manual_seed(0)
    images = torch.rand(6, 3, 16, 12) * 2 - 1
    mask = centre_mask(6)
    outside = images + (1 - mask) * torch.rand(6, 3, 16, 12)  # new pixels only where the mask is 0
    inside = images + mask * torch.rand(6, 3, 16, 12)

    def scores(metric_type, batch):
        metric = metric_type(MeanColourLogits(), splits=1)
        metric.update(batch, mask) if metric_type is MaskIS else metric.update(batch)
        return float(metric.compute()[0])

    assert scores(MaskIS, outside.clamp(-1, 1)) == scores(MaskIS, images)
    assert scores(MaskIS, inside.clamp(-1, 1)) != pytest.approx(scores(MaskIS, images), abs=1e-4)
    assert scores(IS, outside.clamp(-1, 1)) != pytest.approx(scores(IS, images), abs=1e-4)  # the net sees outside


def test_a_mask_of_another_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Mask-IS: mask \(2, 1, 8, 6\) does not fit images \(2, 3, 16, 12\)"):
        MaskIS(GreyVote()).update(torch.zeros(2, 3, 16, 12), torch.ones(2, 1, 8, 6))


def test_missing_weights_make_mask_is_unavailable_with_file_and_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    assert mask_inception_score_or_reason() == (None, f"unavailable: {INCEPTION_FILE} not found in {folder}")
