r"""Screening of wide inputs: keep the columns of x and y that show pairwise dependence on the training split.

With thousands of features and a few thousand rows, a critic on every column overfits long
before it finds dependence confined to a few coordinate pairs. :func:`fit_screen` ranks every
(x column, y column) pair on the training split by its strongest Hermite correlation of normal
scores,

.. math:: z_{ij} = \sqrt{n}\,\max_{a, b \in \{1, 2\}} \bigl|\operatorname{corr}(h_a(u_i), h_b(v_j))\bigr|,
   \qquad h_1(u) = u, \; h_2(u) = |u|,

where ``u`` and ``v`` are the columns' normal scores ``Phi^{-1}(mid-rank / n)``: the linear term sees
monotone dependence of any shape, the folded terms see zero-correlation dependence through the
spread (``y = x^2 + noise``, ``y = x * noise``). Under independence each term is about N(0, 1)
(folding keeps the tails near normal at six standard errors, where squares would not),
so a column is kept where its best pair beats the Bonferroni threshold over all
``4 * d_x * d_y`` terms, at family-wise level :data:`SCREEN_ALPHA`; the strongest
:data:`MIN_SCREENED` columns of a side are kept even when none does, and at most
:data:`MAX_SCREENED` (and ``n / 8``). All statistics are float32 matrix products, a block of x
columns at a time.

The screen is fitted on training rows only; the candidates, their selection on validation and
the held-out report are unchanged, so columns kept by chance give an estimate near 0 on the test
split. What it cannot see: dependence that no single pair shows (spread thinly over many
coordinates, or only in a joint function of several columns, such as ``y = x_1 x_2``). The
estimate is then that of the kept columns, ``I(X_S; Y_T) <= I(X; Y)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuralmi.data import Preprocessor

__all__ = [
    "MAX_SCREENED",
    "MIN_SCREENED",
    "SCREEN_ALPHA",
    "WIDE_FEATURES",
    "Columns",
    "Screen",
    "fit_screen",
    "hermite_features",
    "normal_scores",
    "pair_statistics",
    "screen_width",
    "threshold",
]

WIDE_FEATURES = 1024
"""Inputs count as wide beyond this many x plus y features (the closed-form candidates' limit), or with
at most two training rows per feature, where a side has more than :data:`MAX_SCREENED`."""

MAX_SCREENED = 64
"""The most columns a screen keeps of a side (fewer where the training rows are few: ``n / 8``, at least :data:`MIN_SCREENED`)."""

MIN_SCREENED = 4
"""Columns a screen keeps of a side even when no pair beats the threshold (validation judges them)."""

SCREEN_ALPHA = 0.05
"""Family-wise level of the screen: under independence, all columns pass with at most this probability."""

RECORDED_PAIRS = 32
"""The strongest pairs a screen records."""

BLOCK_ENTRIES = 1 << 23
"""Entries of one block of x columns screened at a time: x columns times the larger of y columns and rows (32 MB of float32)."""


def screen_width(dims: tuple[int, int], n_train: int) -> int | None:
    """The most columns a screen keeps of a side, or None where the inputs are not wide or no side is wider than :data:`MAX_SCREENED`.

    >>> screen_width((13_000, 1024), 1200), screen_width((20, 20), 1200), screen_width((600, 5), 1000)
    (64, None, 64)
    """
    total = sum(dims)
    wide = total > WIDE_FEATURES or n_train <= 2 * total
    return max(MIN_SCREENED, min(MAX_SCREENED, n_train // 8)) if wide and max(dims) > MAX_SCREENED else None


def normal_scores(rows: np.ndarray) -> Tensor:
    """Per column of ``rows`` (n, d), ``Phi^{-1}((rank below + ties / 2) / n)`` as float32: the training rows' normal scores.

    Equal values share their mid-rank, as in :class:`neuralmi.data.NormalScores` fitted on these rows.

    >>> [round(v, 5) for v in normal_scores(np.array([[1.0], [3.0], [3.0], [2.0]])).ravel().tolist()]
    [-1.15035, 0.67449, 0.67449, -0.31864]
    """
    n = len(rows)
    columns = np.ascontiguousarray(rows.T)  # (d, n): each column's sort runs over contiguous memory
    order = np.argsort(columns, axis=1)
    ordered = np.take_along_axis(columns, order, 1)
    tied = ordered[:, 1:] == ordered[:, :-1]
    scores = np.empty(columns.shape, dtype=np.float32)
    table = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n).float().numpy()
    np.put_along_axis(scores, order, table[None, :], 1)  # no ties: rank r scores Phi^{-1}((r + 1/2) / n)
    with_ties = np.flatnonzero(tied.any(axis=1))
    if len(with_ties):
        scores[with_ties] = _tied_scores(order[with_ties], tied[with_ties])
    return torch.from_numpy(scores.T)


def _tied_scores(order: np.ndarray, tied: np.ndarray) -> np.ndarray:
    """Normal scores of mid-ranks for columns (k, n) sorted by ``order`` whose neighbours in that order are ``tied`` (k, n - 1)."""
    k, n = order.shape
    first, last = np.ones((k, n), dtype=bool), np.ones((k, n), dtype=bool)
    first[:, 1:] = last[:, :-1] = ~tied
    position = np.arange(n, dtype=np.float64)
    start = np.maximum.accumulate(np.where(first, position, 0.0), axis=1)
    end = np.minimum.accumulate(np.where(last, position + 1, float(n))[:, ::-1], axis=1)[:, ::-1]
    quantiles = np.empty((k, n))
    np.put_along_axis(quantiles, order, (start + end) / 2 / n, 1)
    return torch.special.ndtri(torch.from_numpy(quantiles)).float().numpy()


def hermite_features(scores: Tensor) -> Tensor:
    """``[u, |u|]`` of normal scores (n, d), each column centred and scaled to mean square 1; constant columns 0: (n, 2d)."""
    by_column = scores.T  # (d, n): contiguous where the scores come from normal_scores
    features = torch.cat([by_column, by_column.abs()])
    features -= features.mean(1, keepdim=True)
    norm = features.square().mean(1, keepdim=True).sqrt_()
    return features.div_(torch.where(norm > 0, norm, torch.ones_like(norm))).T


def pair_statistics(fx: Tensor, fy: Tensor) -> Tensor:
    """``z_ij = sqrt(n) max_ab |corr(h_a(u_i), h_b(v_j))|`` (dx, dy) from :func:`hermite_features` of x (n, 2 dx) and y (n, 2 dy)."""
    n, dx, dy = len(fx), fx.shape[1] // 2, fy.shape[1] // 2
    terms = (fx.T / n**0.5) @ fy
    z = terms[:dx, :dy].abs()
    for part in (terms[dx:, :dy], terms[:dx, dy:], terms[dx:, dy:]):
        torch.maximum(z, part.abs(), out=z)
    return z


def threshold(n_terms: int, alpha: float = SCREEN_ALPHA) -> float:
    """The Bonferroni threshold of ``n_terms`` two-sided N(0, 1) statistics at family-wise level ``alpha``.

    >>> round(threshold(4 * 13_000 * 1024), 2)
    6.12
    """
    return -NormalDist().inv_cdf(alpha / (2 * n_terms))


@dataclass(frozen=True)
class Screen:
    """The columns a screen kept of each side (None: all), and what it saw on the training rows."""

    x_columns: np.ndarray | None
    y_columns: np.ndarray | None
    threshold: float
    passed: tuple[int, int]
    pairs: list[tuple[int, int, float]] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        """JSON-ready summary: kept columns, threshold, columns over it per side, the strongest pairs (x column, y column, z)."""
        return {
            "x_columns": None if self.x_columns is None else self.x_columns.tolist(),
            "y_columns": None if self.y_columns is None else self.y_columns.tolist(),
            "threshold": self.threshold,
            "passed": list(self.passed),
            "pairs": [list(p) for p in self.pairs],
            "rows": self.rows,
            "seconds": self.seconds,
        }


def _keep(scores: Tensor, limit: float, cap: int) -> tuple[np.ndarray, int]:
    """(the kept columns, sorted; how many beat ``limit``): those over it, the strongest first, at least MIN_SCREENED, at most ``cap``."""
    passed = int((scores > limit).sum())
    count = min(cap, max(passed, MIN_SCREENED), len(scores))
    return np.sort(torch.argsort(scores, descending=True, stable=True)[:count].numpy()), passed


def fit_screen(x: np.ndarray, y: np.ndarray, cap: int, *, alpha: float = SCREEN_ALPHA) -> Screen:
    """Screen the training rows ``x`` (n, dx) and ``y`` (n, dy): keep up to ``cap`` columns of each side wider than ``cap``.

    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(500, 300)), rng.normal(size=(500, 200))
    >>> y[:, 7] += x[:, 42]
    >>> s = fit_screen(x, y, 8)
    >>> s.passed, 42 in s.x_columns, 7 in s.y_columns
    ((1, 1), True, True)
    """
    start = time.perf_counter()
    n, (dx, dy) = len(x), (x.shape[1], y.shape[1])
    fy = hermite_features(normal_scores(y))
    best_x, best_y = torch.empty(dx), torch.zeros(dy)
    top: list[tuple[float, int, int]] = []
    width = max(1, BLOCK_ENTRIES // max(1, dy, n))
    for a in range(0, dx, width):
        z = pair_statistics(hermite_features(normal_scores(x[:, a : a + width])), fy)
        best_x[a : a + len(z)] = z.amax(1)
        best_y = torch.maximum(best_y, z.amax(0))
        values, flat = torch.topk(z.flatten(), min(RECORDED_PAIRS, z.numel()))
        top.extend((float(v), a + int(k) // dy, int(k) % dy) for v, k in zip(values, flat))
    limit = threshold(4 * dx * dy, alpha)
    (x_keep, x_passed), (y_keep, y_passed) = _keep(best_x, limit, cap), _keep(best_y, limit, cap)
    pairs = [(i, j, round(v, 3)) for v, i, j in sorted(top, reverse=True)[:RECORDED_PAIRS]]
    return Screen(
        x_keep if dx > cap else None,
        y_keep if dy > cap else None,
        limit,
        (x_passed, y_passed),
        pairs,
        n,
        time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Columns:
    """A side's screened columns, then their preprocessing: ``v -> inner(v.reshape(n, -1)[:, columns])``.

    ``input_shape`` is the sample shape it takes; it gives samples of ``len(columns)`` features.
    """

    inner: Preprocessor
    columns: np.ndarray
    input_shape: tuple[int, ...]

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """The kept columns of ``data`` (n, *input_shape), preprocessed: float32 (n, len(columns))."""
        return self.inner(np.asarray(data).reshape(len(data), -1)[:, self.columns])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The inner preprocessing's arrays, with ``columns`` and ``input_shape``."""
        return {**self.inner.to_arrays(), "columns": self.columns, "input_shape": np.array(self.input_shape, dtype=np.int64)}

    @staticmethod
    def from_arrays(kind: Any, arrays: dict[str, np.ndarray]) -> Any:
        """Inverse of :meth:`to_arrays` with ``kind`` the inner preprocessing's class; arrays without columns give ``kind``'s own."""
        if "columns" not in arrays:
            return kind.from_arrays(arrays)
        shape = tuple(int(i) for i in arrays["input_shape"])
        return Columns(kind.from_arrays(arrays), np.asarray(arrays["columns"], dtype=np.int64), shape)
