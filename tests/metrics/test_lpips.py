"""LPIPS availability (``metrics/lpips.py``): real backbone files only, a clear reason otherwise."""

import pytest

from metrics.lpips import LPIPS_BACKBONE_FILES, lpips_or_reason


def test_missing_backbone_is_reported_unavailable_with_file_and_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # torch.hub.get_dir() = $TORCH_HOME/hub
    metric, reason = lpips_or_reason("vgg")
    assert metric is None
    assert reason == f"unavailable: {LPIPS_BACKBONE_FILES['vgg']} not found in {tmp_path / 'hub' / 'checkpoints'}"


def test_unknown_backbone_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"lpips_net must be one of \['alex', 'squeeze', 'vgg'\], got 'resnet'"):
        lpips_or_reason("resnet")


def test_weights_dir_is_searched_instead_of_the_torch_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "cache"))
    metric, reason = lpips_or_reason("alex", weights_dir=tmp_path / "weights")
    assert metric is None
    assert reason == f"unavailable: {LPIPS_BACKBONE_FILES['alex']} not found in {tmp_path / 'weights'}"


def test_backbone_is_loaded_from_the_weights_dir_without_any_download(tmp_path, monkeypatch) -> None:
    import socket

    import torch
    import torchvision

    def no_network(*args, **kwargs):
        raise AssertionError("LPIPS tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_cache"))
    torch.manual_seed(0)
    backbone = torchvision.models.squeezenet1_1(weights=None)  # stands in for the ImageNet file (5 MB)
    torch.save(backbone.state_dict(), tmp_path / LPIPS_BACKBONE_FILES["squeeze"])
    metric, status = lpips_or_reason("squeeze", weights_dir=tmp_path)
    assert status == f"imagenet:{tmp_path / LPIPS_BACKBONE_FILES['squeeze']}"
    first_conv = next(m for m in metric.net.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(first_conv.weight, backbone.features[0].weight)  # the file's weights, not others
    image = torch.rand(1, 3, 64, 48) * 2 - 1
    metric.update(image, image)
    assert metric.compute().abs() < 1e-6  # LPIPS of identical images is 0
