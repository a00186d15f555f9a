"""FashionIS and AttrRec-k (``metrics/attributes.py``): known answers with hand-made recognisers, summed states that
merge like DDP's, the exported classifier file read back, and the one-line reason when it is absent."""

import pytest
import torch
from torch import nn

from metrics.attributes import (
    ATTRIBUTE_CLASSIFIER_FILE,
    AttributeRecall,
    ClothingTypeLogits,
    FashionIS,
    attribute_classifier_or_reason,
    fashion_inception_score_or_reason,
    load_attribute_classifier,
    save_attribute_classifier,
)
from models.attribute_classifier import AttributeClassifier

A = 6  # attributes of the hand-made cases


class FirstRowScores(nn.Module):
    """Reads an image's attribute scores from its first pixel row (so a test writes the answer into the image)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, 0, 0, :A]


def images_with_scores(scores: torch.Tensor) -> torch.Tensor:
    images = torch.zeros(scores.shape[0], 3, 8, 8)
    images[:, 0, 0, :A] = scores
    return images


def test_a_recogniser_that_is_always_right_recalls_every_attribute() -> None:
    truth = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 1, 0]], dtype=torch.float32)
    recall = AttributeRecall(FirstRowScores(), top_k=(2, 5))
    recall.update(images_with_scores(truth * 0.9), truth)  # true attributes score highest
    assert {k: float(v) for k, v in recall.compute().items()} == {2: 1.0, 5: 1.0}


def test_top_k_recall_on_a_hand_made_ranking() -> None:
    # image 0: true {0, 3}, ranked 3, 5, 0, ...; image 1: true {1}, ranked 2, 4, 1, ...
    scores = torch.tensor([[0.6, 0.0, 0.1, 0.9, 0.2, 0.7], [0.1, 0.5, 0.9, 0.0, 0.7, 0.2]])
    truth = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 0]], dtype=torch.float32)
    recall = AttributeRecall(FirstRowScores(), top_k=(1, 2, 3))
    recall.update(images_with_scores(scores[:1]), truth[:1])
    recall.update(images_with_scores(scores[1:]), truth[1:])
    # top-1: 1 of 3 true attributes found, top-2: still 1, top-3: all 3 (0 at rank 3, 1 at rank 3)
    assert {k: float(v) for k, v in recall.compute().items()} == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1.0})


def test_states_are_sums_so_shards_merge_to_the_whole() -> None:
    torch.manual_seed(0)
    scores, truth = torch.rand(7, A), (torch.rand(7, A) < 0.3).float()
    whole = AttributeRecall(FirstRowScores(), top_k=(2, 4))
    whole.update(images_with_scores(scores), truth)
    shards = [AttributeRecall(FirstRowScores(), top_k=(2, 4)) for _ in range(2)]
    shards[0].update(images_with_scores(scores[:3]), truth[:3])
    shards[1].update(images_with_scores(scores[3:]), truth[3:])
    shards[0].merge_state(shards[1])  # what the "sum" reduction of DDP does
    assert {k: float(v) for k, v in shards[0].compute().items()} == {k: float(v) for k, v in whole.compute().items()}


def test_bad_k_and_labels_are_clear_errors() -> None:
    recall = AttributeRecall(FirstRowScores(), top_k=(5, 20))
    with pytest.raises(ValueError, match=r"k = \[20\] is not below the recogniser's 6 attributes"):
        recall.update(images_with_scores(torch.zeros(1, A)), torch.zeros(1, A))
    with pytest.raises(ValueError, match=r"attributes \(1, 4\) do not match the recogniser's scores \(1, 6\)"):
        AttributeRecall(FirstRowScores(), top_k=(2,)).update(images_with_scores(torch.zeros(1, A)), torch.zeros(1, 4))


def test_fashion_is_is_one_for_uniform_and_n_for_confident_distinct_types() -> None:
    class Uniform(nn.Module):
        def forward(self, images):
            return torch.zeros(images.shape[0], 4)

    uniform = FashionIS(Uniform(), splits=2)
    uniform.update(torch.rand(6, 3, 8, 8) * 2 - 1)
    assert float(uniform.compute()[0]) == pytest.approx(1.0, abs=1e-6)

    class TypeFromGrey(nn.Module):  # float image in [-1, 1] (not uint8) -> confident vote for its grey step
        def forward(self, images):
            assert images.dtype == torch.float32 and images.min() >= -1.0
            return 50.0 * nn.functional.one_hot(((images[:, 0, 0, 0] + 1) * 2).round().long(), 5).float()

    confident = FashionIS(TypeFromGrey(), splits=1)
    images = torch.stack([torch.full((3, 8, 8), k / 2 - 1.0) for k in range(5)])  # grey steps -1, -0.5, ..., 1
    confident.update(images[:2])
    confident.update(images[2:])
    assert float(confident.compute()[0]) == pytest.approx(5.0, rel=1e-3)


def test_an_exported_classifier_reads_back_at_any_batch_and_image_size(tmp_path) -> None:
    torch.manual_seed(0)
    names = [f"kind={k}" for k in "abc"] + [f"pattern={p}" for p in "xyzw"]
    network = AttributeClassifier(names, [3, 4], input_size=(32, 24), width=4).eval()
    path = tmp_path / ATTRIBUTE_CLASSIFIER_FILE
    save_attribute_classifier(network, path, names, [3, 4], torch.rand(2, 3, 32, 24) * 2 - 1)
    recogniser, status = attribute_classifier_or_reason(tmp_path)
    assert status == f"classifier:{path}" and recogniser.attribute_names == names and recogniser.group_sizes == [3, 4]
    images = torch.rand(5, 3, 64, 48) * 2 - 1
    torch.testing.assert_close(recogniser.train()(images), network(images))  # train() cannot unfreeze BatchNorm
    assert not any(p.requires_grad for p in recogniser.parameters())
    torch.testing.assert_close(ClothingTypeLogits(recogniser)(images), network(images)[:, :3])
    fashion, _ = fashion_inception_score_or_reason(tmp_path, splits=1)
    fashion.update(images)
    assert 1.0 - 1e-5 <= float(fashion.compute()[0]) <= 3.0  # an IS over 3 clothing types


def test_missing_or_foreign_classifier_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    reason = f"unavailable: {ATTRIBUTE_CLASSIFIER_FILE} not found in {folder}"
    assert fashion_inception_score_or_reason() == (None, reason)
    assert attribute_classifier_or_reason(tmp_path / "w") == (
        None,
        f"unavailable: {ATTRIBUTE_CLASSIFIER_FILE} not found in {tmp_path / 'w'}",
    )
    (tmp_path / "other.pt2").write_bytes(b"not a program")
    with pytest.raises(ValueError, match="other.pt2: not an attribute classifier exported"):
        load_attribute_classifier(tmp_path / "other.pt2")
