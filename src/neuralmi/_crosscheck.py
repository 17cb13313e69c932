r"""A k-nearest-neighbour second opinion on the test split (private): an interval that admits a short critic.

Every critic's held-out bound is a lower bound: a critic that falls short of the optimal
log-density ratio reports low, and its interval (test-split sampling only) then misses the truth.
The KSG estimator (Kraskov et al. 2004; :func:`neuralmi.ksg`) needs no critic: on a few thousand
rows in a few dimensions it is close to unbiased, and where dependence is strong or spread over
many dimensions it reports low. So a KSG estimate *above* the critic's interval is evidence that
the critic is short, never that it overshot: the interval's upper limit is raised to the KSG
estimate's upper 95% limit, and the estimate itself stays the critic's held-out bound.

It runs on the reported view's test split (the rows no critic was trained or chosen on), at most
:data:`KNN_ROWS` of them, where both sides are continuous (no feature with ties: KSG on labels or
lattices measures the jitter that breaks them) and have at most :data:`KNN_MAX_DIMS` features
together.
"""

from __future__ import annotations

import math

import numpy as np

from neuralmi._call import Z95
from neuralmi._plausibility import MIN_DISTINCT, distinct_fraction
from neuralmi.knn import KSGEstimate, ksg

__all__ = ["KNN_MAX_DIMS", "KNN_MIN_ROWS", "KNN_ROWS", "knn_check", "raised_interval"]

KNN_MAX_DIMS = 40
"""Most features of both sides together for the check (beyond, KSG is far below the truth and adds nothing)."""

KNN_ROWS = 4000
"""Test rows the check uses at most (a seeded subsample): KSG's cost grows with their square beyond its KD-trees."""

KNN_MIN_ROWS = 200
"""Fewest test rows for the check (its standard error comes from 10 disjoint parts)."""


def knn_check(test: tuple[np.ndarray, np.ndarray], seed: int) -> KSGEstimate | None:
    """KSG (k = 3) on at most :data:`KNN_ROWS` rows of the preprocessed test split, or None where it does not apply.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(3000, 1)); y = x + rng.normal(size=(3000, 1))
    >>> r = knn_check((x, y), seed=0)
    >>> abs(r - 0.5 * math.log(2)) < 4 * r.stderr
    True
    >>> knn_check((np.round(x), y), seed=0) is None  # ties: not continuous
    True
    """
    n = len(test[0])
    if test[0].reshape(n, -1).shape[1] + test[1].reshape(n, -1).shape[1] > KNN_MAX_DIMS or n < KNN_MIN_ROWS:
        return None
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:KNN_ROWS])  # only these are copied (a split may be huge)
    x, y = (np.asarray(t[rows], dtype=np.float64).reshape(len(rows), -1) for t in test)
    if (distinct_fraction(x) < MIN_DISTINCT).any() or (distinct_fraction(y) < MIN_DISTINCT).any():
        return None
    estimate = ksg(x, y, seed=seed)
    return estimate if math.isfinite(estimate) and math.isfinite(estimate.stderr) else None


def raised_interval(ci: tuple[float, float], check: KSGEstimate | None) -> tuple[float, float]:
    """``ci`` with its upper limit raised to the check's upper 95% limit where the check's estimate lies above ``ci``.

    >>> tuple(round(v, 4) for v in raised_interval((0.5, 0.6), KSGEstimate(0.7, 0.02, 3, 4000)))
    (0.5, 0.7392)
    >>> raised_interval((0.5, 0.6), KSGEstimate(0.59, 0.02, 3, 4000))  # inside: no evidence of a short critic
    (0.5, 0.6)
    """
    if check is None or not float(check) > ci[1]:
        return ci
    return (ci[0], max(ci[1], float(check) + Z95 * check.stderr))
