"""The frozen face embedder ``F`` of SPG-VTON's face identity loss (seed 003, Eq. 15: a pre-trained SphereFaceNet).

No weights ship with vton and none are downloaded: the user provides a TorchScript file, or a state dict together
with the architecture that fits it. The embedder is never used with random weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn


class FaceEmbedder(Protocol):
    """Face crops ``[B, 3, h, w]`` in [-1, 1] -> embeddings ``[B, D]``."""

    def __call__(self, faces: Tensor) -> Tensor: ...


def load_face_embedder(path: str, architecture: Callable[[], nn.Module] | None = None) -> nn.Module:
    """Load a pretrained face embedder, frozen (``requires_grad=False``) and in eval mode.

    Args:
        path: a TorchScript file (``torch.jit.save``), or a state dict (optionally under ``"state_dict"``).
        architecture: builds the untrained network a state dict is loaded into (strictly); not needed for TorchScript.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not TorchScript and no ``architecture`` is given, or it holds no state dict.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"face embedder: {str(file)!r} not found (face_embedder_path)")
    try:
        module = torch.jit.load(str(file), map_location="cpu")
    except RuntimeError as error:
        if architecture is None:
            raise ValueError(
                f"face embedder: {str(file)!r} is not TorchScript ({str(error).splitlines()[0]}); "
                "a state dict needs the architecture (face_embedder) to load into"
            ) from error
        state = torch.load(file, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise ValueError(f"face embedder: {str(file)!r} holds a {type(state).__name__}, not a state dict") from None
        module = architecture()
        module.load_state_dict(state, strict=True)
    for parameter in module.parameters():  # ScriptModules have no requires_grad_()
        parameter.requires_grad_(False)
    return module.eval()
