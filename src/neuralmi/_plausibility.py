r"""Checks that a reported number can be a measurement (private): finite, not absurd, not capped by the sample size.

A held-out MI estimate is refused as a measurement when it is not finite, when it lies below
:data:`FLOOR` (MI is never negative, and a held-out bound that far below 0 is a broken critic, not
sampling noise), or when the dependence is deterministic or too strong for the test split to
measure. Two cheap checks find the last case on the preprocessed features:

- **exact**: a y feature is a strictly monotone function of an x feature on every training row
  (both without ties): the same order of the rows, or the reversed one. The true MI is infinite.
- **near-deterministic**: a least-squares fit of one feature on the other side's features, made on
  the training split (at most :data:`LINEAR_CHECK_ROWS` of its rows, and of the test split's: random
  samples, both splits being in seeded random order), leaves a held-out residual variance fraction
  ``r`` on the test split whose
  Gaussian-equivalent MI ``-ln(r) / 2`` (the MI of a jointly Gaussian pair with that residual)
  comes within :data:`SATURATION_MARGIN` nat of the bound's ceiling. A linear fit can only
  under-state a dependence, so strong but noisy dependence spread over several features is not
  flagged: each feature of a 5-nat 5-D Gaussian pair carries 1 nat (``r = e^{-2}``).
- **noise-free function**: a feature of one side is predicted from the whole other side (at most
  :data:`FUNCTION_MAX_DIMS` features), or from one of its features, by the nearest training row.
  Without noise the squared miss shrinks with the distance to that row, as ``N^(-2/d)`` for ``N``
  reference rows in ``d`` dimensions, so it grows ``16^(1/d)``-fold when only a quarter of the rows
  is searched; with noise it stays at twice the noise variance. A growth of at least
  :data:`NOISE_FREE_SHARE` of the noise-free factor (and a miss small enough to mean
  :data:`FUNCTION_MIN_NATS` Gaussian-equivalent nats) finds exact non-monotone functions such as
  ``y = x^2`` or ``y = sin(20x)``: noise below what the sample resolves, so an MI beyond what the
  test split can show.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "FLOOR",
    "FUNCTION_MAX_DIMS",
    "FUNCTION_MIN_NATS",
    "LINEAR_CHECK_ROWS",
    "MIN_DISTINCT",
    "MIN_ROWS_FOR_ORDER",
    "NOISE_FREE_SHARE",
    "SATURATION_MARGIN",
    "SIGNATURE_ROWS",
    "ceiling",
    "deterministic_dependence",
    "distinct_fraction",
    "implausible",
    "linear_residual",
    "monotone_pair",
    "noise_free_function",
]

FLOOR = -1.0
"""Nats: a held-out estimate below this is no measurement (MI >= 0; sampling noise of a working critic stays above it)."""

SATURATION_MARGIN = 1.0
"""Nats below the ceiling from which one feature's Gaussian-equivalent MI counts as near-deterministic (as the near-ceiling warning)."""

LINEAR_CHECK_ROWS = 100_000
"""The least-squares check reads at most this many rows of each split, so its float64 copies stay a few tens of MB."""

MIN_ROWS_FOR_ORDER = 20
"""Training rows needed before equal row orders count as a monotone function (chance: 2 / 20! per feature pair)."""


def ceiling(report: str, n_test: int, n_negatives: int) -> float:
    """The most a ``report`` bound can show on the test split: ln(negatives) for InfoNCE, ln(n_test) for DV and NWJ.

    >>> round(ceiling("dv", 90, 89), 3)
    4.5
    """
    return math.log(n_negatives) if report == "infonce" else math.log(n_test)


def implausible(nats: float, stderr: float) -> str | None:
    """Why a held-out (estimate, standard error) is no measurement: not finite, or below :data:`FLOOR`; else None.

    >>> implausible(0.5, 0.1) is None, implausible(-5.0, 0.1)
    (True, 'its held-out estimate -5 nats is below -1 nat (MI is never negative)')
    """
    if not (math.isfinite(nats) and math.isfinite(stderr)):
        return f"its held-out estimate is not finite ({nats} ± {stderr} nats)"
    if nats < FLOOR:
        return f"its held-out estimate {nats:.4g} nats is below {FLOOR:g} nat (MI is never negative)"
    return None


SIGNATURE_ROWS = 32
"""Rows whose order fingerprints each feature; a match is then checked on every row (32! is about 2.6e35)."""


def _signatures(data: np.ndarray, rows: int) -> dict[bytes, list[tuple[int, str]]]:
    """Features of data (n, d) without ties in their first ``rows`` rows, by the order of those rows (and reversed)."""
    head = np.ascontiguousarray(data[:rows].T)
    order = np.argsort(head, axis=1, kind="stable")
    distinct = (np.diff(np.take_along_axis(head, order, 1), axis=1) > 0).all(axis=1)
    found: dict[bytes, list[tuple[int, str]]] = {}
    for i in np.flatnonzero(distinct):
        found.setdefault(order[i].tobytes(), []).append((int(i), "increasing"))
        found.setdefault(order[i, ::-1].tobytes(), []).append((int(i), "decreasing"))
    return found


def _monotone_on_all_rows(a: np.ndarray, b: np.ndarray, how: str) -> bool:
    """b is a strictly increasing (or decreasing) function of a on every row: no ties, the same order."""
    order = np.argsort(a, kind="stable")
    sa, sb = a[order], b[order]
    steps = np.diff(sb) if how == "increasing" else -np.diff(sb)
    return bool((np.diff(sa) > 0).all() and (steps > 0).all())


def monotone_pair(x: np.ndarray, y: np.ndarray) -> tuple[int, int, str] | None:
    """(x feature, y feature, "increasing" or "decreasing") where y's feature is a strictly monotone function of x's.

    Both features must be free of ties and hold at least :data:`MIN_ROWS_FOR_ORDER` rows; None
    otherwise. Features are matched by the order of their first :data:`SIGNATURE_ROWS` rows, then
    checked on every row, so wide data cost one small sort per feature.

    >>> x = np.linspace(-1, 1, 30)[:, None]
    >>> monotone_pair(x, np.c_[np.cos(7 * x), -(x**3)])
    (0, 1, 'decreasing')
    """
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    if len(x) < MIN_ROWS_FOR_ORDER:
        return None
    xs, ys = _signatures(x, SIGNATURE_ROWS), _signatures(y, SIGNATURE_ROWS)
    for key, features in ys.items():
        for j, y_how in features:
            for i, x_how in xs.get(key, []):
                how = "increasing" if x_how == y_how else "decreasing"
                if _monotone_on_all_rows(x[:, i], y[:, j], how):
                    return i, j, how
    return None


MIN_DISTINCT = 0.9
"""The share of distinct training values from which a feature counts as continuous for the least-squares check."""


def distinct_fraction(data: np.ndarray) -> np.ndarray:
    """Per column of data (n, d), the share of its values that are distinct: ``(1 + #{sorted steps > 0}) / n``."""
    ordered = np.sort(data, axis=0)
    return (1 + (np.diff(ordered, axis=0) > 0).sum(axis=0)) / max(1, len(data))


def linear_residual(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> tuple[float, str]:
    """The smallest held-out residual variance fraction of a feature given the other side's features, and which one.

    Each feature of y is fitted by least squares (with an intercept) on x over the training rows,
    and each feature of x on y; the fraction is the test split's mean squared residual over the
    feature's test variance. Only continuous features are predicted: one with fewer than
    :data:`MIN_DISTINCT` distinct training values, or constant on the test split, is skipped
    (a feature with ties has finite entropy, which bounds its MI).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = x[:, :1] + 0.01 * rng.normal(size=(200, 1))
    >>> fraction, which = linear_residual((x[:100], y[:100]), (x[100:], y[100:]))
    >>> abs(-0.5 * math.log(fraction) - math.log(100)) < 0.3, which  # ln(100): the Gaussian MI of y's feature with x
    (True, 'y feature 0 given x')
    """
    best, which = 1.0, ""
    for (a, b), (ta, tb), names in (
        ((train[0], train[1]), (test[0], test[1]), ("x", "y")),
        ((train[1], train[0]), (test[1], test[0]), ("y", "x")),
    ):
        a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
        ta, tb = ta.reshape(len(ta), -1).astype(np.float64), tb.reshape(len(tb), -1).astype(np.float64)
        design = np.column_stack([np.ones(len(a)), a])
        coef = np.linalg.lstsq(design, b, rcond=None)[0]
        residual = tb - np.column_stack([np.ones(len(ta)), ta]) @ coef
        spread = tb.var(axis=0)
        continuous = (spread > 0) & (distinct_fraction(b) >= MIN_DISTINCT)
        fractions = np.where(continuous, (residual**2).mean(axis=0) / np.where(continuous, spread, 1.0), 1.0)
        j = int(np.argmin(fractions))
        if fractions[j] < best:
            best, which = float(fractions[j]), f"{names[1]} feature {j} given {names[0]}"
    return best, which


FUNCTION_MAX_DIMS = 2
"""Most features a side may have for the nearest-neighbour check against all of them (the miss shrinks slowly in more)."""

FUNCTION_MIN_NATS = 2.0
"""Least Gaussian-equivalent MI of a nearest-neighbour prediction for it to count as a noise-free function."""

NOISE_FREE_SHARE = 0.8
"""Share of the noise-free growth ``16^(1/d)`` of the nearest-neighbour miss, from a quarter of the rows, that flags a function."""

_REFERENCE_ROWS, _QUERY_ROWS, _BLOCK = 20_000, 2_000, 256
_CHI2_MEDIAN = 0.454936  # the median of a chi-square with one degree of freedom


def _nearest_miss(ref_a: np.ndarray, ref_b: np.ndarray, query_a: np.ndarray, query_b: np.ndarray) -> np.ndarray:
    """Per column of b, the median over query rows of (b - b of the nearest reference row in a)^2.

    The median, not the mean: in sparse regions (a Gaussian's tails) the nearest row is far and
    the mean is ruled by a few rows there.
    """
    ref_norm = (ref_a**2).sum(axis=1)
    nearest = np.concatenate(
        [
            (ref_norm[None, :] - 2.0 * query_a[start : start + _BLOCK] @ ref_a.T).argmin(axis=1)  # + |q|^2: same per row
            for start in range(0, len(query_a), _BLOCK)
        ]
    )
    return np.median((query_b - ref_b[nearest]) ** 2, axis=0)


def noise_free_function(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> tuple[str, float, float] | None:
    """(which feature given what, growth of its nearest-neighbour miss, noise-free growth) for a noise-free function, or None.

    Test rows are predicted by their nearest training row (at most 20,000 of them), then by the
    nearest of the first quarter; only continuous features (:data:`MIN_DISTINCT`) on both sides count.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 1))
    >>> noise_free_function((x[:3000], np.sin(20 * x[:3000])), (x[3000:], np.sin(20 * x[3000:])))[0]
    'y feature 0 given x'
    >>> x2 = x + 0.3 * rng.normal(size=(4000, 1))
    >>> noise_free_function((x[:3000], x2[:3000] ** 2), (x[3000:], x2[3000:] ** 2)) is None
    True
    """
    for (a, b), (ta, tb), names in (
        ((train[0], train[1]), (test[0], test[1]), ("x", "y")),
        ((train[1], train[0]), (test[1], test[0]), ("y", "x")),
    ):
        a, b = (
            a.reshape(len(a), -1)[:_REFERENCE_ROWS].astype(np.float64),
            b.reshape(len(b), -1)[:_REFERENCE_ROWS].astype(np.float64),
        )
        ta, tb = (
            ta.reshape(len(ta), -1)[:_QUERY_ROWS].astype(np.float64),
            tb.reshape(len(tb), -1)[:_QUERY_ROWS].astype(np.float64),
        )
        targets = (distinct_fraction(b) >= MIN_DISTINCT) & (tb.var(axis=0) > 0)
        sources = np.flatnonzero(distinct_fraction(a) >= MIN_DISTINCT)
        if len(a) < 4 * MIN_ROWS_FOR_ORDER or not targets.any() or not len(sources):
            continue
        groups: list[tuple[list[int], str]] = [(sources.tolist(), names[0])] if len(sources) <= FUNCTION_MAX_DIMS else []
        if len(sources) > 1 and len(sources) * targets.sum() <= 256:
            groups += [([int(i)], f"{names[0]} feature {i}") for i in sources]
        quarter = len(a) // 4
        for columns, given in groups:
            full = _nearest_miss(a[:, columns], b, ta[:, columns], tb)
            few = _nearest_miss(a[:quarter, columns], b[:quarter], ta[:, columns], tb)
            expected = 16.0 ** (1.0 / len(columns))
            noise = full / (2.0 * _CHI2_MEDIAN)  # a Gaussian noise variance with this median miss
            spread = np.where(targets, tb.var(axis=0), 1.0)  # a constant feature is no target: no division by 0
            nats = -0.5 * np.log(np.maximum(noise, 1e-300) / spread)
            found = targets & (full > 0) & (few >= NOISE_FREE_SHARE * expected * full) & (nats >= FUNCTION_MIN_NATS)
            if found.any():
                j = int(np.flatnonzero(found)[0])
                return f"{names[1]} feature {j} given {given}", float(few[j] / full[j]), expected
    return None


def deterministic_dependence(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], limit: float, linear: bool
) -> str | None:
    """Why the dependence looks deterministic or too strong to measure below ``limit`` nats, or None.

    ``train`` and ``test`` are the preprocessed (x, y) splits; ``linear`` allows the least-squares
    check (it needs more training rows than features).
    """
    pair = monotone_pair(*train)
    if pair is not None:
        i, j, how = pair
        return f"y feature {j} is a strictly {how} function of x feature {i} on every training row"
    function = noise_free_function(train, test)
    if function is not None:
        which, growth, expected = function
        return (
            f"{which} looks like a noise-free function: predicted by the nearest training row, its squared miss "
            f"grows {growth:.1f}-fold when a quarter of the rows is searched (noise-free: {expected:.1f}-fold; with "
            "noise it would stay put)"
        )
    if not linear:
        return None
    head = LINEAR_CHECK_ROWS
    fraction, which = linear_residual((train[0][:head], train[1][:head]), (test[0][:head], test[1][:head]))
    gaussian = -0.5 * math.log(fraction) if fraction > 0 else math.inf
    if gaussian >= limit - SATURATION_MARGIN:
        return (
            f"{which} is predicted on the test split with a residual variance fraction of {fraction:.2e} "
            f"(a Gaussian-equivalent {gaussian:.2f} nats, within {SATURATION_MARGIN:g} nat of the ceiling {limit:.2f})"
        )
    return None
