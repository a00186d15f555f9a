"""Temporal training over sequential poses (FashionMirror, seed 001, supplementary Appendix A).

``TemporalSynthesisModule`` trains on windows of ``n_frames`` consecutive frames (``datamodules.sequences``):

- **Try-on** (Eq. 5, 13-15): stage 3 (``SynthesisModule``, built here or fine-tuned from ``synthesis_checkpoint``)
  renders every frame of the window on its own; ``L_tryon = L_spatial + L_temporal`` with ``L_spatial`` = stage 3's
  ``generator_losses`` over all frames of the window (Eq. 6-12 for ``variant="fashionmirror"``) and ``L_temporal =
  lambda_corr L_corr + lambda_GAN_t L_GAN_t + lambda_p_t L_patch_t`` (``losses.temporal``): ``D_t``
  (``models.temporal_discriminator``) on the frame stacks (``gan_t``, Eq. 14) and on the same clothing patches cut from
  every frame (``patch_t``, Eq. 15), and the flow consistency ``corr`` between consecutive outputs.
- **Multi-frame co-attention mask network** (optional, ``mask_network``): ``MultiFrameCoAttentionMaskNet``
  (``models.sequence_mask``) predicts ``M_c^{t+1}`` from the ground-truth masks of the ``n_previous`` frames before it,
  the pose ``p^t`` of the last of them and the pose ``p^{t+1}`` (teacher forcing, our choice), trained with Eq. 2-4 on
  ``M_c^{t+1}`` only (``mask_l1``, ``mask_bce``, ``mask_patch``). It lives in this
  module, with its own optimizer and no gradient to or from the try-on networks, so that one pass over the sequence
  data trains both (FashionMirror's stage I and II use the same sequences) and one config covers the temporal work;
  the try-on networks are teacher-forced with the true masks, as stage 3 is, and do not depend on it.

Choices where the paper is silent (see also ``losses.temporal``): every frame of a window is rendered from the
window's first frame as the source person (the same person and garment throughout, so frame ``t`` is the ground truth
of the try-on in pose ``p^t``); the in-shop cloth is the sequence's; all lambdas 1 (the paper gives none); adversaries
are LSGAN + R1 as in the rest of the project. ``L_corr`` and the warping error use the flow from frame ``t+1`` to
frame ``t``: the synthetic sequences' ``flow_gt`` with ``vis_gt != 2`` (the background is static with zero flow;
pixels occluded in frame ``t`` excluded), or, for data without it, the flow of a frozen stage-2 ``flow`` variant
(``flow_checkpoint``, intrinsic-flow regressor on the pose pair ``(p^t, p^{t+1})``) with its predicted visibility
(body pixels only: that regressor predicts no background flow).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.classification import BinaryJaccardIndex

from contract.errors import ConfigError
from datamodules.parsing import cloth_agnostic_image
from lightning_modules.checkpoints import load_stage, own_hyperparameters
from lightning_modules.layout import paper_adam
from lightning_modules.stage import StageModule, merge_loss_weights
from lightning_modules.synthesis import VGG_LOSSES, SynthesisModule
from lightning_modules.warp import WarpModule
from losses.adversarial import lsgan_g_loss
from losses.mask import coattention_mask_terms
from losses.temporal import crop_temporal_patches, flow_consistency_loss, temporal_patches
from metrics import SSIM
from metrics.temporal import WarpingError
from models.sequence_mask import MultiFrameCoAttentionMaskNet
from models.temporal_discriminator import TemporalDiscriminator

GeneratorFactory = Callable[[int, int], nn.Module]  # (in_channels, out_channels) -> network
DiscriminatorFactory = Callable[[int], nn.Module]  # in_channels -> network
MaskNetworkFactory = Callable[[], MultiFrameCoAttentionMaskNet]

# seed 001 Eq. 13 and Eq. 1 (multi-frame CMN): the paper gives no lambdas.
TEMPORAL_LOSS_WEIGHTS = {"gan_t": 1.0, "patch_t": 1.0, "corr": 1.0}
MASK_LOSS_WEIGHTS = {"mask_l1": 1.0, "mask_bce": 1.0, "mask_patch": 1.0}
WINDOW_KEYS = ("img", "pose", "parse", "masks", "cloth", "cloth_mask")


def frame_batch(window: dict, source: int = 0) -> dict:
    """A sequence batch (``[B, T, ...]``, ``SequenceReader.load_window``) as the pair batch of its ``B * T`` frames
    (``[B * T, ...]``, frame-major within a window): target = each frame, source = frame ``source`` of its window,
    ``src_agnostic`` from the source's parsing, the window's cloth for every frame. No ``flow_gt``: the source-to-target
    flow of a pair is not in the data."""
    missing = [key for key in WINDOW_KEYS if key not in window]
    if missing:
        raise KeyError(f"frame_batch: the sequence batch has no {missing}; expected SequenceDataModule batches")
    steps = window["img"].shape[1]

    def frames(x: Tensor) -> Tensor:
        return x.flatten(0, 1)

    def sources(x: Tensor) -> Tensor:
        return x[:, source : source + 1].expand(-1, steps, *x.shape[2:]).flatten(0, 1)

    def per_frame(x: Tensor) -> Tensor:
        return x.unsqueeze(1).expand(-1, steps, *x.shape[1:]).flatten(0, 1)

    pairs = {
        "tgt_img": frames(window["img"]),
        "tgt_pose": frames(window["pose"]),
        "tgt_parse": frames(window["parse"]),
        "tgt_masks": {group: frames(mask) for group, mask in window["masks"].items()},
        "src_img": sources(window["img"]),
        "src_pose": sources(window["pose"]),
        "src_parse": sources(window["parse"]),
        "src_masks": {group: sources(mask) for group, mask in window["masks"].items()},
        "cloth": per_frame(window["cloth"]),
        "cloth_mask": per_frame(window["cloth_mask"]),
    }
    if "kpts" in window:
        pairs["tgt_kpts"], pairs["src_kpts"] = frames(window["kpts"]), sources(window["kpts"])
    pairs["src_agnostic"] = cloth_agnostic_image(pairs["src_img"], pairs["src_parse"])
    return pairs


class TemporalSynthesisModule(StageModule):
    """Temporal fine-tuning of stage 3 and the multi-frame mask network; see the module docstring.

    Args:
        image_size: ``[H, W]`` (linked from the data config).
        n_frames: frames per window ``n`` (Eq. 14's sub-sequence; ours 4); must equal the data's ``n_frames``.
        synthesis_checkpoint: a stage-3 checkpoint to fine-tune (``load_stage(..., frozen=False)``); its networks,
            variant and loss weights are used, and ``variant``, ``generator``, ``discriminator`` are ignored (warning).
        variant, generator, discriminator: stage 3's (``SynthesisModule``) when built here without a checkpoint.
        spatial_loss_weights: overrides of stage 3's loss weights (``L_spatial``).
        temporal_discriminator: factory ``in_channels -> nn.Module`` behind ``D_t`` (``MultiScaleDiscriminator``).
        mask_network: factory ``() -> MultiFrameCoAttentionMaskNet`` of the multi-frame mask network; ``None`` = not
            trained.
        g_optimizer, d_optimizer, mask_optimizer: optimizer factories (default ``paper_adam``) of stage 3's generator,
            of all discriminators (``D_s`` of stage 3 and ``D_t``), and of the mask network.
        loss_weights: overrides of ``TEMPORAL_LOSS_WEIGHTS`` and ``MASK_LOSS_WEIGHTS`` (0 switches a term off).
        gp_weight: R1 penalty weight of ``D_t`` (as stage 3's).
        num_patches, patch_size: the clothing patches of Eq. 15 and Eq. 4 (three 64x64, seed 001 Eq. 4).
        flow_checkpoint: a stage-2 ``flow`` checkpoint estimating the frame-to-frame flow for data without ``flow_gt``.
        vgg_weights_path, require_pretrained_vgg: stage 3's VGG19 when built here.
        grad_clip: gradient-norm clipping of the manual updates (0 = off).
        num_logged_images: windows in the validation grid.
    """

    stage_name = "the temporal stage (sequences)"
    checkpoint_arguments = {"synthesis_checkpoint": SynthesisModule, "flow_checkpoint": WarpModule}

    def __init__(
        self,
        image_size: tuple[int, int] = (256, 192),
        n_frames: int = 4,
        synthesis_checkpoint: str | None = None,
        variant: str = "fashionmirror",
        generator: GeneratorFactory | None = None,
        discriminator: DiscriminatorFactory | None = None,
        spatial_loss_weights: dict[str, float] | None = None,
        temporal_discriminator: DiscriminatorFactory | None = None,
        mask_network: MaskNetworkFactory | None = None,
        g_optimizer: OptimizerCallable = paper_adam,
        d_optimizer: OptimizerCallable = paper_adam,
        mask_optimizer: OptimizerCallable = paper_adam,
        loss_weights: dict[str, float] | None = None,
        gp_weight: float = 1.0,
        num_patches: int = 3,
        patch_size: int = 64,
        flow_checkpoint: str | None = None,
        vgg_weights_path: str | None = None,
        require_pretrained_vgg: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 2,
    ) -> None:
        super().__init__()
        if n_frames < 2:
            raise ConfigError(f"TemporalSynthesisModule: n_frames must be >= 2, got {n_frames}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.g_optimizer, self.d_optimizer, self.mask_optimizer = g_optimizer, d_optimizer, mask_optimizer
        self.synthesis = self._build_synthesis(
            image_size, variant, generator, discriminator, spatial_loss_weights, vgg_weights_path,
            require_pretrained_vgg,
        )  # fmt: skip
        self.pretrained_status.update(self.synthesis.pretrained_status)
        self.temporal_discriminator = TemporalDiscriminator(3, n_frames, temporal_discriminator)
        self.mask_net = mask_network() if mask_network is not None else None
        defaults = TEMPORAL_LOSS_WEIGHTS | (MASK_LOSS_WEIGHTS if self.mask_net is not None else {})
        own = merge_loss_weights(defaults, loss_weights)
        self.loss_weights = self.synthesis.loss_weights | own  # one table for logging and ``uses``
        self.flow_estimator: WarpModule | None = None
        if flow_checkpoint is not None:
            self.flow_estimator = load_stage(flow_checkpoint, WarpModule, "stage 2 (flow)")
            self.record_feeder("flow_estimator", flow_checkpoint)
            if self.flow_estimator.variant != "flow":
                raise ConfigError(
                    f"stage 2 (flow): checkpoint {flow_checkpoint!r} is variant {self.flow_estimator.variant!r}; "
                    "the frame-to-frame flow needs variant 'flow'"
                )

        for split in ("val", "test"):
            setattr(self, f"{split}_ssim", SSIM())
            setattr(self, f"{split}_warping_error", WarpingError())
            setattr(self, f"{split}_warping_error_real", WarpingError())
            if self.mask_net is not None:
                setattr(self, f"{split}_mask_iou", BinaryJaccardIndex())

    def _build_synthesis(
        self,
        image_size: tuple[int, int],
        variant: str,
        generator: GeneratorFactory | None,
        discriminator: DiscriminatorFactory | None,
        spatial_loss_weights: dict[str, float] | None,
        vgg_weights_path: str | None,
        require_pretrained_vgg: bool,
    ) -> SynthesisModule:
        """Stage 3 from ``synthesis_checkpoint`` (trainable, its loss weights updated by ``spatial_loss_weights``) or
        built from the arguments."""
        path = self.hparams.synthesis_checkpoint
        if path is not None:
            if generator is not None or discriminator is not None:
                warnings.warn(
                    f"TemporalSynthesisModule: generator / discriminator are ignored: stage 3's networks come from "
                    f"synthesis_checkpoint {path!r}",
                    UserWarning,
                    stacklevel=3,
                )
            synthesis = load_stage(path, SynthesisModule, "stage 3 (synthesis)", frozen=False)
            synthesis.loss_weights = merge_loss_weights(synthesis.loss_weights, spatial_loss_weights)
            lacking = [name for name in VGG_LOSSES if synthesis.uses(name) and not hasattr(synthesis, "vgg")]
            lacking += ["id"] if synthesis.uses("id") and synthesis.face_embedder is None else []
            if lacking:
                raise ConfigError(
                    f"TemporalSynthesisModule: spatial_loss_weights switch on {lacking}, which need a network that "
                    f"stage-3 checkpoint {path!r} was built without; train stage 3 with them or leave them off"
                )
        else:
            with own_hyperparameters():
                synthesis = SynthesisModule(
                    variant=variant, image_size=image_size, generator=generator, discriminator=discriminator,
                    loss_weights=spatial_loss_weights, num_patches=self.hparams.num_patches,
                    patch_size=self.hparams.patch_size, vgg_weights_path=vgg_weights_path,
                    require_pretrained_vgg=require_pretrained_vgg,
                )  # fmt: skip
        if synthesis.cloth_warper is None and synthesis.hparams.cloth_source == "flow_gt":
            raise ConfigError(
                "TemporalSynthesisModule: stage 3 uses cloth_source='flow_gt' (source -> target flow), which sequence "
                "windows do not have; use a stage 3 with cloth_source='target' or a warp_checkpoint"
            )
        return synthesis

    # ------------------------------------------------------------------ inputs
    def check_window(self, batch: dict) -> tuple[int, int]:
        """``(B, T)`` of a sequence batch; ``T`` must be ``n_frames``."""
        if "img" not in batch or batch["img"].dim() != 5:
            raise KeyError("TemporalSynthesisModule: expected a SequenceDataModule batch with 'img' [B, T, 3, H, W]")
        batch_size, steps = batch["img"].shape[:2]
        if steps != self.hparams.n_frames:
            raise ConfigError(
                f"TemporalSynthesisModule: windows of {steps} frames, but model n_frames={self.hparams.n_frames}; set "
                "data.n_frames and model.init_args.n_frames alike"
            )
        return batch_size, steps

    def frame_flows(self, batch: dict) -> tuple[Tensor, Tensor]:
        """Flow from frame ``t+1`` to frame ``t`` ``[B, T-1, 2, H, W]`` and its valid pixels ``[B, T-1, H, W]`` (bool):
        the synthetic ``flow_gt`` with ``vis_gt != 2``, else the frozen stage-2 flow regressor (module docstring)."""
        if "flow_gt" in batch:
            return batch["flow_gt"], batch["vis_gt"] != 2
        if self.flow_estimator is None:
            raise KeyError(
                "TemporalSynthesisModule: the sequence batch has no 'flow_gt' (not synthetic data); give a stage-2 "
                "flow checkpoint as model.init_args.flow_checkpoint or set loss_weights {corr: 0}"
            )
        poses = batch["pose"]
        with torch.no_grad():
            out = self.flow_estimator.flow_regressor(poses[:, :-1].flatten(0, 1), poses[:, 1:].flatten(0, 1))
        shape = (*poses.shape[:2], *poses.shape[-2:])
        flow = out.flow.view(shape[0], shape[1] - 1, 2, *shape[2:])
        return flow, (out.vis_logits.argmax(1) == 1).view(shape[0], shape[1] - 1, *shape[2:])

    def forward(self, batch: dict) -> dict[str, Tensor]:
        """Stage 3 on every frame: its outputs flattened ``[B * T, ...]`` plus ``frames`` ``[B, T, 3, H, W]`` (the
        try-on results in time order)."""
        batch_size, steps = self.check_window(batch)
        out = self.synthesis(frame_batch(batch))
        out["frames"] = out["tryon"].view(batch_size, steps, *out["tryon"].shape[1:])
        return out

    def train(self, mode: bool = True) -> TemporalSynthesisModule:
        """Train mode for the trainable networks; the frozen flow estimator stays in eval mode."""
        super().train(mode)  # stage 3's own train() keeps its frozen inputs in eval mode
        if self.flow_estimator is not None:
            self.flow_estimator.eval()
        return self

    # ------------------------------------------------------------------ losses
    def _patch_rng(self) -> torch.Generator:
        """Patch positions of Eq. 15 / Eq. 4: reproducible per (seed, step)."""
        return torch.Generator(device=self.device).manual_seed(int(torch.initial_seed()) + 7919 + self.global_step)

    def temporal_pairs(self, batch: dict, fake: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """``D_t``'s (real, fake) stacks of the active adversarial terms: ``gan_t`` whole frames (Eq. 14), ``patch_t``
        the clothing patches (Eq. 15, ``[N, T, 3, h, w]``; absent when no window has clothing)."""
        real = batch["img"]
        pairs = {}
        if self.uses("gan_t"):
            pairs["gan_t"] = (real, fake)
        if self.uses("patch_t"):
            cloth = batch["masks"]["cloth"]
            patches = temporal_patches(cloth, self._patch_rng(), self.hparams.num_patches, self.hparams.patch_size)
            if patches.valid.any():
                pairs["patch_t"] = tuple(crop_temporal_patches(x, cloth, patches) for x in (real, fake))
        return pairs

    def generator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``L_tryon = L_spatial + L_temporal`` (Eq. 5) as unweighted named terms: stage 3's over all frames, then
        ``gan_t``, ``patch_t``, ``corr``."""
        pairs = frame_batch(batch)
        losses = self.synthesis.generator_losses(pairs, out)
        for name, (_, fake) in self.temporal_pairs(batch, out["frames"]).items():
            losses[name] = lsgan_g_loss(self.temporal_discriminator(fake))
        if self.uses("corr"):
            flows, valid = self.frame_flows(batch)
            losses["corr"] = flow_consistency_loss(out["frames"], flows, valid)
        return losses

    def discriminator_losses(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Stage 3's ``D_s`` losses on all frames and ``D_t``'s LSGAN + R1 losses on the stacks."""
        losses = self.synthesis.discriminator_losses(frame_batch(batch), out)
        for name, (real, fake) in self.temporal_pairs(batch, out["frames"].detach()).items():
            losses[name] = self.discriminator_loss(self.temporal_discriminator, real, fake, self.hparams.gp_weight)
        return losses

    def mask_predictions(self, batch: dict, teacher_forced: bool) -> tuple[Tensor, Tensor]:
        """Predicted ``M_c^{t+1}`` for frames ``n_previous .. T-1`` ``[B, T - n_previous, 1, H, W]`` and their true
        masks: from the true previous masks (``teacher_forced``) or rolled out from the true first ones."""
        masks, poses, k = batch["masks"]["cloth"], batch["pose"], self.mask_net.n_previous
        if masks.shape[1] <= k:
            raise ValueError(f"mask network: windows of {masks.shape[1]} frames, needs more than n_previous={k}")
        if not teacher_forced:
            return self.mask_net.rollout(masks[:, :k], poses), masks[:, k:]
        steps = masks.shape[1] - k
        previous = torch.stack([masks[:, t : t + k] for t in range(steps)], 1).flatten(0, 1)  # [B * steps, k, 1, H, W]
        pred = self.mask_net(previous, poses[:, k - 1 : -1].flatten(0, 1), poses[:, k:].flatten(0, 1))
        return pred.view(-1, steps, *pred.shape[1:]), masks[:, k:]

    def mask_losses(self, batch: dict) -> dict[str, Tensor]:
        """Eq. 2-4 on ``M_c^{t+1}`` only (the multi-frame CMN, seed 001): ``mask_l1``, ``mask_bce``, ``mask_patch``."""
        pred, target = self.mask_predictions(batch, teacher_forced=True)
        terms = coattention_mask_terms(
            pred.flatten(0, 1), target.flatten(0, 1), self._patch_rng(), None, self.hparams.num_patches,
            self.hparams.patch_size,
        )  # fmt: skip
        names = {"mask_l1": terms.l1, "mask_bce": terms.bce, "mask_patch": terms.patch}
        return {name: value for name, value in names.items() if self.uses(name)}

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        synthesis = self.synthesis
        g_opt = self.g_optimizer(synthesis.generator.parameters())
        discriminators = [synthesis.global_discriminator, synthesis.local_discriminator, self.temporal_discriminator]
        d_opt = self.d_optimizer([p for net in discriminators for p in net.parameters()])
        if self.mask_net is None:
            return [g_opt, d_opt]
        return [g_opt, d_opt, self.mask_optimizer(self.mask_net.parameters())]

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        self._current_batch_size = int(batch["img"].shape[0])

    def training_step(self, batch: dict, batch_idx: int) -> None:
        out = self(batch)
        g_opt, d_opt, *mask_opt = self.optimizers()
        d_losses = self.discriminator_losses(batch, out)
        if d_losses:
            self.update(d_opt, self.weighted_total(d_losses, "d"), self.hparams.grad_clip)
        self.update(g_opt, self.weighted_total(self.generator_losses(batch, out), "g"), self.hparams.grad_clip)
        if mask_opt:
            self.update(mask_opt[0], self.weighted_total(self.mask_losses(batch), "mask"), self.hparams.grad_clip)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict[str, Tensor]:
        """Per-frame SSIM of the try-on against the true frames, the warping error of the outputs and of the true
        frames (its floor) along the frame-to-frame flow (``metrics.temporal``), and the IoU of the mask network's
        rollout from the true first masks."""
        out = self(batch)
        frames, real = out["frames"], batch["img"]
        batch_size = real.shape[0]
        ssim = getattr(self, f"{split}_ssim")
        ssim.update(frames.flatten(0, 1), real.flatten(0, 1))
        self.log(f"{split}/ssim", ssim, batch_size=batch_size)
        if "flow_gt" in batch or self.flow_estimator is not None:
            flows, valid = self.frame_flows(batch)
            for name, video in (("warping_error", frames), ("warping_error_real", real)):
                metric = getattr(self, f"{split}_{name}")
                metric.update(video, flows, valid)
                self.log(f"{split}/{name}", metric, batch_size=batch_size)
        if self.mask_net is not None:
            pred, target = self.mask_predictions(batch, teacher_forced=False)
            iou = getattr(self, f"{split}_mask_iou")
            iou.update((pred > 0.5).long().flatten(), (target > 0.5).long().flatten())
            self.log(f"{split}/mask_iou", iou, batch_size=batch_size)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def grid_columns(self, batch: dict, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per window: the try-on of every frame, then the true frames (``[B, 3, H, W]`` in [0, 1] each)."""
        columns = {f"try-on t{t}": (frame + 1) / 2 for t, frame in enumerate(out["frames"].unbind(1))}
        columns |= {f"true t{t}": (frame + 1) / 2 for t, frame in enumerate(batch["img"].unbind(1))}
        return columns
