"""Stage 1: semantic layout prediction.

Variants (``variant``):

- ``"clothflow"`` (seed 000, Sec. 3.1): ``S_t_hat = G_layout(I_s, S_s, p_t)`` trained with pixel-wise cross entropy.
  No adversary, automatic optimization.
- ``"spg"`` (seed 003, SPG-VTON Semantic Prediction Module, Sec. III-B):
  process 1 ``S_t_hat = G1(S'_s, A_s, M^C, P_t)`` with ``L_adv^s + lambda1 L_fl + L_recon^s`` (Eq. 1-2);
  process 2 ``(I_p, M_p^C) = G2(S_t_hat', P_t, C, I_s^{w/o C})`` with ``L_adv^p + lambda2 (L_recon^p + L_perc^p)``
  (Eq. 3-6); discriminators D1 on ``(S, S'_s, A_s, M^C, P_t)`` and D2 on ``(I, S_t_hat, C, P_t, I_s^{w/o C})``;
  LSGAN + R1 gradient penalty, manual optimization (one G and one D optimizer).

Input encodings (channels): ``S_s`` and ``S_t`` one-hot (20); ``S'_s`` = one-hot ``S_s`` with the hair, face and
cloth pixels zeroed; ``A_s`` = face and hair masks of ``S_s`` (2); ``M^C`` the in-shop cloth mask (1); ``P_t``
keypoint maps (18); ``S_t_hat'`` = softmax of G1's logits with the cloth channels zeroed.

Choices where the paper is silent (documented here and in the arguments):

- G2 sees G1's output detached (``detach_layout=True``): the paper trains G1 first and then the later processes
  with "the fixed pre-trained semantic prediction network" (Sec. III-E, steps 1-2); training both at once with
  the gradient cut is that schedule run concurrently. Joint fine-tuning is the e2e chain's job.
- ``L_recon^s`` is the L1 distance between G1's softmax and the one-hot target; D1 scores softmax maps for fakes
  and one-hot maps for reals.
- The cloth-mask term of ``L_recon^p`` (Eq. 5) is its own named loss ``mask_p`` (weight lambda2 by default), so it
  can be swapped for FashionMirror's co-attention mask loss (seed 001, Eq. 1-4) with ``mask_loss="coattention"``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.classification import BinaryJaccardIndex

from contract.errors import ConfigError
from contract.sample import MASK_GROUPS, NUM_JOINTS, NUM_PARSE_LABELS
from datamodules.visualize import parse_to_color, pose_to_image
from lightning_modules.encoding import drop_channels, label_mask, one_hot_parse
from lightning_modules.stage import StageModule, merge_loss_weights
from losses.adversarial import lsgan_g_loss
from losses.mask import coattention_mask_loss
from losses.perceptual import PerceptualLoss
from losses.segmentation import focal_loss, pixel_cross_entropy
from metrics import SSIM, ParsingIoU
from models.discriminator import MultiScaleDiscriminator
from models.generator import ResNetGenerator
from models.vgg import VGG19Features

GeneratorFactory = Callable[[int, int], nn.Module]  # (in_channels, out_channels) -> network
DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network

VARIANTS = ("clothflow", "spg")
CLOTH_LABELS = MASK_GROUPS["cloth"]
HEAD_LABELS = MASK_GROUPS["face"] + MASK_GROUPS["hair"]

# Named losses and their default weights (seed 003 Sec. IV-C: lambda_1 = lambda_2 = 10).
SPG_LOSS_WEIGHTS = {
    "adv_s": 1.0,
    "focal_s": 10.0,
    "recon_s": 1.0,
    "adv_p": 1.0,
    "recon_p": 10.0,
    "mask_p": 10.0,
    "perc_p": 10.0,
}
CLOTHFLOW_LOSS_WEIGHTS = {"ce": 1.0}


def paper_adam(params, lr: float = 2e-4) -> torch.optim.Adam:  # noqa: ANN001 (parameter iterable)
    """SPG-VTON's optimizer (seed 003, Sec. IV-C): Adam, lr 2e-4, betas (0, 0.999), weight decay 5e-4."""
    return torch.optim.Adam(params, lr=lr, betas=(0.0, 0.999), weight_decay=5e-4)


class LayoutModule(StageModule):
    """Stage 1 LightningModule; see the module docstring for the variants and equations.

    Args:
        variant: ``"spg"`` or ``"clothflow"``.
        image_size: ``[H, W]`` (linked from the data config).
        generator: factory ``(in_channels, out_channels) -> nn.Module`` for G1 / G_layout (a plain-head
            ``ResNetGenerator`` of seed 003 Table I by default).
        coarse_generator: factory for G2 (``ResNetGenerator`` with the 4-channel RGB + mask head by default).
        discriminator: factory ``in_channels -> nn.Module`` for D1 and D2 (pix2pixHD multi-scale PatchGAN).
        g_optimizer, d_optimizer: optimizer factories (default: ``paper_adam``).
        loss_weights: overrides of the default weights (``SPG_LOSS_WEIGHTS`` / ``CLOTHFLOW_LOSS_WEIGHTS``).
        gp_weight: weight of the R1 gradient penalty on D's real inputs (seed 003 ref. [52]; see
            ``losses.adversarial.gradient_penalty``).
        focal_gamma: focal-loss gamma (2, Lin et al.; seed 003 names none).
        mask_loss: ``"l1"`` (Eq. 5) or ``"coattention"`` (FashionMirror, seed 001 Eq. 1-4) for ``M_p^C``.
        detach_layout: feed G2 with G1's output detached (see the module docstring).
        vgg_weights_path: explicit ``vgg19-dcbb9e9d.pth``; otherwise the torch hub cache is searched.
        require_pretrained_vgg: fail instead of falling back to an untrained VGG.
        grad_clip: gradient-norm clipping for the manual updates (0 = off).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "stage 1 (layout)"

    def __init__(
        self,
        variant: str = "spg",
        image_size: tuple[int, int] = (256, 192),
        generator: GeneratorFactory | None = None,
        coarse_generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        g_optimizer: OptimizerCallable = paper_adam,
        d_optimizer: OptimizerCallable = paper_adam,
        loss_weights: dict[str, float] | None = None,
        gp_weight: float = 1.0,
        focal_gamma: float = 2.0,
        mask_loss: str = "l1",
        detach_layout: bool = True,
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"LayoutModule: unknown variant {variant!r}; expected one of {VARIANTS}")
        if mask_loss not in ("l1", "coattention"):
            raise ConfigError(f"LayoutModule: mask_loss must be 'l1' or 'coattention', got {mask_loss!r}")
        # Under LightningCLI the factories are saved as their class_path/init_args config, so
        # ``load_from_checkpoint`` rebuilds the same networks.
        self.save_hyperparameters()
        self.variant = variant
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        make_generator = generator or partial(ResNetGenerator, head="plain")
        make_discriminator = discriminator or MultiScaleDiscriminator

        if variant == "clothflow":
            self.loss_weights = merge_loss_weights(CLOTHFLOW_LOSS_WEIGHTS, loss_weights)
            self.layout_generator = make_generator(3 + NUM_PARSE_LABELS + NUM_JOINTS, NUM_PARSE_LABELS)
        else:
            self.automatic_optimization = False
            self.loss_weights = merge_loss_weights(SPG_LOSS_WEIGHTS, loss_weights)
            g1_in = NUM_PARSE_LABELS + 2 + 1 + NUM_JOINTS  # S'_s, A_s, M^C, P_t
            g2_in = NUM_PARSE_LABELS + NUM_JOINTS + 3 + 3  # S_t_hat', P_t, C, I_s^{w/o C}
            self.layout_generator = make_generator(g1_in, NUM_PARSE_LABELS)
            self.coarse_generator = (coarse_generator or partial(ResNetGenerator, head="image_mask"))(g2_in, 4)
            self.layout_discriminator = make_discriminator(NUM_PARSE_LABELS + g1_in)
            self.coarse_discriminator = make_discriminator(3 + NUM_PARSE_LABELS + 3 + NUM_JOINTS + 3)
            if self.uses("perc_p"):
                vgg = VGG19Features(weights_path=vgg_weights_path, require_pretrained=require_pretrained_vgg)
                self.perceptual = PerceptualLoss(vgg)
                self.pretrained_status["vgg19"] = vgg.weights_status

        # One metric object per split (lightning-hydra-template); test adds the copy-the-source baseline.
        self.val_parsing, self.test_parsing, self.test_parsing_copy = (ParsingIoU() for _ in range(3))
        self.val_cloth_iou, self.test_cloth_iou = BinaryJaccardIndex(), BinaryJaccardIndex()
        if variant == "spg":
            self.val_coarse_ssim, self.test_coarse_ssim = SSIM(), SSIM()

    # ------------------------------------------------------------------ forward
    def layout_inputs(self, batch: dict) -> Tensor:
        """The conditioning of G1 / G_layout, ``[B, C_in, H, W]``."""
        src_onehot = one_hot_parse(batch["src_parse"])
        if self.variant == "clothflow":
            return torch.cat([batch["src_img"], src_onehot, batch["tgt_pose"]], 1)
        reference = src_onehot * (1 - label_mask(batch["src_parse"], HEAD_LABELS + CLOTH_LABELS))  # S'_s
        head = torch.cat([batch["src_masks"]["face"], batch["src_masks"]["hair"]], 1)  # A_s
        return torch.cat([reference, head, batch["cloth_mask"], batch["tgt_pose"]], 1)

    def coarse_inputs(self, batch: dict, layout_probs: Tensor) -> Tensor:
        """The conditioning of G2: ``[S_t_hat', P_t, C, I_s^{w/o C}]``."""
        incomplete = drop_channels(layout_probs, CLOTH_LABELS)
        return torch.cat([incomplete, batch["tgt_pose"], batch["cloth"], batch["src_agnostic"]], 1)

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """Returns ``layout_logits [B,20,H,W]``, ``layout_probs``, and for ``spg`` ``coarse [B,3,H,W]`` in [-1, 1]
        and ``cloth_mask [B,1,H,W]`` in [0, 1]."""
        logits = self.layout_generator(self.layout_inputs(batch))
        probs = logits.softmax(1)
        out = {"layout_logits": logits, "layout_probs": probs}
        if self.variant == "spg":
            g2_probs = probs.detach() if self.hparams.detach_layout else probs
            coarse = self.coarse_generator(self.coarse_inputs(batch, g2_probs))
            out["coarse"], out["cloth_mask"] = coarse.image, coarse.mask
        return out

    # ------------------------------------------------------------------ losses
    def generator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Unweighted named generator losses of the active terms."""
        target = batch["tgt_parse"]
        if self.variant == "clothflow":
            return {"ce": pixel_cross_entropy(out["layout_logits"], target)}
        losses: dict[str, Tensor] = {}
        layout_cond = self.layout_inputs(batch)
        coarse_cond = self._coarse_condition(batch, out)
        tgt_cloth = batch["tgt_masks"]["cloth"]
        if self.uses("adv_s"):
            losses["adv_s"] = lsgan_g_loss(self.layout_discriminator(torch.cat([out["layout_probs"], layout_cond], 1)))
        if self.uses("focal_s"):
            losses["focal_s"] = focal_loss(out["layout_logits"], target, gamma=self.hparams.focal_gamma)
        if self.uses("recon_s"):
            losses["recon_s"] = (out["layout_probs"] - one_hot_parse(target)).abs().mean()
        if self.uses("adv_p"):
            losses["adv_p"] = lsgan_g_loss(self.coarse_discriminator(torch.cat([out["coarse"], coarse_cond], 1)))
        if self.uses("recon_p"):
            losses["recon_p"] = (out["coarse"] - batch["tgt_img"]).abs().mean()
        if self.uses("mask_p"):
            if self.hparams.mask_loss == "l1":
                losses["mask_p"] = (out["cloth_mask"] - tgt_cloth).abs().mean()
            else:
                losses["mask_p"] = coattention_mask_loss(out["cloth_mask"], tgt_cloth, generator=self._patch_rng())
        if self.uses("perc_p"):
            losses["perc_p"] = self.perceptual(out["coarse"], batch["tgt_img"])
        return losses

    def discriminator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """LSGAN losses of D1 and D2 on detached fakes, plus the R1 penalty on their real inputs."""
        layout_cond = self.layout_inputs(batch)
        coarse_cond = self._coarse_condition(batch, out).detach()
        pairs = {
            "s": (self.layout_discriminator, one_hot_parse(batch["tgt_parse"]), out["layout_probs"], layout_cond),
            "p": (self.coarse_discriminator, batch["tgt_img"], out["coarse"], coarse_cond),
        }
        losses = {}
        for name, (discriminator, real, fake, cond) in pairs.items():
            if not self.uses(f"adv_{name}"):
                continue
            losses[f"adv_{name}"] = self.discriminator_loss(
                discriminator, torch.cat([real, cond], 1), torch.cat([fake, cond], 1), self.hparams.gp_weight
            )
        return losses

    def _coarse_condition(self, batch: dict, out: dict[str, Tensor]) -> Tensor:
        """D2's condition ``(S_t_hat, C, P_t, I_s^{w/o C})`` (Eq. 3), with G1's map detached: D2 judges G2."""
        return torch.cat([out["layout_probs"].detach(), batch["cloth"], batch["tgt_pose"], batch["src_agnostic"]], 1)

    def _patch_rng(self) -> torch.Generator:
        """Patch positions of the co-attention loss: reproducible per (seed, step)."""
        return torch.Generator(device=self.device).manual_seed(int(torch.initial_seed()) + self.global_step)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        generators = [self.layout_generator] + ([self.coarse_generator] if self.variant == "spg" else [])
        g_opt = self.g_optimizer([p for net in generators for p in net.parameters()])
        if self.variant == "clothflow":
            return g_opt
        discriminators = [self.layout_discriminator, self.coarse_discriminator]
        d_opt = self.d_optimizer([p for net in discriminators for p in net.parameters()])
        return [g_opt, d_opt]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor | None:
        out = self(batch)
        if self.variant == "clothflow":
            return self.weighted_total(self.generator_losses(batch, out), "g")
        g_opt, d_opt = self.optimizers()
        d_losses = self.discriminator_losses(batch, out)
        if d_losses:
            self.update(d_opt, self.weighted_total(d_losses, "d"), self.hparams.grad_clip)
        self.update(g_opt, self.weighted_total(self.generator_losses(batch, out), "g"), self.hparams.grad_clip)
        return None

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        out = self(batch)
        pred = out["layout_logits"].argmax(1)
        parsing, cloth_iou = getattr(self, f"{split}_parsing"), getattr(self, f"{split}_cloth_iou")
        parsing.update(pred, batch["tgt_parse"])
        pred_cloth = out["cloth_mask"] > 0.5 if self.variant == "spg" else label_mask(pred, CLOTH_LABELS) > 0
        cloth_iou.update(pred_cloth.long(), batch["tgt_masks"]["cloth"].long())
        if self.variant == "spg":
            ssim = getattr(self, f"{split}_coarse_ssim")
            ssim.update(out["coarse"], batch["tgt_img"])
            self.log(f"{split}/coarse_ssim", ssim, batch_size=pred.shape[0])
        self.log(f"{split}/cloth_iou", cloth_iou, batch_size=pred.shape[0])
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")
        self.test_parsing_copy.update(batch["src_parse"], batch["tgt_parse"])  # "copy the source parsing" baseline

    def on_validation_epoch_end(self) -> None:
        self._log_parsing("val", self.val_parsing)

    def on_test_epoch_end(self) -> None:
        self._log_parsing("test", self.test_parsing)
        self._log_parsing("test/copy_source", self.test_parsing_copy)

    def _log_parsing(self, prefix: str, metric: ParsingIoU) -> None:
        values = metric.compute()  # torchmetrics sums the confusion matrices of all ranks: the same on every rank
        self.log(f"{prefix}/miou", values["miou"], sync_dist=True)
        self.log(f"{prefix}/pixel_accuracy", values["pixel_accuracy"], sync_dist=True)
        metric.reset()

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inputs | predicted vs true parsing | coarse image | mask | target (all [B, 3, H, W] in [0, 1])."""
        columns = {
            "source": (batch["src_img"] + 1) / 2,
            "cloth": (batch["cloth"] + 1) / 2,
            "target pose": pose_to_image(batch["tgt_pose"]),
            "predicted parsing": parse_to_color(out["layout_logits"].argmax(1)),
            "true parsing": parse_to_color(batch["tgt_parse"]),
        }
        if self.variant == "spg":
            columns["coarse"] = (out["coarse"] + 1) / 2
            columns["cloth mask"] = out["cloth_mask"].expand(-1, 3, -1, -1)
        columns["target"] = (batch["tgt_img"] + 1) / 2
        return columns
