"""Stage 4: pose-transfer refinement (``I_s, p_s, p_t [, I_t_hat] -> final image``).

Variants (``variant``):

- ``"single_transform"`` (seed 002): the warping module ``W`` (``models.single_transform``: pose encoder, Eq. 1
  correlation, Eq. 9 soft mutual filtering, Eq. 2 normalisation, ``C_l``) gives ``f_{s,t}``; the refinement network
  ``R`` (``models.refiner``) warps its encoding of ``I_s`` by it and decodes ``y_o``, and samples ``I_s`` directly
  (the warped-only image of Table 1). Losses (Eq. 8): ``L_per`` at four resolutions (Eq. 5), the pose-conditioned
  adversarial ``L_g`` (Eq. 6; weight lambda1 = 0.1) and the affine-preserving ``L_aff`` (Eq. 7; lambda2 = 0.001).
  The two tasks alternate (Sec. 3.1.1, step 7): with ``alternate_tasks`` odd batches are task (1), a random affine
  map of the target pose and ``lambda2 L_aff`` alone (``train/affine/*``), even batches task (2), reconstruction with
  ``L_per + lambda1 L_g`` (``train/g/*``); without it every batch minimises Eq. 8 whole. Our choice where the paper
  is silent: the two tasks are two minimisations (Fig. 1), so task (1) steps its own optimizer (the generator's
  factory, over ``W``'s parameters: the only ones ``L_aff`` reaches). Sharing the reconstruction steps' Adam state
  made the affine steps inert: their moments were dominated by the far larger reconstruction gradients, so a step
  on ``0.001 L_aff`` mostly replayed the last reconstruction step. Appendix B's optional schedule
  (``two_phase_epoch``): before that epoch no adversarial loss and every generator learning rate 1e-6 (the affine
  task's too), from it the refining decoder at 1e-4 and the rest (``W``, the affine task) at 1e-8 (``phase_lrs``).
- ``"intrinsic_flow"`` (seed 004): the stage-2 ``FlowRegressor`` (frozen; ``flow_checkpoint``) gives ``F`` and
  ``V``; ``models.intrinsic_generator`` renders ``x_tilde`` (dual-path U-Net, feature warping and visibility gating
  at the first 5 levels) and ``x_hat = z x_w + (1 - z) x_tilde`` (pixel warping). Losses (Eq. 7): vanilla
  conditional GAN with a PatchGAN on ``(x, x_1, p_2)`` (Eq. 4), L1 (Eq. 5) and the squared-L2 VGG19 perceptual loss
  (Eq. 6). Sec. 4.1's schedule: no GAN loss for the first ``adversarial_start_epoch`` epochs (5); phase 1, the
  generator alone (all losses on ``x_tilde``, so ``z`` gets no gradient) until ``pixel_warping_start_epoch`` (10);
  phase 2, the generator's feature path frozen (and in eval mode) and the weighting U-Net that gives ``z`` trained
  by the same losses on ``x_hat`` (the paper's 2 more epochs: the config's ``max_epochs: 12``).

Fusion (``fusion=True``, the try-on chain): stage 3's try-on result ``I_t_hat`` (batch key ``tryon``, ``[B, 3, H, W]``
in [-1, 1]) is a target-aligned extra input (``Refiner`` guide encoder / the intrinsic pose path), so the network
warps the source person's own appearance to ``p_t`` (face, hair, untouched garments) and keeps the new garment from
``I_t_hat``. Without a ``tryon`` key (standalone training on a pose-transfer set) a stand-in is used, see
``tryon_stand_in``.

Evaluation (val and test): SSIM, PSNR, L1 (0..255 grey levels, seed 002 Table 1's "256" scale), ``l1_32`` (both images
downsampled to height 32 and back up first: Table 1's "32" scale, at the image's aspect ratio) and LPIPS when its
backbone file exists; the same for the warped-only image (``*/warped_only/*``, direct sampling by the flow) and at
test for the no-flow baseline (the source image as prediction, ``test/no_flow/*``). Image grids show the flow in
colour.

Choices where the papers are silent: seed 002's ``L_g`` (Eq. 6 gives no form) is the project's LSGAN + R1 penalty;
seed 004 names no lambdas for Eq. 7 (ours: L1 1, perceptual 1, adversarial 0.1) and uniform weights on relu1_1 ..
relu5_1 for Eq. 6; seed 002 names no optimizer (ours: Adam, betas (0.5, 0.999), lr 1e-4 in the config).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import partial

import kornia
import torch
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchmetrics import Metric

from contract.errors import ConfigError
from contract.sample import NUM_JOINTS
from datamodules.visualize import flow_to_color, pose_to_image, vis_to_color
from lightning_modules.checkpoints import load_stage
from lightning_modules.stage import StageModule, merge_loss_weights
from lightning_modules.warp import WarpModule, intrinsic_adam
from losses.adversarial import lsgan_d_loss, lsgan_g_loss
from losses.affine import AffineRanges, affine_loss, affine_pose_pair
from losses.perceptual import LAYER_WEIGHT_PRESETS, PerceptualLoss, feature_mse
from losses.pyramid_perceptual import PyramidPerceptualLoss
from losses.vanilla_gan import bce_d_loss, bce_g_loss
from metrics import L1, PSNR, SSIM, down_up, lpips_or_reason
from models.discriminator import MultiScaleDiscriminator
from models.flow_regressor import FlowRegressor
from models.intrinsic_generator import IntrinsicGenerator
from models.refiner import Refiner
from models.single_transform import SingleTransform
from models.vgg import VGG19Features

WarpingFactory = Callable[[tuple[int, int]], nn.Module]  # image size -> W (SingleTransform)
RefinerFactory = Callable[[int], nn.Module]  # guide channels -> R (Refiner)
GeneratorFactory = Callable[[int, int], nn.Module]  # (pose channels, guide channels) -> IntrinsicGenerator
DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network
RegressorFactory = Callable[[int], nn.Module]  # pose channels -> FlowRegressor (untrained fallback only)

VARIANTS = ("single_transform", "intrinsic_flow")
SINGLE_TRANSFORM_LOSS_WEIGHTS = {"per": 1.0, "adv": 0.1, "aff": 0.001}  # seed 002 Eq. 8, Appendix B
INTRINSIC_LOSS_WEIGHTS = {"l1": 1.0, "perc": 1.0, "adv": 0.1}  # seed 004 Eq. 7 names none (ours)
GUIDE_CHANNELS = 3
# Metric sets (result, warped-only, no-flow baseline per split) and the prefix each is logged under.
METRIC_PREFIXES = {
    "val": "val",
    "val_warped_only": "val/warped_only",
    "test": "test",
    "test_warped_only": "test/warped_only",
    "test_no_flow": "test/no_flow",
}


def tryon_stand_in(batch: dict, blur_sigma: float = 2.0, noise_std: float = 0.1) -> Tensor:
    """A stand-in for stage 3's ``I_t_hat`` when a pose-transfer batch has no ``tryon`` key: ``[B, 3, H, W]``.

    The target image, exact inside its garment region (``tgt_masks["cloth"]``: what stage 3 renders from the warped
    in-shop cloth) and blurred (Gaussian, ``blur_sigma`` px) plus Gaussian noise (``noise_std``) elsewhere (the face,
    hair, arms and other garments that stage 3 renders poorly and stage 4 must restore from the source). This
    teaches the fusion the division of labour it needs in the chain; it is not a model of stage 3's errors.
    """
    if "tgt_masks" not in batch or "cloth" not in batch["tgt_masks"]:
        raise KeyError("tryon_stand_in: the batch has neither 'tryon' nor tgt_masks['cloth'] to build a stand-in from")
    target, garment = batch["tgt_img"], batch["tgt_masks"]["cloth"]
    radius = max(1, math.ceil(3 * blur_sigma))
    blurred = kornia.filters.gaussian_blur2d(target, (2 * radius + 1,) * 2, (blur_sigma, blur_sigma))
    degraded = (blurred + noise_std * torch.randn_like(target)).clamp(-1, 1)
    return garment * target + (1 - garment) * degraded


class RefineModule(StageModule):
    """Stage 4 LightningModule; see the module docstring for the variants, losses and schedules.

    Args:
        variant: ``"single_transform"`` (seed 002) or ``"intrinsic_flow"`` (seed 004).
        image_size: ``[H, W]`` (linked from the data config).
        fusion: take stage 3's ``tryon`` as an extra input (try-on chain).
        warping: factory ``image_size -> W`` (``SingleTransform``, seed 002 sizes by default).
        refiner: factory ``guide_channels -> R`` (``Refiner``).
        generator: factory ``(pose_channels, guide_channels) -> IntrinsicGenerator``.
        discriminator: factory ``in_channels -> D`` (seed 002: pix2pixHD multi-scale PatchGAN on ``(y, p_t)``;
            seed 004: one PatchGAN on ``(x, x_1, p_2)``, ``n_down=4``, the project's closest to a 70x70 patch).
        flow_checkpoint: a stage-2 ``WarpModule`` (variant ``flow``) checkpoint whose ``flow_regressor`` is loaded
            frozen; ``None`` builds an untrained one with a loud warning (tests).
        flow_regressor: factory for that untrained regressor (``FlowRegressor``).
        g_optimizer, d_optimizer: optimizer factories (default: Adam, lr 2e-4, betas (0.5, 0.999)).
        loss_weights: overrides of ``SINGLE_TRANSFORM_LOSS_WEIGHTS`` / ``INTRINSIC_LOSS_WEIGHTS``.
        gp_weight: R1 penalty weight (``None``: 1 for seed 002 (project convention), 0 for seed 004's vanilla GAN).
        perceptual_scales: seed 002's pyramid (1, 1/2, 1/4, 1/8).
        alternate_tasks: alternate the affine and reconstruction tasks batch by batch (seed 002, step 7).
        affine_rotation_deg, affine_scale, affine_shear, affine_translate: the random affine draws of task (1)
            (``losses.affine.AffineRanges``).
        two_phase_epoch: seed 002 Appendix B's phase boundary (paper: about 100; ``None``: off).
        phase_lrs: Appendix B's learning rates (all in phase 1, decoder in phase 2, the rest in phase 2).
        adversarial_start_epoch: first epoch with the adversarial loss (``None``: seed 004's 5, seed 002's
            ``two_phase_epoch`` or 0).
        pixel_warping_start_epoch: seed 004's switch from the generator phase to the pixel-warping phase (paper:
            10; 0 starts in the pixel-warping phase, the feature path frozen from the first step).
        stand_in_blur_sigma, stand_in_noise_std: ``tryon_stand_in``'s degradation.
        lpips_net: LPIPS backbone (``"alex"``; seed 002 Table 1 also reports ``"vgg"``).
        coarse_l1_height: Table 1's coarse scale (32).
        vgg_weights_path, require_pretrained_vgg: see ``models.vgg.VGG19Features``.
        grad_clip: gradient-norm clipping of the manual updates (0 = off).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "stage 4 (refine)"
    checkpoint_arguments = {"flow_checkpoint": WarpModule}

    def __init__(
        self,
        variant: str = "single_transform",
        image_size: tuple[int, int] = (256, 176),
        fusion: bool = False,
        warping: WarpingFactory | None = None,
        refiner: RefinerFactory | None = None,
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        flow_checkpoint: str | None = None,
        flow_regressor: RegressorFactory | None = None,
        g_optimizer: OptimizerCallable = intrinsic_adam,
        d_optimizer: OptimizerCallable = intrinsic_adam,
        loss_weights: dict[str, float] | None = None,
        gp_weight: float | None = None,
        perceptual_scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125),
        alternate_tasks: bool = True,
        affine_rotation_deg: float = 10.0,
        affine_scale: tuple[float, float] = (0.85, 1.15),
        affine_shear: float = 0.1,
        affine_translate: float = 0.1,
        two_phase_epoch: int | None = None,
        phase_lrs: tuple[float, float, float] = (1e-6, 1e-4, 1e-8),
        adversarial_start_epoch: int | None = None,
        pixel_warping_start_epoch: int = 10,
        stand_in_blur_sigma: float = 2.0,
        stand_in_noise_std: float = 0.1,
        lpips_net: str = "alex",
        coarse_l1_height: int = 32,
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"RefineModule: unknown variant {variant!r}; expected one of {VARIANTS}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.variant = variant
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        guide = GUIDE_CHANNELS if fusion else 0
        vgg_args = {"weights_path": vgg_weights_path, "require_pretrained": require_pretrained_vgg}

        if variant == "single_transform":
            self.loss_weights = merge_loss_weights(SINGLE_TRANSFORM_LOSS_WEIGHTS, loss_weights)
            self.warping = (warping or SingleTransform)(self.image_size)
            self.refiner = (refiner or Refiner)(guide)
            self.discriminator = (discriminator or MultiScaleDiscriminator)(3 + NUM_JOINTS)
            self.gp_weight = 1.0 if gp_weight is None else gp_weight
            self.adversarial_start_epoch = (
                adversarial_start_epoch if adversarial_start_epoch is not None else two_phase_epoch or 0
            )
            self.affine_ranges = AffineRanges(affine_rotation_deg, tuple(affine_scale), affine_shear, affine_translate)
            if self.uses("per"):
                vgg = VGG19Features(**vgg_args)
                self.perceptual = PyramidPerceptualLoss(PerceptualLoss(vgg, "uniform"), perceptual_scales)
                self.pretrained_status["vgg19"] = vgg.weights_status
        else:
            self.loss_weights = merge_loss_weights(INTRINSIC_LOSS_WEIGHTS, loss_weights)
            self.flow_regressor = self._frozen_flow_regressor(flow_checkpoint, flow_regressor)
            if flow_checkpoint is not None:
                self.record_feeder("flow_regressor", flow_checkpoint, source="flow_regressor.")
            self.generator = (generator or IntrinsicGenerator)(NUM_JOINTS, guide)
            make_discriminator = discriminator or partial(MultiScaleDiscriminator, num_scales=1, n_down=4)
            self.discriminator = make_discriminator(3 + 3 + NUM_JOINTS)
            self.gp_weight = 0.0 if gp_weight is None else gp_weight
            self.adversarial_start_epoch = 5 if adversarial_start_epoch is None else adversarial_start_epoch
            if self.uses("perc"):
                self.vgg = VGG19Features(**vgg_args)
                self.pretrained_status["vgg19"] = self.vgg.weights_status

        # Metrics: one set per split and image (result, warped-only, and at test the no-flow baseline).
        self.metric_sets = nn.ModuleDict(
            {
                name: nn.ModuleDict({"ssim": SSIM(), "psnr": PSNR(), "l1": L1(), "l1_32": L1()})
                for name in METRIC_PREFIXES
            }
        )
        # LPIPS lives outside the module tree: its backbone must not enter checkpoints (which then would not load
        # where the file is missing). Moved to the device in ``_lpips``.
        self._lpips_metrics: dict[str, Metric] = {}
        lpips, status = lpips_or_reason(lpips_net)
        self.pretrained_status[f"lpips_{lpips_net}"] = status
        if lpips is None:
            rank_zero_warn(f"RefineModule: LPIPS {status}; LPIPS is left out of the metrics")
        else:
            self._lpips_metrics = {name: lpips.clone() for name in self.metric_sets}

    # ------------------------------------------------------------------ networks
    @staticmethod
    def _frozen_flow_regressor(checkpoint: str | None, factory: RegressorFactory | None) -> nn.Module:
        if checkpoint is None:
            warnings.warn(
                "RefineModule(variant='intrinsic_flow'): no flow_checkpoint given, the intrinsic flow regressor is "
                "UNTRAINED; its flow and visibility are meaningless. Train stage 2 (configs/stage2_warp_flow.yaml) "
                "and pass --model.init_args.flow_checkpoint.",
                UserWarning,
                stacklevel=3,
            )
            regressor = (factory or FlowRegressor)(NUM_JOINTS)
        else:
            stage2 = load_stage(checkpoint, WarpModule, "stage 2 (warp)")
            if not hasattr(stage2, "flow_regressor"):
                raise ConfigError(
                    f"stage 2 (warp): checkpoint {checkpoint!r} is variant {stage2.variant!r}; stage 4's intrinsic "
                    "flow needs variant 'flow'"
                )
            regressor = stage2.flow_regressor
        regressor.requires_grad_(False)
        return regressor.eval()

    @property
    def feature_path(self) -> list[nn.Module]:
        """Seed 004's image generator without the pixel-warping weights (frozen in the pixel-warping phase)."""
        g = self.generator
        return [g.appearance_encoder, g.pose_encoder, g.feature_warping, g.decoder]

    @property
    def pixel_warping_phase(self) -> bool:
        return self.variant == "intrinsic_flow" and self.current_epoch >= self.hparams.pixel_warping_start_epoch

    @property
    def adversarial_active(self) -> bool:
        return self.uses("adv") and self.current_epoch >= self.adversarial_start_epoch

    def train(self, mode: bool = True) -> RefineModule:
        """Train mode for the trainable networks; the frozen flow regressor (and, in seed 004's pixel-warping phase,
        the frozen generator) stay in eval mode."""
        super().train(mode)
        if self.variant == "intrinsic_flow":
            self.flow_regressor.eval()
            if self.pixel_warping_phase:
                for net in self.feature_path:
                    net.eval()
        return self

    # ------------------------------------------------------------------ forward
    def guide(self, batch: dict) -> Tensor | None:
        """The fusion input: ``batch["tryon"]`` or, without it, ``tryon_stand_in`` (``None`` without fusion)."""
        if not self.hparams.fusion:
            return None
        if "tryon" in batch:
            return batch["tryon"]
        return tryon_stand_in(batch, self.hparams.stand_in_blur_sigma, self.hparams.stand_in_noise_std)

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """``image [B, 3, H, W]`` (the result; seed 004 before the pixel-warping phase: ``x_tilde``), ``warped``
        (direct sampling), ``flow [B, 2, H, W]``; seed 004 adds ``feature_image``, ``weight``, ``vis_logits``;
        fusion adds ``guide``."""
        guide = self.guide(batch)
        out: dict[str, Tensor] = {} if guide is None else {"guide": guide}
        if self.variant == "single_transform":
            flow = self.warping(batch["src_pose"], batch["tgt_pose"])
            refined = self.refiner(batch["src_img"], flow, guide)
            return out | {"image": refined.image, "warped": refined.warped, "flow": flow}
        with torch.no_grad():
            flow, vis_logits = self.flow_regressor(batch["src_pose"], batch["tgt_pose"])
        generated = self.generator(batch["src_img"], batch["tgt_pose"], flow, vis_logits, guide)
        image = generated.image if self.pixel_warping_phase else generated.feature_image
        return out | {
            "image": image,
            "feature_image": generated.feature_image,
            "weight": generated.weight,
            "warped": generated.warped,
            "flow": flow,
            "vis_logits": vis_logits,
        }

    # ------------------------------------------------------------------ losses
    def condition(self, batch: dict) -> Tensor:
        """D's condition: ``p_t`` (seed 002, Sec. 3.3) or ``(x_1, p_2)`` (seed 004, Sec. 3.2)."""
        if self.variant == "single_transform":
            return batch["tgt_pose"]
        return torch.cat([batch["src_img"], batch["tgt_pose"]], 1)

    def affine_losses(self, batch: dict) -> dict[str, Tensor]:
        """Task (1) of seed 002: ``{"aff": |W(p_st, p_t) - s_f|}`` for a fresh random affine map per sample."""
        rng = torch.Generator().manual_seed(int(torch.initial_seed()) + self.global_step)
        shifted_pose, target_flow = affine_pose_pair(batch["tgt_pose"], rng, self.affine_ranges)
        return {"aff": affine_loss(self.warping(shifted_pose, batch["tgt_pose"]), target_flow)}

    def generator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Unweighted named generator losses of the active terms (task (2) for seed 002)."""
        target, image = batch["tgt_img"], out["image"]
        losses: dict[str, Tensor] = {}
        if self.variant == "single_transform":
            if self.uses("per"):
                losses["per"] = self.perceptual(image, target)
        else:
            if self.uses("l1"):
                losses["l1"] = (image - target).abs().mean()
            if self.uses("perc"):
                with torch.no_grad():
                    target_features = self.vgg(target)
                losses["perc"] = feature_mse(self.vgg(image), target_features, LAYER_WEIGHT_PRESETS["uniform"])
        if self.adversarial_active:
            scores = self.discriminator(torch.cat([image, self.condition(batch)], 1))
            losses["adv"] = lsgan_g_loss(scores) if self.variant == "single_transform" else bce_g_loss(scores)
        return losses

    def discriminator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"adv": D loss}`` on the detached result vs the target, both with the condition, plus the R1 penalty."""
        condition = self.condition(batch).detach()
        real, fake = torch.cat([batch["tgt_img"], condition], 1), torch.cat([out["image"], condition], 1)
        d_loss = lsgan_d_loss if self.variant == "single_transform" else bce_d_loss
        return {"adv": self.discriminator_loss(self.discriminator, real, fake, self.gp_weight, d_loss)}

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        if self.variant == "single_transform":
            # Two groups so Appendix B's schedule can set the refining decoder's rate apart from the rest.
            decoder = list(self.refiner.decoder.parameters())
            decoder_ids = {id(p) for p in decoder}
            rest = [*self.warping.parameters(), *(p for p in self.refiner.parameters() if id(p) not in decoder_ids)]
            g_opt = self.g_optimizer([{"params": decoder}, {"params": rest}])
            if self.affine_task_alternates:  # task (1) of seed 002: its own optimizer state (module docstring)
                affine_opt = self.g_optimizer(self.warping.parameters())
                return [g_opt, self.d_optimizer(self.discriminator.parameters()), affine_opt]
        else:
            g_opt = self.g_optimizer(self.generator.parameters())
        return [g_opt, self.d_optimizer(self.discriminator.parameters())]

    @property
    def affine_task_alternates(self) -> bool:
        """Seed 002's task (1) runs on its own batches (``alternate_tasks`` with ``L_aff`` switched on)."""
        return self.variant == "single_transform" and self.uses("aff") and self.hparams.alternate_tasks

    def on_train_epoch_start(self) -> None:
        if self.variant == "single_transform" and self.hparams.two_phase_epoch is not None:
            first, decoder_lr, rest_lr = self.hparams.phase_lrs
            in_first = self.current_epoch < self.hparams.two_phase_epoch
            optimizers = self.optimizers()
            g_opt = optimizers[0].optimizer
            g_opt.param_groups[0]["lr"] = first if in_first else decoder_lr
            g_opt.param_groups[1]["lr"] = first if in_first else rest_lr
            if self.affine_task_alternates:  # W alone: "the remaining parts"
                optimizers[2].optimizer.param_groups[0]["lr"] = first if in_first else rest_lr
        if self.pixel_warping_phase:
            for net in self.feature_path:
                net.requires_grad_(False)
                net.eval()

    def training_step(self, batch: dict, batch_idx: int) -> None:
        g_opt, d_opt, *affine_opt = self.optimizers()
        clip = self.hparams.grad_clip
        affine_task = self.variant == "single_transform" and self.uses("aff")
        if self.affine_task_alternates and batch_idx % 2 == 1:
            self.update(affine_opt[0], self.weighted_total(self.affine_losses(batch), "affine"), clip)
            return
        out = self(batch)
        if self.variant == "intrinsic_flow":  # which of Sec. 4.1's phases trained: 1 when z does
            self.log("train/pixel_warping_phase", float(self.pixel_warping_phase), batch_size=self._batch_size)
        if self.adversarial_active:
            self.update(d_opt, self.weighted_total(self.discriminator_losses(batch, out), "d"), clip)
        losses = self.generator_losses(batch, out)
        if affine_task and not self.hparams.alternate_tasks:
            losses |= self.affine_losses(batch)
        self.update(g_opt, self.weighted_total(losses, "g"), clip)

    # ------------------------------------------------------------------ evaluation
    def _score(self, name: str, pred: Tensor, target: Tensor) -> None:
        """Update (and log) the metric set ``name`` (e.g. ``"val_warped_only"``, logged as ``val/warped_only/*``)."""
        prefix, batch_size = METRIC_PREFIXES[name], pred.shape[0]
        metrics = self.metric_sets[name]
        for key in ("ssim", "psnr", "l1"):
            metrics[key].update(pred, target)
            self.log(f"{prefix}/{key}", metrics[key], batch_size=batch_size)
        height = self.hparams.coarse_l1_height
        metrics["l1_32"].update(down_up(pred, height), down_up(target, height))
        self.log(f"{prefix}/l1_32", metrics["l1_32"], batch_size=batch_size)
        if name in self._lpips_metrics:
            self._lpips_metrics[name].to(self.device).update(pred.float().clamp(-1, 1), target.float().clamp(-1, 1))

    def _log_lpips(self, split: str) -> None:
        """LPIPS is not a registered child (see ``__init__``), so it is computed and logged here, then reset."""
        for name, metric in self._lpips_metrics.items():
            if name.split("_")[0] == split and metric.update_count:
                self.log(f"{METRIC_PREFIXES[name]}/lpips", metric.compute(), sync_dist=True)  # compute() already syncs
                metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_lpips("val")

    def on_test_epoch_end(self) -> None:
        self._log_lpips("test")

    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        out = self(batch)
        target = batch["tgt_img"]
        self._score(split, out["image"], target)
        self._score(f"{split}_warped_only", out["warped"], target)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")
        self._score("test_no_flow", batch["src_img"], batch["tgt_img"])

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Source | target pose | flow colour | warped only | [guide] | [x_tilde, z, V] | result | target."""
        columns = {
            "source": (batch["src_img"] + 1) / 2,
            "target pose": pose_to_image(batch["tgt_pose"]),
            "flow": flow_to_color(out["flow"].float()),
            "warped only": (out["warped"] + 1) / 2,
        }
        if "guide" in out:
            columns["try-on input"] = (out["guide"] + 1) / 2
        if self.variant == "intrinsic_flow":
            columns["visibility"] = vis_to_color(out["vis_logits"].argmax(1))
            columns["feature image"] = (out["feature_image"] + 1) / 2
            columns["pixel weight z"] = out["weight"].expand(-1, 3, -1, -1)
        columns["result"] = (out["image"] + 1) / 2
        columns["target"] = (batch["tgt_img"] + 1) / 2
        return columns
