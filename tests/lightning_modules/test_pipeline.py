"""The e2e chain (lightning_modules/pipeline.py): joint fine-tuning from tiny stage checkpoints, strict loading."""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from lightning_modules.checkpoints import StageCheckpointError
from lightning_modules.cli import run_cli as vton
from lightning_modules.layout import LayoutModule
from lightning_modules.pipeline import TryOnPipeline
from lightning_modules.refine import RefineModule
from lightning_modules.synthesis import SynthesisModule
from lightning_modules.warp import WarpModule
from models.discriminator import MultiScaleDiscriminator
from models.flow_estimator import CascadedFlowEstimator
from models.flow_regressor import FlowRegressor
from models.generator import ResNetGenerator
from models.gmm import GeometricMatchingModule
from models.intrinsic_generator import IntrinsicGenerator
from models.pose_encoder import PoseEncoder
from models.refiner import Refiner
from models.single_transform import SingleTransform

REPO = Path(__file__).resolve().parents[2]


def pipeline(checkpoints: dict[str, Path], **kwargs) -> TryOnPipeline:
    paths = {f"{name}_checkpoint": str(path) for name, path in checkpoints.items()}
    return TryOnPipeline(image_size=(64, 48), **paths, **kwargs)


def test_chain_fine_tunes_every_stage_and_tests_with_the_full_table(
    tmp_path, chain_checkpoints, chain_args, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    frozen_warp = ["--model.init_args.stage_lrs", "{warp: 0}"]
    args = chain_args + frozen_warp
    vton(["fit", "-c", str(REPO / "configs/e2e.yaml"), *args])
    last = tmp_path / "outputs/e2e/checkpoints/last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=False)["state_dict"]
    for name, path in chain_checkpoints.items():
        before = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        weights = [key for key, value in before.items() if value.is_floating_point() and "running" not in key]
        changed = [key for key in weights if f"{name}.{key}" in state and not torch.equal(state[f"{name}.{key}"],
                                                                                         before[key])]  # fmt: skip
        if name == "warp":
            assert not changed, f"the frozen stage 2 changed: {changed[:3]}"
        else:
            assert changed, f"{name} did not change during joint fine-tuning"
    header = (tmp_path / "outputs/e2e/version_0/metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/g/total", "train/layout/focal_s", "train/synthesis/recon", "train/refine/per"} <= set(header)
    assert {"train/d/layout/adv_s", "train/d/synthesis/adv_g", "val/ssim"} <= set(header)
    assert not [key for key in header if key.startswith("train/warp/")]  # frozen: no losses
    capsys.readouterr()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_weights"))
    vton(["test", "-c", str(REPO / "configs/e2e.yaml"), *args, "--ckpt_path", str(last)])
    test_header = (tmp_path / "outputs/e2e/version_1/metrics.csv").read_text().splitlines()[0].split(",")
    table = {"ssim", "mask_ssim_face", "mask_ssim_non_cloth", "psnr", "l1", "parsing_miou", "warped_ssim"}
    assert {f"test/{name}" for name in table} <= set(test_header)
    assert not [key for key in test_header if "lpips" in key or "fid" in key]
    printed = capsys.readouterr().out
    assert "| warped_ssim" in printed
    assert "lpips_alex: unavailable: alexnet-owt-7be5be79.pth not found in" in printed
    assert "fid: unavailable" in printed


def test_stage_2_losses_reach_stage_1_through_the_predicted_cloth_region(
    chain_checkpoints, stage2_run, synthetic_batch
) -> None:
    cascade = stage2_run("stage2_warp") / "outputs/stage2_warp/checkpoints/last.ckpt"
    weights = {"layout": 0, "synthesis": 0, "refine": 0}
    chain = pipeline({**chain_checkpoints, "warp": cascade}, stage_loss_weights=weights)
    chain.train()
    out = chain(synthetic_batch)
    sum(chain.generator_losses(synthetic_batch, out)["warp"].values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in chain.layout.layout_generator.parameters())
    # The forward value is stage 1's hard cloth region (what a frozen stage 1 feeds stage 2 when trained alone).
    with torch.no_grad():
        region = chain.warp.cloth_region_from_layout(chain.layout(synthetic_batch))
    assert set(region.unique().tolist()) <= {0.0, 1.0}


def test_frozen_stages_are_left_out_of_the_optimizers(chain_checkpoints) -> None:
    chain = pipeline(chain_checkpoints, stage_lrs={"layout": 0, "warp": 0, "synthesis": 1e-3, "refine": 0})
    g_opt, d_opt = chain.configure_optimizers()
    assert [group["name"] for group in g_opt.param_groups] == ["synthesis"]
    assert g_opt.param_groups[0]["lr"] == 1e-3
    assert [group["name"] for group in d_opt.param_groups] == ["synthesis"]
    assert not any(p.requires_grad for p in chain.layout.parameters())
    chain.train()
    assert not chain.layout.training and chain.synthesis.training
    with pytest.raises(ValueError, match="every stage is frozen"):
        pipeline(chain_checkpoints, stage_lrs=dict.fromkeys(chain_checkpoints, 0)).configure_optimizers()


def test_a_checkpoint_with_a_wrong_key_names_the_stage(tmp_path, chain_checkpoints) -> None:
    broken = torch.load(chain_checkpoints["synthesis"], map_location="cpu", weights_only=False)
    broken["state_dict"]["generator.extra.weight"] = torch.zeros(1)
    del broken["state_dict"][next(key for key in broken["state_dict"] if key.startswith("generator."))]
    path = tmp_path / "broken.ckpt"
    torch.save(broken, path)
    with pytest.raises(StageCheckpointError, match=r"stage 3 \(synthesis\).*missing keys.*unexpected keys.*extra"):
        pipeline({**chain_checkpoints, "synthesis": path})


def test_chains_that_cannot_run_fail_with_the_stage_named(chain_checkpoints, stage2_run) -> None:
    flow = stage2_run("stage2_warp_flow") / "outputs/stage2_warp_flow/checkpoints/last.ckpt"
    with pytest.raises(ValueError, match=r"stage 2 \(warp\).*'cascade' or 'tps'"):
        pipeline({**chain_checkpoints, "warp": flow})
    with pytest.raises(ValueError, match=r"stage 3 \(synthesis\) is required"):
        pipeline({k: v for k, v in chain_checkpoints.items() if k != "synthesis"})
    with pytest.raises(ValueError, match=r"stage 4 \(refine\).*fusion=False"):
        TryOnPipeline(task="pose_transfer", image_size=(64, 48), refine_checkpoint=str(chain_checkpoints["refine"]))
    with pytest.raises(ValueError, match=r"trained at image_size \[64, 48\]"):
        TryOnPipeline(image_size=(128, 96), **{f"{name}_checkpoint": str(p) for name, p in chain_checkpoints.items()})


def test_fast_inference_predicts_what_the_plain_forward_does(chain_checkpoints, synthetic_batch) -> None:
    plain, fast = (pipeline(chain_checkpoints, fast_inference=flag).eval() for flag in (False, True))
    with torch.no_grad():
        expected = plain.predict_step(synthetic_batch, 0)["result"]
        got = fast.predict_step(synthetic_batch, 0)["result"]
    assert got.dtype == torch.float32 and got.shape == expected.shape
    difference = (got - expected).abs().max().item()
    assert 0 < difference < 0.1  # bf16 autocast ran (not bit-identical) and agrees with fp32 within its precision


def test_unknown_stage_names_fail_with_the_argument_named(chain_checkpoints) -> None:
    with pytest.raises(ValueError, match=r"stage_lrs: unknown stage 'layuot'; this chain has \['layout', 'refine'"):
        pipeline(chain_checkpoints, stage_lrs={"layuot": 0})
    with pytest.raises(ValueError, match="stage_loss_weights: unknown stage 'warping'"):
        pipeline(chain_checkpoints, stage_loss_weights={"warping": 1})


# --- end to end: every later stage's loss reaches every stage before it ----------------------------------------
def tiny_stages(warp_variant: str, refine_variant: str | None) -> dict[str, nn.Module]:
    """Untrained tiny stages at 64x48 (what reaches what does not depend on training); VGG losses and L_id off."""
    torch.manual_seed(0)
    spg = partial(ResNetGenerator, base_width=4, n_blocks=1)
    discriminator = partial(MultiScaleDiscriminator, num_scales=1, base_width=4)
    warp_nets = {
        "cascade": {"flow_estimator": partial(CascadedFlowEstimator, widths=(4, 8, 8, 8, 8), fpn_width=8,
                                              blocks_per_level=1)},
        "tps": {"gmm": partial(GeometricMatchingModule, base_width=4, max_width=16, num_downsamples=2,
                               regression_widths=(64, 32, 16, 16))},
    }  # fmt: skip
    stages = {
        "layout": LayoutModule(
            image_size=(64, 48), generator=partial(spg, head="plain"), coarse_generator=partial(spg, head="image_mask"),
            discriminator=discriminator, loss_weights={"perc_p": 0.0},
        ),
        "warp": WarpModule(variant=warp_variant, image_size=(64, 48), **warp_nets[warp_variant],
                           loss_weights={"perc": 0.0, "roi_perc": 0.0} if warp_variant == "cascade" else None),
        "synthesis": SynthesisModule(
            image_size=(64, 48), generator=partial(spg, head="image_mask"), discriminator=discriminator,
            loss_weights={"id": 0.0, "perc": 0.0}, local_crop_size=(32, 32),
        ),
    }  # fmt: skip
    if refine_variant is not None:
        nets = {
            "warping": partial(SingleTransform, pose_encoder=PoseEncoder(width=8, num_layers=4), head_widths=(16, 2)),
            "refiner": partial(Refiner, widths=(8, 16), num_blocks=1),
            "generator": partial(IntrinsicGenerator, num_levels=3, base_width=8, max_width=16, blocks_per_level=1,
                                 weighting_levels=2, weighting_width=4, warped_levels=2),
            "flow_regressor": partial(FlowRegressor, base_width=4, max_width=8, num_levels=3, blocks_per_level=1),
        }  # fmt: skip
        with warnings.catch_warnings():  # untrained flow regressor, random VGG, LPIPS absent
            warnings.simplefilter("ignore")
            stages["refine"] = RefineModule(
                variant=refine_variant, image_size=(64, 48), fusion=True, discriminator=discriminator,
                loss_weights={"per": 0.0} if refine_variant == "single_transform" else {"perc": 0.0}, **nets,
            )  # fmt: skip
    with torch.no_grad():  # as after training: a zero-initialised last layer (the warps' identity start) passes
        for stage in stages.values():  # no gradient to what feeds it
            for parameter in stage.parameters():
                if parameter.is_floating_point() and not parameter.any():
                    parameter.normal_(0.0, 0.01)
    return stages


def trained_networks(chain: TryOnPipeline) -> dict[str, nn.Module]:
    """The networks whose gradients are checked, by the names the paper gives them."""
    networks = {"G1": chain.layout.layout_generator, "G2": chain.layout.coarse_generator}
    networks["warp"] = chain.warp.flow_estimator if chain.warp.variant == "cascade" else chain.warp.gmm1
    networks["G3"] = chain.synthesis.generator
    if chain.refine is not None:
        networks["stage 4"] = (
            chain.refine.refiner if chain.refine.variant == "single_transform" else chain.refine.generator
        )
    return networks


# loss of stage -> the networks before it (and its own) that it must reach. Stage 2's cascade reads the cloth region
# of G1's parsing, its tps variant G2's cloth mask; everything after stage 2 sees G2's coarse image.
REACHES = {
    "layout": {"G1", "G2"},
    "warp": {"G1", "warp"},
    "synthesis": {"G1", "G2", "warp", "G3"},
    "refine": {"G1", "G2", "warp", "G3", "stage 4"},
}


@pytest.mark.parametrize("refine_variant", [None, "single_transform", "intrinsic_flow"])
@pytest.mark.parametrize("warp_variant", ["cascade", "tps"])
def test_every_later_stages_loss_reaches_every_stage_before_it(warp_variant, refine_variant, synthetic_batch) -> None:
    """Seed 003 Sec. III-E step 3: one joint backward per stage loss, the others off; stage 4 of seed 002 or 004
    (in its pixel-warping phase, the chain's). The forward values stay those of the stage-wise chain: stage 2 and 3
    read hard {0, 1} regions (straight-through). The discriminators' losses reach no generator."""
    chain = TryOnPipeline(image_size=(64, 48), stages=tiny_stages(warp_variant, refine_variant)).train()
    out = chain(synthetic_batch)
    assert set(out["synthesis"]["face"].unique().tolist()) <= {0.0, 1.0}
    networks = trained_networks(chain)
    sum(sum(losses.values()) for losses in chain.discriminator_losses(synthetic_batch, out).values()).backward()
    assert not [name for name, net in networks.items() if any(p.grad is not None for p in net.parameters())], (
        "a discriminator update reached a generator"
    )
    reaches = {name: set(nets) for name, nets in REACHES.items()}
    if warp_variant == "tps":
        reaches["warp"].add("G2")
    for stage, losses in chain.generator_losses(synthetic_batch, out).items():
        chain.zero_grad(set_to_none=True)
        sum(losses.values()).backward(retain_graph=True)
        reached = {
            name for name, net in networks.items()
            if any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        }  # fmt: skip
        assert reached == reaches[stage] & set(networks), f"the {stage} loss reached {sorted(reached)}"
