"""FID and Inception Score from torchmetrics, only with the real Inception weights (DESIGN.md: never computed from
random weights, never downloaded).

Both use torch-fidelity's port of the 2015 TensorFlow Inception v3 (the network of the FID and IS papers), which
torchmetrics wraps as ``NoTrainInceptionV3``; its weights file ``weights-inception-2015-12-05-6726825d.pth`` is read
from ``weights_dir`` or ``$TORCH_HOME/hub/checkpoints`` (``metrics.lpips.find_weights``) and handed to it as a path,
so torch-fidelity's download branch is never taken. Without the file, or without the ``torch-fidelity`` package,
``fid_or_reason`` / ``inception_score_or_reason`` return ``(None, "unavailable: ...")``.

Images are ``[B, 3, H, W]`` in [-1, 1] (the data contract); they are quantised to uint8 as saved images are
(``round((x + 1) * 127.5)``) before the network, which resizes them to 299x299.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore

from metrics.lpips import find_weights

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_POOL_FEATURES = 2048  # FID: the 2048-d pool3 features (Heusel et al. 2017)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def to_uint8(images: Tensor) -> Tensor:
    """``[B, 3, H, W]`` in [-1, 1] -> uint8 [0, 255], as when the images are written to 8-bit files."""
    return ((images.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def inception_network(weights: Path, feature: str) -> nn.Module:
    """torch-fidelity's Inception v3 (via torchmetrics' ``NoTrainInceptionV3``) returning ``feature``
    (``"2048"`` pool features or ``"logits_unbiased"``) for uint8 images, loaded from the local file ``weights``."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    network = NoTrainInceptionV3(
        name="inception-v3-compat", features_list=[feature], feature_extractor_weights_path=str(weights)
    )
    if feature.isdigit():
        network.num_features = int(feature)  # spares FID a probe forward pass at 299x299
    return network


def torch_fidelity_missing() -> str:
    """``""`` when torch-fidelity imports, else why not (the reason a metric is unavailable)."""
    try:
        import torch_fidelity  # noqa: F401
    except Exception as exc:  # ImportError, or a failing import of its dependencies on this torch build
        return f"unavailable: the torch-fidelity package does not import ({type(exc).__name__}: {exc})"
    return ""


def inception_or_reason(weights_dir: str | Path | None, feature: str) -> tuple[nn.Module | None, str]:
    """The Inception network for ``feature`` and ``"inception:<path>"``, or ``None`` and the reason it is
    unavailable (weights file first, then the torch-fidelity package)."""
    path, reason = find_weights(INCEPTION_FILE, weights_dir)
    if path is None:
        return None, reason
    reason = torch_fidelity_missing()
    if reason:
        return None, reason
    return inception_network(path, feature), f"inception:{path}"


class FID(FrechetInceptionDistance):
    """Frechet Inception Distance (Heusel et al. 2017) of images in [-1, 1], on Inception pool features.

    ``update(images, real)`` adds generated (``real=False``) or reference (``real=True``) images; sums, sums of
    outer products and counts are torchmetrics states reduced by summation, so every image of every process
    counts once. ``add_reference_folder`` feeds a folder of real images instead (they are kept across ``reset``).

    Args:
        inception: a module mapping uint8 ``[B, 3, H, W]`` to ``[B, D]`` features (``inception_network``; a tiny
            stand-in in tests). ``num_features`` (an int attribute) avoids a probe forward pass.
        keep_reference: keep the real-image statistics across ``reset`` (for a fixed reference folder).
    """

    def __init__(self, inception: nn.Module, keep_reference: bool = False, **kwargs) -> None:
        super().__init__(feature=inception, reset_real_features=not keep_reference, **kwargs)

    def update(self, images: Tensor, real: bool) -> None:
        """Add images ``[B, 3, H, W]`` in [-1, 1] to the real or the generated set."""
        check_images(images, "FID")
        super().update(to_uint8(images), real=real)

    def add_reference_folder(self, folder: str | Path, size: tuple[int, int], batch_size: int = 16) -> int:
        """Feed every image file of ``folder`` (sorted; resized to ``size = (H, W)``, antialiased bilinear) as real
        images; under torch.distributed each process reads every ``world_size``-th file, so each counts once.
        Returns the number of files of the folder."""
        files = reference_files(folder)
        rank, world = distributed_rank()
        mine = files[rank::world]
        for start in range(0, len(mine), batch_size):
            batch = torch.stack([read_reference(path, size) for path in mine[start : start + batch_size]])
            self.update(batch.to(self.device), real=True)
        return len(files)


class IS(InceptionScore):
    """Inception Score (Salimans et al. 2016) of images in [-1, 1]: ``exp(E_x KL(p(y|x) || p(y)))`` averaged over
    ``splits`` splits; ``compute()`` returns ``(mean, std)``. Features are a list state gathered from every
    process.

    Args:
        inception: a module mapping uint8 images to class logits (``inception_network(..., "logits_unbiased")``).
        splits: number of splits (10, Salimans et al. 2016).
    """

    def __init__(self, inception: nn.Module, splits: int = 10, **kwargs) -> None:
        super().__init__(feature=inception, splits=splits, **kwargs)

    def update(self, images: Tensor) -> None:
        """Add generated images ``[B, 3, H, W]`` in [-1, 1]."""
        check_images(images, "IS")
        super().update(to_uint8(images))


def fid_or_reason(weights_dir: str | Path | None = None, keep_reference: bool = False) -> tuple[FID | None, str]:
    """``FID`` on the real Inception, or ``None`` and ``"unavailable: <file> not found in <dir>"`` (or why
    torch-fidelity is missing)."""
    network, status = inception_or_reason(weights_dir, str(INCEPTION_POOL_FEATURES))
    if network is None:
        return None, status
    return FID(network, keep_reference=keep_reference), status


def inception_score_or_reason(weights_dir: str | Path | None = None, splits: int = 10) -> tuple[IS | None, str]:
    """``IS`` on the real Inception, or ``None`` and the reason it is unavailable (as ``fid_or_reason``)."""
    network, status = inception_or_reason(weights_dir, "logits_unbiased")
    if network is None:
        return None, status
    return IS(network, splits=splits), status


# --- helpers ---------------------------------------------------------------------------------------------


def check_images(images: Tensor, name: str) -> None:
    if images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise ValueError(
            f"{name}: expects float images [B, 3, H, W] in [-1, 1], got {images.dtype} {tuple(images.shape)}"
        )


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of torch.distributed, ``(0, 1)`` when it is not initialised."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def reference_files(folder: str | Path) -> list[Path]:
    """The image files of a FID reference folder, sorted; a missing or empty folder is an error naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"FID reference folder {folder} not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(files) < 2:
        raise ValueError(f"FID reference folder {folder} holds {len(files)} image(s) ({IMAGE_SUFFIXES}); FID needs 2+")
    return files


def read_reference(path: Path, size: tuple[int, int]) -> Tensor:
    """An image file -> ``[3, *size]`` in [-1, 1] (antialiased bilinear resize, edges aligned)."""
    try:
        with Image.open(path) as image:
            pixels = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
            width, height = image.size
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable or corrupt image file") from exc
    image = pixels.view(height, width, 3).permute(2, 0, 1).float()[None] / 127.5 - 1.0
    if (height, width) != tuple(size):
        image = F.interpolate(image, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return image[0].clamp(-1.0, 1.0)
