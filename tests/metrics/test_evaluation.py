"""``EvaluationSuite`` (``metrics/evaluation.py``): unavailable metrics left out and said once, known answers, every
image of uneven batches counted, and clear errors."""

import math

import pytest
import torch
from torch import nn

import metrics.inception as inception
from datamodules.parsing import derived_masks
from metrics.evaluation import METRIC_NAMES, EvaluationSuite, format_table
from metrics.inception import INCEPTION_FILE


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


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path / "hub" / "checkpoints"


def test_metrics_without_weights_are_left_out_said_once_and_absent_from_the_table(no_weights, capsys) -> None:
    suite = EvaluationSuite()
    assert set(suite.unavailable) == {"lpips_alex", "lpips_vgg", "fid", "is"}
    assert suite.unavailable["fid"] == f"unavailable: {INCEPTION_FILE} not found in {no_weights}"
    printed = capsys.readouterr().out.splitlines()
    assert printed.count(f"fid: unavailable: {INCEPTION_FILE} not found in {no_weights}") == 1
    assert printed.count(f"lpips_vgg: unavailable: vgg16-397923af.pth not found in {no_weights}") == 1
    batch = make_batch(2)
    suite.update(perfect_outputs(batch), batch)
    results = suite.compute()
    assert not {"lpips_alex", "lpips_vgg", "fid", "is"} & set(results)
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
