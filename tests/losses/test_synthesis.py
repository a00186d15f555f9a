"""Stage-3 losses (``losses/synthesis.py``) against hand values and their invariants."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from losses.mask import PatchBoxes
from losses.synthesis import (
    body_loss,
    composition_reconstruction_loss,
    identity_loss,
    patch_content_style_loss,
    region_content_style_loss,
)


def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """A fixed two-layer stand-in for VGG (the losses only need ``image -> {layer: map}``)."""
    return {"a": x, "b": F.avg_pool2d(x.relu(), 2)}


def test_composition_reconstruction_by_hand() -> None:
    target = torch.full((1, 3, 2, 2), 0.5)
    tryon = target.clone()
    tryon[0, :, 0, 0] = -0.5  # |error| = 1 on 3 of the 12 values: mean 0.25
    mask = torch.tensor([1.0, 0.5, 0.0, 1.0]).view(1, 1, 2, 2)  # mean |1 - M| = 0.375
    loss = composition_reconstruction_loss(tryon, target, mask)
    torch.testing.assert_close(loss, torch.tensor(2 * 0.25 + 0.5 * 0.375))
    torch.testing.assert_close(
        composition_reconstruction_loss(tryon, target, mask, image_weight=1.0, mask_weight=0.0), torch.tensor(0.25)
    )
    # the regulariser alone: a perfect image with the mask fully on the cloth costs nothing
    assert composition_reconstruction_loss(target, target, torch.ones(1, 1, 2, 2)).item() == 0.0


def test_composition_reconstruction_names_a_bad_mask() -> None:
    with pytest.raises(ValueError, match=r"mask must be \[B, 1, H, W\]"):
        composition_reconstruction_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_body_loss_by_hand_and_outside_the_masks_is_free() -> None:
    target = torch.zeros(1, 1, 2, 2)
    pred = torch.tensor([1.0, 0.5, 7.0, 0.0]).view(1, 1, 2, 2)  # the 7 lies outside both masks
    limbs = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    background = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2)
    # limb mean error 1; background mean error (0.5 + 0) / 2
    torch.testing.assert_close(body_loss(pred, target, limbs, background), torch.tensor(1.25))
    assert body_loss(pred, target, torch.zeros_like(limbs), torch.zeros_like(limbs)).item() == 0.0


def test_region_content_style_zero_for_identical_regions_and_positive_otherwise() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 8, 6) * 2 - 1
    cloth = torch.zeros(2, 1, 8, 6)
    cloth[..., 2:6, 1:5] = 1
    head = torch.zeros(2, 1, 8, 6)
    head[..., :2, 2:4] = 1
    regions = {"cloth": cloth, "head": head}
    outside = target + (1 - (cloth + head)) * torch.randn_like(target)  # differs only outside both regions
    same = region_content_style_loss(features, outside, target, regions)
    assert same.content.item() == 0.0 and same.style.item() == 0.0
    inside = target + cloth * 0.3
    changed = region_content_style_loss(features, inside, target, regions)
    assert changed.content.item() > 0 and changed.style.item() > 0


def test_region_content_style_is_the_sum_over_regions() -> None:
    torch.manual_seed(1)
    pred, target = torch.randn(1, 3, 8, 6), torch.randn(1, 3, 8, 6)
    a, b = (torch.rand(1, 1, 8, 6).round() for _ in range(2))
    both = region_content_style_loss(features, pred, target, {"a": a, "b": b})
    one, two = (region_content_style_loss(features, pred, target, {"m": m}) for m in (a, b))
    torch.testing.assert_close(both.content, one.content + two.content)
    torch.testing.assert_close(both.style, one.style + two.style)
    with pytest.raises(ValueError, match="no regions"):
        region_content_style_loss(features, pred, target, {})


def test_patch_loss_sees_only_the_masked_patches() -> None:
    torch.manual_seed(2)
    target = torch.randn(1, 3, 8, 8)
    cloth = torch.zeros(1, 1, 8, 8)
    cloth[..., :4, :4] = 1
    patches = PatchBoxes(torch.tensor([[[0, 0]]]), (4, 4), torch.tensor([True]))
    elsewhere = target.clone()
    elsewhere[..., 4:, 4:] += 5  # outside the cloth and the patch
    assert patch_content_style_loss(features, elsewhere, target, cloth, patches).item() == 0.0
    inside = target.clone()
    inside[..., 1, 1] += 1
    assert patch_content_style_loss(features, inside, target, cloth, patches).item() > 0
    none = PatchBoxes(torch.zeros(1, 1, 2, dtype=torch.long), (4, 4), torch.tensor([False]))
    pred = inside.requires_grad_()
    empty = patch_content_style_loss(features, pred, target, cloth, none)
    assert empty.item() == 0.0 and empty.requires_grad


def test_identity_loss_by_hand_and_only_the_fake_gets_gradients() -> None:
    embedder = torch.nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        embedder.weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]))

    def embed(faces: torch.Tensor) -> torch.Tensor:
        return embedder(faces.mean(1).flatten(1))  # [B, 3, 2, 2] -> [B, 4] -> [B, 2]

    fake = torch.ones(1, 3, 2, 2, requires_grad=True)
    real = torch.zeros(1, 3, 2, 2, requires_grad=True)
    loss = identity_loss(embed, fake, real)  # embeddings (4, 1) vs (0, 0): mean |.| = 2.5
    torch.testing.assert_close(loss, torch.tensor(2.5))
    loss.backward()
    assert fake.grad.abs().sum() > 0 and real.grad is None
    with pytest.raises(ValueError, match="differ"):
        identity_loss(embed, fake, torch.zeros(1, 3, 4, 4))


def saved_face_embedder(tmp_path) -> torch.nn.Module:
    """A small conv embedder the test builds, saved as a user's TorchScript file and loaded as ``SynthesisModule``
    loads ``face_embedder_path`` (``models.face.load_face_embedder``): frozen, eval mode."""
    from models.face import load_face_embedder

    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()
    )
    path = tmp_path / "face.pt"
    torch.jit.script(network.eval()).save(str(path))
    return load_face_embedder(str(path))


def test_identity_loss_is_zero_for_the_same_faces_and_positive_for_other_ones(tmp_path) -> None:
    embedder = saved_face_embedder(tmp_path)
    faces = torch.rand(3, 3, 8, 6) * 2 - 1
    assert identity_loss(embedder, faces.clone(), faces).item() == 0.0
    others = faces.roll(1, dims=0)  # each face compared with another person's
    assert identity_loss(embedder, others, faces).item() > 1e-3
    closer = faces + 0.1 * (others - faces)
    assert identity_loss(embedder, closer, faces) < identity_loss(embedder, others, faces)


def test_identity_loss_gradient_reaches_the_generated_image_in_the_face_region_only(tmp_path) -> None:
    """As stage 3 computes it: the face + hair pixels cut to their box (``models.crop``) and resized."""
    from models.crop import crop_boxes, mask_boxes

    embedder = saved_face_embedder(tmp_path)
    head = torch.zeros(2, 1, 32, 24)
    head[0, :, 3:11, 8:16] = 1.0
    head[1, :, 5:12, 6:13] = 1.0

    def faces(image: torch.Tensor) -> torch.Tensor:
        return crop_boxes(image * head, mask_boxes(head), (8, 6))

    target = torch.rand(2, 3, 32, 24) * 2 - 1
    generated = (target + 0.5 * torch.randn(2, 3, 32, 24)).requires_grad_()
    loss = identity_loss(embedder, faces(generated), faces(target))
    assert loss.item() > 0
    loss.backward()
    grad = generated.grad.abs().sum(1, keepdim=True)
    assert (grad[head == 0] == 0).all()  # nothing outside the face moves L_id
    assert (grad[head == 1] > 0).float().mean() > 0.9  # the face pixels do
    assert all(p.grad is None for p in embedder.parameters())  # the embedder stays frozen
