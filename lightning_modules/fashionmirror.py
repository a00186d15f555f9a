"""FashionMirror as a stage (seed 001, supplementary Appendix A): the single-frame co-attention mask network (CMN,
stage I) and the human and clothing feature remapping generator (stage II), trained on person pairs.

- **CMN** (``models.co_attention.CoAttentionMaskNet``): ``(h_s, p_s, c, m_c, p_t) -> (M_r, M_c)``, trained with
  ``L_CMN = lambda_L1 L_L1 + lambda_BCE L_BCE + lambda_Patch L_Patch`` (Eq. 1-4, ``losses.mask``) on both masks:
  ``mask_l1``, ``mask_bce``, ``mask_patch`` are each the sum of the term of ``M_r`` and of ``M_c`` (Eq. 2-4 sum
  them). Ground truth: ``M_r`` the source's garment region ``src_masks["cloth"]``, ``M_c`` the target's
  ``tgt_masks["cloth"]`` (what the two masks are: ``models.co_attention``); each mask's patches are drawn in its own
  clothing region.
- **Feature remapping** (``models.feature_remapping.FeatureRemappingGenerator``): ``h_g^t`` from the source person
  without ``M_r``, the in-shop garment and ``p_t`` with ``M_c``, trained with ``L_spatial`` (Eq. 6-12):
  ``gan`` (Eq. 7, the spatial discriminator ``D_s``), ``l1`` (Eq. 8), ``body`` (Eq. 9: arms + legs, background;
  ``losses.synthesis.body_loss``), ``content`` (Eq. 10: the full image plus the clothes and head regions,
  ``losses.perceptual.feature_l1`` + ``losses.synthesis.region_content_style_loss``), ``style`` (Eq. 11, the same
  with Gram matrices) and ``patch`` (Eq. 12, ``losses.synthesis.patch_content_style_loss`` on three clothing patches).

Choices where the supplement is silent: all lambdas 1; the generator is fed the CMN's predicted masks, detached
(``generator_masks="predicted"``, the masks it gets at inference, where FashionMirror has no parsing: Table 1), or
the true ones (``"ground_truth"``, teacher forcing); the CMN gets no gradient from the generator's losses (its own
objective is Eq. 1-4), and each network has its own optimizer (three updates per batch: ``D_s``, ``G_h``, CMN);
``D_s`` is LSGAN + R1 as every adversary of the project (Eq. 7 writes the log-likelihood GAN; SPG-VTON Sec. IV-C) and
sees ``[h, p_t]`` (pose-conditioned, as the project's other discriminators); the VGG19 layers ``phi_i`` are
relu1_1 .. relu5_1 with weight 1 each (Eq. 10-12 sum them unweighted). The region and patch terms mask the generated
and the real image with the same ground-truth mask (``losses.synthesis``: Eq. 10 writes the predicted ``M_c`` on the
generated side), so they vanish for a perfect result. Head = face + hair of the target parsing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.classification import BinaryJaccardIndex

from contract.errors import ConfigError
from contract.sample import NUM_JOINTS
from datamodules.visualize import pose_to_image
from lightning_modules.layout import paper_adam
from lightning_modules.stage import StageModule, merge_loss_weights
from losses.adversarial import lsgan_g_loss
from losses.mask import coattention_mask_terms, sample_region_patches
from losses.perceptual import feature_l1, style_loss
from losses.reconstruction import l1_loss
from losses.synthesis import body_loss, patch_content_style_loss, region_content_style_loss
from metrics import PSNR, SSIM
from models.co_attention import CoAttentionMaskNet
from models.discriminator import MultiScaleDiscriminator
from models.feature_remapping import FeatureRemappingGenerator
from models.vgg import VGG19Features

MaskNetworkFactory = Callable[[], CoAttentionMaskNet]
GeneratorFactory = Callable[[], FeatureRemappingGenerator]
DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network

# seed 001 Eq. 1 and Eq. 6: the paper gives no lambdas.
MASK_LOSS_WEIGHTS = {"mask_l1": 1.0, "mask_bce": 1.0, "mask_patch": 1.0}
SPATIAL_LOSS_WEIGHTS = {"gan": 1.0, "l1": 1.0, "body": 1.0, "content": 1.0, "style": 1.0, "patch": 1.0}
VGG_LOSSES = ("content", "style", "patch")
GENERATOR_MASKS = ("predicted", "ground_truth")
D_IN = 3 + NUM_JOINTS  # h, p_t


class FashionMirrorModule(StageModule):
    """Single-frame FashionMirror: CMN + feature remapping; see the module docstring.

    Args:
        image_size: ``[H, W]`` (linked from the data config).
        mask_network: factory ``() -> CoAttentionMaskNet`` (default: its own defaults).
        generator: factory ``() -> FeatureRemappingGenerator`` (default: its own defaults).
        discriminator: factory ``in_channels -> nn.Module`` of ``D_s`` (``MultiScaleDiscriminator``).
        mask_optimizer, g_optimizer, d_optimizer: optimizer factories of the CMN, ``G_h`` and ``D_s`` (default
            ``paper_adam``: FashionMirror names none; the project's Adam 2e-4, betas (0, 0.999)).
        loss_weights: overrides of ``MASK_LOSS_WEIGHTS`` and ``SPATIAL_LOSS_WEIGHTS`` (0 switches a term off).
        generator_masks: ``"predicted"`` (the CMN's, detached) or ``"ground_truth"`` masks into ``G_h``.
        gp_weight: R1 penalty weight of ``D_s``.
        num_patches, patch_size: the clothing patches of Eq. 4 and Eq. 12 (three 64x64, seed 001).
        vgg_weights_path, require_pretrained_vgg: VGG19 of the content / style / patch losses (``VGG19Features``).
        grad_clip: gradient-norm clipping of the manual updates (0 = off).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "FashionMirror (co-attention masks + feature remapping)"

    def __init__(
        self,
        image_size: tuple[int, int] = (256, 192),
        mask_network: MaskNetworkFactory | None = None,
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        mask_optimizer: OptimizerCallable = paper_adam,
        g_optimizer: OptimizerCallable = paper_adam,
        d_optimizer: OptimizerCallable = paper_adam,
        loss_weights: dict[str, float] | None = None,
        generator_masks: str = "predicted",
        gp_weight: float = 1.0,
        num_patches: int = 3,
        patch_size: int = 64,
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        if generator_masks not in GENERATOR_MASKS:
            raise ConfigError(
                f"FashionMirrorModule: generator_masks must be one of {GENERATOR_MASKS}, got {generator_masks!r}"
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.mask_optimizer, self.g_optimizer, self.d_optimizer = mask_optimizer, g_optimizer, d_optimizer
        self.loss_weights = merge_loss_weights(MASK_LOSS_WEIGHTS | SPATIAL_LOSS_WEIGHTS, loss_weights)
        self.mask_net = (mask_network or CoAttentionMaskNet)()
        self.generator = (generator or FeatureRemappingGenerator)()
        self.discriminator = (discriminator or MultiScaleDiscriminator)(D_IN)
        if any(self.uses(name) for name in VGG_LOSSES):
            self.vgg = VGG19Features(weights_path=vgg_weights_path, require_pretrained=require_pretrained_vgg)
            self.pretrained_status["vgg19"] = self.vgg.weights_status
        for split in ("val", "test"):
            setattr(self, f"{split}_ssim", SSIM())
            setattr(self, f"{split}_psnr", PSNR())
            setattr(self, f"{split}_mask_iou_removed", BinaryJaccardIndex())
            setattr(self, f"{split}_mask_iou_cloth", BinaryJaccardIndex())

    # ------------------------------------------------------------------ forward
    @staticmethod
    def true_masks(batch: dict) -> tuple[Tensor, Tensor]:
        """Ground truth ``(M_r, M_c)``: the source's and the target's garment regions ``[B, 1, H, W]``."""
        return batch["src_masks"]["cloth"], batch["tgt_masks"]["cloth"]

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """``removed`` ``M_r``, ``cloth`` ``M_c`` (``[B, 1, H, W]`` in (0, 1), with the CMN's graph) and
        ``generated`` ``h_g^t [B, 3, H, W]`` in [-1, 1] from the masks ``generator_masks`` chooses."""
        masks = self.mask_net(
            batch["src_img"], batch["src_pose"], batch["cloth"], batch["cloth_mask"], batch["tgt_pose"]
        )
        if self.hparams.generator_masks == "predicted":
            removed, tryon = masks.removed.detach(), masks.cloth.detach()
        else:
            removed, tryon = self.true_masks(batch)
        generated = self.generator(
            batch["src_img"], batch["src_pose"], removed, batch["cloth"], batch["cloth_mask"], batch["tgt_pose"], tryon
        )
        return {"removed": masks.removed, "cloth": masks.cloth, "generated": generated}

    # ------------------------------------------------------------------ losses
    def _patch_rng(self, offset: int) -> torch.Generator:
        """Patch positions of Eq. 4 (``offset`` 0) and Eq. 12 (1): reproducible per (seed, step)."""
        seed = int(torch.initial_seed()) + 2 * self.global_step + offset
        return torch.Generator(device=self.device).manual_seed(seed)

    def mask_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Eq. 2-4, each the sum of its ``M_r`` and ``M_c`` terms: ``mask_l1``, ``mask_bce``, ``mask_patch``."""
        rng = self._patch_rng(0)
        terms = [
            coattention_mask_terms(out[name], target, rng, None, self.hparams.num_patches, self.hparams.patch_size)
            for name, target in zip(("removed", "cloth"), self.true_masks(batch), strict=True)
        ]
        named = {
            "mask_l1": sum(t.l1 for t in terms),
            "mask_bce": sum(t.bce for t in terms),
            "mask_patch": sum(t.patch for t in terms),
        }
        return {name: value for name, value in named.items() if self.uses(name)}

    def generator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``L_spatial`` (Eq. 6-12) as unweighted named terms of the active losses (module docstring)."""
        fake, real, masks = out["generated"], batch["tgt_img"], batch["tgt_masks"]
        cloth = masks["cloth"]
        losses: dict[str, Tensor] = {}
        if self.uses("gan"):
            losses["gan"] = lsgan_g_loss(self.discriminator(torch.cat([fake, batch["tgt_pose"]], 1)))
        if self.uses("l1"):
            losses["l1"] = l1_loss(fake, real)
        if self.uses("body"):
            losses["body"] = body_loss(fake, real, (masks["arms"] + masks["legs"]).clamp(max=1), masks["background"])
        if self.uses("content") or self.uses("style"):
            with torch.no_grad():
                real_features = self.vgg(real)
            fake_features = self.vgg(fake)
            head = (masks["face"] + masks["hair"]).clamp(max=1)
            regions = region_content_style_loss(self.vgg, fake, real, {"cloth": cloth, "head": head})
            if self.uses("content"):
                losses["content"] = feature_l1(fake_features, real_features) + regions.content
            if self.uses("style"):
                losses["style"] = style_loss(fake_features, real_features) + regions.style
        if self.uses("patch"):
            patches = sample_region_patches(
                cloth, self._patch_rng(1), self.hparams.num_patches, self.hparams.patch_size
            )
            losses["patch"] = patch_content_style_loss(self.vgg, fake, real, cloth, patches)
        return losses

    def discriminator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``D_s``'s LSGAN loss on ``[h, p_t]`` (real: the target) vs. the detached ``[h_g^t, p_t]``, plus R1."""
        if not self.uses("gan"):
            return {}
        pose = batch["tgt_pose"]
        real, fake = torch.cat([batch["tgt_img"], pose], 1), torch.cat([out["generated"], pose], 1)
        return {"gan": self.discriminator_loss(self.discriminator, real, fake, self.hparams.gp_weight)}

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        return [
            self.d_optimizer(self.discriminator.parameters()),
            self.g_optimizer(self.generator.parameters()),
            self.mask_optimizer(self.mask_net.parameters()),
        ]

    def training_step(self, batch: dict, batch_idx: int) -> None:
        out = self(batch)
        d_opt, g_opt, mask_opt = self.optimizers()
        d_losses = self.discriminator_losses(batch, out)
        if d_losses:
            self.update(d_opt, self.weighted_total(d_losses, "d"), self.hparams.grad_clip)
        g_losses = self.generator_losses(batch, out)
        if g_losses:
            self.update(g_opt, self.weighted_total(g_losses, "g"), self.hparams.grad_clip)
        mask_losses = self.mask_losses(batch, out)
        if mask_losses:
            self.update(mask_opt, self.weighted_total(mask_losses, "mask"), self.hparams.grad_clip)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        """SSIM and PSNR of ``h_g^t`` against the target, IoU of ``M_r`` and ``M_c`` (thresholded at 0.5)."""
        out = self(batch)
        batch_size = batch["tgt_img"].shape[0]
        for name in ("ssim", "psnr"):
            metric = getattr(self, f"{split}_{name}")
            metric.update(out["generated"], batch["tgt_img"])
            self.log(f"{split}/{name}", metric, batch_size=batch_size)
        for name, target in zip(("removed", "cloth"), self.true_masks(batch), strict=True):
            metric = getattr(self, f"{split}_mask_iou_{name}")
            metric.update((out[name] > 0.5).long().flatten(), (target > 0.5).long().flatten())
            self.log(f"{split}/mask_iou_{name}", metric, batch_size=batch_size)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Source | cloth | target pose | M_r | M_c | h_g^t | target, all ``[B, 3, H, W]`` in [0, 1]."""
        return {
            "source": (batch["src_img"] + 1) / 2,
            "cloth": (batch["cloth"] + 1) / 2,
            "target pose": pose_to_image(batch["tgt_pose"]),
            "removed mask": out["removed"].expand(-1, 3, -1, -1),
            "cloth mask": out["cloth"].expand(-1, 3, -1, -1),
            "generated": (out["generated"] + 1) / 2,
            "target": (batch["tgt_img"] + 1) / 2,
        }
