"""``EvaluationSuite``: the try-on evaluation table (issue #8): SSIM, Mask-SSIM, PSNR, L1, LPIPS, FID, IS, Mask-IS,
FashionIS, AttrRec-k, parsing mIoU and warped-cloth SSIM from one place, leaving out (and saying why) the metrics
whose weights (or labels) are absent.

What each metric compares (``out`` = the chain's outputs, ``batch`` = contract keys, images in [-1, 1]):

===================  ===========================================================================================
``ssim``             SSIM of ``out["result"]`` vs ``batch["tgt_img"]`` (``metrics.image.SSIM``)
``mask_ssim_face``   Mask-SSIM in the target face region ``tgt_masks["face"]`` (SPG-VTON, seed 003 IV-D)
``mask_ssim_non_cloth``  Mask-SSIM everywhere but the target cloth region, ``1 - tgt_masks["cloth"]`` (seed 003)
``psnr``, ``l1``     PSNR (dB) and L1 (grey levels of 0..255) of result vs target
``lpips_alex/vgg``   LPIPS with the AlexNet / VGG16 backbone (``metrics.lpips``; lower is better)
``fid``              FID of the results against the real target images, or against the reference folder
                     ``fid_reference`` when one is given (its images only; kept across ``reset``)
``is``               Inception Score of the results (mean; ``is_std`` its spread over the splits)
``mask_is_face``     Mask-IS of the results in the target face region (seed 003 IV-D, ``metrics.mask_inception``)
``mask_is_cloth``    Mask-IS in the target cloth region (seed 003 Table III "Clothes"); both add ``..._std``
``fashion_is``       FashionIS (seed 004 Sec. 4.2): IS on the attribute classifier's clothing types (``_std``)
``attr_rec``         AttrRec-k (seed 004): top-k recall of the target's garment attributes ``batch["tgt_attributes"]``
                     ``[B, A]`` recognised in the results, one ``attr_rec_<k>`` per k (``metrics.attributes``)
``parsing_miou``     mIoU of ``out["layout_logits"]`` vs ``tgt_parse`` (and ``parsing_pixel_accuracy``)
``warped_ssim``      Mask-SSIM of ``out["warped_cloth"]`` vs the target image in the target cloth region,
                     as stage 2 scores it (``lightning_modules/warp.py`` ``evaluate``)
===================  ===========================================================================================

Every metric is a torchmetrics ``Metric`` with summed (or gathered) states, so each test image counts once however
the batches split, and ``compute`` syncs across DDP processes (call it on every process). The suite is a plain
holder, not an ``nn.Module``: kept as an attribute of a LightningModule it stays out of ``state_dict`` and
checkpoints (the LPIPS and Inception networks are large and their presence differs between machines); ``update``
moves the metrics to the images' device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from torchmetrics import Metric

from contract.sample import NUM_PARSE_LABELS
from metrics.attributes import (
    PAPER_TOP_K,
    AttributeRecall,
    attribute_classifier_or_reason,
    fashion_inception_score_or_reason,
)
from metrics.image import L1, PSNR, SSIM, MaskSSIM
from metrics.inception import FID, fid_or_reason, inception_score_or_reason
from metrics.lpips import lpips_or_reason
from metrics.mask_inception import mask_inception_score_or_reason
from metrics.parsing import ParsingIoU

METRIC_NAMES: tuple[str, ...] = (
    "ssim",
    "mask_ssim_face",
    "mask_ssim_non_cloth",
    "psnr",
    "l1",
    "lpips_alex",
    "lpips_vgg",
    "fid",
    "is",
    "mask_is_face",
    "mask_is_cloth",
    "fashion_is",
    "attr_rec",
    "parsing_miou",
    "warped_ssim",
)
# The output key each metric needs besides "result" (a missing one is an error, never a silent skip).
OUTPUT_KEYS = {"parsing_miou": "layout_logits", "warped_ssim": "warped_cloth"}
ATTRIBUTES_KEY = "tgt_attributes"  # [B, A] multi-hot garment attributes of the target (AttrRec-k's ground truth)
SPREAD_METRICS = ("is", "mask_is_face", "mask_is_cloth", "fashion_is")  # (mean, std) over splits


@rank_zero_only
def announce(message: str) -> None:
    """Print on global rank 0 only."""
    print(message, flush=True)


class EvaluationSuite:
    """The metrics of ``names`` that can be computed here, and the reasons for the others.

    Args:
        names: metrics to compute, from ``METRIC_NAMES`` (default: all).
        weights_dir: folder holding the pretrained files (LPIPS backbones, Inception); None: torch's cache
            ``$TORCH_HOME/hub/checkpoints`` (``metrics.lpips.find_weights``).
        fid_reference: folder of real images for FID's reference statistics (resized to the test images' size);
            None: the real test images ``batch["tgt_img"]``.
        is_splits: Inception Score splits (10, Salimans et al. 2016), also for Mask-IS and FashionIS.
        num_parse_labels: parsing classes for mIoU (20, LIP).
        attribute_top_k: AttrRec-k's k values (5 and 20, seed 004 Table 1); a k not below the attribute classifier's
            number of attributes (11 for the synthetic one) would always score 1 and is left out with its reason.

    ``unavailable`` maps each metric left out to ``"unavailable: <file> not found in <dir>"`` (or another reason);
    each reason is printed once, when the suite is built, except AttrRec-k's missing labels, said at the first
    batch without ``tgt_attributes`` (the metric is then left out).
    """

    def __init__(
        self,
        names: Sequence[str] = METRIC_NAMES,
        weights_dir: str | Path | None = None,
        fid_reference: str | Path | None = None,
        is_splits: int = 10,
        num_parse_labels: int = NUM_PARSE_LABELS,
        attribute_top_k: Sequence[int] = PAPER_TOP_K,
    ) -> None:
        unknown = [name for name in names if name not in METRIC_NAMES]
        if unknown:
            raise ValueError(f"EvaluationSuite: unknown metric(s) {unknown}; expected names from {list(METRIC_NAMES)}")
        if len(set(names)) != len(names):
            raise ValueError(f"EvaluationSuite: metric names repeat in {list(names)}")
        self.fid_reference = None if fid_reference is None else Path(fid_reference)
        self._reference_fed = False
        self.metrics: dict[str, Metric] = {}
        self.unavailable: dict[str, str] = {}
        builders = {
            "ssim": lambda: (SSIM(), ""),
            "mask_ssim_face": lambda: (MaskSSIM(), ""),
            "mask_ssim_non_cloth": lambda: (MaskSSIM(), ""),
            "psnr": lambda: (PSNR(), ""),
            "l1": lambda: (L1(), ""),
            "lpips_alex": lambda: lpips_or_reason("alex", weights_dir),
            "lpips_vgg": lambda: lpips_or_reason("vgg", weights_dir),
            "fid": lambda: fid_or_reason(weights_dir, keep_reference=self.fid_reference is not None),
            "is": lambda: inception_score_or_reason(weights_dir, splits=is_splits),
            "mask_is_face": lambda: mask_inception_score_or_reason(weights_dir, splits=is_splits),
            "mask_is_cloth": lambda: mask_inception_score_or_reason(weights_dir, splits=is_splits),
            "fashion_is": lambda: fashion_inception_score_or_reason(weights_dir, splits=is_splits),
            "attr_rec": lambda: self._attribute_recall(weights_dir, attribute_top_k),
            "parsing_miou": lambda: (ParsingIoU(num_parse_labels), ""),
            "warped_ssim": lambda: (MaskSSIM(), ""),
        }
        for name in names:
            metric, status = builders[name]()
            if metric is None:
                self._leave_out(name, status)
            else:
                self.metrics[name] = metric

    def _leave_out(self, name: str, reason: str) -> None:
        self.unavailable[name] = reason
        announce(f"{name}: {reason}")

    def _attribute_recall(self, weights_dir: str | Path | None, top_k: Sequence[int]) -> tuple[Metric | None, str]:
        """AttrRec-k for the k values below the classifier's attribute count; the others are left out here."""
        recogniser, status = attribute_classifier_or_reason(weights_dir)
        if recogniser is None:
            return None, status
        count = len(recogniser.attribute_names)
        for k in (k for k in top_k if k >= count):
            self._leave_out(f"attr_rec_{k}", f"unavailable: k = {k} is not below the classifier's {count} attributes")
        kept = [k for k in top_k if k < count]
        if not kept:
            return None, f"unavailable: no k of {list(top_k)} is below the classifier's {count} attributes"
        return AttributeRecall(recogniser, top_k=kept), status

    def to(self, device: torch.device | str) -> EvaluationSuite:
        """Move every metric (its states and networks) to ``device``."""
        for metric in self.metrics.values():
            metric.to(device)
        return self

    @torch.no_grad()
    def update(self, out: dict, batch: dict) -> None:
        """Add one batch: ``out["result"]`` ``[B, 3, H, W]`` in [-1, 1] (and ``layout_logits`` ``[B, 20, H, W]`` /
        ``warped_cloth`` ``[B, 3, H, W]`` for the metrics that need them) against the batch's ``tgt_img``,
        ``tgt_masks`` and ``tgt_parse``."""
        for name, key in (("result", "result"), *OUTPUT_KEYS.items()):
            if (name == "result" or name in self.metrics) and key not in out:
                raise ValueError(f"EvaluationSuite: metric {name!r} needs the output key {key!r}; got {sorted(out)}")
        result = out["result"].float()
        self.to(result.device)
        target = batch["tgt_img"].float()
        masks = batch["tgt_masks"]
        if "attr_rec" in self.metrics and ATTRIBUTES_KEY not in batch:
            del self.metrics["attr_rec"]
            self._leave_out(
                "attr_rec", f"unavailable: the test data has no garment attribute labels ({ATTRIBUTES_KEY!r})"
            )
        if "fid" in self.metrics and self.fid_reference is not None and not self._reference_fed:
            fid = self.metrics["fid"]
            assert isinstance(fid, FID)
            fid.add_reference_folder(self.fid_reference, tuple(result.shape[-2:]))
            self._reference_fed = True
        for name, metric in self.metrics.items():
            if name in ("ssim", "psnr", "l1"):
                metric.update(result, target)
            elif name == "mask_ssim_face":
                metric.update(result, target, masks["face"])
            elif name == "mask_ssim_non_cloth":
                metric.update(result, target, 1.0 - masks["cloth"])
            elif name.startswith("lpips_"):
                metric.update(result.clamp(-1.0, 1.0), target.clamp(-1.0, 1.0))
            elif name == "fid":
                metric.update(result, real=False)
                if self.fid_reference is None:
                    metric.update(target, real=True)
            elif name in ("is", "fashion_is"):
                metric.update(result)
            elif name == "mask_is_face":
                metric.update(result, masks["face"])
            elif name == "mask_is_cloth":
                metric.update(result, masks["cloth"])
            elif name == "attr_rec":
                metric.update(result, batch[ATTRIBUTES_KEY])
            elif name == "parsing_miou":
                metric.update(out["layout_logits"], batch["tgt_parse"])
            elif name == "warped_ssim":
                metric.update(out["warped_cloth"].float(), target, masks["cloth"])

    def compute(self) -> dict[str, float]:
        """``{name: value}`` for every available metric, synced over processes (``is``, ``mask_is_*`` and
        ``fashion_is`` add ``<name>_std``, ``parsing_miou`` adds ``parsing_pixel_accuracy``, ``attr_rec`` gives
        ``attr_rec_<k>`` per k)."""
        results: dict[str, float] = {}
        for name, metric in self.metrics.items():
            value = metric.compute()
            if name in SPREAD_METRICS:
                results[name], results[f"{name}_std"] = float(value[0]), float(value[1])
            elif name == "attr_rec":
                results.update({f"attr_rec_{k}": float(recall) for k, recall in value.items()})
            elif name == "parsing_miou":
                results["parsing_miou"] = float(value["miou"])
                results["parsing_pixel_accuracy"] = float(value["pixel_accuracy"])
            else:
                results[name] = float(value)
        return results

    def reset(self) -> None:
        """Clear the accumulated states (FID keeps a reference folder's statistics)."""
        for metric in self.metrics.values():
            metric.reset()


HIGHER_IS_BETTER = {
    "l1": False,
    "lpips_alex": False,
    "lpips_vgg": False,
    "fid": False,
    **{f"{name}_std": None for name in SPREAD_METRICS},
}


def format_table(results: dict[str, float], unavailable: dict[str, str] | None = None) -> str:
    """A Markdown table ``| metric | value | better |`` of ``results`` (in their order), followed by one
    ``<name>: unavailable: ...`` line per metric left out; the left-out metrics have no row."""
    rows = list(results)
    width = max([len("metric"), *(len(name) for name in rows)])
    lines = [f"| {'metric':<{width}} | {'value':>10} | better |", f"|{'-' * (width + 2)}|{'-' * 12}|--------|"]
    for name in rows:
        value = results[name]
        text = "inf" if math.isinf(value) else f"{value:.4f}"
        better = HIGHER_IS_BETTER.get(name, True)
        arrow = "" if better is None else ("higher" if better else "lower")
        lines.append(f"| {name:<{width}} | {text:>10} | {arrow:<6} |")
    for name, reason in (unavailable or {}).items():
        lines.append(f"{name}: {reason}")
    return "\n".join(lines)
