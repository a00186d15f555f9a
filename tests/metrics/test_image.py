"""Image metrics (``metrics/image.py``): scikit-image agreement, hand-computed values, exact accumulation."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from metrics.image import L1, PSNR, SSIM, MaskSSIM, gaussian_window


def random_images(batch: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two batches in [-1, 1]; the second is the first plus noise of a different strength per image."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(batch, 3, 32, 24, generator=g) * 2 - 1
    noise = torch.randn(batch, 3, 32, 24, generator=g) * torch.linspace(0.05, 0.6, batch).view(-1, 1, 1, 1)
    return (target + noise).clamp(-1, 1), target


def smooth(images: torch.Tensor) -> torch.Tensor:
    """Low-pass images (bilinear upsampling of a coarse grid), still in [-1, 1]."""
    coarse = F.avg_pool2d(images, 8)
    return F.interpolate(coarse, size=images.shape[-2:], mode="bilinear", align_corners=False)


def skimage_ssim(preds: torch.Tensor, target: torch.Tensor, data_range: float) -> np.ndarray:
    return np.array([
        structural_similarity(
            p.double().numpy(), t.double().numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=data_range, channel_axis=0,
        )
        for p, t in zip(preds, target, strict=True)
    ])  # fmt: skip


@pytest.mark.parametrize("kind", ["random", "smooth"])
def test_ssim_agrees_with_scikit_image(kind: str) -> None:
    preds, target = random_images()
    if kind == "smooth":
        preds, target = smooth(preds), smooth(target)
    metric = SSIM()
    metric.update(preds, target)
    expected = skimage_ssim((preds + 1) / 2, (target + 1) / 2, data_range=1.0)
    assert abs(metric.compute().item() - expected.mean()) < 1e-3
    assert expected.std() > 0.02  # the images differ in quality, so a wrong per-image weighting would show
    # Same on 8-bit data with data_range=(0, 255).
    preds8, target8 = ((preds + 1) * 127.5).round(), ((target + 1) * 127.5).round()
    metric8 = SSIM(data_range=(0.0, 255.0))
    metric8.update(preds8, target8)
    assert abs(metric8.compute().item() - skimage_ssim(preds8, target8, data_range=255.0).mean()) < 1e-3


def test_ssim_of_constant_images_by_hand() -> None:
    # Constant images: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) with a, b on the [0, 1] scale.
    a, b, c1 = 0.25, 0.75, 0.01**2
    metric = SSIM()
    metric.update(torch.full((1, 3, 16, 16), 2 * a - 1), torch.full((1, 3, 16, 16), 2 * b - 1))
    assert metric.compute().item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-6)
    same = SSIM()
    same.update(*[random_images()[1]] * 2)
    assert same.compute().item() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_window_is_normalised_and_symmetric() -> None:
    window = gaussian_window(11, 1.5)
    assert window.sum().item() == pytest.approx(1.0)
    assert torch.equal(window, window.flip(0)) and window.argmax() == 5
    assert (window[5] / window[6]).item() == pytest.approx(np.exp(1 / (2 * 1.5**2)))


def test_psnr_and_l1_by_hand() -> None:
    target = torch.zeros(2, 3, 16, 16)
    preds = target + 0.2  # 0.1 on the [0, 1] scale everywhere
    psnr, l1 = PSNR(), L1()
    psnr.update(preds, target)
    l1.update(preds, target)
    assert psnr.compute().item() == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.01)
    assert l1.compute().item() == pytest.approx(25.5, abs=1e-4)  # 0.1 * 255 grey levels
    unit = L1(scale=1.0)
    unit.update(preds, target)
    assert unit.compute().item() == pytest.approx(0.1, abs=1e-6)
    # Inputs are clamped to data_range: an overshoot to 1.4 scores as 1.0.
    clamped = PSNR()
    clamped.update(torch.full((1, 3, 16, 16), 1.4), torch.full((1, 3, 16, 16), 0.8))
    assert clamped.compute().item() == pytest.approx(20.0, abs=1e-4)


def test_psnr_agrees_with_scikit_image_per_image_mean() -> None:
    preds, target = random_images()
    metric = PSNR()
    metric.update(preds, target)
    expected = np.mean([
        peak_signal_noise_ratio(t.double().numpy(), p.double().numpy(), data_range=1.0)
        for p, t in zip((preds + 1) / 2, (target + 1) / 2, strict=True)
    ])  # fmt: skip
    assert metric.compute().item() == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("make", [SSIM, PSNR, L1, MaskSSIM])
def test_partial_last_batch_counts_each_image_once(make) -> None:
    preds, target = random_images()
    mask = torch.zeros(4, 1, 32, 24)
    mask[..., 4:28, 4:20] = 1
    extra = (mask,) if make is MaskSSIM else ()
    whole, split, other_rank = make(), make(), make()
    whole.update(preds, target, *extra)
    split.update(preds[:3], target[:3], *(e[:3] for e in extra))
    batch_means = [split.compute().item()]
    split.update(preds[3:], target[3:], *(e[3:] for e in extra))
    torch.testing.assert_close(split.compute(), whole.compute())
    # Per image, not per batch: the mean of the two batch means differs.
    last = make()
    last.update(preds[3:], target[3:], *(e[3:] for e in extra))
    batch_means.append(last.compute().item())
    assert abs(np.mean(batch_means) - whole.compute().item()) > 1e-3
    # States reduce by sum, as DDP sync does: rank A saw 3 images, rank B the partial last one.
    other_rank.update(preds[:3], target[:3], *(e[:3] for e in extra))
    other_rank.merge_state(last)
    torch.testing.assert_close(other_rank.compute(), whole.compute())


def test_mask_ssim_ignores_everything_outside_the_mask() -> None:
    preds, target = random_images()
    mask = torch.zeros(4, 32, 24)
    mask[:, 8:24, 6:18] = 1
    reference = MaskSSIM()
    reference.update(preds, target, mask)
    scrambled = torch.where(mask.bool()[:, None], preds, torch.rand_like(preds) * 2 - 1)
    changed_outside = MaskSSIM()
    changed_outside.update(scrambled, target, mask)
    torch.testing.assert_close(changed_outside.compute(), reference.compute())
    # Inside counts: perfect inside -> 1; with an all-ones mask it is plain SSIM.
    perfect_inside = MaskSSIM()
    perfect_inside.update(torch.where(mask.bool()[:, None], target, preds), target, mask[:, None])
    assert perfect_inside.compute().item() == pytest.approx(1.0, abs=1e-6)
    full, plain = MaskSSIM(), SSIM()
    full.update(preds, target, torch.ones(4, 32, 24))
    plain.update(preds, target)
    torch.testing.assert_close(full.compute(), plain.compute())
    # By definition (PG2): SSIM of both images with the outside set to black.
    unit_p, unit_t = (preds + 1) / 2 * mask[:, None], (target + 1) / 2 * mask[:, None]
    assert reference.compute().item() == pytest.approx(skimage_ssim(unit_p, unit_t, 1.0).mean(), abs=1e-3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SSIM().update(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 12)), "one shape"),
        (lambda: PSNR().update(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16)), "[B, C, H, W]"),
        (lambda: L1().update(torch.zeros(1, 3, 4, 4, dtype=torch.long), torch.zeros(1, 3, 4, 4)), "float images"),
        (lambda: SSIM().update(torch.zeros(1, 3, 8, 16), torch.zeros(1, 3, 8, 16)), "at least 11x11"),
        (
            lambda: MaskSSIM().update(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16)),
            "mask must be",
        ),
        (
            lambda: MaskSSIM().update(
                torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), torch.full((1, 16, 16), 2.0)
            ),
            "mask values must lie in [0, 1]",
        ),
        (lambda: SSIM(data_range=(1.0, -1.0)), "high > low"),
    ],
)
def test_bad_input_raises(call, message: str) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def _ddp_worker(rank: int, port: int, results) -> None:
    torch.set_num_threads(1)  # a forked child must not re-enter the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    preds, target = random_images()
    shard = slice(0, 3) if rank == 0 else slice(3, 4)  # uneven: rank 1 holds the partial last batch
    metrics = {"ssim": SSIM(), "psnr": PSNR(), "l1": L1()}
    for metric in metrics.values():
        metric.update(preds[shard], target[shard])
    results.put((rank, {name: metric.compute().item() for name, metric in metrics.items()}))
    dist.destroy_process_group()


def test_ddp_sync_over_two_processes_equals_one_process() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = mp.get_context("fork")
    results = context.SimpleQueue()
    mp.start_processes(_ddp_worker, args=(port, results), nprocs=2, join=True, start_method="fork")
    synced = dict(results.get() for _ in range(2))
    preds, target = random_images()
    for name, metric in {"ssim": SSIM(), "psnr": PSNR(), "l1": L1()}.items():
        metric.update(preds, target)
        for rank in (0, 1):
            assert synced[rank][name] == pytest.approx(metric.compute().item(), abs=1e-5)


def test_down_up_keeps_smooth_images_and_removes_fine_detail() -> None:
    from metrics.image import down_up

    constant = torch.full((1, 3, 64, 48), 0.3)
    torch.testing.assert_close(down_up(constant), constant)  # nothing to lose at the 32 scale
    stripes = torch.zeros(1, 1, 64, 48)
    stripes[..., ::2, :] = 1.0  # one-pixel stripes vanish at height 32: only their mean survives
    inner = (..., slice(4, -4), slice(None))  # the anti-aliasing filter is truncated at the top and bottom rows
    torch.testing.assert_close(down_up(stripes)[inner], torch.full_like(stripes, 0.5)[inner], atol=1e-5, rtol=0)
