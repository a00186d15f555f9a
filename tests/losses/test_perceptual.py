"""Perceptual and style losses (``losses/perceptual.py``) against hand-computed values."""

import pytest
import torch

from losses.perceptual import (
    CLOTHFLOW_LAYER_WEIGHTS,
    LAYER_WEIGHT_PRESETS,
    PerceptualLoss,
    feature_l1,
    gram_matrix,
    style_loss,
)
from models.vgg import VGG19Features


def test_clothflow_weights_are_the_reference_codes() -> None:
    assert list(CLOTHFLOW_LAYER_WEIGHTS.items()) == [
        ("relu1_1", 1 / 32), ("relu2_1", 1 / 16), ("relu3_1", 1 / 8), ("relu4_1", 1 / 4), ("relu5_1", 1.0)
    ]  # fmt: skip
    assert LAYER_WEIGHT_PRESETS["spg_vton"] == CLOTHFLOW_LAYER_WEIGHTS


def test_gram_matrix_by_hand() -> None:
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C = 2 channels of 2 pixels
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram_matrix(features)[0], expected)


def test_gram_matrix_stays_float32_under_autocast() -> None:
    features = torch.rand(1, 4, 8, 8) * 3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features.bfloat16())
    assert gram.dtype == torch.float32
    torch.testing.assert_close(gram, gram_matrix(features.bfloat16().float()))


def test_style_loss_by_hand_zero_for_identical_and_positive_otherwise() -> None:
    pred = {"a": torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)}
    target = {"a": torch.zeros(1, 2, 1, 2)}
    # mean |G| = (5 + 11 + 11 + 25) / 4 / 4
    assert style_loss(pred, target, {"a": 2.0}).item() == pytest.approx(2.0 * 52 / 16)
    torch.manual_seed(0)
    features = {"a": torch.randn(2, 4, 3, 3), "b": torch.randn(2, 8, 2, 2)}
    assert style_loss(features, features).item() == 0.0
    other = {"a": features["a"], "b": torch.randn(2, 8, 2, 2)}
    assert style_loss(features, other).item() > 0.0
    assert style_loss(features, other, {"a": 1.0}).item() == 0.0  # only the weighted layers count


def test_feature_l1_by_hand() -> None:
    pred = {"a": torch.ones(1, 1, 2, 2), "b": torch.full((1, 2, 1, 1), 3.0)}
    target = {"a": torch.zeros(1, 1, 2, 2), "b": torch.zeros(1, 2, 1, 1)}
    assert feature_l1(pred, target, {"a": 0.5, "b": 2.0}).item() == pytest.approx(0.5 * 1 + 2.0 * 3)
    with pytest.raises(KeyError, match=r"layers \['c'\] absent from the features \['a', 'b'\]"):
        feature_l1(pred, target, {"c": 1.0})
    with pytest.raises(ValueError, match="no layers to weigh"):
        feature_l1(pred, target, {})


def vgg_reading_red_channel() -> VGG19Features:
    """relu1_1 channel 0 = relu(ImageNet-normalised red), every other channel 0."""
    vgg = VGG19Features(layers=("relu1_1",), weights="random")
    conv = vgg.features[0]
    conv.weight.data.zero_()
    conv.bias.data.zero_()
    conv.weight.data[0, 0, 1, 1] = 1.0
    return vgg


def test_perceptual_loss_by_hand_through_the_normalisation() -> None:
    loss = PerceptualLoss(vgg_reading_red_channel(), {"relu1_1": 0.5})
    pred = torch.full((2, 3, 4, 4), 0.5)  # red 0.75 in [0, 1] -> (0.75 - 0.485) / 0.229
    target = torch.full((2, 3, 4, 4), -1.0)  # red 0 -> negative -> relu 0
    expected = 0.5 * ((0.75 - 0.485) / 0.229) / 64  # one channel of 64 differs
    assert loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_perceptual_loss_is_zero_for_identical_images_and_trains_pred_only() -> None:
    torch.manual_seed(0)
    vgg = VGG19Features(layers=("relu1_1", "relu2_1"), weights="random")
    loss = PerceptualLoss(vgg, {"relu1_1": 1.0, "relu2_1": 0.5})
    assert loss.weights_status == "random (requested)"
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    assert loss(image, image.clone()).item() == 0.0
    pred = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    target = image.clone().requires_grad_()
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and pred.grad.abs().sum() > 0 and target.grad is None


def test_perceptual_loss_rejects_layers_the_vgg_lacks_and_unknown_presets() -> None:
    vgg = VGG19Features(layers=("relu1_1",), weights="random")
    with pytest.raises(ValueError, match=r"layers \['relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'\] are not extracted"):
        PerceptualLoss(vgg, "clothflow")
    with pytest.raises(ValueError, match="unknown layer-weight preset 'vgg'"):
        PerceptualLoss(vgg, "vgg")
    with pytest.raises(ValueError, match=r"pred \(1, 3, 4, 4\) and target \(1, 3, 8, 8\) differ"):
        PerceptualLoss(vgg, {"relu1_1": 1.0})(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8))


def test_feature_mse_by_hand() -> None:
    # seed 004 Eq. 6: squared L2 per layer (as a mean), weighted and summed over layers.
    pred = {"a": torch.tensor([[1.0, 3.0]]), "b": torch.tensor([[0.0]])}
    target = {"a": torch.tensor([[0.0, 1.0]]), "b": torch.tensor([[2.0]])}
    from losses.perceptual import feature_mse

    assert feature_mse(pred, target).item() == pytest.approx((1 + 4) / 2 + 4)
    assert feature_mse(pred, target, {"b": 0.5}).item() == pytest.approx(2.0)
