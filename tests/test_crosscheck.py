"""The KSG second opinion on the test split: where it lies above a short critic's interval, the interval admits it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuralmi import MIWarning, estimate_mi, ksg
from neuralmi._call import Z95
from neuralmi._crosscheck import KNN_MAX_DIMS, KNN_MIN_ROWS, KNN_ROWS, knn_check, raised_interval
from neuralmi.knn import KSGEstimate


def test_the_check_is_ksg_on_a_seeded_subsample_of_the_test_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(KNN_ROWS + 500, 2))
    y = x[:, :1] + rng.normal(size=(len(x), 1))
    check = knn_check((x, y), seed=3)
    rows = np.sort(np.random.default_rng(3).permutation(len(x))[:KNN_ROWS])
    assert check is not None and check.n == KNN_ROWS and float(check) == float(ksg(x[rows], y[rows], seed=3))
    assert abs(check - 0.5 * math.log(2)) < 4 * check.stderr  # the closed form, within its own error


def test_the_check_does_not_apply_to_ties_wide_or_short_splits() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(1000, 1)), rng.normal(size=(1000, 1))
    assert knn_check((np.round(x), y), seed=0) is None  # a lattice: KSG would measure the jitter
    assert knn_check((x, rng.integers(0, 3, size=(1000, 1)).astype(float)), seed=0) is None
    assert knn_check((rng.normal(size=(1000, KNN_MAX_DIMS)), y), seed=0) is None
    assert knn_check((x[: KNN_MIN_ROWS - 1], y[: KNN_MIN_ROWS - 1]), seed=0) is None
    assert knn_check((x, y), seed=0) is not None


def test_only_a_higher_check_raises_the_upper_limit() -> None:
    high, low = KSGEstimate(0.7, 0.02, 3, 4000), KSGEstimate(0.4, 0.02, 3, 4000)
    assert raised_interval((0.5, 0.6), high) == pytest.approx((0.5, 0.7 + Z95 * 0.02))
    assert raised_interval((0.5, 0.6), low) == (0.5, 0.6)
    assert raised_interval((0.5, 0.6), KSGEstimate(0.59, 0.05, 3, 4000)) == (0.5, 0.6)  # inside the interval
    assert raised_interval((0.5, 0.6), None) == (0.5, 0.6)


def test_a_short_critic_gets_an_interval_that_admits_the_check_and_says_so() -> None:
    """The Gaussian critic sees only the linear part of y = sin(2x) + noise: its bound is far below KSG's."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=3000)
    y = np.sin(2 * x) + 0.3 * rng.normal(size=3000)
    with pytest.warns(MIWarning, match="critic may be short: the KSG k-NN estimate"):
        r = estimate_mi(x, y, critic="gaussian", progress=False)
    knn = r.knn
    assert knn["nats"] - 2 * knn["stderr"] > knn["ci_high_before"] > r.nats  # short by far more than the errors
    assert r.ci[0] < r.nats < knn["ci_high_before"] < r.ci[1] == pytest.approx(knn["nats"] + Z95 * knn["stderr"])
    assert r.to_dict()["knn"] == knn and knn["rows"] == r.n_test


def test_no_check_on_labels() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=2000)
    x = labels[:, None] + rng.normal(size=(2000, 2))
    r = estimate_mi(x, labels, discrete_y=True, critic="gaussian", progress=False)
    assert r.knn == {} and "knn" in r.to_dict()


def test_no_dependence_detected_by_the_critics_but_seen_by_the_check_widens_that_interval() -> None:
    """y = x^2 + noise: the Gaussian critic finds nothing, KSG finds about 1.4 nats."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=3000)
    y = x**2 + 0.2 * rng.normal(size=3000)
    with pytest.warns(MIWarning, match="critic may be short"):
        r = estimate_mi(x, y, critic="gaussian", progress=False)
    assert not r.detected and r.nats == 0 and r.knn["nats"] > 1.0 and r.ci[1] > r.knn["nats"]


def test_independent_data_keep_an_interval_near_zero() -> None:
    rng = np.random.default_rng(5)
    r = estimate_mi(rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2)), critic="gaussian", progress=False)
    assert not r.detected and abs(r.knn["nats"]) < 3 * r.knn["stderr"] and r.ci[1] == r.knn["ci_high_before"] < 0.1
    assert not any("may be short" in m for m in r.warnings)
