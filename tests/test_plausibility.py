"""The checks that a reported number can be a measurement: finite, not absurd, not capped by the sample size."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from neuralmi._plausibility import (
    FLOOR,
    MIN_ROWS_FOR_ORDER,
    ceiling,
    deterministic_dependence,
    implausible,
    linear_residual,
    monotone_pair,
    noise_free_function,
)

from .conftest import correlated_gaussian


def test_an_estimate_is_implausible_when_not_finite_or_below_minus_one_nat() -> None:
    for nats, stderr in ((math.nan, 0.1), (math.inf, 0.1), (0.5, math.nan), (-1.5, 0.1), (-5.2e21, 1e20)):
        assert implausible(nats, stderr) is not None
    for nats, stderr in ((-0.9, 0.5), (0.0, 0.0), (12.0, 0.3)):
        assert implausible(nats, stderr) is None
    assert FLOOR == -1.0
    assert ceiling("infonce", 90, 89) == math.log(89) and ceiling("dv", 90, 89) == ceiling("nwj", 90, 89) == math.log(90)


def test_monotone_functions_of_a_feature_are_found_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    for f, how in ((lambda v: v.copy(), "increasing"), (lambda v: 5 - 2 * v, "decreasing"), (np.exp, "increasing")):
        y = np.column_stack([rng.normal(size=200), f(x[:, 2])])
        assert monotone_pair(x, y) == (2, 1, how)
    assert monotone_pair(x, -(x[:, 1:2] ** 3)) == (1, 0, "decreasing")
    assert monotone_pair(x, x[:, :1] ** 2) is None  # a function, but not a monotone one
    assert monotone_pair(x, rng.normal(size=(200, 40))) is None
    assert monotone_pair(np.round(x), np.round(x)) is None  # ties: a copy of a discrete feature carries finite MI
    y = x[:, :1].copy()
    y[150] += 10.0  # equal order on the first rows, not on all of them
    assert monotone_pair(x, y) is None
    short = x[: MIN_ROWS_FOR_ORDER - 1]
    assert monotone_pair(short, short) is None  # too few rows to tell a function from chance


def _flag(x: np.ndarray, y: np.ndarray, n_train: int) -> str | None:
    """The check on a train / test cut at n_train, with the DV ceiling ln(n_test)."""
    train, test = (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
    return deterministic_dependence(train, test, math.log(len(x) - n_train), linear=True)


def test_near_deterministic_dependence_is_flagged_where_the_test_split_cannot_measure_it() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    near = _flag(x, x + 1e-2 * rng.normal(size=(300, 1)), 210)  # 4.6 nats against ln 90 = 4.5
    assert near is not None and "residual variance fraction" in near
    assert _flag(x, 3 * x - 1, 210) is not None
    binary = rng.integers(0, 2, size=(300, 1)).astype(float)
    assert _flag(binary, binary.copy(), 210) is None  # a copy of a feature with ties: MI is its entropy, finite
    x2, y2 = correlated_gaussian(300, 1, 5.0, seed=1)
    assert _flag(x2, y2, 210) is not None  # 5 nats in one pair is beyond what 90 test rows measure


@pytest.mark.parametrize(("n", "dim", "mi"), [(10_000, 5, 5.0), (10_000, 20, 10.0), (5_000, 10, 0.8 * math.log(5000))])
def test_strong_but_noisy_dependence_of_the_classic_tasks_is_not_flagged(n: int, dim: int, mi: float) -> None:
    """gaussian_5d_5nat, staircase_20d_10nat and high_mi_near_log_n at their sizes: the 60/30 train / test cut of estimate_mi."""
    x, y = correlated_gaussian(n, dim, mi, seed=2)
    assert _flag(x[: int(0.9 * n)], y[: int(0.9 * n)], int(0.6 * n)) is None


def test_a_non_monotone_noisy_function_is_not_flagged() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 1))
    assert _flag(x, x**2 + 0.2 * rng.normal(size=(3000, 1)), 2000) is None  # the parabola task: 1.44 nats


@pytest.mark.parametrize("n", [2_000, 10_000])
def test_exact_non_monotone_functions_are_flagged_and_noisy_ones_are_not(n: int) -> None:
    """y = x^2 gave a finite 3.2 nats and y = sin(20x) "no dependence": their true MI is infinite."""
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 2))
    cut = int(0.6 * n)

    def found(y: np.ndarray, xs: np.ndarray = x) -> tuple[str, float, float] | None:
        return noise_free_function((xs[:cut], y[:cut]), (xs[cut:], y[cut:]))

    one = x[:, :1]
    for y, given in ((one**2, one), (np.sin(20 * one), one), (np.abs(one), one), (np.sin(5 * one) * x[:, 1:], x)):
        hit = found(y, given)
        assert hit is not None and hit[0] == "y feature 0 given x" and hit[1] >= 0.8 * hit[2]
    hit = found(np.column_stack([rng.normal(size=n), np.cos(3 * x[:, 1])]), np.column_stack([x, rng.normal(size=n)]))
    assert hit is not None and hit[0] == "y feature 1 given x feature 1"  # through one of three features
    noisy = (
        one**2 + 0.2 * rng.normal(size=(n, 1)),  # the parabola task
        np.abs(one) + 0.1 * rng.laplace(size=(n, 1)),
        one + 0.05 * rng.normal(size=(n, 1)),  # 3 nats: measurable
        rng.normal(size=(n, 3)),
    )
    for y in noisy:
        assert found(y) is None and found(y, one) is None
    ties = np.round(one)
    assert found(ties**2, ties) is None  # a function of a feature with ties has finite MI


def test_the_linear_residual_is_the_held_out_fraction_of_a_least_squares_fit() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2))
    y = x @ np.array([[1.0], [-2.0]]) + 0.1 * rng.normal(size=(400, 1))
    fraction, which = linear_residual((x[:300], y[:300]), (x[300:], y[300:]))
    coef = np.linalg.lstsq(np.c_[np.ones(300), x[:300]], y[:300], rcond=None)[0]
    residual = y[300:] - np.c_[np.ones(100), x[300:]] @ coef
    assert which == "y feature 0 given x"
    assert fraction == pytest.approx(float((residual**2).mean() / y[300:].var()), rel=1e-12)
    assert linear_residual((x[:300], np.ones((300, 1))), (x[300:], np.ones((100, 1))))[0] <= 1.0  # constant: skipped


def test_a_constant_feature_is_neither_a_function_nor_a_warning() -> None:
    rng = np.random.default_rng(6)
    x = np.column_stack([rng.normal(size=500), np.ones(500)])
    y = rng.normal(size=(500, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert noise_free_function((x[:300], y[:300]), (x[300:], y[300:])) is None
        assert noise_free_function((y[:300], x[:300]), (y[300:], x[300:])) is None
