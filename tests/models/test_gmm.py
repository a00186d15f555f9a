"""The geometric matching module (``models/gmm.py``): correlation by hand, rest = identity, shapes checked."""

import pytest
import torch

from models.gmm import FeatureExtraction, GeometricMatchingModule, correlation, l2_normalize
from models.tps import regular_grid, tps_warp


def test_correlation_matches_the_hand_computed_dot_products() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(2, 3, 2, 3), torch.randn(2, 3, 2, 3)  # h = 2, w = 3
    out = correlation(a, b)
    assert out.shape == (2, 6, 2, 3)
    for n in range(2):
        for x in range(3):
            for y in range(2):
                k = x * 2 + y  # CP-VTON enumerates a's positions column-major
                for i in range(2):
                    for j in range(3):
                        expected = (a[n, :, y, x] * b[n, :, i, j]).sum()
                        torch.testing.assert_close(out[n, k, i, j], expected)
    with pytest.raises(ValueError, match=r"correlation: feature maps differ, \(1, 3, 2, 3\) vs \(1, 3, 2, 2\)"):
        correlation(a[:1], b[:1, :, :, :2])


def test_l2_normalize_gives_unit_feature_vectors() -> None:
    features = torch.randn(2, 5, 4, 3) * 7
    torch.testing.assert_close(l2_normalize(features).norm(dim=1), torch.ones(2, 4, 3), atol=1e-5, rtol=0)


def test_feature_extraction_halves_per_downsampling_and_ends_at_max_width() -> None:
    out = FeatureExtraction(1, base_width=4, max_width=16, num_downsamples=3)(torch.zeros(2, 1, 64, 48))
    assert out.shape == (2, 16, 8, 6)


def small_gmm() -> GeometricMatchingModule:
    return GeometricMatchingModule(1, 1, (64, 48), base_width=4, max_width=16, num_downsamples=2)


def test_gmm_with_a_zero_regressor_returns_the_grid_at_rest_and_warps_to_identity() -> None:
    torch.manual_seed(0)
    gmm = small_gmm()
    for parameter in gmm.parameters():  # random weights everywhere ...
        parameter.data.normal_(0, 0.2)
    torch.nn.init.zeros_(gmm.regression.linear.weight)  # ... but a zero last layer
    torch.nn.init.zeros_(gmm.regression.linear.bias)
    mask_a, mask_b = (torch.rand(2, 1, 64, 48) > 0.5).float(), (torch.rand(2, 1, 64, 48) > 0.5).float()
    points = gmm(mask_a, mask_b)
    torch.testing.assert_close(points, regular_grid(5).expand(2, -1, -1))
    torch.testing.assert_close(tps_warp(mask_b, points, gmm.target_points.expand(2, -1, -1)), mask_b, atol=1e-4, rtol=0)


def test_an_untrained_gmm_is_the_identity() -> None:
    points = small_gmm()(torch.rand(2, 1, 64, 48), torch.rand(2, 1, 64, 48))
    torch.testing.assert_close(points, regular_grid(5).expand(2, -1, -1))


def test_gmm_offsets_are_bounded_by_tanh_and_depend_on_both_inputs() -> None:
    torch.manual_seed(0)
    gmm = small_gmm().eval()
    gmm.regression.linear.weight.data.normal_(0, 1.0)
    a, b = torch.rand(2, 1, 64, 48), torch.rand(2, 1, 64, 48)
    points = gmm(a, b)
    offsets = points - regular_grid(5)
    assert offsets.abs().max() < 1
    assert not torch.allclose(gmm(a, b.flip(-1)), points)
    assert not torch.allclose(gmm(a.flip(-1), b), points)
    # the two extractors do not share weights
    assert gmm.extract_a[0].weight.data_ptr() != gmm.extract_b[0].weight.data_ptr()


def test_too_small_inputs_for_the_regressor_are_an_error() -> None:
    with pytest.raises(ValueError, match=r"a \(4, 3\) correlation is too small"):
        GeometricMatchingModule(1, 1, (64, 48), num_downsamples=4)


@pytest.mark.parametrize("num_downsamples", [2, 3, 4])
def test_the_gmm_builds_and_runs_at_its_min_side_and_not_one_pixel_below(num_downsamples: int) -> None:
    side = GeometricMatchingModule.min_side({"num_downsamples": num_downsamples})
    gmm = GeometricMatchingModule(1, 1, (side, side + 3), base_width=2, max_width=4, num_downsamples=num_downsamples,
                                  regression_widths=(4, 4, 4, 4))  # fmt: skip
    masks = torch.rand(2, 1, side, side + 3)
    assert gmm(masks, masks).shape == (2, 25, 2)
    with pytest.raises(ValueError, match="too small"):
        GeometricMatchingModule(1, 1, (side - 1, side), base_width=2, max_width=4, num_downsamples=num_downsamples,
                                regression_widths=(4, 4, 4, 4))  # fmt: skip
