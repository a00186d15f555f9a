"""A frozen VGG19 feature extractor that loads torchvision's ImageNet weights from disk, never from the network.

Weights policy (``DESIGN.md``, "Pretrained networks"): the file ``vgg19-dcbb9e9d.pth`` is taken from an explicit
path, else from ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``). Where it is absent
the extractor falls back to random weights with a loud ``UntrainedBackboneWarning`` and says so in
``weights_status`` (for the run's hyper-parameters), unless ``require_pretrained=True`` makes absence an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"

# The ``features`` part of torchvision's vgg19 (configuration "E"): (width, convs) per block, each block ending in
# a 2x2 max-pool. Layer ``k`` of our ``features`` is ``features.k`` of torchvision's state dict.
_VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# relu1_1 .. relu5_1: the five activations of pix2pixHD's / ClothFlow's VGG loss (seed 000).
DEFAULT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class UntrainedBackboneWarning(UserWarning):
    """A loss network runs with random weights because its pretrained file was not found."""


def vgg19_layer_names() -> tuple[str, ...]:
    """Names of torchvision's ``vgg19().features`` layers in order: ``conv1_1, relu1_1, ..., pool5`` (37 names)."""
    names: list[str] = []
    for block, (_, n_convs) in enumerate(_VGG19_BLOCKS, start=1):
        for conv in range(1, n_convs + 1):
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
        names.append(f"pool{block}")
    return tuple(names)


def _vgg19_features(n_layers: int) -> nn.Sequential:
    """The first ``n_layers`` layers of VGG19's ``features`` (ReLUs not in place, so conv outputs can be read)."""
    layers: list[nn.Module] = []
    in_channels = 3
    for width, n_convs in _VGG19_BLOCKS:
        for _ in range(n_convs):
            layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU()]
            in_channels = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers[:n_layers])


def default_weights_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (where torchvision caches downloads), read at call time."""
    return Path(torch.hub.get_dir()) / "checkpoints"


class VGG19Features(nn.Module):
    """Frozen VGG19 activations: ``x [B, 3, H, W]`` in [-1, 1] -> ``{layer name: [B, C_l, H_l, W_l]}``.

    The input is mapped to [0, 1] and ImageNet-normalised inside. Only the layers up to the deepest requested one
    are built; ``features`` holds them with torchvision's indices, so ``features.state_dict()`` matches the
    ``features.N.*`` keys of ``vgg19-dcbb9e9d.pth``. Parameters never require grad and the module stays in eval
    mode under ``.train()``; gradients still flow to the input.

    Args:
        layers: names from ``vgg19_layer_names()`` (e.g. ``"relu3_1"``); the output dict keeps this order.
        weights: ``"imagenet"`` (load the file, see the module docstring) or ``"random"`` (untrained on request,
            e.g. in tests; recorded in ``weights_status`` without a warning).
        weights_path: explicit path to ``vgg19-dcbb9e9d.pth`` (or a compatible state dict); a given path that does
            not exist is an error, never a fallback.
        require_pretrained: raise ``FileNotFoundError`` instead of falling back to random weights.

    Attributes:
        weights_status: ``"imagenet:<path>"``, ``"random (requested)"`` or
            ``"random (vgg19-dcbb9e9d.pth not found in <dir>)"``: record it in the run's hyper-parameters.
    """

    def __init__(
        self,
        layers: Sequence[str] = DEFAULT_LAYERS,
        weights: str = "imagenet",
        weights_path: str | None = None,
        require_pretrained: bool = False,
    ) -> None:
        super().__init__()
        names = vgg19_layer_names()
        unknown = [name for name in layers if name not in names]
        if not layers or unknown:
            raise ValueError(f"VGG19Features: unknown or no layers {list(unknown or layers)}; valid names: {names}")
        if weights not in ("imagenet", "random"):
            raise ValueError(f"VGG19Features: weights must be 'imagenet' or 'random', got {weights!r}")
        if weights == "random" and (weights_path is not None or require_pretrained):
            raise ValueError("VGG19Features: weights='random' contradicts weights_path / require_pretrained")
        self.layers = tuple(layers)
        self._indices = {name: names.index(name) for name in self.layers}
        self.features = _vgg19_features(max(self._indices.values()) + 1)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_status = (
            "random (requested)" if weights == "random" else self._load(weights_path, require_pretrained)
        )
        self.requires_grad_(False)
        self.eval()

    def _load(self, weights_path: str | None, require_pretrained: bool) -> str:
        """Load ImageNet weights into ``features``; return the status string."""
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"VGG19Features: weights_path {str(path)!r} does not exist")
        else:
            folder = default_weights_dir()
            path = folder / VGG19_WEIGHTS_FILE
            if not path.is_file():
                message = (
                    f"{VGG19_WEIGHTS_FILE} not found in {folder} (searched $TORCH_HOME/hub/checkpoints; no download "
                    "is attempted). Put the file there or pass weights_path."
                )
                if require_pretrained:
                    raise FileNotFoundError(f"VGG19Features: {message}")
                warnings.warn(
                    f"VGG19Features is using RANDOM weights: {message} Perceptual/style losses will not be meaningful.",
                    UntrainedBackboneWarning,
                    stacklevel=3,
                )
                return f"random ({VGG19_WEIGHTS_FILE} not found in {folder})"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise RuntimeError(f"VGG19Features: cannot read weights file {str(path)!r}: {error}") from error
        if not isinstance(state, dict):
            raise RuntimeError(f"VGG19Features: {str(path)!r} holds a {type(state).__name__}, not a state dict")
        wanted = list(self.features.state_dict())
        missing = [f"features.{key}" for key in wanted if f"features.{key}" not in state]
        if missing:
            raise RuntimeError(f"VGG19Features: {str(path)!r} lacks keys {missing}")
        features_state = {key: state[f"features.{key}"] for key in wanted}
        try:
            self.features.load_state_dict(features_state, strict=True)
        except RuntimeError as error:
            raise RuntimeError(f"VGG19Features: weights in {str(path)!r} do not fit VGG19: {error}") from error
        return f"imagenet:{path}"

    def train(self, mode: bool = True) -> VGG19Features:
        """Stay in eval mode whatever ``mode`` is (the extractor is frozen)."""
        return super().train(False)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG19Features expects [B, 3, H, W] in [-1, 1], got {tuple(x.shape)}")
        x = ((x + 1) / 2 - self.mean) / self.std
        wanted = {index: name for name, index in self._indices.items()}
        found: dict[str, Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                found[wanted[index]] = x
        return {name: found[name] for name in self.layers}
