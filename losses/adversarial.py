"""LSGAN losses over (multi-scale) discriminator outputs and the R1 gradient penalty (SPG-VTON, seed 003).

SPG-VTON Sec. IV-C: "Following existing works [29], [50], we adopt LSGAN [51] for all adversarial losses ...,
and a gradient punishment strategy [52] is also used". [52] is Mescheder et al., "Which training methods for
GANs do actually converge?", whose penalty is R1: the squared gradient norm of D on *real* samples (not on
interpolates as in WGAN-GP). Scores are a single map ``[B, 1, h, w]`` or a list of them (one per scale, as
``MultiScaleDiscriminator`` returns); per-scale terms are summed over scales, as pix2pixHD and DG-Net [29] do.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Scores = Tensor | Sequence[Tensor]


def score_maps(scores: Scores) -> list[Tensor]:
    """One score map or a list of them (one per scale) as a non-empty list."""
    scores = [scores] if isinstance(scores, Tensor) else list(scores)
    if not scores:
        raise ValueError("adversarial loss: got an empty list of discriminator outputs")
    return scores


def lsgan_d_loss(real_scores: Scores, fake_scores: Scores) -> Tensor:
    """Discriminator loss ``sum_s 0.5 * (mean((D_s(real) - 1)^2) + mean(D_s(fake)^2))`` (LSGAN, a=0, b=c=1).

    The 0.5 follows the LSGAN paper (Mao et al. 2017, Eq. 2) and pix2pixHD. Pass ``fake_scores`` computed on
    detached fakes.
    """
    real, fake = score_maps(real_scores), score_maps(fake_scores)
    if len(real) != len(fake):
        raise ValueError(f"lsgan_d_loss: {len(real)} real but {len(fake)} fake score maps")
    return sum(0.5 * (((r - 1) ** 2).mean() + (f**2).mean()) for r, f in zip(real, fake, strict=True))


def lsgan_g_loss(fake_scores: Scores) -> Tensor:
    """Generator loss ``sum_s mean((D_s(fake) - 1)^2)`` (LSGAN with target c=1; no 0.5, as in pix2pixHD's G loss)."""
    return sum(((f - 1) ** 2).mean() for f in score_maps(fake_scores))


def gradient_penalty(real_scores: Scores, real_inputs: Tensor, weight: float = 1.0) -> Tensor:
    """R1 penalty on real samples: ``weight * sum_s mean_b ||d(mean_pixels D_s(x_b)) / dx_b||^2`` (seed 003, ref. [52]).

    R1 penalises the gradient of D's score for one sample. A PatchGAN scores a map whose loss is the mean over
    its patches, so the per-sample score is taken as that mean: the penalty then does not grow with the number
    of patches (with the gradient of the *summed* map, as DG-Net [29] computes it, a 3-scale PatchGAN at
    256x192 starts near 200 and swamps the LSGAN terms). Scales are penalised one by one and summed.
    Mescheder's ``gamma / 2`` equals ``weight``; the default 1 (``gamma = 2``) is our choice, SPG-VTON names
    none. The graph is kept (``create_graph=True``) so the penalty trains D.

    Args:
        real_scores: D's output(s) on ``real_inputs``.
        real_inputs: ``[B, ...]`` the tensor D was called on, which must require grad: call
            ``x = real.detach().requires_grad_()`` before ``D(x)``. A discriminator that ignores its input
            has penalty exactly 0.
        weight: the penalty weight.

    Returns:
        scalar tensor.
    """
    if not real_inputs.requires_grad:
        raise ValueError(
            "gradient_penalty: real_inputs must require grad; call x = real.detach().requires_grad_() before D(x)"
        )
    penalty = real_inputs.new_zeros(())
    for scores in score_maps(real_scores):
        if not scores.requires_grad:
            continue  # a constant output has zero gradient with respect to the input
        (grad,) = torch.autograd.grad(
            scores.flatten(1).mean(1).sum(), real_inputs, create_graph=True, retain_graph=True, allow_unused=True
        )
        if grad is not None:
            penalty = penalty + grad.pow(2).flatten(1).sum(1).mean()
    return weight * penalty


def lazy_r1_weight(batch_index: int, interval: int, weight: float) -> float:
    """The R1 weight of training batch ``batch_index`` under lazy regularisation (StyleGAN2, Karras et al. 2020,
    Sec. 3.1 and App. B): the penalty is computed on every ``interval``-th batch only, at ``interval`` times the weight,
    so its expectation over any ``interval`` consecutive batches is ``weight`` (``interval`` 1: every batch, as the
    papers train). StyleGAN2 uses 16. Unlike StyleGAN2 the penalty is added to that batch's D loss (no separate
    optimizer step), so Adam's learning rate and betas need no ``k / (k + 1)`` correction.
    """
    if interval < 1:
        raise ValueError(f"lazy_r1_weight: interval must be >= 1, got {interval}")
    return weight * interval if batch_index % interval == 0 else 0.0
