"""The frozen VGG19 extractor (``models/vgg.py``): torchvision weights from disk, never the network."""

import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from models.vgg import VGG19_WEIGHTS_FILE, UntrainedBackboneWarning, VGG19Features, vgg19_layer_names

SHALLOW = ("relu1_1", "relu2_1")  # builds features[0..6] only: fast


@pytest.fixture(scope="module")
def torchvision_vgg(tmp_path_factory: pytest.TempPathFactory) -> tuple[torchvision.models.VGG, Path]:
    """A randomly initialised torchvision vgg19 and a weights file in its state-dict format (no download).

    The file holds every ``features.*`` tensor and the classifier biases (the 400 MB classifier weights are left
    out); the extractor must ignore the ``classifier.*`` keys.
    """
    torch.manual_seed(0)
    model = torchvision.models.vgg19(weights=None).eval()
    state = {k: v for k, v in model.state_dict().items() if k.startswith("features.") or k.endswith(".bias")}
    path = tmp_path_factory.mktemp("weights") / VGG19_WEIGHTS_FILE
    torch.save(state, path)
    return model, path


def test_layer_names_follow_torchvision_indices(torchvision_vgg) -> None:
    names = vgg19_layer_names()
    assert len(names) == len(torchvision_vgg[0].features) == 37
    assert [names.index(n) for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "pool5")] == [
        1, 6, 11, 20, 29, 36
    ]  # fmt: skip


def test_loads_the_file_from_an_explicit_path_and_matches_torchvision(torchvision_vgg) -> None:
    model, path = torchvision_vgg
    vgg = VGG19Features(weights_path=str(path))
    assert vgg.weights_status == f"imagenet:{path}"
    assert len(vgg.features) == 30  # up to relu5_1
    reference = model.features.state_dict()
    for key, value in vgg.features.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0)

    x = torch.rand(1, 3, 32, 32) * 2 - 1
    normalised = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    out = vgg(x)
    assert list(out) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    with torch.no_grad():
        torch.testing.assert_close(out["relu1_1"], model.features[:2](normalised))
        torch.testing.assert_close(out["relu3_1"], model.features[:12](normalised))
        torch.testing.assert_close(out["relu5_1"], model.features[:30](normalised), atol=1e-5, rtol=1e-4)


def test_finds_the_file_in_torch_home(torchvision_vgg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, source = torchvision_vgg
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / VGG19_WEIGHTS_FILE).symlink_to(source)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    vgg = VGG19Features(layers=SHALLOW)
    assert vgg.weights_status == f"imagenet:{folder / VGG19_WEIGHTS_FILE}"
    assert len(vgg.features) == 7


def test_missing_file_falls_back_to_random_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    with pytest.warns(UntrainedBackboneWarning, match=rf"RANDOM weights: {VGG19_WEIGHTS_FILE} not found in {folder}"):
        vgg = VGG19Features(layers=SHALLOW)
    assert vgg.weights_status == f"random ({VGG19_WEIGHTS_FILE} not found in {folder})"
    with pytest.raises(FileNotFoundError, match=rf"{VGG19_WEIGHTS_FILE} not found in {folder}"):
        VGG19Features(layers=SHALLOW, require_pretrained=True)


def test_random_on_request_is_silent_and_recorded() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vgg = VGG19Features(layers=SHALLOW, weights="random")
    assert vgg.weights_status == "random (requested)"
    with pytest.raises(ValueError, match="contradicts"):
        VGG19Features(weights="random", require_pretrained=True)


def test_bad_paths_files_and_layers_raise_naming_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="weights_path .*nope.pth' does not exist"):
        VGG19Features(weights_path=str(tmp_path / "nope.pth"))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot read weights file .*corrupt.pth"):
        VGG19Features(layers=SHALLOW, weights_path=str(corrupt))
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, partial)
    with pytest.raises(RuntimeError, match=r"partial.pth' lacks keys \['features.2.weight'"):
        VGG19Features(layers=SHALLOW, weights_path=str(partial))
    wrong = tmp_path / "wrong.pth"
    torch.save({f"features.{k}": torch.zeros(2) for k in VGG19Features(SHALLOW, "random").features.state_dict()}, wrong)
    with pytest.raises(RuntimeError, match="weights in .*wrong.pth' do not fit VGG19"):
        VGG19Features(layers=SHALLOW, weights_path=str(wrong))
    with pytest.raises(ValueError, match=r"unknown or no layers \['relu6_1'\]"):
        VGG19Features(layers=("relu1_1", "relu6_1"), weights="random")


def test_frozen_in_eval_mode_but_differentiable_in_its_input() -> None:
    vgg = VGG19Features(layers=SHALLOW, weights="random")
    vgg.train()
    assert not vgg.training and not any(m.training for m in vgg.modules())
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    vgg(x)["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg.parameters())
    assert set(vgg.state_dict()) == {f"features.{k}" for k in vgg.features.state_dict()}  # mean/std not saved
