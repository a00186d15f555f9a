"""FashionMirror as a stage (``lightning_modules/fashionmirror.py``): the named losses of a batch and which network
each one trains, the generator's masks, clear errors, and a tiny CPU fit + test from
``configs/stage3_fashionmirror.yaml``."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from contract.errors import ConfigError
from lightning_modules.cli import run_cli as vton
from lightning_modules.fashionmirror import FashionMirrorModule
from models.co_attention import CoAttentionMaskNet
from models.discriminator import MultiScaleDiscriminator
from models.feature_remapping import FeatureRemappingGenerator

from config_hparams import config_optimizer

REPO = Path(__file__).resolve().parents[2]
OPTIMIZERS = {
    key: config_optimizer("stage3_fashionmirror", key) for key in ("mask_optimizer", "g_optimizer", "d_optimizer")
}


def tiny_module(**kwargs) -> FashionMirrorModule:
    torch.manual_seed(0)
    return FashionMirrorModule(
        image_size=(64, 48),
        mask_network=partial(CoAttentionMaskNet, base_width=4),
        generator=partial(FeatureRemappingGenerator, base_width=4, blocks_per_level=1),
        discriminator=partial(MultiScaleDiscriminator, num_scales=1, base_width=4),
        patch_size=16,
        **OPTIMIZERS,
        **kwargs,
    )


def grads_of(net: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_each_loss_trains_its_own_network(synthetic_batch) -> None:
    module = tiny_module()
    out = module(synthetic_batch)
    for name in ("removed", "cloth"):
        assert out[name].shape == (2, 1, 64, 48) and out[name].min() > 0 and out[name].max() < 1
    mask_losses = module.mask_losses(synthetic_batch, out)
    generator_losses = module.generator_losses(synthetic_batch, out)
    assert set(mask_losses) == {"mask_l1", "mask_bce", "mask_patch"}
    assert set(generator_losses) == {"gan", "l1", "body", "content", "style", "patch"}
    assert set(module.discriminator_losses(synthetic_batch, out)) == {"gan"}
    assert all(torch.isfinite(v) and v > 0 for v in (*mask_losses.values(), *generator_losses.values()))
    # the generator's losses do not reach the CMN (its masks come in detached), the CMN's reach only the CMN
    sum(generator_losses.values()).backward(retain_graph=True)
    assert grads_of(module.generator) and not grads_of(module.mask_net)
    module.zero_grad()
    sum(mask_losses.values()).backward()
    assert grads_of(module.mask_net) and not grads_of(module.generator)


def test_mask_losses_sum_the_terms_of_both_masks(synthetic_batch) -> None:
    """Eq. 2: ``L_L1 = |M_r - M_r_hat| + |M_c - M_c_hat|``; with the true masks as predictions the BCE and L1 of
    each mask vanish, so a perfect ``M_c`` leaves exactly the ``M_r`` terms."""
    module = tiny_module()
    out = module(synthetic_batch)
    removed, cloth = module.true_masks(synthetic_batch)
    perfect_cloth = module.mask_losses(synthetic_batch, out | {"cloth": cloth})
    torch.testing.assert_close(perfect_cloth["mask_l1"], (out["removed"] - removed).abs().mean())
    perfect = module.mask_losses(synthetic_batch, out | {"removed": removed, "cloth": cloth})
    assert all(value.abs() < 1e-6 for value in perfect.values()), perfect


def test_the_generator_gets_the_predicted_or_the_true_masks(synthetic_batch) -> None:
    batch = synthetic_batch
    for source in ("predicted", "ground_truth"):
        module = tiny_module(generator_masks=source).eval()
        with torch.no_grad():
            out = module(batch)
            removed, tryon = (out["removed"], out["cloth"]) if source == "predicted" else module.true_masks(batch)
            expected = module.generator(
                batch["src_img"],
                batch["src_pose"],
                removed,
                batch["cloth"],
                batch["cloth_mask"],
                batch["tgt_pose"],
                tryon,
            )
        torch.testing.assert_close(out["generated"], expected)


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ConfigError, match="generator_masks"):
        tiny_module(generator_masks="parsing")
    with pytest.raises(ConfigError, match="unknown loss"):
        tiny_module(loss_weights={"recon": 1.0})


def test_cli_fit_and_test_from_the_config(tiny_synthetic_roots, tmp_path, monkeypatch) -> None:
    args = [
        "-c", str(REPO / "configs/stage3_fashionmirror.yaml"),
        "--trainer", str(REPO / "configs/trainer/smoke.yaml"),
        "--trainer.logger", str(REPO / "configs/logger/csv.yaml"),
        "--data.root", str(tiny_synthetic_roots["mpv"]), "--data.image_size", "[64, 48]",
        "--data.batch_size", "2", "--data.num_workers", "0",
        "--model.init_args.mask_network.init_args.base_width", "4",
        "--model.init_args.generator.init_args", "{base_width: 4, blocks_per_level: 1}",
        "--model.init_args.discriminator.init_args", "{num_scales: 1, base_width: 4}",
        "--model.init_args.patch_size", "16",
    ]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    cli = vton(["fit", *args])
    assert isinstance(cli.model, FashionMirrorModule) and cli.model.hparams.image_size == [64, 48]
    checkpoint = tmp_path / "outputs/stage3_fashionmirror/checkpoints/last.ckpt"
    assert checkpoint.is_file()
    assert len(torch.load(checkpoint, map_location="cpu", weights_only=False)["optimizer_states"]) == 3
    metrics = cli.trainer.callback_metrics
    for name in ("val/ssim", "val/psnr", "val/mask_iou_removed", "val/mask_iou_cloth", "train/mask/total"):
        assert torch.isfinite(metrics[name]), name
    assert cli.trainer.global_step == 6  # 2 batches x (D_s, G_h, CMN)
    tested = vton(["test", *args, "--ckpt_path", str(checkpoint)])
    assert torch.isfinite(tested.trainer.callback_metrics["test/mask_iou_cloth"])
    log = (tmp_path / "outputs/stage3_fashionmirror/version_0/metrics.csv").read_text()
    for key in ("train/g/content", "train/g/patch", "train/d/gan", "train/mask/mask_patch"):
        assert key in log, key
