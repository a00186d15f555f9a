"""Stage 2: appearance-flow warping.

Variants (``variant``):

- ``"cascade"`` (ClothFlow, seed 000, Sec. 3.2): ``CascadedFlowEstimator(c_s, s_s, s_t)`` with
  ``c_s = cloth * cloth_mask`` (the in-shop garment), ``s_s = cloth_mask`` and ``s_t`` the target cloth region;
  losses ``L_perc`` (VGG19, weights 1/32, 1/16, 1/8, 1/4, 1), ``L_struct``, ``L_roi-perc`` and ``L_smt`` over every
  level's flow. No extra input channels (the paper's ``s_s`` / ``s_t`` are the cloth segmentations).
- ``"tps"`` (SPG-VTON CWM, seed 003, Sec. III-C): GMM 1 matches ``M^C`` to the target cloth mask ``M_p^C``
  (``theta_1``), ``C_w = T_theta1(C)``, ``M_w^C = T_theta1(M^C)``; GMM 2 matches ``M_w^C`` back to ``M^C``
  (``theta_2``), ``C_hat = T_theta2(C_w)``; ``L_cwm = lambda3 L_cond`` (Eq. 8-9, lambda3 = 20).
- ``"flow"`` (Intrinsic flow, seed 004, Sec. 3.3): ``FlowRegressor(p_s, p_t) -> (F, V)`` trained with end-point
  error on ``F`` and cross entropy on ``V`` against the synthetic ``flow_gt`` / ``vis_gt``. Stage 4 loads this
  module frozen and uses its ``flow_regressor``.

Choices where the papers are silent:

- The warp target is ``C_t = tgt_img * M_t`` with ``M_t`` the ground-truth target cloth mask, **0 elsewhere** (mid-grey
  in [-1, 1], as the contract's ``src_agnostic`` blanks a region); the source cloth is masked the same way
  (``C = cloth * cloth_mask``) and warps read 0 outside the image, so the backgrounds agree.
- Teacher forcing: the target cloth region fed to the warp (``s_t`` / ``M_p^C``) is the ground truth, or with
  ``layout_checkpoint`` the prediction of a frozen stage 1 (its ``cloth_mask`` output for the tps variant when
  stage 1 is SPG-VTON's, else the cloth labels of its arg-maxed parsing). Losses always compare with the ground
  truth ``C_t`` / ``M_t``.
- ClothFlow gives no loss weights or optimizer: ``CASCADE_LOSS_WEIGHTS`` and ``intrinsic_adam`` are ours.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from contract.errors import ConfigError
from contract.flow import warp
from contract.sample import MASK_GROUPS, NUM_JOINTS
from datamodules.visualize import flow_to_color, pose_to_image, vis_to_color
from lightning_modules.checkpoints import load_stage
from lightning_modules.encoding import straight_through_label_mask
from lightning_modules.layout import LayoutModule, paper_adam
from lightning_modules.stage import StageModule, merge_loss_weights
from losses.cycle import conductible_cycle_loss
from losses.flow import (
    end_point_error,
    roi_perceptual_loss,
    smoothness_loss,
    structure_loss,
    visibility_cross_entropy,
)
from losses.perceptual import PerceptualLoss
from metrics import L1, EndPointError, MaskSSIM, VisibilityAccuracy
from models.flow_estimator import CascadedFlowEstimator
from models.flow_regressor import FlowRegressor
from models.gmm import GeometricMatchingModule
from models.tps import tps_flow, tps_warp
from models.vgg import VGG19Features

EstimatorFactory = Callable[[int, int, int], nn.Module]  # (cloth, source-mask, target channels) -> flow estimator
GMMFactory = Callable[[int, int, tuple[int, int]], nn.Module]  # (channels of a, channels of b, image size) -> GMM
RegressorFactory = Callable[[int], nn.Module]  # pose channels -> flow regressor

VARIANTS = ("cascade", "tps", "flow")
CLOTH_LABELS = MASK_GROUPS["cloth"]
EPE_REGIONS = ("foreground", "visible", "all")

# ClothFlow (seed 000) names the four terms but no weights: 1 for the image terms, 0.1 for the smoothness (ours).
CASCADE_LOSS_WEIGHTS = {"perc": 1.0, "struct": 1.0, "roi_perc": 1.0, "smt": 0.1}
TPS_LOSS_WEIGHTS = {"cond": 20.0}  # lambda3 = 20 (seed 003, Sec. IV-C and Table VI)
FLOW_LOSS_WEIGHTS = {"epe": 1.0, "vis": 1.0}  # seed 004 names no weights (ours)


def intrinsic_adam(params, lr: float = 2e-4) -> torch.optim.Adam:  # noqa: ANN001 (parameter iterable)
    """Intrinsic flow's optimizer (seed 004, Sec. 4.1): Adam, lr 2e-4, betas (0.5, 0.999). Also the cascade's
    default (ClothFlow names none)."""
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


class WarpModule(StageModule):
    """Stage 2 LightningModule; see the module docstring for the variants and equations.

    Args:
        variant: ``"cascade"`` | ``"tps"`` | ``"flow"``.
        image_size: ``[H, W]`` (linked from the data config; sets the GMM regressors' size).
        flow_estimator: factory ``(3, 1, 1) -> nn.Module`` for the cascade (``CascadedFlowEstimator``, N = 5).
        gmm: factory ``(1, 1, image_size) -> nn.Module`` for GMM 1 and GMM 2 (``GeometricMatchingModule``,
            CP-VTON's layers, 5x5 TPS grid).
        flow_regressor: factory ``(18) -> nn.Module`` for the intrinsic-flow U-Net (``FlowRegressor``).
        optimizer: optimizer factory; default ``paper_adam`` for tps (seed 003 Sec. IV-C), ``intrinsic_adam``
            otherwise (seed 004 Sec. 4.1).
        loss_weights: overrides of ``CASCADE_LOSS_WEIGHTS`` / ``TPS_LOSS_WEIGHTS`` / ``FLOW_LOSS_WEIGHTS``.
        layout_checkpoint: a stage-1 checkpoint whose frozen prediction replaces the ground-truth target cloth
            region (cascade and tps only).
        epe_region: pixels the EPE loss and metric score: ``"foreground"`` (``vis_gt > 0``, where the body's
            flow is defined; default), ``"visible"`` (``vis_gt == 1``) or ``"all"``.
        vgg_weights_path, require_pretrained_vgg: VGG19 of the cascade's perceptual losses (see ``VGG19Features``).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "stage 2 (warp)"
    checkpoint_arguments = {"layout_checkpoint": LayoutModule}

    def __init__(
        self,
        variant: str = "cascade",
        image_size: tuple[int, int] = (256, 192),
        flow_estimator: EstimatorFactory | None = None,
        gmm: GMMFactory | None = None,
        flow_regressor: RegressorFactory | None = None,
        optimizer: OptimizerCallable | None = None,
        loss_weights: dict[str, float] | None = None,
        layout_checkpoint: str | None = None,
        epe_region: str = "foreground",
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"WarpModule: unknown variant {variant!r}; expected one of {VARIANTS}")
        if epe_region not in EPE_REGIONS:
            raise ConfigError(f"WarpModule: epe_region must be one of {EPE_REGIONS}, got {epe_region!r}")
        if variant == "flow" and layout_checkpoint is not None:
            raise ConfigError(
                "WarpModule: layout_checkpoint feeds the cloth variants only; the flow variant has no use"
            )
        self.save_hyperparameters()
        self.variant = variant
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.optimizer = optimizer or (paper_adam if variant == "tps" else intrinsic_adam)
        self.layout: LayoutModule | None = None
        if layout_checkpoint is not None:
            self.layout = load_stage(layout_checkpoint, LayoutModule, "stage 1 (layout)")
            self.record_feeder("layout", layout_checkpoint)

        if variant == "cascade":
            self.loss_weights = merge_loss_weights(CASCADE_LOSS_WEIGHTS, loss_weights)
            self.flow_estimator = (flow_estimator or CascadedFlowEstimator)(3, 1, 1)
            if self.uses("perc") or self.uses("roi_perc"):
                vgg = VGG19Features(weights_path=vgg_weights_path, require_pretrained=require_pretrained_vgg)
                self.perceptual = PerceptualLoss(vgg, "clothflow")
                self.pretrained_status["vgg19"] = vgg.weights_status
        elif variant == "tps":
            self.loss_weights = merge_loss_weights(TPS_LOSS_WEIGHTS, loss_weights)
            make_gmm = gmm or GeometricMatchingModule
            self.gmm1, self.gmm2 = make_gmm(1, 1, self.image_size), make_gmm(1, 1, self.image_size)
        else:
            self.loss_weights = merge_loss_weights(FLOW_LOSS_WEIGHTS, loss_weights)
            self.flow_regressor = (flow_regressor or FlowRegressor)(NUM_JOINTS)

        # One metric object per split; test adds the no-warp baseline.
        if variant == "flow":
            self.val_epe, self.test_epe, self.test_identity_epe = (EndPointError() for _ in range(3))
            self.val_vis_accuracy, self.test_vis_accuracy = VisibilityAccuracy(), VisibilityAccuracy()
        else:
            self.val_ssim, self.test_ssim, self.test_identity_ssim = (MaskSSIM() for _ in range(3))
            self.val_l1, self.test_l1, self.test_identity_l1 = (L1() for _ in range(3))

    def train(self, mode: bool = True) -> WarpModule:
        """Train mode for the trainable networks; a frozen stage 1 stays in eval mode."""
        super().train(mode)
        if self.layout is not None:
            self.layout.eval()
        return self

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def source_cloth(batch: dict) -> Tensor:
        """``C`` / ``c_s``: the in-shop cloth, 0 outside its mask, ``[B, 3, H, W]``."""
        return batch["cloth"] * batch["cloth_mask"]

    @staticmethod
    def target_cloth(batch: dict) -> Tensor:
        """``C_t``: the target image inside its ground-truth cloth region, 0 elsewhere, ``[B, 3, H, W]``."""
        return batch["tgt_img"] * batch["tgt_masks"]["cloth"]

    def target_cloth_mask(self, batch: dict) -> Tensor:
        """The target cloth region fed to the warp (``s_t`` / ``M_p^C``), ``[B, 1, H, W]``: ground truth, or the
        frozen stage 1's prediction (module docstring)."""
        if self.layout is None:
            return batch["tgt_masks"]["cloth"]
        with torch.no_grad():
            return self.cloth_region_from_layout(self.layout(batch))

    def cloth_region_from_layout(self, layout: dict[str, Tensor]) -> Tensor:
        """Stage 1's output -> the target cloth region ``[B, 1, H, W]``: G2's ``cloth_mask`` for the tps variant when
        stage 1 is SPG-VTON's, else the cloth labels of the arg-maxed parsing, with a straight-through gradient
        (the value of the hard mask, the gradient of the cloth labels' summed probabilities) for the e2e chain."""
        if self.variant == "tps" and "cloth_mask" in layout:
            return layout["cloth_mask"]
        return straight_through_label_mask(layout["layout_probs"], CLOTH_LABELS)

    # ------------------------------------------------------------------ forward
    def forward(self, batch: dict, target_mask: Tensor | None = None) -> dict[str, Tensor | tuple[Tensor, ...]]:
        """``target_mask [B, 1, H, W]`` replaces ``target_cloth_mask(batch)`` (the e2e chain feeds stage 1's). Per
        variant:

        - cascade: ``flow [B,2,H,W]``, ``level_flows`` (coarse to fine), ``warped_cloth``, ``warped_mask``,
          ``target_mask`` (the input ``s_t``);
        - tps: ``warped_cloth`` ``C_w``, ``warped_mask`` ``M_w^C``, ``reconstructed_cloth`` ``C_hat``, ``flow``
          (GMM 1's TPS as a dense pixel flow), ``target_mask``;
        - flow: ``flow [B,2,H,W]`` (target -> source pixels), ``vis_logits [B,3,H,W]``.
        """
        if self.variant == "flow":
            out = self.flow_regressor(batch["src_pose"], batch["tgt_pose"])
            return {"flow": out.flow, "vis_logits": out.vis_logits}
        cloth, cloth_mask = self.source_cloth(batch), batch["cloth_mask"]
        if target_mask is None:
            target_mask = self.target_cloth_mask(batch)
        if self.variant == "cascade":
            out = self.flow_estimator(cloth, cloth_mask, target_mask)
            return {
                "flow": out.flow,
                "level_flows": out.level_flows,
                "warped_cloth": out.warped_cloth,
                "warped_mask": out.warped_mask,
                "target_mask": target_mask,
            }
        points1 = self.gmm1(target_mask, cloth_mask)  # theta_1: M^C -> M_p^C
        rest = self.gmm1.target_points.expand_as(points1)
        warped_cloth, warped_mask = tps_warp(cloth, points1, rest), tps_warp(cloth_mask, points1, rest)
        points2 = self.gmm2(cloth_mask, warped_mask)  # theta_2: M_w^C -> M^C
        return {
            "warped_cloth": warped_cloth,
            "warped_mask": warped_mask,
            "reconstructed_cloth": tps_warp(warped_cloth, points2, self.gmm2.target_points.expand_as(points2)),
            "flow": tps_flow(points1, rest, tuple(cloth.shape[-2:])),
            "target_mask": target_mask,
        }

    def warp_cloth(self, batch: dict) -> dict[str, Tensor]:
        """For later stages: ``warped_cloth [B,3,H,W]`` (0 outside the garment), ``warped_mask [B,1,H,W]`` and
        ``flow [B,2,H,W]`` (pixels, ``warped_cloth = warp(C, flow)``) of the cascade or GMM 1's TPS."""
        if self.variant == "flow":
            raise ValueError("WarpModule.warp_cloth: the flow variant warps no cloth; use flow_regressor")
        out = self(batch)
        return {key: out[key] for key in ("warped_cloth", "warped_mask", "flow")}

    # ------------------------------------------------------------------ losses
    def losses(self, batch: dict, out: dict) -> dict[str, Tensor]:
        """Unweighted named losses of the active terms."""
        if self.variant == "flow":
            for key in ("flow_gt", "vis_gt"):
                if key not in batch:
                    raise KeyError(f"WarpModule (flow): the batch has no {key!r}; train it on the synthetic data")
            losses = {}
            if self.uses("epe"):
                losses["epe"] = end_point_error(out["flow"], batch["flow_gt"], self._epe_valid(batch["vis_gt"]))
            if self.uses("vis"):
                losses["vis"] = visibility_cross_entropy(out["vis_logits"], batch["vis_gt"])
            return losses
        target = self.target_cloth(batch)
        if self.variant == "tps":
            cloth = self.source_cloth(batch)
            return {"cond": conductible_cycle_loss(out["warped_cloth"], target, out["reconstructed_cloth"], cloth)}
        target_mask, source_mask = batch["tgt_masks"]["cloth"], batch["cloth_mask"]
        losses = {}
        if self.uses("perc"):
            losses["perc"] = self.perceptual(out["warped_cloth"], target)
        if self.uses("struct"):
            losses["struct"] = structure_loss(out["warped_mask"], target_mask, source_mask)
        if self.uses("roi_perc"):
            losses["roi_perc"] = roi_perceptual_loss(
                self.perceptual, out["warped_cloth"], target, out["warped_mask"], target_mask, source_mask
            )
        if self.uses("smt"):
            losses["smt"] = smoothness_loss(out["level_flows"])
        return losses

    def _epe_valid(self, vis: Tensor) -> Tensor | None:
        region = self.hparams.epe_region
        return None if region == "all" else (vis > 0 if region == "foreground" else vis == 1)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self) -> torch.optim.Optimizer:
        trainable = [p for name, p in self.named_parameters() if p.requires_grad and not name.startswith("layout.")]
        return self.optimizer(trainable)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        return self.weighted_total(self.losses(batch, self(batch)), "warp")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict:
        out = self(batch)
        batch_size = batch["tgt_img"].shape[0]
        if self.variant == "flow":
            if "flow_gt" in batch:
                epe, accuracy = getattr(self, f"{split}_epe"), getattr(self, f"{split}_vis_accuracy")
                epe.update(out["flow"], batch["flow_gt"], self._epe_valid(batch["vis_gt"]))
                accuracy.update(out["vis_logits"], batch["vis_gt"])
                self.log(f"{split}/epe", epe, batch_size=batch_size)
                self.log(f"{split}/vis_accuracy", accuracy, batch_size=batch_size)
            return out
        region, target = batch["tgt_masks"]["cloth"], self.target_cloth(batch)
        ssim, l1 = getattr(self, f"{split}_ssim"), getattr(self, f"{split}_l1")
        ssim.update(out["warped_cloth"], target, region)
        l1.update(out["warped_cloth"] * region, target)  # masked like Mask-SSIM (PG2): both 0 outside the region
        self.log(f"{split}/warped_ssim", ssim, batch_size=batch_size)
        self.log(f"{split}/warped_l1", l1, batch_size=batch_size)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")
        batch_size = batch["tgt_img"].shape[0]
        if self.variant == "flow":  # baseline: no motion
            if "flow_gt" in batch:
                self.test_identity_epe.update(
                    torch.zeros_like(batch["flow_gt"]), batch["flow_gt"], self._epe_valid(batch["vis_gt"])
                )
                self.log("test/identity/epe", self.test_identity_epe, batch_size=batch_size)
            return
        region, target, cloth = batch["tgt_masks"]["cloth"], self.target_cloth(batch), self.source_cloth(batch)
        self.test_identity_ssim.update(cloth, target, region)  # baseline: the unwarped in-shop cloth
        self.test_identity_l1.update(cloth * region, target)
        self.log("test/identity/warped_ssim", self.test_identity_ssim, batch_size=batch_size)
        self.log("test/identity/warped_l1", self.test_identity_l1, batch_size=batch_size)

    def grid_columns(self, batch: dict, out: dict) -> dict[str, Tensor]:
        """Inputs | outputs (flow as colour) | ground truth, all ``[B, 3, H, W]`` in [0, 1]."""
        if self.variant == "flow":
            warped = warp(batch["src_img"], out["flow"])
            columns = {
                "source": (batch["src_img"] + 1) / 2,
                "target pose": pose_to_image(batch["tgt_pose"]),
                "flow": flow_to_color(out["flow"]),
                "visibility": vis_to_color(out["vis_logits"].argmax(1)),
            }
            if "flow_gt" in batch:
                columns["true flow"] = flow_to_color(batch["flow_gt"])
                columns["true visibility"] = vis_to_color(batch["vis_gt"])
            columns["warped source"] = (warped + 1) / 2
            columns["target"] = (batch["tgt_img"] + 1) / 2
            return columns
        return {
            "cloth": (self.source_cloth(batch) + 1) / 2,
            "target region": out["target_mask"].expand(-1, 3, -1, -1),
            "flow": flow_to_color(out["flow"]),
            "warped cloth": (out["warped_cloth"] + 1) / 2,
            "warped mask": out["warped_mask"].expand(-1, 3, -1, -1),
            "target cloth": (self.target_cloth(batch) + 1) / 2,
            "target": (batch["tgt_img"] + 1) / 2,
        }
