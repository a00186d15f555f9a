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
