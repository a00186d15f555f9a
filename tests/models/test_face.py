"""Loading the user's face embedder (``models/face.py``): TorchScript, state dict, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.face import load_face_embedder


def tiny_embedder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_torchscript_file_loads_frozen_and_gives_the_same_embeddings(tmp_path) -> None:
    net = tiny_embedder().eval()
    path = tmp_path / "face.pt"
    torch.jit.script(net).save(str(path))
    loaded = load_face_embedder(str(path))
    faces = torch.randn(2, 3, 12, 10)
    torch.testing.assert_close(loaded(faces), net(faces))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_state_dict_needs_and_uses_the_architecture(tmp_path) -> None:
    net = tiny_embedder()
    path = tmp_path / "face.pth"
    torch.save({"state_dict": net.state_dict()}, path)
    with pytest.raises(ValueError, match="is not TorchScript.*needs the architecture"):
        load_face_embedder(str(path))
    torch.manual_seed(5)  # the architecture starts from other random weights
    loaded = load_face_embedder(str(path), architecture=lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    ))  # fmt: skip
    faces = torch.randn(1, 3, 12, 10)
    torch.testing.assert_close(loaded(faces), net.eval()(faces))


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_face_embedder(str(tmp_path / "nope.pt"))


def test_frozen_embedder_still_passes_gradients_to_the_faces(tmp_path) -> None:
    """L_id trains the generator through the embedder: frozen weights, but a gradient for its input."""
    path = tmp_path / "face.pt"
    torch.jit.script(tiny_embedder().eval()).save(str(path))
    loaded = load_face_embedder(str(path))
    faces = torch.randn(2, 3, 12, 10, requires_grad=True)
    loaded(faces).sum().backward()
    assert faces.grad.abs().sum() > 0 and all(p.grad is None for p in loaded.parameters())


def test_a_file_without_a_state_dict_is_named(tmp_path) -> None:
    path = tmp_path / "weights.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="weights.pth' holds a Tensor, not a state dict"):
        load_face_embedder(str(path), architecture=tiny_embedder)
