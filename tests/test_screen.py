"""Tests of the screen of wide inputs: its statistics against naive references, what it keeps, and estimates through it."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from neuralmi import EstimatorConfig, estimate_mi
from neuralmi.data import NormalScores
from neuralmi.estimate import prepare
from neuralmi.io import load, save
from neuralmi.screen import Columns, fit_screen, hermite_features, normal_scores, pair_statistics, screen_width, threshold

PLANTED_X, PLANTED_Y = (3, 700, 1499), (5, 200, 599)
"""Columns of x and of y paired by the planted dependence (away from the first columns)."""

PAIR_RHO = 0.6
PAIR_MI = -0.5 * math.log(1 - PAIR_RHO**2)  # nats per Gaussian pair


def planted(n: int, seed: int, rho: float = PAIR_RHO, dims: tuple[int, int] = (1500, 600)) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, I), y ~ N(0, I) with corr(x_i, y_j) = rho on the planted column pairs: MI = 3 * PAIR_MI at rho = PAIR_RHO."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, dims[0])), rng.standard_normal((n, dims[1]))
    for i, j in zip(PLANTED_X, PLANTED_Y):
        y[:, j] = rho * x[:, i] + math.sqrt(1 - rho**2) * y[:, j]
    return x.astype(np.float32), y.astype(np.float32)


def test_normal_scores_match_the_preprocessing_fitted_on_the_same_rows() -> None:
    rng = np.random.default_rng(0)
    rows = np.c_[rng.normal(size=(300, 3)), rng.integers(0, 4, (300, 2)), np.zeros(300)]
    np.testing.assert_array_equal(normal_scores(rows).numpy(), NormalScores.fit(rows)(rows))


def test_pair_statistics_match_a_naive_correlation_loop() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 4)), rng.normal(size=(200, 3))
    y[:, 0] += x[:, 2] ** 2
    u, v = normal_scores(x).double().numpy(), normal_scores(y).double().numpy()
    z = pair_statistics(hermite_features(normal_scores(x)), hermite_features(normal_scores(y))).numpy()
    for i in range(4):
        for j in range(3):
            corr = [abs(np.corrcoef(a, b)[0, 1]) for a in (u[:, i], np.abs(u[:, i])) for b in (v[:, j], np.abs(v[:, j]))]
            assert z[i, j] == pytest.approx(math.sqrt(200) * max(corr), rel=1e-4)


@pytest.mark.parametrize("terms", [1, 4 * 13_000 * 1024])
def test_threshold_is_the_bonferroni_quantile(terms: int) -> None:
    t = threshold(terms, 0.05)
    assert terms * math.erfc(t / math.sqrt(2)) == pytest.approx(0.05, rel=1e-9)  # P(|N(0,1)| > t) = erfc(t / sqrt 2)


def test_screen_width_applies_to_wide_inputs_only() -> None:
    assert screen_width((1500, 600), 1200) == 64
    assert screen_width((40, 40), 1200) is None  # narrow
    assert screen_width((100, 100), 60) == 7  # wide for its rows: n / 8 columns
    assert screen_width((50, 50), 60) is None  # no side wider than MAX_SCREENED


def test_the_screen_keeps_planted_pairs_of_every_shape() -> None:
    """Linear, monotone (exp, cube) and zero-correlation (y = x^2 + noise) dependence all pass; nothing else does."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(1200, 1500)), rng.normal(size=(1200, 600))
    y[:, 5] = 0.6 * x[:, 3] + 0.8 * y[:, 5]
    x[:, 700], y[:, 200] = np.exp(x[:, 700]), (0.6 * x[:, 700] + 0.8 * y[:, 200]) ** 3
    y[:, 599] = x[:, 1499] ** 2 + 0.5 * y[:, 599]
    screen = fit_screen(x, y, 64)
    assert screen.passed == (3, 3)
    assert set(PLANTED_X) <= set(screen.x_columns.tolist()) and set(PLANTED_Y) <= set(screen.y_columns.tolist())
    assert {(i, j) for i, j, _ in screen.pairs[:3]} == set(zip(PLANTED_X, PLANTED_Y))
    assert len(screen.x_columns) == len(screen.y_columns) == 4  # the minimum kept


def test_prepare_keeps_the_screened_columns_and_maps_full_samples() -> None:
    x, y = planted(2000, 3)
    data = prepare(x, y, EstimatorConfig(), "cpu", screen=True)
    assert data.dims == (4, 4) and set(PLANTED_X) <= set(data.screen["x_columns"])
    x_scaler = data.scalers[0]
    assert isinstance(x_scaler, Columns) and x_scaler.input_shape == (1500,)
    assert x_scaler(x[:5]).shape == (5, 4)
    few_x, few_y = x[:100], y[:100]
    assert prepare(few_x, few_y, EstimatorConfig(screen=False), "cpu", screen=True).dims == (1500, 600)
    assert prepare(few_x, few_y, EstimatorConfig(), "cpu").dims == (1500, 600)  # prepare's other callers (CMI) do not screen


def test_columns_round_trip_through_arrays() -> None:
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(50, 2, 3))
    wrapped = Columns(NormalScores.fit(rows.reshape(50, -1)[:, [1, 4]]), np.array([1, 4]), (2, 3))
    again = Columns.from_arrays(NormalScores, wrapped.to_arrays())
    np.testing.assert_array_equal(again(rows), wrapped(rows))
    assert isinstance(Columns.from_arrays(NormalScores, NormalScores.fit(rows).to_arrays()), NormalScores)


FAST = {"progress": False, "density_ratio": False, "max_steps": 400}


def test_planted_pairs_are_estimated_against_the_closed_form(tmp_path: Path) -> None:
    x, y = planted(2000, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate_mi(x, y, **FAST)
    truth = 3 * PAIR_MI
    assert result.detected and result.ci[0] > 0
    assert abs(result.nats - truth) < 3 * result.stderr
    assert result.screen["x_columns"] == sorted(result.screen["x_columns"]) and result.to_dict()["screen"] == result.screen
    assert any("screen" in w for w in result.warnings)
    save(result, tmp_path / "wide")
    new_x, new_y = planted(500, 6)
    assert load(tmp_path / "wide").estimate(new_x, new_y).nats == pytest.approx(result.evaluate(new_x, new_y).nats, abs=1e-6)


@pytest.mark.parametrize("seed", [7, 8])
def test_independent_wide_data_cover_zero(seed: int) -> None:
    x, y = planted(2000, seed, rho=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate_mi(x, y, **FAST)
    assert result.ci[0] <= 0.0 <= result.ci[1] and not result.detected
    assert len(result.screen["x_columns"]) == len(result.screen["y_columns"]) == 4
