"""Input checks and conversion: numpy, torch, pandas and lists to float arrays; splits; scaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralmi.errors import NeuralMIError

__all__ = [
    "IQR_PER_SD",
    "MAD_PER_SD",
    "PREPROCESSORS",
    "NormalScores",
    "Preprocessor",
    "Standardizer",
    "as_samples",
    "check_pair",
    "is_numeric_dtype",
    "numeric_frame",
    "split_indices",
]


def _column_names(data: Any) -> list[str] | None:
    columns = getattr(data, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


def is_numeric_dtype(dtype: Any) -> bool:
    """True for numeric and boolean numpy or pandas dtypes."""
    try:
        return bool(np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_))
    except TypeError:  # pandas extension dtypes (string, category, ...)
        kind = getattr(dtype, "kind", "O")
        return kind in "biuf" and not getattr(dtype, "name", "").startswith("category")


def numeric_frame(frame: Any, name: str) -> np.ndarray:
    """A pandas DataFrame as float64, after checking that every column is numeric or boolean (NaN kept)."""
    for col, dtype in zip(frame.columns, frame.dtypes):
        if not is_numeric_dtype(dtype):
            raise NeuralMIError(f"{name} column {str(col)!r} is non-numeric (dtype {dtype}); encode it as numbers first")
    return frame.to_numpy(dtype=np.float64, na_value=np.nan)


def _to_numpy(data: Any, name: str) -> np.ndarray:
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch tensor, on any device
        data = data.detach().cpu()
        if str(data.dtype) == "torch.bfloat16":
            data = data.float()
        return data.numpy()
    if _column_names(data) is not None:
        return numeric_frame(data, name)
    if hasattr(data, "to_numpy"):  # pandas Series
        data = data.to_numpy()
    try:
        return np.asarray(data)
    except ValueError as err:  # ragged lists
        raise NeuralMIError(f"{name} could not be read as a rectangular array: {err}") from None


def as_samples(data: Any, name: str = "x") -> np.ndarray:
    """Validate samples and return them as a float64 array of shape (n, *sample_shape).

    A 1-D input is n samples of one feature. Integers and booleans are accepted; NaN or inf,
    non-numeric values and 0-dimensional input raise ``NeuralMIError`` naming the problem.
    """
    names = _column_names(data)
    arr = _to_numpy(data, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise NeuralMIError(f"{name} is non-numeric (dtype {arr.dtype}); pass numbers, booleans or a numeric table")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise NeuralMIError(f"{name} is complex (dtype {arr.dtype}); pass real and imaginary parts as separate features")
    if arr.ndim == 0:
        raise NeuralMIError(f"{name} is a scalar; pass an array of samples with shape (n, ...)")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[:, None]
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        row, rest = int(where[0]), tuple(int(i) for i in where[1:])
        kind = "NaN" if np.isnan(arr[tuple(where)]) else "inf"
        col = (names[rest[0]] if names is not None else rest[0]) if len(rest) == 1 else rest
        raise NeuralMIError(f"{name} has {kind} at row {row}, column {col!r} ({int(bad.sum())} non-finite values in all)")
    return arr


def check_pair(x: np.ndarray, y: np.ndarray, min_rows: int) -> None:
    """Raise ``NeuralMIError`` unless x and y have equal row counts of at least ``min_rows``."""
    if len(x) != len(y):
        raise NeuralMIError(f"x and y must have the same number of rows (paired samples), got {len(x)} and {len(y)}")
    if len(x) < min_rows:
        raise NeuralMIError(f"too few rows: got {len(x)} paired samples, need at least {min_rows}")


def split_indices(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Shuffle range(n) with ``seed`` and cut it into consecutive parts of the given fractions (the rest last)."""
    perm = np.random.default_rng(seed).permutation(n)
    sizes = [int(round(f * n)) for f in fractions]
    cuts = np.cumsum(sizes)
    return np.split(perm, cuts)


IQR_PER_SD = 1.3489795003921634
"""The interquartile range of a standard normal, 2 Phi^{-1}(3/4): IQR / 1.349 estimates a normal sd."""

MAD_PER_SD = 0.6744897501960817
"""The median absolute deviation of a standard normal, Phi^{-1}(3/4): MAD / 0.674 estimates a normal sd."""


def _binary_exponent(data: np.ndarray) -> np.ndarray:
    """Per column, the power of two at or above its largest magnitude: dividing by it maps the column into [-1, 1] exactly."""
    largest = np.abs(data).max(axis=0) if len(data) else np.zeros(data.shape[1:])
    return np.frexp(largest)[1].astype(np.int64)


def _robust_scale(scaled: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Per-column spread of columns in [-1, 1]: IQR / 1.349, else MAD / 0.674, else the sd, else 1 (a constant column)."""
    q25, q75 = np.percentile(scaled, [25, 75], axis=0)
    mad = np.median(np.abs(scaled - centre), axis=0)
    scale = (q75 - q25) / IQR_PER_SD
    scale = np.where(scale > 0, scale, mad / MAD_PER_SD)
    scale = np.where(scale > 0, scale, scaled.std(axis=0))
    return np.where(scale > 0, scale, 1.0)


@dataclass(frozen=True)
class Standardizer:
    r"""Per-feature ``(v - median) / scale`` with robust float64 statistics; constant features map to 0.

    ``scale`` is the interquartile range over 1.349 (the sd of normal data), else the median absolute
    deviation over 0.674, else the sd, else 1, so a few wild training values do not squash the rest
    to 0. Each feature is first divided by the power of two at or above its largest training
    magnitude (``exponent``; exact in binary), so any finite float64 input, from subnormals to
    1e308, gives finite statistics. New values are clipped to the training range of each feature
    (``low``, ``high`` in standardised units): an outlier in the test split is treated as the most
    extreme training value, never extrapolated.

    ``mean`` and ``std`` hold the centre and scale in units of ``2**exponent`` (the names are those
    of the saved format; a saved file without ``exponent`` reads as exponent 0 and no clipping).

    >>> s = Standardizer.fit(np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [1e12]]))
    >>> s(np.array([[3.5], [-1e300]])).ravel().astype(float).round(2).tolist()  # the median is 3.5; -1e300 is clipped to the low end
    [0.0, -1.35]
    """

    mean: np.ndarray
    std: np.ndarray
    exponent: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @classmethod
    def fit(cls, data: np.ndarray) -> Standardizer:
        """Robust statistics and range of ``data`` (n, ...) over its rows."""
        exponent = _binary_exponent(data)
        scaled = np.ldexp(data, -exponent)
        centre = np.median(scaled, axis=0)
        scale = _robust_scale(scaled, centre)
        with np.errstate(over="ignore"):
            z = (scaled - centre) / scale
        return cls(centre, scale, exponent, z.min(axis=0), z.max(axis=0))

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of ``data``, clipped to the training range."""
        exponent = np.zeros(np.shape(self.mean), dtype=np.int64) if self.exponent is None else self.exponent
        with np.errstate(over="ignore"):  # a value far beyond the training scale becomes inf, then the range's end
            z = (np.ldexp(data, -exponent) - self.mean) / self.std
        if self.low is not None and self.high is not None:
            z = np.clip(z, self.low, self.high)
        limit = float(np.finfo(np.float32).max)
        return np.clip(z, -limit, limit).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for saving (``np.savez``, no pickles)."""
        arrays = {"mean": self.mean, "std": self.std}
        for name in ("exponent", "low", "high"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = value
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Standardizer:
        """Inverse of :meth:`to_arrays`."""
        return cls(arrays["mean"], arrays["std"], arrays.get("exponent"), arrays.get("low"), arrays.get("high"))


def _interpolate(column: np.ndarray, values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``F_n`` through (values, quantiles), held constant beyond the ends.

    The position between two neighbours is computed as a fraction of their gap (both halved, so
    no difference overflows), so neighbours closer than 1e-308 give no infinite slope.
    """
    right = np.clip(np.searchsorted(values, column, side="right"), 1, len(values) - 1) if len(values) > 1 else None
    if right is None:  # one training value: every value is it
        return np.full(column.shape, quantiles[0])
    left = right - 1
    lo, hi = values[left], values[right]
    gap = hi / 2 - lo / 2
    with np.errstate(all="ignore"):  # far beyond the range the fraction overflows to inf, then is clipped to 1
        t = np.where(gap > 0, (column / 2 - lo / 2) / np.where(gap > 0, gap, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    return quantiles[left] + t * (quantiles[right] - quantiles[left])


@dataclass(frozen=True)
class NormalScores:
    r"""Per-feature rank-to-normal map ``z = Phi^{-1}(F_n(v))`` fitted on training rows (a Gaussian copula transform).

    Strictly increasing on the training values, so it leaves mutual information unchanged while
    taming heavy tails. ``F_n`` is the training mid-rank ECDF, linearly interpolated between distinct
    training values; a value outside the training range is clipped to it (it gets the end quantile,
    within ``[1/(2n), 1 - 1/(2n)]``). Any finite float64 input, subnormals and 1e308 included, gives
    finite scores.
    """

    values: tuple[np.ndarray, ...]
    quantiles: tuple[np.ndarray, ...]
    shape: tuple[int, ...]

    @classmethod
    def fit(cls, data: np.ndarray) -> NormalScores:
        """Distinct values and mid-rank quantiles of each feature of ``data`` (n, ...)."""
        flat, n = data.reshape(len(data), -1), len(data)
        values, quantiles = [], []
        for column in flat.T:
            unique, counts = np.unique(column, return_counts=True)
            values.append(unique)
            quantiles.append((np.cumsum(counts) - counts / 2) / n)
        return cls(tuple(values), tuple(quantiles), data.shape[1:])

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Normal scores of ``data`` as float32, in its own shape."""
        import torch

        flat = data.reshape(len(data), -1)
        # values outside the training range get the end quantiles, which lie strictly inside (0, 1)
        u = np.column_stack([_interpolate(col, v, q) for col, v, q in zip(flat.T, self.values, self.quantiles)])
        z = torch.special.ndtri(torch.from_numpy(u)).numpy()
        return z.reshape(data.shape).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for saving: per-feature tables padded with NaN, their lengths and the sample shape."""
        width = max(len(v) for v in self.values)
        values, quantiles = np.full((len(self.values), width), np.nan), np.full((len(self.values), width), np.nan)
        for i, (v, q) in enumerate(zip(self.values, self.quantiles)):
            values[i, : len(v)], quantiles[i, : len(q)] = v, q
        lengths = np.array([len(v) for v in self.values])
        return {"values": values, "quantiles": quantiles, "lengths": lengths, "shape": np.array(self.shape, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NormalScores:
        """Inverse of :meth:`to_arrays`."""
        cut = [int(k) for k in arrays["lengths"]]
        values = tuple(row[:k] for row, k in zip(arrays["values"], cut))
        quantiles = tuple(row[:k] for row, k in zip(arrays["quantiles"], cut))
        return cls(values, quantiles, tuple(int(i) for i in arrays["shape"]))


Preprocessor = Standardizer | NormalScores
PREPROCESSORS: dict[str, type[Standardizer] | type[NormalScores]] = {"standardize": Standardizer, "normal_scores": NormalScores}
"""Per-feature maps fitted on the training split, by name."""
