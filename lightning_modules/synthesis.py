"""Stage 3: try-on synthesis (``I_p', C_w, P_t -> I_r, M``; ``I_t_hat = C_w * M + I_r * (1 - M)``).

The network is SPG-VTON's Try-on Synthesis Module (seed 003, Sec. III-D): G3 (the Table I generator with the
4-channel RGB + mask head) takes the randomly erased coarse result ``I_p'``, the warped cloth ``C_w`` and the target
pose ``P_t`` and returns the rendered person ``I_r`` and the composition mask ``M`` (Eq. 10). The variants choose the
objective (``variant`` sets the default ``loss_weights``; every term can be switched on or off by its weight):

- ``"spg"`` (seed 003, Eq. 16): ``lambda4 (L_recon^t + L_perc^t) + L_adv^g + L_adv^l + lambda5 L_id`` with
  ``lambda4 = lambda5 = 10`` and ``L_recon^t = 2 |I_t_hat - I_t| + 0.5 |1 - M|`` (Eq. 11-15);
- ``"clothflow"`` (seed 000, Sec. 3.3): ``L_render = L_perc + L_style`` (Gram matrices, weights ``gamma_l``);
- ``"fashionmirror"`` (seed 001, Appendix A, Eq. 6-12 for the human): ``L_GAN + L_L1 + L_body + L_content +
  L_style + L_patch`` (all lambdas 1: the paper gives none); ``L_content`` / ``L_style`` = the full-image ``perc`` /
  ``style`` terms plus ``content_regions`` / ``style_regions`` on the clothes and the head.

Named losses: ``recon`` (Eq. 11), ``perc`` (Eq. 12, VGG19 weights 1/32 .. 1), ``adv_g`` (Eq. 13, ``D_g`` on
``(I, C_t, P_t, I_s^{w/o C})`` with ``C_hat_t = C_w * M`` for fakes), ``adv_l`` (Eq. 14, ``D_l`` on the face + hair
crop), ``id`` (Eq. 15), ``l1``, ``style``, ``body`` (Eq. 9: arms + legs, background), ``content_regions``,
``style_regions`` (Eq. 10-11), ``patch`` (Eq. 12). Adversarial losses are LSGAN with the R1 penalty (seed 003 Sec.
IV-C) for every variant; ``D_g`` and ``D_l`` share one structure (Table I PatchGAN, pix2pixHD multi-scale).

Inputs (choices where the papers leave it open; the losses always compare with the ground truth ``I_t``):

- ``I_p``: with ``layout_checkpoint`` the ``coarse`` output of a frozen SPG-VTON stage 1 (G2); otherwise the target
  image blurred (Gaussian, ``coarse_blur_sigma`` px): G2 is trained with L1 + perceptual losses and gives a blurry
  image of the whole person, so the stand-in keeps the layout and colours but none of the cloth's detail, which G3
  must take from ``C_w``.
- ``C_w``: with ``warp_checkpoint`` the ``warped_cloth`` of a frozen stage 2 (cascade or tps); otherwise
  ``cloth_source="target"``: the target's own garment ``I_t * M_t^C`` (exact), or ``"flow_gt"`` (synthetic sets only):
  the source person's garment ``I_s * M_s^C`` warped by ``flow_gt`` and kept where ``vis_gt == 1`` (a realistic
  stand-in with the holes of occlusion, for same-garment triplets).
- Random erasing of ``I_p`` (training only): ``erase_probability`` per sample, one rectangle of ``erase_scale`` of
  the area and ``erase_aspect`` aspect ratio, filled with 0 (mid-grey); the paper names no parameters, these are
  torchvision's / kornia's ``RandomErasing`` defaults (``lightning_modules.random_erasing``: the same draw without a
  host synchronisation).
- Face and hair (``D_l``, ``L_id``, FashionMirror's head region): from the true target parsing
  (``head_parsing="ground_truth"``) or the frozen stage 1's predicted parsing (``"predicted"``, as Eq. 15 says).
  ``D_l`` sees the bounding box of face + hair (``models.crop``) cut from ``(I^f, I^h, C_t, P_t, I_s^{w/o C})``
  and resized to ``local_crop_size``, the same box for real and fake; ``L_id`` compares the embeddings of the
  face + hair pixels in that box resized to ``face_size`` (SphereFace's 112x96).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import partial

import kornia
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from contract.errors import ConfigError
from contract.flow import warp
from contract.sample import MASK_GROUPS, NUM_JOINTS
from datamodules.visualize import pose_to_image
from lightning_modules.checkpoints import load_stage
from lightning_modules.encoding import label_mask
from lightning_modules.layout import LayoutModule, paper_adam
from lightning_modules.random_erasing import random_erasing
from lightning_modules.stage import StageModule, merge_loss_weights
from lightning_modules.warp import WarpModule
from losses.adversarial import lsgan_g_loss
from losses.mask import sample_region_patches
from losses.perceptual import LAYER_WEIGHT_PRESETS, feature_l1, style_loss
from losses.reconstruction import l1_loss
from losses.synthesis import (
    body_loss,
    composition_reconstruction_loss,
    identity_loss,
    patch_content_style_loss,
    region_content_style_loss,
)
from metrics import PSNR, SSIM, MaskSSIM
from models.crop import crop_boxes, mask_boxes
from models.discriminator import MultiScaleDiscriminator
from models.face import load_face_embedder
from models.generator import ResNetGenerator
from models.vgg import VGG19Features

GeneratorFactory = Callable[[int, int], nn.Module]  # (in_channels, out_channels) -> network
DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network

VARIANTS = ("spg", "clothflow", "fashionmirror")
CLOTH_SOURCES = ("target", "flow_gt")
HEAD_PARSINGS = ("ground_truth", "predicted")
_OFF = dict.fromkeys(
    ("recon", "perc", "adv_g", "adv_l", "id", "l1", "style", "body", "content_regions", "style_regions", "patch"), 0.0
)
LOSS_WEIGHTS = {
    # seed 003 Eq. 16 and Sec. IV-C: lambda4 = lambda5 = 10
    "spg": _OFF | {"recon": 10.0, "perc": 10.0, "adv_g": 1.0, "adv_l": 1.0, "id": 10.0},
    # seed 000 Sec. 3.3: L_render = L_perc + L_style
    "clothflow": _OFF | {"perc": 1.0, "style": 1.0},
    # seed 001 Appendix A Eq. 6 (no lambdas given: 1)
    "fashionmirror": _OFF
    | {"adv_g": 1.0, "l1": 1.0, "body": 1.0, "perc": 1.0, "style": 1.0, "content_regions": 1.0}
    | {"style_regions": 1.0, "patch": 1.0},
}
VGG_LOSSES = ("perc", "style", "content_regions", "style_regions", "patch")
G3_IN = 3 + 3 + NUM_JOINTS  # I_p', C_w, P_t
GLOBAL_D_IN = 3 + 3 + NUM_JOINTS + 3  # I, C_t, P_t, I_s^{w/o C}
LOCAL_D_IN = 3 + 3 + 3 + NUM_JOINTS + 3  # I^f, I^h, C_t, P_t, I_s^{w/o C}


def compose(warped_cloth: Tensor, rendered: Tensor, mask: Tensor) -> Tensor:
    """``I_t_hat = C_w * M + I_r * (1 - M)`` (seed 003, Eq. 10): images ``[B, 3, H, W]``, mask ``[B, 1, H, W]``."""
    return warped_cloth * mask + rendered * (1 - mask)


class SynthesisModule(StageModule):
    """Stage 3 LightningModule; see the module docstring for the variants, losses and inputs.

    Args:
        variant: ``"spg"`` | ``"clothflow"`` | ``"fashionmirror"`` (default loss weights ``LOSS_WEIGHTS``).
        image_size: ``[H, W]`` (linked from the data config).
        generator: factory ``(24, 4) -> nn.Module`` for G3 (``ResNetGenerator``, Table I, ``image_mask`` head).
        discriminator: factory ``in_channels -> nn.Module`` for ``D_g`` and ``D_l`` (``MultiScaleDiscriminator``).
        g_optimizer, d_optimizer: optimizer factories (default ``paper_adam``, seed 003 Sec. IV-C).
        loss_weights: overrides of the variant's weights; 0 switches a loss off.
        gp_weight: R1 penalty weight (see ``losses.adversarial.gradient_penalty``).
        recon_image_weight, recon_mask_weight: ``alpha_1 = 2`` and ``alpha_2 = 0.5`` of Eq. 11 (seed 003).
        erase_probability, erase_scale, erase_aspect: random erasing of ``I_p`` (module docstring; 0 = off).
        layout_checkpoint: frozen stage 1 (SPG-VTON variant) giving ``I_p`` (and the predicted parsing).
        warp_checkpoint: frozen stage 2 (cascade or tps) giving ``C_w``.
        cloth_source: ``C_w`` without ``warp_checkpoint``: ``"target"`` or ``"flow_gt"`` (module docstring).
        coarse_blur_sigma: blur of the ``I_p`` stand-in without ``layout_checkpoint`` (ours: 2 px at 256x192).
        head_parsing: ``"ground_truth"`` or ``"predicted"`` face/hair regions (the latter needs ``layout_checkpoint``).
        local_crop_size: ``D_l``'s input size (ours: 64x64 at 256x192; seed 003 gives none).
        face_embedder_path: TorchScript or state dict of a pretrained face embedder (SphereFace in seed 003);
            ``None`` switches ``id`` off with a warning (never random weights).
        face_embedder: architecture factory for a state-dict ``face_embedder_path``.
        face_size: the embedder's input size (SphereFace: 112x96).
        style_layer_weights: ``gamma_l`` of the Gram losses (ClothFlow gives none: ``None`` = 1 per layer).
        num_patches, patch_size: FashionMirror's clothing patches (three 64x64, seed 001 Eq. 4 / 12).
        vgg_weights_path, require_pretrained_vgg: VGG19 of the feature losses (see ``VGG19Features``).
        grad_clip: gradient-norm clipping of the manual updates (0 = off).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "stage 3 (synthesis)"
    checkpoint_arguments = {"layout_checkpoint": LayoutModule, "warp_checkpoint": WarpModule}

    def __init__(
        self,
        variant: str = "spg",
        image_size: tuple[int, int] = (256, 192),
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        g_optimizer: OptimizerCallable = paper_adam,
        d_optimizer: OptimizerCallable = paper_adam,
        loss_weights: dict[str, float] | None = None,
        gp_weight: float = 1.0,
        recon_image_weight: float = 2.0,
        recon_mask_weight: float = 0.5,
        erase_probability: float = 0.5,
        erase_scale: tuple[float, float] = (0.02, 0.33),
        erase_aspect: tuple[float, float] = (0.3, 3.3),
        layout_checkpoint: str | None = None,
        warp_checkpoint: str | None = None,
        cloth_source: str = "target",
        coarse_blur_sigma: float = 2.0,
        head_parsing: str = "ground_truth",
        local_crop_size: tuple[int, int] = (64, 64),
        face_embedder_path: str | None = None,
        face_embedder: Callable[[], nn.Module] | None = None,
        face_size: tuple[int, int] = (112, 96),
        style_layer_weights: dict[str, float] | None = None,
        num_patches: int = 3,
        patch_size: int = 64,
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        for name, value, valid in (
            ("variant", variant, VARIANTS),
            ("cloth_source", cloth_source, CLOTH_SOURCES),
            ("head_parsing", head_parsing, HEAD_PARSINGS),
        ):
            if value not in valid:
                raise ConfigError(f"SynthesisModule: {name} must be one of {valid}, got {value!r}")
        if head_parsing == "predicted" and layout_checkpoint is None:
            raise ConfigError("SynthesisModule: head_parsing='predicted' needs a stage-1 layout_checkpoint")
        if not 0 <= erase_probability <= 1:
            raise ConfigError(f"SynthesisModule: erase_probability must lie in [0, 1], got {erase_probability}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.variant = variant
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.loss_weights = merge_loss_weights(LOSS_WEIGHTS[variant], loss_weights)

        self.layout: LayoutModule | None = None
        self.cloth_warper: WarpModule | None = None
        if layout_checkpoint is not None:
            self.layout = load_stage(layout_checkpoint, LayoutModule, "stage 1 (layout)")
            self.record_feeder("layout", layout_checkpoint)
        if warp_checkpoint is not None:
            self.cloth_warper = load_stage(warp_checkpoint, WarpModule, "stage 2 (warp)")
            self.record_feeder("cloth_warper", warp_checkpoint)
        if self.layout is not None and self.layout.variant != "spg":
            raise ConfigError(
                f"stage 1 (layout): checkpoint {layout_checkpoint!r} is variant {self.layout.variant!r}; "
                "stage 3 needs the coarse image of variant 'spg'"
            )
        if self.cloth_warper is not None and self.cloth_warper.variant == "flow":
            raise ConfigError(
                f"stage 2 (warp): checkpoint {warp_checkpoint!r} is variant 'flow', which warps no cloth; "
                "stage 3 needs 'cascade' or 'tps'"
            )

        self.generator = (generator or partial(ResNetGenerator, head="image_mask"))(G3_IN, 4)
        make_discriminator = discriminator or MultiScaleDiscriminator
        self.global_discriminator = make_discriminator(GLOBAL_D_IN)
        self.local_discriminator = make_discriminator(LOCAL_D_IN)
        # A plain list keeps the user's embedder out of the state dict (checkpoints): it is reloaded from its file.
        embedder = self._load_face_embedder(face_embedder_path, face_embedder)
        self._face_embedder = [] if embedder is None else [embedder]
        if any(self.uses(name) for name in VGG_LOSSES):
            self.vgg = VGG19Features(weights_path=vgg_weights_path, require_pretrained=require_pretrained_vgg)
            self.pretrained_status["vgg19"] = self.vgg.weights_status
        self.perc_weights = LAYER_WEIGHT_PRESETS["spg_vton"]

        self.val_ssim, self.test_ssim = SSIM(), SSIM()
        self.val_mask_ssim_face, self.test_mask_ssim_face = MaskSSIM(), MaskSSIM()
        self.val_mask_ssim_non_cloth, self.test_mask_ssim_non_cloth = MaskSSIM(), MaskSSIM()
        self.val_psnr, self.test_psnr = PSNR(), PSNR()

    @property
    def face_embedder(self) -> nn.Module | None:
        """The frozen face embedder of ``L_id`` on this module's device, or ``None`` when ``id`` is off."""
        return self._face_embedder[0].to(self.device) if self._face_embedder else None

    def _load_face_embedder(self, path: str | None, architecture: Callable[[], nn.Module] | None) -> nn.Module | None:
        """Load the frozen embedder of ``L_id``, or switch ``id`` off with a warning when no file is given."""
        if not self.uses("id"):
            self.pretrained_status["face_embedder"] = "off (loss weight id = 0)"
            return None
        if path is None:
            warnings.warn(
                "SynthesisModule: the face identity loss L_id is OFF because face_embedder_path is not set; give a "
                "pretrained face embedder (e.g. SphereFace as TorchScript) with --model.init_args.face_embedder_path",
                UserWarning,
                stacklevel=3,
            )
            self.loss_weights["id"] = 0.0
            self.pretrained_status["face_embedder"] = "off (face_embedder_path not set)"
            return None
        self.pretrained_status["face_embedder"] = f"file:{path}"
        return load_face_embedder(path, architecture)

    def train(self, mode: bool = True) -> SynthesisModule:
        """Train mode for G3 and the discriminators; the frozen stages and the face embedder stay in eval mode."""
        super().train(mode)
        for frozen in (self.layout, self.cloth_warper, *self._face_embedder):
            if frozen is not None:
                frozen.eval()
        return self

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def target_cloth(batch: dict) -> Tensor:
        """``C_t``: the target image inside its garment region, 0 elsewhere, ``[B, 3, H, W]``."""
        return batch["tgt_img"] * batch["tgt_masks"]["cloth"]

    @torch.no_grad()
    def stage_inputs(self, batch: dict) -> dict[str, Tensor]:
        """``coarse`` ``I_p``, ``warped_cloth`` ``C_w`` (``[B, 3, H, W]``) and the ``face`` / ``hair`` masks
        (``[B, 1, H, W]``) from the frozen stages or teacher forcing (module docstring)."""
        layout = self.layout(batch) if self.layout is not None else None
        if layout is not None:
            coarse = layout["coarse"]
        else:
            sigma = self.hparams.coarse_blur_sigma
            radius = max(1, math.ceil(3 * sigma))
            coarse = kornia.filters.gaussian_blur2d(batch["tgt_img"], (2 * radius + 1,) * 2, (sigma, sigma))
        if self.cloth_warper is not None:
            warped_cloth = self.cloth_warper.warp_cloth(batch)["warped_cloth"]
        elif self.hparams.cloth_source == "target":
            warped_cloth = self.target_cloth(batch)
        else:
            for key in ("flow_gt", "vis_gt"):
                if key not in batch:
                    raise KeyError(f"SynthesisModule (cloth_source='flow_gt'): the batch has no {key!r}; use the "
                                   "synthetic data or cloth_source='target'")  # fmt: skip
            source_garment = batch["src_img"] * batch["src_masks"]["cloth"]
            warped_cloth = warp(source_garment, batch["flow_gt"]) * (batch["vis_gt"] == 1).unsqueeze(1)
        if self.hparams.head_parsing == "predicted":
            parse = layout["layout_logits"].argmax(1)
            face, hair = label_mask(parse, MASK_GROUPS["face"]), label_mask(parse, MASK_GROUPS["hair"])
        else:
            face, hair = batch["tgt_masks"]["face"], batch["tgt_masks"]["hair"]
        return {"coarse": coarse, "warped_cloth": warped_cloth, "face": face, "hair": hair}

    def erase(self, coarse: Tensor) -> Tensor:
        """``I_p -> I_p'``: random erasing in training (module docstring), the identity otherwise."""
        if not self.training or self.hparams.erase_probability == 0:
            return coarse
        hp = self.hparams
        return random_erasing(coarse, hp.erase_probability, tuple(hp.erase_scale), tuple(hp.erase_aspect), value=0.0)

    def forward(self, batch: dict, inputs: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``coarse_input`` ``I_p'``, ``warped_cloth`` ``C_w``, ``rendered`` ``I_r`` (``[B, 3, H, W]`` in [-1, 1]),
        ``mask`` ``M [B, 1, H, W]``, ``tryon`` ``I_t_hat``, ``cloth_part`` ``C_hat_t = C_w * M``, ``face``, ``hair``.

        ``inputs`` (the keys of ``stage_inputs``) replaces the frozen stages / teacher forcing (the e2e chain)."""
        if inputs is None:
            inputs = self.stage_inputs(batch)
        coarse_input = self.erase(inputs["coarse"])
        out = self.generator(torch.cat([coarse_input, inputs["warped_cloth"], batch["tgt_pose"]], 1))
        warped_cloth = inputs["warped_cloth"]
        return {
            "coarse_input": coarse_input,
            "warped_cloth": warped_cloth,
            "rendered": out.image,
            "mask": out.mask,
            "tryon": compose(warped_cloth, out.image, out.mask),
            "cloth_part": warped_cloth * out.mask,
            "face": inputs["face"],
            "hair": inputs["hair"],
        }

    # ------------------------------------------------------------------ discriminator inputs
    @staticmethod
    def global_input(batch: dict, image: Tensor, cloth_part: Tensor) -> Tensor:
        """``D_g``'s input ``(I, C_t, P_t, I_s^{w/o C})`` (Eq. 13), ``[B, 27, H, W]``."""
        return torch.cat([image, cloth_part, batch["tgt_pose"], batch["src_agnostic"]], 1)

    def local_input(self, batch: dict, image: Tensor, cloth_part: Tensor, out: dict[str, Tensor]) -> Tensor:
        """``D_l``'s input: ``(I^f, I^h, C_t, P_t, I_s^{w/o C})`` (Eq. 14) cut to the face + hair box and resized to
        ``local_crop_size``, ``[B, 30, h, w]``."""
        face, hair = out["face"], out["hair"]
        stacked = torch.cat([image * face, image * hair, cloth_part, batch["tgt_pose"], batch["src_agnostic"]], 1)
        return crop_boxes(stacked, mask_boxes((face + hair).clamp(max=1)), tuple(self.hparams.local_crop_size))

    def faces(self, image: Tensor, out: dict[str, Tensor]) -> Tensor:
        """``I^F``: the face + hair pixels in their box, resized to ``face_size``, ``[B, 3, h, w]`` (Eq. 15)."""
        head = (out["face"] + out["hair"]).clamp(max=1)
        return crop_boxes(image * head, mask_boxes(head), tuple(self.hparams.face_size))

    # ------------------------------------------------------------------ losses
    def generator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Unweighted named losses of the active terms (see the module docstring)."""
        tryon, target = out["tryon"], batch["tgt_img"]
        masks = batch["tgt_masks"]
        head = (out["face"] + out["hair"]).clamp(max=1)
        losses: dict[str, Tensor] = {}
        if self.uses("recon"):
            losses["recon"] = composition_reconstruction_loss(
                tryon, target, out["mask"], self.hparams.recon_image_weight, self.hparams.recon_mask_weight
            )
        if self.uses("l1"):
            losses["l1"] = l1_loss(tryon, target)
        if self.uses("perc") or self.uses("style"):
            with torch.no_grad():
                target_features = self.vgg(target)
            features = self.vgg(tryon)
            if self.uses("perc"):
                losses["perc"] = feature_l1(features, target_features, self.perc_weights)
            if self.uses("style"):
                losses["style"] = style_loss(features, target_features, self.hparams.style_layer_weights)
        if self.uses("body"):
            limbs = (masks["arms"] + masks["legs"]).clamp(max=1)
            losses["body"] = body_loss(tryon, target, limbs, masks["background"])
        if self.uses("content_regions") or self.uses("style_regions"):
            regions = region_content_style_loss(
                self.vgg, tryon, target, {"cloth": masks["cloth"], "head": head}, self.perc_weights,
                self.hparams.style_layer_weights,
            )  # fmt: skip
            if self.uses("content_regions"):
                losses["content_regions"] = regions.content
            if self.uses("style_regions"):
                losses["style_regions"] = regions.style
        if self.uses("patch"):
            patches = sample_region_patches(
                masks["cloth"], self._patch_rng(), self.hparams.num_patches, self.hparams.patch_size
            )
            losses["patch"] = patch_content_style_loss(
                self.vgg, tryon, target, masks["cloth"], patches, self.perc_weights, self.hparams.style_layer_weights
            )
        if self.uses("adv_g"):
            losses["adv_g"] = lsgan_g_loss(
                self.global_discriminator(self.global_input(batch, tryon, out["cloth_part"]))
            )
        if self.uses("adv_l"):
            fake = self.local_input(batch, tryon, out["cloth_part"], out)
            losses["adv_l"] = lsgan_g_loss(self.local_discriminator(fake))
        if self.uses("id"):
            losses["id"] = identity_loss(self.face_embedder, self.faces(tryon, out), self.faces(target, out))
        return losses

    def discriminator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """LSGAN losses of ``D_g`` and ``D_l`` on detached fakes (real: ``I_t`` with ``C_t``), plus R1 on the reals."""
        real_image, real_cloth = batch["tgt_img"], self.target_cloth(batch)
        fake_image, fake_cloth = out["tryon"].detach(), out["cloth_part"].detach()
        regions = {"face": out["face"].detach(), "hair": out["hair"].detach()}
        pairs = {
            "adv_g": (
                self.global_discriminator,
                self.global_input(batch, real_image, real_cloth),
                self.global_input(batch, fake_image, fake_cloth),
            ),
            "adv_l": (  # the face / hair regions detached too: in the e2e chain they carry stage 1's gradient
                self.local_discriminator,
                self.local_input(batch, real_image, real_cloth, regions),
                self.local_input(batch, fake_image, fake_cloth, regions),
            ),
        }
        losses = {}
        for name, (discriminator, real, fake) in pairs.items():
            if not self.uses(name):
                continue
            losses[name] = self.discriminator_loss(discriminator, real, fake, self.hparams.gp_weight)
        return losses

    def _patch_rng(self) -> torch.Generator:
        """Patch positions of ``L_patch``: reproducible per (seed, step)."""
        return torch.Generator(device=self.device).manual_seed(int(torch.initial_seed()) + self.global_step)

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        g_opt = self.g_optimizer(self.generator.parameters())
        discriminators = [self.global_discriminator, self.local_discriminator]
        d_opt = self.d_optimizer([p for net in discriminators for p in net.parameters()])
        return [g_opt, d_opt]

    def training_step(self, batch: dict, batch_idx: int) -> None:
        out = self(batch)
        g_opt, d_opt = self.optimizers()
        d_losses = self.discriminator_losses(batch, out)
        if d_losses:
            self.update(d_opt, self.weighted_total(d_losses, "d"), self.hparams.grad_clip)
        self.update(g_opt, self.weighted_total(self.generator_losses(batch, out), "g"), self.hparams.grad_clip)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        """SSIM, Mask-SSIM of the face and of everything but the clothes (seed 003 Table III) and PSNR of
        ``I_t_hat`` against ``I_t``."""
        out = self(batch)
        tryon, target, masks = out["tryon"], batch["tgt_img"], batch["tgt_masks"]
        batch_size = target.shape[0]
        scores = {
            "ssim": (getattr(self, f"{split}_ssim"), ()),
            "mask_ssim_face": (getattr(self, f"{split}_mask_ssim_face"), (masks["face"],)),
            "mask_ssim_non_cloth": (getattr(self, f"{split}_mask_ssim_non_cloth"), (1 - masks["cloth"],)),
            "psnr": (getattr(self, f"{split}_psnr"), ()),
        }
        for name, (metric, extra) in scores.items():
            metric.update(tryon, target, *extra)
            self.log(f"{split}/{name}", metric, batch_size=batch_size)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Inputs | I_r | M | I_t_hat | target, all ``[B, 3, H, W]`` in [0, 1]."""
        return {
            "coarse input": (out["coarse_input"] + 1) / 2,
            "warped cloth": (out["warped_cloth"] + 1) / 2,
            "target pose": pose_to_image(batch["tgt_pose"]),
            "rendered": (out["rendered"] + 1) / 2,
            "mask": out["mask"].expand(-1, 3, -1, -1),
            "try-on": (out["tryon"] + 1) / 2,
            "target": (batch["tgt_img"] + 1) / 2,
        }
