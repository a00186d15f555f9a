"""The chain: stages 1 -> 2 -> 3 -> 4 for try-on, stage 4 for pose transfer; joint fine-tuning (SPG-VTON's step 3).

Try-on (``task="tryon"``, seed 003 Sec. III-E step 3 and Fig. 2):

1. stage 1 (``LayoutModule``, variant ``spg``): ``S_t_hat``, the coarse image ``I_p`` and ``M_p^C``; G2 reads G1's
   softmax without the cut that stage 1 trains with (``detach_layout`` is set ``False`` here);
2. stage 2 (``WarpModule``, ``cascade`` or ``tps``): the in-shop cloth warped to stage 1's cloth region
   (``WarpModule.cloth_region_from_layout``: G2's soft ``M_p^C`` for tps, the arg-maxed cloth labels with a
   straight-through gradient for cascade);
3. stage 3 (``SynthesisModule``): ``I_t_hat`` from ``I_p``, ``C_w`` and ``P_t``; face / hair regions from the
   predicted parsing, straight-through (``encoding.straight_through_label_mask``: the hard masks forward, the
   gradient of their labels' probabilities backward);
4. stage 4 (``RefineModule`` with ``fusion=True``, optional): warps the source person to ``p_t`` and fuses it with
   ``I_t_hat`` (face, hair, untouched garments); the result is its image (``I_t_hat`` without stage 4).

Pose transfer (``task="pose_transfer"``): stage 4 (``fusion=False``) alone; a stage-1 checkpoint adds the predicted
target parsing to the outputs (evaluated as parsing mIoU; stage 4's networks take no parsing).

Joint fine-tuning is end to end (seed 003 Sec. III-E, step 3): with those relaxations every trainable stage receives
the gradient of every later stage's loss, G1 included (G1 through G2's input, the cloth region and the face / hair
masks; tested per warp variant, with and without stage 4, in ``tests/lightning_modules/test_pipeline.py``).

Joint objective: ``sum_s stage_loss_weights[s] * L_s`` with ``L_s`` each stage's own weighted generator losses
(``loss_weights`` of its checkpoint) on the chain's outputs, logged as ``train/<stage>/<loss>``; every stage's
discriminators are updated with their own losses on the chain's (detached) outputs, in one D optimizer.
``stage_lrs[s] = 0`` freezes stage ``s`` (eval mode, no gradient, its losses and discriminators skipped; gradients
still pass through it to earlier stages). Choices where the papers are silent: stage 4's affine task (seed 002) is a
training aid for its flow and is left out of the chain; seed 004's schedule runs in its final phase (adversarial and
pixel warping on, the whole generator trainable).

Stages load from their checkpoints with strict key matching (``lightning_modules.checkpoints.load_stage``: the error
names the stage and the missing / unexpected keys). The frozen feeders a stage was trained with (stage 3's stage 1
and 2, stage 2's stage 1) are dropped: the chain's own stages replace them. Stage 4's frozen intrinsic-flow regressor
is read back from the stage-2 file its checkpoint records (``lightning_modules.feeders``) and stays frozen, kept by
file in the chain's checkpoints too; the stages themselves are fine-tuned, so their weights are in the chain's.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from contract.errors import ConfigError
from contract.sample import MASK_GROUPS
from datamodules.visualize import parse_to_color, pose_to_image
from lightning_modules.checkpoints import load_stage
from lightning_modules.encoding import straight_through_label_mask
from lightning_modules.layout import LayoutModule, paper_adam
from lightning_modules.refine import RefineModule
from lightning_modules.stage import StageModule, merge_loss_weights
from lightning_modules.synthesis import SynthesisModule
from lightning_modules.warp import WarpModule
from metrics import PSNR, SSIM, MaskSSIM
from metrics.evaluation import METRIC_NAMES, EvaluationSuite, announce, format_table
from models.fast_inference import InferenceOptions, accelerate

TASKS = ("tryon", "pose_transfer")
STAGES = ("layout", "warp", "synthesis", "refine")
STAGE_NAMES = {
    "layout": "stage 1 (layout)",
    "warp": "stage 2 (warp)",
    "synthesis": "stage 3 (synthesis)",
    "refine": "stage 4 (refine)",
}
# Seed 003 Sec. IV-C trains every module with Adam at 2e-4 (also the joint step); stage 4's rate is its config's.
DEFAULT_STAGE_LRS = {"layout": 2e-4, "warp": 2e-4, "synthesis": 2e-4, "refine": 1e-4}


class TryOnPipeline(StageModule):
    """The chained stages as one LightningModule (module docstring).

    Args:
        task: ``"tryon"`` (stages 1-3 [+ 4]) or ``"pose_transfer"`` (stage 4 [+ 1]).
        image_size: ``[H, W]`` (linked from the data config; must match every stage's).
        layout_checkpoint, warp_checkpoint, synthesis_checkpoint, refine_checkpoint: the stages' ``vton fit``
            checkpoints (``None`` leaves a stage out where the task allows it).
        stages: already built stage modules by name (tests, benchmarks); a given module replaces its checkpoint.
        stage_lrs: learning rate per stage (``DEFAULT_STAGE_LRS``; 0 freezes the stage).
        stage_loss_weights: weight of each stage's loss in the joint objective (default 1 each).
        g_optimizer, d_optimizer: optimizer factories over parameter groups (default ``paper_adam``; the G groups
            carry ``stage_lrs``, the D groups the factory's rate).
        test_metrics: the ``vton test`` table (``metrics.evaluation.METRIC_NAMES``; default: those the task has).
        weights_dir: folder of the metrics' pretrained files (LPIPS backbones, Inception); ``None``: the torch
            cache ``$TORCH_HOME/hub/checkpoints``. A metric whose file is absent is reported unavailable and left out.
        fid_reference: folder of real images for FID's reference statistics (``None``: the real test images).
        attribute_top_k: AttrRec-k's k values (seed 004 Table 1: 5 and 20; a k not below the attribute classifier's
            number of attributes is left out with its reason: the synthetic classifier has 11).
        fast_inference: ``vton predict`` through ``models.fast_inference.accelerate``: bf16 autocast, and on a GPU
            channels_last and ``torch.compile`` (no CUDA graphs: the last batch of a list may be smaller).
        grad_clip: gradient-norm clipping of the manual updates (0 = off).
        num_logged_images: samples in the validation image grid.
    """

    stage_name = "the e2e chain"
    checkpoint_arguments = {
        "layout_checkpoint": LayoutModule,
        "warp_checkpoint": WarpModule,
        "synthesis_checkpoint": SynthesisModule,
        "refine_checkpoint": RefineModule,
    }

    def __init__(
        self,
        task: str = "tryon",
        image_size: tuple[int, int] = (256, 192),
        layout_checkpoint: str | None = None,
        warp_checkpoint: str | None = None,
        synthesis_checkpoint: str | None = None,
        refine_checkpoint: str | None = None,
        stages: dict | None = None,
        stage_lrs: dict[str, float] | None = None,
        stage_loss_weights: dict[str, float] | None = None,
        g_optimizer: OptimizerCallable = paper_adam,
        d_optimizer: OptimizerCallable = paper_adam,
        test_metrics: list[str] | None = None,
        weights_dir: str | None = None,
        fid_reference: str | None = None,
        attribute_top_k: tuple[int, ...] = (5, 20),
        fast_inference: bool = False,
        grad_clip: float = 0.0,
        num_logged_images: int = 4,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"TryOnPipeline: task must be one of {TASKS}, got {task!r}")
        self.save_hyperparameters(ignore=["stages"])
        self.automatic_optimization = False
        self.task = task
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.stage_lrs = merge_loss_weights(DEFAULT_STAGE_LRS, stage_lrs, "stage_lrs", "stage")
        self.stage_loss_weights = merge_loss_weights(
            dict.fromkeys(STAGES, 1.0), stage_loss_weights, "stage_loss_weights", "stage"
        )
        self.loss_weights = {}  # the stages keep their own (``weighted_total`` is given them)

        given = dict(stages or {})
        unknown = sorted(set(given) - set(STAGES))
        if unknown:
            raise ConfigError(f"TryOnPipeline: unknown stages {unknown}; expected names from {STAGES}")
        paths = {
            "layout": layout_checkpoint,
            "warp": warp_checkpoint,
            "synthesis": synthesis_checkpoint,
            "refine": refine_checkpoint,
        }
        self.layout: LayoutModule | None = given.get("layout") or self._load("layout", paths["layout"])
        self.warp: WarpModule | None = None
        self.synthesis: SynthesisModule | None = None
        if task == "tryon":
            self.warp = given.get("warp") or self._load("warp", paths["warp"])
            self.synthesis = given.get("synthesis") or self._load("synthesis", paths["synthesis"])
        self.refine: RefineModule | None = given.get("refine") or self._load("refine", paths["refine"])
        self._check_chain(image_size)
        if self.layout is not None:  # end to end: G2 reads G1's softmax with its gradient (module docstring)
            self.layout.hparams.detach_layout = False
        if self.refine is not None:  # seed 004's schedule in its final phase (module docstring)
            self.refine.hparams.pixel_warping_start_epoch = 0
            self.refine.adversarial_start_epoch = 0
        for name in self.active_stages:
            stage = self.stage(name)
            if self.frozen(name):
                stage.requires_grad_(False)
            else:
                self._unfreeze(stage)
            self.pretrained_status |= {f"{name}/{k}": v for k, v in stage.pretrained_status.items()}

        self.val_ssim, self.val_psnr, self.val_mask_ssim_face = SSIM(), PSNR(), MaskSSIM()
        self.test_metric_names = list(test_metrics) if test_metrics is not None else self._default_test_metrics()
        self.evaluation: EvaluationSuite | None = None  # built at test start (not a child: kept out of checkpoints)
        self._fast_forward: Callable[[dict], dict] | None = None  # built at the first predict batch

    # ------------------------------------------------------------------ construction
    def _load(self, name: str, path: str | None) -> StageModule | None:
        """Load stage ``name`` for fine-tuning, without the frozen feeders it was trained with."""
        if path is None:
            return None
        if name == "layout":
            return load_stage(path, LayoutModule, STAGE_NAMES[name], frozen=False)
        if name == "warp":
            return load_stage(
                path, WarpModule, STAGE_NAMES[name], False, {"layout_checkpoint": None}, drop_prefixes=("layout.",)
            )
        if name == "synthesis":
            feeders = {"layout_checkpoint": None, "warp_checkpoint": None, "head_parsing": "ground_truth"}
            return load_stage(
                path, SynthesisModule, STAGE_NAMES[name], False, feeders, drop_prefixes=("layout.", "cloth_warper.")
            )
        with warnings.catch_warnings():  # the regressor's weights are the checkpoint's own flow_regressor.* keys
            warnings.filterwarnings("ignore", message=".*UNTRAINED.*")
            return load_stage(path, RefineModule, STAGE_NAMES[name], False, {"flow_checkpoint": None})

    def _check_chain(self, image_size: tuple[int, int]) -> None:
        """Errors naming the stage for a chain that cannot run (missing stage, wrong variant, size mismatch)."""
        required = ("layout", "warp", "synthesis") if self.task == "tryon" else ("refine",)
        for name in required:
            if self.stage(name) is None:
                raise ConfigError(
                    f"TryOnPipeline ({self.task}): {STAGE_NAMES[name]} is required; set {name}_checkpoint"
                )
        if self.task == "tryon":
            if self.layout.variant != "spg":
                raise ConfigError(f"{STAGE_NAMES['layout']}: the try-on chain needs variant 'spg' (G2's coarse "
                                 f"image feeds stage 3), got {self.layout.variant!r}")  # fmt: skip
            if self.warp.variant == "flow":
                raise ConfigError(f"{STAGE_NAMES['warp']}: the try-on chain needs variant 'cascade' or 'tps'")
        if self.refine is not None and bool(self.refine.hparams.fusion) != (self.task == "tryon"):
            want = "fusion=True (it fuses stage 3's result)" if self.task == "tryon" else "fusion=False"
            raise ConfigError(f"{STAGE_NAMES['refine']}: the {self.task} chain needs a stage 4 trained with {want}")
        for name in self.active_stages:
            size = tuple(int(v) for v in self.stage(name).hparams.image_size)
            if size != tuple(int(v) for v in image_size):
                raise ConfigError(f"{STAGE_NAMES[name]}: trained at image_size {list(size)}, the data gives "
                                 f"{list(image_size)}")  # fmt: skip

    def _default_test_metrics(self) -> list[str]:
        """Every metric of ``METRIC_NAMES`` this chain has the outputs for."""
        names = [name for name in METRIC_NAMES if name not in ("parsing_miou", "warped_ssim")]
        if self.layout is not None:
            names.append("parsing_miou")
        if self.task == "tryon":
            names.append("warped_ssim")
        return names

    @staticmethod
    def _unfreeze(stage: StageModule) -> None:
        """Make a stage trainable again, except the parts that are frozen by design (VGG, frozen regressors)."""
        frozen_by_design = {id(p) for p in stage.parameters() if not p.requires_grad}
        stage.requires_grad_(True)
        for p in stage.parameters():
            if id(p) in frozen_by_design:
                p.requires_grad_(False)

    def stage(self, name: str) -> StageModule | None:
        return getattr(self, name)

    @property
    def active_stages(self) -> list[str]:
        return [name for name in STAGES if self.stage(name) is not None]

    def frozen(self, name: str) -> bool:
        return self.stage_lrs[name] == 0.0

    def train(self, mode: bool = True) -> TryOnPipeline:
        """Train mode for the trainable stages; frozen stages stay in eval mode."""
        super().train(mode)
        for name in self.active_stages:
            if self.frozen(name):
                self.stage(name).eval()
        return self

    # ------------------------------------------------------------------ forward
    def forward(self, batch: dict) -> dict:
        """Per-stage output dicts under the stage names, plus ``result [B, 3, H, W]`` in [-1, 1] and, where the
        chain has them, ``layout_logits [B, 20, H, W]`` and ``warped_cloth [B, 3, H, W]``."""
        out: dict = {}
        if self.layout is not None:
            out["layout"] = self.layout(batch)
            out["layout_logits"] = out["layout"]["layout_logits"]
        if self.task == "tryon":
            layout = out["layout"]
            out["warp"] = self.warp(batch, target_mask=self.warp.cloth_region_from_layout(layout))
            out["warped_cloth"] = out["warp"]["warped_cloth"]
            probs = layout["layout_probs"]
            inputs = {
                "coarse": layout["coarse"],
                "warped_cloth": out["warped_cloth"],
                "face": straight_through_label_mask(probs, MASK_GROUPS["face"]),
                "hair": straight_through_label_mask(probs, MASK_GROUPS["hair"]),
            }
            out["synthesis"] = self.synthesis(batch, inputs)
            out["result"] = out["synthesis"]["tryon"]
        if self.refine is not None:
            refine_batch = {**batch, "tryon": out["result"]} if self.task == "tryon" else batch
            out["refine"] = self.refine(refine_batch)
            out["result"] = out["refine"]["image"]
        return out

    # ------------------------------------------------------------------ losses
    def generator_losses(self, batch: dict, out: dict) -> dict[str, dict[str, Tensor]]:
        """Each trainable stage's unweighted named generator losses on the chain's outputs."""
        losses: dict[str, dict[str, Tensor]] = {}
        for name in self.active_stages:
            if self.frozen(name) or self.stage_loss_weights[name] == 0:
                continue
            stage, stage_out = self.stage(name), out[name]
            if name == "warp":
                losses[name] = stage.losses(batch, stage_out)
            elif name == "refine" and self.task == "tryon":
                losses[name] = stage.generator_losses({**batch, "tryon": out["synthesis"]["tryon"]}, stage_out)
            else:
                losses[name] = stage.generator_losses(batch, stage_out)
        return losses

    def discriminator_losses(self, batch: dict, out: dict) -> dict[str, dict[str, Tensor]]:
        """Each trainable stage's discriminator losses (stage 2 has none; stage 4's only while its GAN is on)."""
        losses: dict[str, dict[str, Tensor]] = {}
        for name in ("layout", "synthesis", "refine"):
            stage = self.stage(name)
            if stage is None or self.frozen(name) or not self._discriminators(name):
                continue
            if name == "refine" and not stage.adversarial_active:
                continue
            if name == "layout" and stage.variant != "spg":
                continue
            losses[name] = stage.discriminator_losses(batch, out[name])
        return losses

    def _discriminators(self, name: str) -> list[nn.Module]:
        stage = self.stage(name)
        return [module for key, module in stage.named_children() if "discriminator" in key]

    # ------------------------------------------------------------------ training
    def configure_optimizers(self):  # noqa: ANN201 (Lightning accepts several return types)
        g_groups, d_groups = [], []
        for name in self.active_stages:
            if self.frozen(name):
                continue
            d_ids = {id(p) for net in self._discriminators(name) for p in net.parameters()}
            g_params = [p for p in self.stage(name).parameters() if p.requires_grad and id(p) not in d_ids]
            if g_params:
                g_groups.append({"params": g_params, "lr": self.stage_lrs[name], "name": name})
            d_params = [p for net in self._discriminators(name) for p in net.parameters() if p.requires_grad]
            if d_params:
                d_groups.append({"params": d_params, "name": name})
        if not g_groups:
            raise ConfigError("TryOnPipeline: every stage is frozen (stage_lrs all 0); nothing to fine-tune")
        optimizers = [self.g_optimizer(g_groups)]
        if d_groups:
            optimizers.append(self.d_optimizer(d_groups))
        return optimizers

    def training_step(self, batch: dict, batch_idx: int) -> None:
        optimizers = self.optimizers()
        g_opt, d_opt = (optimizers[0], optimizers[1]) if isinstance(optimizers, list) else (optimizers, None)
        out = self(batch)
        clip = self.hparams.grad_clip
        if d_opt is not None:
            d_losses = self.discriminator_losses(batch, out)
            if d_losses:
                d_total = sum(
                    self.weighted_total(losses, f"d/{name}", self.stage(name).loss_weights)
                    for name, losses in d_losses.items()
                )
                self.update(d_opt, d_total, clip)
        g_total = sum(
            self.stage_loss_weights[name] * self.weighted_total(losses, name, self.stage(name).loss_weights)
            for name, losses in self.generator_losses(batch, out).items()
        )
        self.log("train/g/total", g_total.detach(), prog_bar=True, batch_size=self._batch_size)
        self.update(g_opt, g_total, clip)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, batch: dict, split: str) -> dict:
        """Validation: SSIM, PSNR and face Mask-SSIM of the result (the full table is ``vton test``'s)."""
        out = self(batch)
        result, target, batch_size = out["result"], batch["tgt_img"], batch["tgt_img"].shape[0]
        for name, metric, extra in (
            ("ssim", self.val_ssim, ()),
            ("psnr", self.val_psnr, ()),
            ("mask_ssim_face", self.val_mask_ssim_face, (batch["tgt_masks"]["face"],)),
        ):
            metric.update(result, target, *extra)
            self.log(f"{split}/{name}", metric, batch_size=batch_size)
        return out

    def on_test_epoch_start(self) -> None:
        if self.evaluation is None:
            self.evaluation = EvaluationSuite(
                self.test_metric_names,
                self.hparams.weights_dir,
                self.hparams.fid_reference,
                attribute_top_k=tuple(self.hparams.attribute_top_k),
            )
        self.evaluation.reset()

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluation.update(self(batch), batch)

    def on_test_epoch_end(self) -> None:
        """Log every available metric as ``test/<name>`` and print the table (rank 0)."""
        results = self.evaluation.compute()  # synced over processes
        for name, value in results.items():
            self.log(f"test/{name}", value, rank_zero_only=True)
        announce(format_table(results, self.evaluation.unavailable))

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        """``{"result": [B, 3, H, W] in [-1, 1] (float32), "meta": ...}``, on the fast path with ``fast_inference``."""
        tensors = {key: value for key, value in batch.items() if key != "meta"}  # strings would recompile per batch
        if not self.hparams.fast_inference:
            return {"result": self(tensors)["result"], "meta": batch.get("meta")}
        if self._fast_forward is None:
            cuda = self.device.type == "cuda"
            options = InferenceOptions(precision="bf16", channels_last=cuda, compile=cuda, cuda_graphs=False)
            self._fast_forward = accelerate(self.forward, options)
        return {"result": self._fast_forward(tensors)["result"].float(), "meta": batch.get("meta")}

    def grid_columns(self, batch: dict, out: dict) -> dict[str, Tensor]:
        """Inputs | intermediate outputs | result | target, all ``[B, 3, H, W]`` in [0, 1]."""
        columns = {
            "source": (batch["src_img"] + 1) / 2,
            "target pose": pose_to_image(batch["tgt_pose"]),
        }
        if self.task == "tryon":
            columns["cloth"] = (batch["cloth"] + 1) / 2
        if "layout_logits" in out:
            columns["predicted parsing"] = parse_to_color(out["layout_logits"].argmax(1))
        if self.task == "tryon":
            columns["coarse"] = (out["layout"]["coarse"] + 1) / 2
            columns["warped cloth"] = (out["warped_cloth"] + 1) / 2
            columns["stage 3"] = (out["synthesis"]["tryon"] + 1) / 2
        columns["result"] = (out["result"] + 1) / 2
        columns["target"] = (batch["tgt_img"] + 1) / 2
        return columns
