"""Seed 002's warping module W: pose pair -> flow (Sec. 3.1.1, Appendix A)."""

from __future__ import annotations

import pytest
import torch

from contract.flow import warp
from datamodules.pose import KeypointMapEncoder
from losses.affine import AffineRanges, affine_flow, affine_loss, affine_pose_pair
from models.pose_encoder import PoseEncoder
from models.single_transform import SingleTransform, positions_to_flow

# A standing person at 64x48 (COCO-18 x, y): nose, neck, arms, hips, legs, eyes, ears.
SKELETON = torch.tensor(
    [
        [24, 10], [24, 16], [18, 17], [15, 25], [14, 33], [30, 17], [33, 25], [34, 33], [20, 33],
        [20, 43], [20, 53], [28, 33], [28, 43], [28, 53], [23, 9], [25, 9], [21, 10], [27, 10],
    ],
    dtype=torch.float32,
)  # fmt: skip


def skeleton_maps(count: int, seed: int) -> torch.Tensor:
    """``count`` jittered skeletons as Gaussian keypoint maps ``[count, 18, 64, 48]``."""
    generator = torch.Generator().manual_seed(seed)
    encode = KeypointMapEncoder("gaussian", sigma=3.0)
    maps = []
    for _ in range(count):
        joints = SKELETON + 2.0 * torch.randn(18, 2, generator=generator)
        maps.append(encode(torch.cat([joints, torch.ones(18, 1)], 1), (64, 48)))
    return torch.stack(maps)


def test_positions_map_to_pixel_offsets() -> None:
    h, w = 3, 5
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    identity = torch.stack([xs, ys]).unsqueeze(0)
    torch.testing.assert_close(positions_to_flow(identity), torch.zeros(1, 2, h, w))
    shifted = identity + torch.tensor([2 / (w - 1), -2 / (h - 1)]).view(1, 2, 1, 1)  # one pixel right and up
    torch.testing.assert_close(
        positions_to_flow(shifted), torch.tensor([1.0, -1.0]).view(1, 2, 1, 1).expand(1, 2, h, w)
    )


def test_correlation_is_filtered_and_normalised_per_target() -> None:
    torch.manual_seed(0)
    module = SingleTransform((64, 48), PoseEncoder(width=8, num_layers=4), head_widths=(8, 2))
    assert module.feature_size == (16, 12) and module.flow_head.in_channels == 192
    poses = skeleton_maps(2, seed=0)
    q = module.filtered_correlation(poses, poses.flip(0))
    assert q.shape == (2, 192, 16, 12)
    torch.testing.assert_close(q.norm(dim=1), torch.ones(2, 16, 12))  # Eq. 2
    assert module(poses, poses).shape == (2, 2, 64, 48)  # upsampled to the image size


def test_paper_sizes_give_the_4096_channel_correlation() -> None:
    assert SingleTransform((256, 256)).flow_head.in_channels == 4096  # 64 x 64 features
    assert SingleTransform((256, 176)).flow_head.in_channels == 2816  # 64 x 44 at DeepFashion's size


def test_wrong_pose_size_is_named() -> None:
    module = SingleTransform((64, 48), PoseEncoder(width=4, num_layers=3), head_widths=(2,))
    with pytest.raises(ValueError, match=r"built for \(64, 48\): src_pose is \(1, 18, 32, 48\)"):
        module(torch.zeros(1, 18, 32, 48), torch.zeros(1, 18, 64, 48))
    with pytest.raises(ValueError, match=r"image_size \(62, 48\) is not divisible by 4"):
        SingleTransform((62, 48))


def test_affine_task_training_recovers_a_pure_translation() -> None:
    """After a few affine-task steps (task (1), L_aff), a translated pose pair yields a flow close to it."""
    torch.manual_seed(0)
    module = SingleTransform((64, 48), PoseEncoder(width=16, num_layers=5), head_widths=(16, 2))
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    poses = skeleton_maps(4, seed=1)
    rng = torch.Generator().manual_seed(0)
    ranges = AffineRanges(rotation_deg=0.0, scale=(1.0, 1.0), shear=0.0, translate=0.15)
    for _ in range(100):
        shifted, target_flow = affine_pose_pair(poses, rng, ranges)
        loss = affine_loss(module(shifted, poses), target_flow)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    module.eval()
    test_poses = skeleton_maps(4, seed=2)  # unseen jitter
    translation = torch.tensor([[1.0, 0.0, 8.0], [0.0, 1.0, -6.0]]).expand(4, 2, 3)  # p_st(q) = p_t(q + (8, -6))
    with torch.no_grad():
        flow = module(warp(test_poses, affine_flow(translation, (64, 48))), test_poses)
    expected = torch.tensor([-8.0, 6.0]).view(1, 2, 1, 1)  # s_f = T^-1(p) - p
    body = (test_poses.amax(1, keepdim=True) > 0.1).float()  # where the poses say anything
    epe = ((flow - expected).norm(dim=1, keepdim=True) * body).sum() / body.sum()
    zero_flow_epe = 10.0  # |(-8, 6)|
    print(f"translation end-point error {epe:.2f} px (zero flow: {zero_flow_epe})")
    assert epe < 0.3 * zero_flow_epe, f"end-point error {epe:.2f} px for a 10 px translation"


def test_size_multiple_of_the_default_pose_encoder_is_what_the_constructor_takes() -> None:
    multiple = SingleTransform.size_multiple({"pose_encoder": None})
    assert multiple == 2 ** PoseEncoder().n_down == 4
    assert SingleTransform.size_multiple({"pose_encoder": {"class_path": "models.pose_encoder.PoseEncoder"}}) == 1
    with pytest.raises(ValueError, match="not divisible by 4"):
        SingleTransform((4 * multiple + 2, 4 * multiple))
