"""Held-out evaluation: per-sample statistics against naive loops, the estimate, and its jackknife error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from neuralmi._evaluate import paired_difference, score_blocks, scored_alike, summarise
from neuralmi.bounds import BOUNDS, MI_BOUNDS, REPORT_WITH, REPORTABLE, donsker_varadhan, infonce, needs_matrix, nwj


class Table(nn.Module):
    """A critic that looks scores up in a fixed (n, n) table; x and y carry the sample indices."""

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.table[x.long()[:, None], y.long()[None, :]]


def _indices(n: int) -> Tensor:
    return torch.arange(n, dtype=torch.float32)


def test_statistics_match_a_naive_loop() -> None:
    n = 7
    table = torch.randn(n, n, generator=torch.Generator().manual_seed(0)) * 3
    h = score_blocks(Table(table), _indices(n), _indices(n), block_size=10)
    t = table.double().numpy()
    for i in range(n):
        others = [j for j in range(n) if j != i]
        assert h.joint[i] == pytest.approx(t[i, i], abs=1e-6)
        assert h.row[i] == pytest.approx(math.log(sum(math.exp(t[i, j]) for j in others)), abs=1e-5)
        assert h.col[i] == pytest.approx(math.log(sum(math.exp(t[j, i]) for j in others)), abs=1e-5)
        assert h.row_all[i] == pytest.approx(math.log(sum(math.exp(t[i, j]) for j in range(n))), abs=1e-5)
    assert np.all(h.block == n)


def test_blocks_pair_samples_only_within_their_block() -> None:
    n = 10
    table = torch.randn(n, n, generator=torch.Generator().manual_seed(1))
    h = score_blocks(Table(table), _indices(n), _indices(n), block_size=5)
    assert list(h.block) == [5] * 10
    t = table.double().numpy()
    assert h.row[7] == pytest.approx(math.log(sum(math.exp(t[7, j]) for j in (5, 6, 8, 9))), abs=1e-5)


@pytest.mark.parametrize("report", REPORTABLE)
def test_one_block_estimate_equals_the_registered_bound(report: str) -> None:
    """Every held-out reporter of the registry gives, on one block, the value of BOUNDS[name] on the same scores."""
    n = 9
    table = torch.randn(n, n, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 2 * torch.eye(n)
    value, _ = summarise(score_blocks(Table(table.float()), _indices(n), _indices(n), 100), report)
    assert value == pytest.approx(BOUNDS[report](table.float().double()).item(), abs=1e-5)


def test_the_registry_names_the_reporters_and_the_pairs() -> None:
    assert REPORTABLE == ("dv", "nwj", "infonce") and {donsker_varadhan, nwj, infonce} == {BOUNDS[r] for r in REPORTABLE}
    assert all(REPORT_WITH[name] in REPORTABLE for name in REPORT_WITH)  # every trained bound is reported by a reporter
    assert "interpolated" not in REPORT_WITH and "interpolated" in MI_BOUNDS  # a lower bound, but not for estimate_mi
    assert needs_matrix("infonce") and needs_matrix(infonce) and not needs_matrix("dv")


def test_dv_stderr_is_the_delete_one_jackknife() -> None:
    n = 8
    table = torch.randn(n, n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    _, stderr = summarise(score_blocks(Table(table.float()), _indices(n), _indices(n), 100), "dv")
    t = table.float().double()
    keep = [torch.tensor([j for j in range(n) if j != i]) for i in range(n)]
    loo = np.array([donsker_varadhan(t[k][:, k]).item() for k in keep])
    assert stderr == pytest.approx(math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum()), rel=1e-6)


def _jackknife(loo: np.ndarray) -> float:
    n = len(loo)
    return math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())


@pytest.mark.parametrize("block_size", [100, 4])
def test_infonce_stderr_is_the_delete_one_jackknife(block_size: int) -> None:
    """Leaving a sample out removes its row and its column from its block; blocks are scored apart."""
    n = 9
    table = torch.randn(n, n, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 2 + 3 * torch.eye(n)
    t = table.float().double()
    h = score_blocks(Table(table.float()), _indices(n), _indices(n), block_size)
    value, stderr = summarise(h, "infonce")
    blocks = [torch.tensor(b) for b in np.array_split(np.arange(n), max(1, n // block_size))]

    def rows_sum(keep: list[Tensor]) -> float:  # the sum of InfoNCE's per-row terms over blocks of kept samples
        return sum(len(k) * infonce(t[k][:, k]).item() for k in keep)

    loo = np.array(
        [rows_sum([b[b != i] for b in blocks]) / (n - 1) for i in range(n)]  # each b[b != i] is a block without sample i
    )
    assert value == pytest.approx(rows_sum(blocks) / n, abs=1e-6)
    assert stderr == pytest.approx(_jackknife(loo), rel=1e-6)


class GaussianRatio(nn.Module):
    """The log density ratio of a standard bivariate normal with correlation rho, plus ``tilt * y``.

    ``log p(y|x) / p(y) = -log(1 - rho^2) / 2 - (y - rho x)^2 / (2 (1 - rho^2)) + y^2 / 2``; the term in y
    alone, which any separable critic can carry, leaves DV unchanged but not InfoNCE, and ties rows
    that share a block's y's together.
    """

    def __init__(self, rho: float, tilt: float) -> None:
        super().__init__()
        self.rho, self.tilt = rho, tilt

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        r, x, y = self.rho, x[:, 0], y[:, 0]
        ratio = -0.5 * math.log(1 - r * r) - (y[None, :] - r * x[:, None]) ** 2 / (2 * (1 - r * r)) + y[None, :] ** 2 / 2
        return ratio + self.tilt * y[None, :]


@pytest.mark.parametrize(("tilt", "n", "block_size"), [(0.0, 256, 1024), (1.0, 256, 1024), (1.0, 512, 128)])
def test_infonce_stderr_matches_the_spread_over_seeds(tilt: float, n: int, block_size: int) -> None:
    """The mean InfoNCE standard error equals the standard deviation of the estimate over 200 samples of a Gaussian pair.

    Tolerance: 3 standard errors of the difference (the sample SD's is SD / sqrt(2 (R - 1))). The
    per-row iid formula the jackknife replaced is off by more than that where the critic has a term in y.
    """
    rho, repeats = 0.5, 200
    critic = GaussianRatio(rho, tilt)
    values, stderrs, iid = [], [], []
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 1))
        y = rho * x + math.sqrt(1 - rho * rho) * rng.normal(size=(n, 1))
        h = score_blocks(critic, torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), block_size)
        value, stderr = summarise(h, "infonce")
        values.append(value)
        stderrs.append(stderr)
        terms = h.joint - h.row_all + np.log(h.block)
        iid.append(terms.std(ddof=1) / math.sqrt(n))
    spread, mean_se = float(np.std(values, ddof=1)), float(np.mean(stderrs))
    tolerance = 3 * math.hypot(spread / math.sqrt(2 * (repeats - 1)), float(np.std(stderrs, ddof=1)) / math.sqrt(repeats))
    assert abs(mean_se - spread) < tolerance
    covered = np.mean(np.abs(np.array(values) - np.mean(values)) <= 1.959964 * np.array(stderrs))
    assert abs(covered - 0.95) < 3 * math.sqrt(0.95 * 0.05 / repeats)
    if tilt == 0.0:  # the optimal critic: InfoNCE is a lower bound on the closed-form MI
        assert np.mean(values) < -0.5 * math.log(1 - rho * rho) + 3 * spread / math.sqrt(repeats)
    else:
        assert abs(float(np.mean(iid)) - spread) > tolerance


def test_the_untrained_critic_gives_exactly_zero() -> None:
    n = 2500
    h = score_blocks(Table(torch.zeros(n, n)), _indices(n), _indices(n), 1024)
    value, stderr = summarise(h, "dv")
    assert value == 0.0 and stderr == 0.0


def test_the_critics_tensors_are_left_alone() -> None:
    table = torch.randn(5, 5)
    critic = Table(table.clone())

    class Returns(nn.Module):
        def forward(self, x: Tensor, y: Tensor) -> Tensor:
            return critic.table  # the critic's own parameter, returned as is

    score_blocks(Returns(), _indices(5), _indices(5), 100)
    assert torch.equal(critic.table, table)


def test_low_precision_scores_are_summed_in_float32() -> None:
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(4))
    low = score_blocks(Table(table).to(torch.bfloat16), _indices(6), _indices(6), 100)
    assert np.isfinite(low.row).all() and low.row.dtype == np.float64


def test_float64_scores_keep_their_joint_terms() -> None:
    """A float64 critic's diagonal is copied before it is masked, not viewed (the masking wrote -inf into it)."""
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(5))
    high = score_blocks(Table(table.double()), _indices(6), _indices(6), 100)
    low = score_blocks(Table(table), _indices(6), _indices(6), 100)
    assert np.isfinite(high.joint).all()
    np.testing.assert_allclose(high.joint, low.joint, rtol=1e-6)
    np.testing.assert_allclose(summarise(high, "dv"), summarise(low, "dv"), rtol=1e-5)


def test_column_terms_are_scored_only_for_infonce() -> None:
    """Scored for DV, the statistics skip InfoNCE's column terms, and summarise says so rather than guess."""
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(7))
    for_dv = score_blocks(Table(table), _indices(6), _indices(6), 100, "dv")
    both = score_blocks(Table(table), _indices(6), _indices(6), 100)
    assert for_dv.nce_col is None and both.nce_col is not None
    assert summarise(for_dv, "dv") == summarise(both, "dv")
    with pytest.raises(ValueError, match="score them with report='infonce'"):
        summarise(for_dv, "infonce")


@pytest.mark.parametrize("report", ["dv", "nwj", "infonce"])
def test_a_paired_difference_cancels_the_noise_two_close_critics_share(report: str) -> None:
    n = 400
    gen = torch.Generator().manual_seed(3)
    table = torch.randn(n, n, generator=gen) + 2.0 * torch.eye(n)  # a critic that finds the pairs
    nudged = table + 0.05 * torch.randn(n, n, generator=gen)  # a close second critic on the same rows
    a, b = (score_blocks(Table(t), _indices(n), _indices(n), 100, report) for t in (table, nudged))
    (va, sa), (vb, sb) = summarise(a, report), summarise(b, report)
    gain, se = paired_difference(a, b, report)
    assert gain == pytest.approx(va - vb, abs=1e-12)
    assert 0.0 < se < 0.25 * min(sa, sb)  # the rows both were scored on are no longer a source of error
    assert paired_difference(a, a, report) == (0.0, 0.0)
    other_blocks = score_blocks(Table(table), _indices(n), _indices(n), 50, report)
    assert scored_alike(a, b) and not scored_alike(a, other_blocks)
    with pytest.raises(ValueError, match="same rows"):
        paired_difference(a, other_blocks, report)
