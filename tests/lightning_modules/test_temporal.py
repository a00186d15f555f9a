"""Temporal training (``lightning_modules/temporal.py``): per-frame pair batches, the temporal and mask losses on a
window, clear errors, and a tiny CPU fit + test from ``configs/temporal.yaml``."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from datamodules.parsing import cloth_agnostic_image
from datamodules.sequences import SequenceDataModule
from datamodules.synthetic.dataset import SynthConfig, synthesize
from lightning_modules.cli import run_cli as vton
from lightning_modules.temporal import TemporalSynthesisModule, frame_batch
from losses.temporal import flow_consistency_loss
from models.discriminator import MultiScaleDiscriminator
from models.generator import ResNetGenerator
from models.sequence_mask import MultiFrameCoAttentionMaskNet

from config_hparams import config_optimizer

REPO = Path(__file__).resolve().parents[2]
OPTIMIZERS = {key: config_optimizer("temporal", key) for key in ("g_optimizer", "d_optimizer", "mask_optimizer")}
TINY_D = partial(MultiScaleDiscriminator, num_scales=1, base_width=4)


@pytest.fixture(scope="module")
def sequence_root(tmp_path_factory) -> Path:
    """2 train and 1 test synthetic sequences of 5 frames at 64x48."""
    root = tmp_path_factory.mktemp("temporal")
    synthesize(SynthConfig(out=str(root), n_train=0, n_test=0, n_seq=2, n_seq_test=1, seq_len=5, height=64, width=48))
    return root


@pytest.fixture
def window(sequence_root) -> dict:
    datamodule = SequenceDataModule(str(sequence_root), image_size=(64, 48), n_frames=4, batch_size=2, num_workers=0)
    dataset = datamodule.dataset("train")
    return default_collate([dataset[0], dataset[2]])


def tiny_module(**kwargs) -> TemporalSynthesisModule:
    torch.manual_seed(0)
    kwargs.setdefault("mask_network", partial(MultiFrameCoAttentionMaskNet, 2, base_width=4))
    return TemporalSynthesisModule(
        image_size=(64, 48), n_frames=4, discriminator=TINY_D,
        generator=partial(ResNetGenerator, base_width=4, n_blocks=1, head="image_mask"), temporal_discriminator=TINY_D,
        **OPTIMIZERS, patch_size=16, **kwargs,
    )  # fmt: skip


def test_frame_batch_pairs_every_frame_with_the_first(window) -> None:
    pairs = frame_batch(window)
    b, t = 1, 2  # window 1, frame 2 is row 1 * 4 + 2
    row = b * 4 + t
    torch.testing.assert_close(pairs["tgt_img"][row], window["img"][b, t])
    torch.testing.assert_close(pairs["tgt_masks"]["cloth"][row], window["masks"]["cloth"][b, t])
    torch.testing.assert_close(pairs["src_img"][row], window["img"][b, 0])
    torch.testing.assert_close(
        pairs["src_agnostic"][row], cloth_agnostic_image(window["img"][b, 0], window["parse"][b, 0])
    )
    torch.testing.assert_close(pairs["cloth"][row], window["cloth"][b])
    with pytest.raises(KeyError, match="SequenceDataModule"):
        frame_batch({"img": window["img"]})


def test_losses_of_a_window(window) -> None:
    module = tiny_module()
    out = module(window)
    torch.testing.assert_close(out["frames"][1, 2], out["tryon"][6])  # frames keep window and time order
    losses = module.generator_losses(window, out)
    spatial = {"adv_g", "l1", "body", "perc", "style", "content_regions", "style_regions", "patch"}
    assert set(losses) == spatial | {"gan_t", "patch_t", "corr"}
    # the true frames are consistent along their true flow (vis_gt != 2): L_corr of the ground truth is small
    flows, valid = module.frame_flows(window)
    assert flow_consistency_loss(window["img"], flows, valid) < 0.05
    assert set(module.discriminator_losses(window, out)) == {"adv_g", "gan_t", "patch_t"}  # FashionMirror: no D_l
    assert set(module.mask_losses(window)) == {"mask_l1", "mask_bce", "mask_patch"}


def test_mask_network_loss_falls_on_one_window(window) -> None:
    """Eq. 2-4 on ``M_c^{t+1}`` at ``configs/temporal.yaml``'s mask optimiser (Adam 2e-4, betas (0, 0.999))."""
    module = tiny_module(loss_weights={"gan_t": 0.0, "patch_t": 0.0, "corr": 0.0})
    optimizer = OPTIMIZERS["mask_optimizer"](module.mask_net.parameters())
    totals = []
    for _ in range(30):
        total = sum(module.mask_losses(window).values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < 0.9 * totals[0], totals


def test_bad_input_is_named(window) -> None:
    module = tiny_module(mask_network=None)
    with pytest.raises(ValueError, match="n_frames=4"):
        module({key: value[:, :3] if key in ("img", "pose") else value for key, value in window.items()})
    no_flow = {key: value for key, value in window.items() if key not in ("flow_gt", "vis_gt")}
    with pytest.raises(KeyError, match="flow_checkpoint"):
        module.generator_losses(no_flow, module(no_flow))
    with pytest.raises(ValueError, match="unknown loss"):
        tiny_module(loss_weights={"mask_l1": 1.0}, mask_network=None)


def test_cli_fit_and_test_from_the_config(sequence_root, tmp_path, monkeypatch) -> None:
    tiny_gen = {"base_width": 4, "n_blocks": 1}
    args = [
        "-c", str(REPO / "configs/temporal.yaml"),
        "--trainer", str(REPO / "configs/trainer/smoke.yaml"),
        "--trainer.logger", str(REPO / "configs/logger/csv.yaml"),
        "--data.root", str(sequence_root), "--data.image_size", "[64, 48]",
        "--data.batch_size", "2", "--data.num_workers", "0",
        "--model.init_args.generator.init_args", str(tiny_gen),
        "--model.init_args.mask_network.init_args.base_width", "4",
        "--model.init_args.discriminator.init_args", "{num_scales: 1, base_width: 4}",
        "--model.init_args.temporal_discriminator.init_args", "{num_scales: 1, base_width: 4}",
        "--model.init_args.patch_size", "16",
    ]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    cli = vton(["fit", *args])
    assert isinstance(cli.datamodule, SequenceDataModule) and cli.model.hparams.image_size == [64, 48]
    checkpoint = tmp_path / "outputs/temporal/checkpoints/last.ckpt"
    assert checkpoint.is_file()
    metrics = cli.trainer.callback_metrics
    for name in ("val/ssim", "val/warping_error", "val/warping_error_real", "val/mask_iou"):
        assert torch.isfinite(metrics[name]), name
    assert cli.trainer.global_step == 6  # 2 batches x (G, D, mask network)
    record = json.loads(next((tmp_path / "outputs/temporal").rglob("run.json")).read_text())  # RunRecord
    assert (record["training_batches"], record["images_seen"], record["data_fingerprint"]) == (2, 4, None)
    tested = vton(["test", *args, "--ckpt_path", str(checkpoint)])
    assert torch.isfinite(tested.trainer.callback_metrics["test/warping_error"])
