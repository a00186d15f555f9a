"""Seed 002's correlation (Eq. 1), soft mutual filtering (Eq. 9) and per-target normalisation (Eq. 2)."""

from __future__ import annotations

import pytest
import torch

from models.correlation import correlation, normalize_per_target, soft_mutual_filter


def test_correlation_matches_a_naive_loop() -> None:
    torch.manual_seed(0)
    z_s, z_t = torch.randn(2, 3, 3, 4), torch.randn(2, 3, 2, 5)  # source 3x4, target 2x5 (sizes may differ)
    corr = correlation(z_s, z_t)
    assert corr.shape == (2, 12, 2, 5)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                for v in range(2):
                    for u in range(5):
                        expected = sum(z_s[b, rho, i, j] * z_t[b, rho, v, u] for rho in range(3))
                        torch.testing.assert_close(corr[b, i * 4 + j, v, u], expected)


def test_correlation_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match=r"same B and m, got \(1, 3, 4, 4\) and \(1, 5, 4, 4\)"):
        correlation(torch.zeros(1, 3, 4, 4), torch.zeros(1, 5, 4, 4))


def test_soft_mutual_filter_keeps_mutual_best_matches_and_shrinks_the_rest() -> None:
    # 2 source x 2 target positions (as [B, h_s w_s, h_t, w_t] = [1, 2, 1, 2]); rows = source, columns = target.
    c = torch.tensor([[0.9, 0.6], [0.3, 0.4]])
    gamma = soft_mutual_filter(c.view(1, 2, 1, 2)).view(2, 2)
    # (0, 0): the best of its row and of its column -> 1.
    assert gamma[0, 0] == pytest.approx(1.0)
    # (1, 1): best of its row (0.4 > 0.3) but not of its column (0.6 > 0.4): 0.4/0.6 * 0.4/0.4.
    assert gamma[1, 1] == pytest.approx(0.4 / 0.6)
    # (0, 1): best of its column but not of its row: 0.6/0.6 * 0.6/0.9; (1, 0): neither: 0.3/0.9 * 0.3/0.4.
    assert gamma[0, 1] == pytest.approx(0.6 / 0.9)
    assert gamma[1, 0] == pytest.approx((0.3 / 0.9) * (0.3 / 0.4))


def test_soft_mutual_filter_on_a_permutation_keeps_exactly_the_matches() -> None:
    torch.manual_seed(1)
    n = 12
    perm = torch.randperm(n)
    corr = 0.5 * torch.rand(n, n)
    corr[perm, torch.arange(n)] = 1.0  # target u matches source perm[u], mutually
    gamma = soft_mutual_filter(corr.view(1, n, 3, 4)).view(n, n)
    torch.testing.assert_close(gamma[perm, torch.arange(n)], torch.ones(n))
    off = torch.ones(n, n, dtype=torch.bool)
    off[perm, torch.arange(n)] = False
    assert gamma[off].max() < 0.5


def test_soft_mutual_filter_of_an_all_zero_correlation_is_zero_not_nan() -> None:
    assert soft_mutual_filter(torch.zeros(1, 4, 2, 2)).abs().max() == 0


def test_normalize_per_target_gives_unit_norm_over_source_positions() -> None:
    q = torch.rand(2, 6, 3, 2) + 0.1
    normalized = normalize_per_target(q)
    torch.testing.assert_close(normalized.norm(dim=1), torch.ones(2, 3, 2))
    torch.testing.assert_close(normalized * q.norm(dim=1, keepdim=True), q)  # a per-target rescaling only
