"""FID and IS (``metrics/inception.py``): unavailable without the Inception file, and the update/compute plumbing
checked with a tiny stand-in network (tests only: the library never builds them from random weights)."""

import pytest
import torch
from PIL import Image
from torch import nn

import metrics.inception as inception
from metrics.inception import FID, INCEPTION_FILE, IS, fid_or_reason, inception_score_or_reason, to_uint8


class MeanColour(nn.Module):
    """Stand-in feature network: uint8 images -> their mean colour ``[B, 3]`` on the 0..1 scale."""

    num_features = 3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        assert images.dtype == torch.uint8  # what the real Inception expects
        return images.float().mean(dim=(2, 3)) / 255.0


def test_missing_weights_make_fid_and_is_unavailable_with_file_and_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    assert fid_or_reason() == (None, f"unavailable: {INCEPTION_FILE} not found in {folder}")
    assert inception_score_or_reason() == (None, f"unavailable: {INCEPTION_FILE} not found in {folder}")
    assert (
        fid_or_reason(tmp_path / "weights")[1] == f"unavailable: {INCEPTION_FILE} not found in {tmp_path / 'weights'}"
    )


def test_weights_without_torch_fidelity_are_reported_not_downloaded(tmp_path, monkeypatch) -> None:
    (tmp_path / INCEPTION_FILE).write_bytes(b"")
    monkeypatch.setattr(inception, "torch_fidelity_missing", lambda: "unavailable: the torch-fidelity package ...")
    built = []
    monkeypatch.setattr(inception, "inception_network", lambda *args: built.append(args))
    assert fid_or_reason(tmp_path) == (None, "unavailable: the torch-fidelity package ...")
    assert built == []


def test_network_gets_the_local_weights_file(tmp_path, monkeypatch) -> None:
    (tmp_path / INCEPTION_FILE).write_bytes(b"")
    monkeypatch.setattr(inception, "torch_fidelity_missing", lambda: "")
    calls = []
    monkeypatch.setattr(
        inception, "inception_network", lambda path, feature: calls.append((path, feature)) or MeanColour()
    )
    fid, status = fid_or_reason(tmp_path)
    score, _ = inception_score_or_reason(tmp_path)
    assert isinstance(fid, FID) and isinstance(score, IS) and status == f"inception:{tmp_path / INCEPTION_FILE}"
    assert calls == [(tmp_path / INCEPTION_FILE, "2048"), (tmp_path / INCEPTION_FILE, "logits_unbiased")]


def test_to_uint8_maps_the_contract_range_like_saving_an_image() -> None:
    values = torch.tensor([-1.5, -1.0, 0.0, 1.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    assert to_uint8(values)[0, 0, 0].tolist() == [0, 0, 128, 255]


def test_fid_counts_every_image_of_uneven_batches_and_is_zero_for_the_same_set() -> None:
    torch.manual_seed(0)
    images = torch.rand(5, 3, 16, 12) * 2 - 1
    fid = FID(MeanColour())
    for chunk in images.split(2):  # 2 + 2 + 1
        fid.update(chunk, real=True)
    fid.update(images[:3], real=False)
    fid.update(images[3:], real=False)
    assert int(fid.real_features_num_samples) == 5 and int(fid.fake_features_num_samples) == 5
    assert float(fid.compute()) == pytest.approx(0.0, abs=1e-5)
    fid.reset()
    fid.update(images, real=True)
    fid.update((images + 0.5).clamp(-1, 1), real=False)  # brighter: the mean colour moves
    assert float(fid.compute()) > 0.01


def test_fid_reference_folder_is_kept_across_reset(tmp_path) -> None:
    for i, grey in enumerate((30, 60, 200)):
        Image.new("RGB", (24, 32), (grey, grey + i, grey)).save(tmp_path / f"ref{i}.png")
    fid = FID(MeanColour(), keep_reference=True)
    assert fid.add_reference_folder(tmp_path, size=(16, 12)) == 3
    fid.reset()
    assert int(fid.real_features_num_samples) == 3
    with pytest.raises(ValueError, match="FID reference folder .*missing not found"):
        fid.add_reference_folder(tmp_path / "missing", size=(16, 12))


def test_inception_score_of_confident_distinct_predictions_is_the_class_count() -> None:
    class Logits(nn.Module):
        def forward(self, images):  # image k (filled with grey k) -> a confident vote for class k
            return 50.0 * nn.functional.one_hot(images[:, 0, 0, 0].long() % 4, 4).float()

    score = IS(Logits(), splits=1)
    images = torch.stack([torch.full((3, 8, 8), k / 127.5 - 1.0) for k in range(4)])
    score.update(images[:3])
    score.update(images[3:])
    mean, _ = score.compute()
    assert float(mean) == pytest.approx(4.0, rel=1e-3)  # exp(KL) = number of equally used classes
