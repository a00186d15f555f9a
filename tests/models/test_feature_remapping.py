"""FashionMirror's feature remapping generator (``models/feature_remapping.py``): the removed garment cannot leak into
the result, the try-on garment and the target pose reach it through the co-attention, it learns, bad input."""

from __future__ import annotations

import pytest
import torch

from models.feature_remapping import FeatureRemappingGenerator

from config_hparams import config_optimizer

H, W = 32, 24


def tiny_generator() -> FeatureRemappingGenerator:
    torch.manual_seed(0)
    return FeatureRemappingGenerator(base_width=4, blocks_per_level=1)


def inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    removed = torch.zeros(2, 1, H, W)
    removed[:, :, 8:20, 6:18] = 1
    return {
        "src_img": torch.rand(2, 3, H, W, generator=generator) * 2 - 1,
        "src_pose": torch.rand(2, 18, H, W, generator=generator),
        "removed_mask": removed,
        "cloth": torch.rand(2, 3, H, W, generator=generator) * 2 - 1,
        "cloth_mask": torch.ones(2, 1, H, W),
        "tgt_pose": torch.rand(2, 18, H, W, generator=generator),
        "tryon_mask": removed.roll(3, 2),
    }


def test_the_removed_garment_does_not_reach_the_result_and_the_try_on_garment_does() -> None:
    net = tiny_generator().eval()
    x = inputs()
    with torch.no_grad():
        out = net(**x)
        assert out.shape == (2, 3, H, W) and out.abs().max() <= 1
        repainted = x["src_img"] + 0.7 * x["removed_mask"]  # other pixels of the old garment, same everywhere else
        torch.testing.assert_close(net(**(x | {"src_img": repainted})), out)
        assert not torch.allclose(net(**(x | {"src_img": -x["src_img"]})), out)  # the rest of the person does
        assert not torch.allclose(net(**(x | {"cloth": -x["cloth"]})), out)
        assert not torch.allclose(net(**(x | {"tgt_pose": x["tgt_pose"].roll(4, 3)})), out)
        remapped = net.remap(**x)
    torch.testing.assert_close(remapped.image, out)
    torch.testing.assert_close(remapped.human_attention.source_weights.sum(-1), torch.ones(2, (H // 4) * (W // 4)))


def test_gradients_reach_every_encoder_and_the_loss_falls_at_the_configs_optimizer() -> None:
    """L1 to a try-on made of the inputs (the try-on garment inside ``M_c``, the source person outside it) over 80
    steps of ``configs/stage3_fashionmirror.yaml``'s G optimiser."""
    net = tiny_generator()
    x = inputs()
    target = x["cloth"] * x["tryon_mask"] + x["src_img"] * (1 - x["tryon_mask"])
    optimizer = config_optimizer("stage3_fashionmirror", "g_optimizer")(net.parameters())
    losses = []
    for step in range(80):
        loss = (net(**x) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            for name in ("pose_encoder", "human_encoder", "cloth_encoder", "target_encoder", "decoder"):
                grads = [p.grad for p in getattr(net, name).parameters() if p.grad is not None]
                assert grads and any(g.abs().sum() > 0 for g in grads), name
            assert net.human_attention.weight.grad.abs().sum() > 0 and net.cloth_attention.weight.grad.abs().sum() > 0
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0], losses


def test_bad_input_is_named() -> None:
    net = tiny_generator()
    x = inputs()
    with pytest.raises(ValueError, match="tgt_pose must be"):
        net(**(x | {"tgt_pose": x["tgt_pose"][:, :17]}))
    with pytest.raises(ValueError, match="removed_mask must be"):
        net(**(x | {"removed_mask": x["removed_mask"].expand(-1, 3, -1, -1)}))
