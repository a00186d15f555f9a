"""Stage 1 (``lightning_modules/layout.py``): inputs, losses, optimisation and the CLI round trip."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from contract.sample import MASK_GROUPS
from lightning_modules.cli import run_cli as vton
from lightning_modules.layout import LayoutModule

from config_hparams import config_optimizer

REPO = Path(__file__).resolve().parents[2]
G_ADAM, D_ADAM = config_optimizer("stage1_layout"), config_optimizer("stage1_layout", "d_optimizer")


def one_batch_loader(batch: dict, repeats: int) -> DataLoader:
    """The same (already collated) batch, ``repeats`` times."""
    return DataLoader([batch] * repeats, batch_size=None)


def fit_on(module: L.LightningModule, batch: dict, steps: int) -> None:
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(module, train_dataloaders=one_batch_loader(batch, steps))


@torch.no_grad()
def layout_loss(module: LayoutModule, batch: dict, names: tuple[str, ...]) -> float:
    losses = module.generator_losses(batch, module(batch))
    return float(sum(losses[name] for name in names))


@pytest.mark.parametrize(
    ("variant", "watched"),
    [("clothflow", ("ce",)), ("spg", ("focal_s", "recon_s", "recon_p", "mask_p"))],
)
def test_optimisation_on_one_batch_drives_the_layout_loss_down(variant, watched, tiny_batch, tiny_nets) -> None:
    """90 batches at the config's Adam (lr 2e-4, betas (0, 0.999), weight decay 5e-4): the watched losses end at
    0.42x (clothflow) and 0.43x (spg) of their start on torch 2.11 and 2.14; the bar is 0.6x. SPG's L_perc is off:
    without VGG19 weights (none offline) it runs on an untrained VGG, and it makes the run 2.5x slower; the watched
    ratio is the same with it on (0.431)."""
    loss_weights = {"perc_p": 0.0} if variant == "spg" else None
    module = LayoutModule(
        variant=variant, image_size=(64, 48), g_optimizer=G_ADAM, d_optimizer=D_ADAM, loss_weights=loss_weights,
        **tiny_nets,
    )  # fmt: skip
    before = layout_loss(module, tiny_batch, watched)
    fit_on(module, tiny_batch, steps=90)
    after = layout_loss(module, tiny_batch, watched)
    assert after < 0.6 * before, f"{variant}: {watched} went from {before:.3f} to {after:.3f}"


def test_spg_layout_input_hides_the_source_head_and_cloth(tiny_batch, tiny_nets) -> None:
    module = LayoutModule(variant="spg", image_size=(64, 48), **tiny_nets)
    inputs = module.layout_inputs(tiny_batch)
    assert inputs.shape[1] == 20 + 2 + 1 + 18  # S'_s, A_s (face, hair), M^C, P_t
    removed = torch.isin(
        tiny_batch["src_parse"], torch.tensor(MASK_GROUPS["face"] + MASK_GROUPS["hair"] + MASK_GROUPS["cloth"])
    )
    assert removed.any()
    reference = inputs[:, :20].permute(0, 2, 3, 1)  # S'_s, one-hot
    assert reference[removed].abs().sum() == 0  # nothing of the removed regions survives in S'_s ...
    assert (reference[~removed].sum(-1) == 1).all()  # ... and everything else is still a one-hot label
    torch.testing.assert_close(inputs[:, 20:21], tiny_batch["src_masks"]["face"])  # A_s carries the head instead
    torch.testing.assert_close(inputs[:, 23:], tiny_batch["tgt_pose"])


def test_g2_is_fed_a_clothless_layout_and_does_not_train_g1(tiny_batch, tiny_nets) -> None:
    module = LayoutModule(variant="spg", image_size=(64, 48), **tiny_nets)
    out = module(tiny_batch)
    g2_in = module.coarse_inputs(tiny_batch, out["layout_probs"])
    assert g2_in[:, list(MASK_GROUPS["cloth"])].abs().sum() == 0  # S_t_hat': cloth channels removed
    module.generator_losses(tiny_batch, out)["recon_p"].backward()
    assert all(p.grad is None for p in module.layout_generator.parameters())  # detach_layout=True
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.coarse_generator.parameters())


def test_zero_weight_switches_a_loss_off_and_unknown_names_fail(tiny_batch, tiny_nets) -> None:
    module = LayoutModule(variant="spg", image_size=(64, 48), loss_weights={"adv_p": 0.0, "perc_p": 0.0}, **tiny_nets)
    out = module(tiny_batch)
    assert set(module.generator_losses(tiny_batch, out)) == {"adv_s", "focal_s", "recon_s", "recon_p", "mask_p"}
    assert set(module.discriminator_losses(tiny_batch, out)) == {"adv_s"}
    assert not hasattr(module, "perceptual")  # no VGG is built for a switched-off perceptual loss
    with pytest.raises(ValueError, match=r"unknown loss 'focal'; this stage has \['adv_p', 'adv_s'"):
        LayoutModule(variant="spg", loss_weights={"focal": 1.0}, **tiny_nets)
    with pytest.raises(ValueError, match="unknown variant 'pix2pix'"):
        LayoutModule(variant="pix2pix")


def test_discriminator_loss_sees_real_layouts_as_real(tiny_batch, tiny_nets) -> None:
    # A few D updates on one batch must separate the one-hot target layouts from G1's soft outputs.
    module = LayoutModule(variant="spg", image_size=(64, 48), gp_weight=0.0, **tiny_nets)
    optimizer = torch.optim.Adam(module.layout_discriminator.parameters(), lr=1e-2)
    out = {key: value.detach() for key, value in module(tiny_batch).items()}
    first = module.discriminator_losses(tiny_batch, out)["adv_s"].item()
    for _ in range(20):
        optimizer.zero_grad()
        module.discriminator_losses(tiny_batch, out)["adv_s"].backward()
        optimizer.step()
    assert module.discriminator_losses(tiny_batch, out)["adv_s"].item() < 0.5 * first


def test_cli_fit_validate_checkpoint_and_reload(
    stage1_run: Path, stage1_args, tiny_synthetic_roots, tiny_batch, monkeypatch
) -> None:
    """``vton fit -c configs/stage1_layout.yaml`` on CPU (the ``stage1_run`` fixture), ``validate`` from its
    checkpoint, then reload it."""
    last = stage1_run / "outputs/stage1_layout/checkpoints/last.ckpt"
    assert last.is_file(), "fit wrote no last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    assert len(checkpoint["optimizer_states"]) == 2  # G and D optimizers are both saved for resuming
    assert not [key for key in checkpoint["state_dict"] if ".vgg." in key]  # frozen VGG kept out of checkpoints

    monkeypatch.chdir(stage1_run)
    vton(
        [
            "validate",
            "-c",
            str(REPO / "configs/stage1_layout.yaml"),
            *stage1_args(tiny_synthetic_roots["mpv"]),
            "--ckpt_path",
            str(last),
        ]
    )

    reloaded = LayoutModule.load_from_checkpoint(last, map_location="cpu")
    reloaded.eval()
    for key, value in reloaded.state_dict().items():
        if key in checkpoint["state_dict"]:
            torch.testing.assert_close(value, checkpoint["state_dict"][key])
    with torch.no_grad():
        logits = reloaded(tiny_batch)["layout_logits"]
    assert logits.shape == (2, 20, 64, 48) and torch.isfinite(logits).all()
    fit_log, validate_log = (stage1_run / f"outputs/stage1_layout/version_{i}/metrics.csv" for i in (0, 1))
    assert "train/g/focal_s" in fit_log.read_text() and "val/miou" in validate_log.read_text()
    assert list((stage1_run / "outputs/stage1_layout/version_0/images").glob("val_grid_step*.png"))
