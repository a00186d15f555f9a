"""``EvaluationSuite`` (``metrics/evaluation.py``): unavailable metrics left out and said once, known answers, every
image of uneven batches counted, and clear errors."""

import math

import pytest
import torch
from torch import nn

import metrics.inception as inception
from datamodules.parsing import derived_masks
from metrics.attributes import ATTRIBUTE_CLASSIFIER_FILE, save_attribute_classifier
from metrics.evaluation import METRIC_NAMES, EvaluationSuite, format_table
from metrics.inception import INCEPTION_FILE
from models.attribute_classifier import AttributeClassifier


def make_batch(n: int, seed: int = 0) -> dict:
    """``n`` samples at 64x48: random target images, a parsing with a face block and a cloth block."""
    generator = torch.Generator().manual_seed(seed)
    parse = torch.zeros(n, 64, 48, dtype=torch.long)
    parse[:, 4:16, 16:32] = 13  # face
    parse[:, 20:44, 8:40] = 5  # upper clothes
    return {
        "tgt_img": torch.rand(n, 3, 64, 48, generator=generator) * 2 - 1,
        "tgt_parse": parse,
        "tgt_masks": derived_masks(parse),
    }


def perfect_outputs(batch: dict) -> dict:
    return {
        "result": batch["tgt_img"].clone(),
        "layout_logits": nn.functional.one_hot(batch["tgt_parse"], 20).permute(0, 3, 1, 2).float(),
        "warped_cloth": batch["tgt_img"] * batch["tgt_masks"]["cloth"],
    }


WEIGHTED = {"lpips_alex", "lpips_vgg", "fid", "is", "mask_is_face", "mask_is_cloth", "fashion_is", "attr_rec"}


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path / "hub" / "checkpoints"


def test_metrics_without_weights_are_left_out_said_once_and_absent_from_the_table(no_weights, capsys) -> None:
    suite = EvaluationSuite()
    assert set(suite.unavailable) == WEIGHTED
    assert suite.unavailable["fid"] == f"unavailable: {INCEPTION_FILE} not found in {no_weights}"
    printed = capsys.readouterr().out.splitlines()
    assert printed.count(f"fid: unavailable: {INCEPTION_FILE} not found in {no_weights}") == 1
    assert printed.count(f"mask_is_face: unavailable: {INCEPTION_FILE} not found in {no_weights}") == 1
    assert printed.count(f"lpips_vgg: unavailable: vgg16-397923af.pth not found in {no_weights}") == 1
    assert printed.count(f"attr_rec: unavailable: {ATTRIBUTE_CLASSIFIER_FILE} not found in {no_weights}") == 1
    batch = make_batch(2)
    suite.update(perfect_outputs(batch), batch)
    results = suite.compute()
    assert not WEIGHTED & set(results)
    table = format_table(results, suite.unavailable)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == list(results)  # header, then one row per result
    assert not any(name in row for row in rows for name in ("fid", "lpips", "| is "))
    assert f"fid: unavailable: {INCEPTION_FILE} not found in {no_weights}" in table.splitlines()


def test_perfect_results_score_the_known_answers(no_weights) -> None:
    suite = EvaluationSuite()
    batch = make_batch(3)
    suite.update(perfect_outputs(batch), batch)
    results = suite.compute()
    for name in ("ssim", "mask_ssim_face", "mask_ssim_non_cloth", "warped_ssim", "parsing_miou"):
        assert results[name] == pytest.approx(1.0, abs=1e-6), name
    assert results["l1"] == 0.0 and math.isinf(results["psnr"])
    assert "| psnr" in format_table(results) and "inf" in format_table(results)


def test_every_image_of_uneven_batches_counts_once(no_weights) -> None:
    batch = make_batch(5, seed=1)
    outputs = perfect_outputs(batch)
    outputs["result"] = outputs["result"].roll(1, dims=0)  # each result is another image: errors differ per image
    whole = EvaluationSuite(["ssim", "l1", "mask_ssim_face"])
    whole.update(outputs, batch)
    split = EvaluationSuite(["ssim", "l1", "mask_ssim_face"])
    for part in (slice(0, 2), slice(2, 4), slice(4, 5)):  # 2 + 2 + 1, the last batch partial
        sub = {**{k: v[part] for k, v in batch.items() if k != "tgt_masks"}}
        sub["tgt_masks"] = {k: v[part] for k, v in batch["tgt_masks"].items()}
        split.update({k: v[part] for k, v in outputs.items()}, sub)
    assert int(split.metrics["ssim"].num_images) == 5
    assert split.compute() == pytest.approx(whole.compute())
    split.reset()
    assert int(split.metrics["ssim"].num_images) == 0


def test_fid_uses_the_reference_folder_instead_of_the_test_targets(tmp_path, monkeypatch) -> None:
    from PIL import Image

    class MeanColour(nn.Module):
        num_features = 3

        def forward(self, images):
            return images.float().mean(dim=(2, 3)) / 255.0

    (tmp_path / INCEPTION_FILE).write_bytes(b"")  # present; the network is the stand-in below
    monkeypatch.setattr(inception, "torch_fidelity_missing", lambda: "")
    monkeypatch.setattr(inception, "inception_network", lambda path, feature: MeanColour())
    reference = tmp_path / "reference"
    reference.mkdir()
    for i in range(4):
        Image.new("RGB", (48, 64), (200 + 10 * i, 0, 0)).save(reference / f"{i}.png")
    suite = EvaluationSuite(["fid"], weights_dir=tmp_path, fid_reference=reference)
    batch = make_batch(3)
    suite.update(perfect_outputs(batch), batch)
    fid = suite.metrics["fid"]
    assert int(fid.real_features_num_samples) == 4 and int(fid.fake_features_num_samples) == 3  # folder only
    assert suite.compute()["fid"] > 0.1  # random images vs red ones
    suite.reset()
    suite.update(perfect_outputs(batch), batch)
    assert int(fid.real_features_num_samples) == 4  # the reference is kept, not fed twice


def test_missing_output_and_unknown_names_are_clear_errors(no_weights) -> None:
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['mssim'\]"):
        EvaluationSuite(["ssim", "mssim"])
    suite = EvaluationSuite(["ssim", "warped_ssim"])
    batch = make_batch(1)
    with pytest.raises(ValueError, match="metric 'warped_ssim' needs the output key 'warped_cloth'"):
        suite.update({"result": batch["tgt_img"]}, batch)
    assert set(METRIC_NAMES) >= set(suite.metrics)


class CentreVote(nn.Module):
    """Stand-in Inception: uint8 image -> a confident vote for class ``(red at the centre) % 4``."""

    def forward(self, images):
        return 50.0 * nn.functional.one_hot(images[:, 0, 32, 24].long() % 4, 4).float()


def test_mask_is_scores_the_face_and_cloth_regions(tmp_path, monkeypatch) -> None:
    (tmp_path / INCEPTION_FILE).write_bytes(b"")  # present; the network is the stand-in
    monkeypatch.setattr(inception, "torch_fidelity_missing", lambda: "")
    monkeypatch.setattr(inception, "inception_network", lambda path, feature: CentreVote())
    suite = EvaluationSuite(["mask_is_face", "mask_is_cloth"], weights_dir=tmp_path, is_splits=1)
    batch = make_batch(4)
    result = torch.full((4, 3, 64, 48), -1.0)
    result[:, 0, 32, 24] = torch.arange(4) / 127.5 - 1.0  # the centre (cloth block, not face) votes 0, 1, 2, 3
    suite.update({"result": result}, batch)
    results = suite.compute()
    assert results["mask_is_cloth"] == pytest.approx(4.0, rel=1e-3)  # four distinct confident votes
    assert results["mask_is_face"] == pytest.approx(1.0, abs=1e-5)  # outside the face: all black, one vote
    rows = {line.split("|")[1].strip(): line.split("|")[3].strip() for line in format_table(results).splitlines()[2:]}
    assert rows["mask_is_cloth"] == "higher" and rows["mask_is_cloth_std"] == ""  # a spread is neither


def test_attribute_scores_from_the_classifier_file(tmp_path, capsys) -> None:
    torch.manual_seed(0)
    names = [f"kind={k}" for k in "abcd"] + [f"pattern={p}" for p in "stuvwxy"]  # 11, as the synthetic set's
    network = AttributeClassifier(names, [4, 7], input_size=(32, 24), width=4)
    save_attribute_classifier(network, tmp_path / ATTRIBUTE_CLASSIFIER_FILE, names, [4, 7], torch.zeros(2, 3, 64, 48))
    suite = EvaluationSuite(["fashion_is", "attr_rec"], weights_dir=tmp_path, is_splits=1)
    assert suite.unavailable == {"attr_rec_20": "unavailable: k = 20 is not below the classifier's 11 attributes"}
    batch = make_batch(3)
    batch["tgt_attributes"] = torch.zeros(3, 11)
    batch["tgt_attributes"][:, [0, 4]] = 1.0
    suite.update(perfect_outputs(batch), batch)
    results = suite.compute()
    assert set(results) == {"fashion_is", "fashion_is_std", "attr_rec_5"}
    assert 1.0 - 1e-5 <= results["fashion_is"] <= 4.0 and 0.0 <= results["attr_rec_5"] <= 1.0
    capsys.readouterr()
    unlabelled = EvaluationSuite(["attr_rec"], weights_dir=tmp_path)
    unlabelled.update(perfect_outputs(batch), {k: v for k, v in batch.items() if k != "tgt_attributes"})
    reason = "unavailable: the test data has no garment attribute labels ('tgt_attributes')"
    assert unlabelled.unavailable["attr_rec"] == reason and unlabelled.compute() == {}
    assert f"attr_rec: {reason}" in capsys.readouterr().out.splitlines()
