"""The attribute-based scores of Dense Intrinsic Appearance Flow (seed 004, Sec. 4.2): FashionIS and AttrRec-k.

- **FashionIS**: "following the definition in [31] (Salimans et al.), we calculate the inception score using a
  fashion item classifier" fine-tuned on clothing *type* classification: ``exp(E_x KL(p(y|x) || p(y)))`` with
  ``p(y|x)`` the classifier's clothing-type distribution.
- **AttrRec-k**: a clothing attribute recogniser applied to the generated images; "since the ground-truth attribute
  label of the test image is available, we directly use the top-k recall rate", k = 5 and 20 (Table 1). The paper
  does not spell the recall out; here it is DeepFashion's (Liu et al. 2016) over all test images: the share of the
  true attributes that are among each image's k highest-scored ones, ``sum_x |top_k(x) & A(x)| / sum_x |A(x)|``
  (a recogniser that is always right scores 1 for every k at least the number of true attributes per image).

The recogniser is a file, never downloaded: ``ATTRIBUTE_CLASSIFIER_FILE`` in ``weights_dir`` (default torch's cache,
``metrics.lpips.find_weights``), a ``torch.export`` program (``save_attribute_classifier``) mapping images
``[B, 3, H, W]`` in [-1, 1] (any B, H, W) to per-group attribute log-probabilities ``[B, A]``, with its attribute
names and exclusive group sizes in the extra file ``vton_attributes.json``; group 0 is the clothing type, FashionIS's
classes. ``scripts/train_attribute_classifier.py`` trains one on the synthetic set (``models.attribute_classifier``).
Without the file the metrics are unavailable: ``(None, "unavailable: <file> not found in <dir>")``
(``fashion_inception_score_or_reason``, ``attribute_classifier_or_reason``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image.inception import InceptionScore

from metrics.inception import check_images
from metrics.lpips import find_weights

ATTRIBUTE_CLASSIFIER_FILE = "vton_attribute_classifier.pt2"
METADATA_FILE = "vton_attributes.json"  # extra file inside the exported program
PAPER_TOP_K = (5, 20)  # seed 004, Table 1


class AttributeRecogniser(nn.Module):
    """A frozen exported attribute classifier: images ``[B, 3, H, W]`` in [-1, 1] -> ``[B, A]`` per-group
    log-probabilities, with ``attribute_names`` (``A``) and ``group_sizes``. ``train()`` / ``eval()`` change
    nothing (an exported program has its mode baked in, BatchNorm on running statistics)."""

    def __init__(self, network: nn.Module, attribute_names: Sequence[str], group_sizes: Sequence[int]) -> None:
        super().__init__()
        self.network = network
        self.attribute_names = list(attribute_names)
        self.group_sizes = list(group_sizes)
        for parameter in network.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> AttributeRecogniser:
        self.training = mode  # the exported graph has no train / eval switch
        return self

    def forward(self, images: Tensor) -> Tensor:
        return self.network(images)


class ClothingTypeLogits(nn.Module):
    """Group 0 of a recogniser's output (the clothing type): ``[B, group_sizes[0]]`` log-probabilities."""

    def __init__(self, recogniser: AttributeRecogniser) -> None:
        super().__init__()
        self.recogniser = recogniser

    def forward(self, images: Tensor) -> Tensor:
        return self.recogniser(images)[:, : self.recogniser.group_sizes[0]]


def save_attribute_classifier(
    network: nn.Module, path: str | Path, attribute_names: Sequence[str], group_sizes: Sequence[int], example: Tensor
) -> None:
    """Export ``network`` (in eval mode) for any batch size and image size, with its attribute names and groups,
    to ``path`` (``torch.export.save``); ``example``: images ``[B, 3, H, W]`` it is traced on."""
    network = network.eval()
    batch, height, width = (
        torch.export.Dim("batch"),
        torch.export.Dim("height", min=8),
        torch.export.Dim("width", min=8),
    )
    program = torch.export.export(network, (example,), dynamic_shapes=({0: batch, 2: height, 3: width},))
    metadata = json.dumps({"attribute_names": list(attribute_names), "group_sizes": [int(g) for g in group_sizes]})
    torch.export.save(program, str(path), extra_files={METADATA_FILE: metadata})


def load_attribute_classifier(path: str | Path) -> AttributeRecogniser:
    """The recogniser exported to ``path`` by ``save_attribute_classifier``; a file that is not one is a
    ``ValueError`` naming it."""
    extra = {METADATA_FILE: ""}
    try:
        program = torch.export.load(str(path), extra_files=extra)
        metadata = json.loads(extra[METADATA_FILE])
        names, groups = metadata["attribute_names"], metadata["group_sizes"]
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path}: not an attribute classifier exported by save_attribute_classifier ({type(error).__name__})"
        ) from None
    if sum(groups) != len(names):
        raise ValueError(f"{path}: attribute groups {groups} do not add up to its {len(names)} attribute names")
    return AttributeRecogniser(program.module(), names, groups)


def attribute_classifier_or_reason(weights_dir: str | Path | None = None) -> tuple[AttributeRecogniser | None, str]:
    """The recogniser in ``ATTRIBUTE_CLASSIFIER_FILE`` and ``"classifier:<path>"``, or ``None`` and
    ``"unavailable: <file> not found in <dir>"``."""
    path, reason = find_weights(ATTRIBUTE_CLASSIFIER_FILE, weights_dir)
    if path is None:
        return None, reason
    return load_attribute_classifier(path), f"classifier:{path}"


class FashionIS(InceptionScore):
    """FashionIS (seed 004 Sec. 4.2): the Inception Score with a fashion classifier's clothing-type distribution,
    ``exp(E_x KL(p(y|x) || p(y)))`` over ``splits`` splits; ``compute()`` returns ``(mean, std)``. The logits are a
    list state gathered from every process (torchmetrics ``InceptionScore``).

    Args:
        classifier: float images ``[B, 3, H, W]`` in [-1, 1] -> clothing-type logits ``[B, C]``
            (``ClothingTypeLogits`` of a recogniser).
        splits: number of splits (10, as IS; seed 004 is silent).
    """

    def __init__(self, classifier: nn.Module, splits: int = 10, **kwargs) -> None:
        super().__init__(feature=classifier, splits=splits, normalize=False, **kwargs)

    def update(self, images: Tensor) -> None:
        """Add generated images ``[B, 3, H, W]`` in [-1, 1]."""
        check_images(images, "FashionIS")
        super().update(images.float())


class AttributeRecall(Metric):
    """AttrRec-k (seed 004 Sec. 4.2, module docstring): ``sum_x |top_k(x) & A(x)| / sum_x |A(x)|`` for each k.

    States are sums (hits per k, true attributes), reduced by summation over processes; ``compute()`` returns
    ``{k: recall}`` (0 when no image had a true attribute).

    Args:
        recogniser: images ``[B, 3, H, W]`` in [-1, 1] -> attribute scores ``[B, A]`` (higher = more likely).
        top_k: the k values (5 and 20, seed 004 Table 1); each must be below ``A``, else every attribute is in the
            top k and the recall is 1 whatever the images (checked at the first update).
    """

    higher_is_better = True
    full_state_update = False

    def __init__(self, recogniser: nn.Module, top_k: Sequence[int] = PAPER_TOP_K, **kwargs) -> None:
        super().__init__(**kwargs)
        if not top_k or min(top_k) < 1:
            raise ValueError(f"AttrRec-k: top_k must be positive integers, got {list(top_k)}")
        self.recogniser = recogniser
        self.top_k = tuple(int(k) for k in top_k)
        self.add_state("hits", torch.zeros(len(self.top_k), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("positives", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, images: Tensor, attributes: Tensor) -> None:
        """Add images ``[B, 3, H, W]`` in [-1, 1] and their true attributes ``[B, A]`` (multi-hot 0/1)."""
        check_images(images, "AttrRec-k")
        scores = self.recogniser(images.float())
        if attributes.shape != scores.shape:
            raise ValueError(
                f"AttrRec-k: attributes {tuple(attributes.shape)} do not match the recogniser's scores "
                f"{tuple(scores.shape)}"
            )
        too_large = [k for k in self.top_k if k >= scores.shape[1]]
        if too_large:
            raise ValueError(
                f"AttrRec-k: k = {too_large} is not below the recogniser's {scores.shape[1]} attributes "
                "(every attribute would be in the top k)"
            )
        truth = attributes.to(torch.float64) > 0.5
        order = scores.argsort(dim=1, descending=True)
        ranked_truth = truth.gather(1, order)  # [B, A]: whether the r-th ranked attribute is true
        hits = ranked_truth.cumsum(dim=1)  # true attributes among the top r+1
        self.hits += torch.stack([hits[:, k - 1].sum() for k in self.top_k]).to(torch.float64)
        self.positives += truth.sum()

    def compute(self) -> dict[int, Tensor]:
        recall = self.hits / self.positives.clamp(min=1.0)
        return {k: recall[i] for i, k in enumerate(self.top_k)}


def fashion_inception_score_or_reason(
    weights_dir: str | Path | None = None, splits: int = 10
) -> tuple[FashionIS | None, str]:
    """``FashionIS`` on the attribute classifier's clothing types, or ``None`` and the reason it is unavailable."""
    recogniser, status = attribute_classifier_or_reason(weights_dir)
    if recogniser is None:
        return None, status
    return FashionIS(ClothingTypeLogits(recogniser), splits=splits), status
