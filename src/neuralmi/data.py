"""Input checks and conversion: numpy, torch, pandas and lists to float arrays; splits; scaling."""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neuralmi.errors import NeuralMIError

__all__ = [
    "EXACT_INTEGERS",
    "IQR_PER_SD",
    "MAD_PER_SD",
    "PREPROCESSORS",
    "NormalScores",
    "Preprocess",
    "Preprocessor",
    "Standardizer",
    "as_samples",
    "check_pair",
    "is_numeric_dtype",
    "labels_hint",
    "numeric_frame",
    "read_pairs",
    "release_pages",
    "split_indices",
]

ROWS_PER_CHUNK = 65_536
"""Rows checked, read or mapped at a time in large inputs, so that temporaries stay a few MB."""


def _column_names(data: Any) -> list[str] | None:
    columns = getattr(data, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


EXACT_INTEGERS = 2**53
"""float64 represents every integer up to this magnitude exactly, and not all integers beyond it."""
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE)
_GROUPED = re.compile(r"[+-]?\d{1,3}([,_ .']\d{3})+(\.\d*)?")


def is_numeric_dtype(dtype: Any) -> bool:
    """True for numeric and boolean numpy or pandas dtypes."""
    try:
        return bool(np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_))
    except TypeError:  # pandas extension dtypes (string, category, ...)
        kind = getattr(dtype, "kind", "O")
        return kind in "biuf" and not getattr(dtype, "name", "").startswith("category")


def _is_missing(cell: Any) -> bool:
    """None, pandas' NA or NaT, or a float NaN."""
    if cell is None or type(cell).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(cell, (float, np.floating)) and cell != cell


def _cell_problem(name: str, col: str, cells: np.ndarray) -> NeuralMIError | None:
    """The error for the first cell of a text or object column that is no number or is missing, or for numbers kept as
    text; None if every cell is a number or a boolean."""
    as_text = None
    for row, cell in enumerate(cells):
        if _is_missing(cell):
            return NeuralMIError(f"{name} column {col!r} has a missing value (None/NA) at row {row}")
        if isinstance(cell, (bool, int, float, np.bool_, np.integer, np.floating)):
            continue
        if isinstance(cell, str) and _NUMBER.fullmatch(cell.strip()):
            as_text = row if as_text is None else as_text
            continue
        hint = ""
        if isinstance(cell, str) and _GROUPED.fullmatch(cell.strip()):
            hint = "; if it groups digits with a thousands separator, say so (thousands=',' / --thousands ',')"
        return NeuralMIError(f"{name} column {col!r} is non-numeric: row {row} holds {repr(cell)[:40]}, not a number{hint}")
    if as_text is not None:
        return NeuralMIError(
            f"{name} column {col!r} holds numbers as text (row {as_text}: {cells[as_text]!r}); "
            "convert it with pandas.to_numeric first"
        )
    return None


def labels_hint(err: NeuralMIError, declare: str) -> NeuralMIError:
    """``err`` naming how to declare the side as category labels (``declare``: ``discrete_y=True``, ``--discrete y``) where it says non-numeric; else ``err``."""
    text = str(err)
    if " is non-numeric" not in text:  # as_samples' own words ("x is ...", "x column 'c' is ..."), not a column named so
        return err
    if text.endswith("declare it discrete"):
        return NeuralMIError(f"{text} ({declare})")
    return NeuralMIError(f"{text}; if it holds category labels, declare it with {declare}")


def _column_as_float(column: Any, name: str, col: str) -> np.ndarray:
    """One DataFrame column as float64, or a NeuralMIError naming its first missing, non-numeric or too large cell."""
    dtype = column.dtype
    if getattr(dtype, "name", "").startswith("category"):
        raise NeuralMIError(f"{name} column {col!r} is non-numeric (dtype {dtype}); encode it as numbers or declare it discrete")
    if not is_numeric_dtype(dtype):
        problem = _cell_problem(name, col, column.to_numpy(dtype=object))
        if problem is not None:
            raise problem
        return column.to_numpy(dtype=np.float64)  # Python numbers and booleans in an object column
    if not isinstance(dtype, np.dtype):  # pandas' nullable Int64, Float64, boolean: NA is a missing value
        missing = np.flatnonzero(column.isna().to_numpy())
        if len(missing):
            raise NeuralMIError(f"{name} column {col!r} has a missing value (NA) at row {int(missing[0])}")
        if getattr(dtype, "kind", "") in "iu":
            _check_exact(column.to_numpy(dtype=np.int64 if dtype.kind == "i" else np.uint64), f"{name} column {col!r}")
    elif dtype.kind in "iu":
        _check_exact(column.to_numpy(), f"{name} column {col!r}")
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_frame(frame: Any, name: str) -> np.ndarray:
    """A pandas DataFrame as float64, after checking that every column is numeric or boolean (NaN kept; NA refused)."""
    columns = [_column_as_float(frame.iloc[:, i], name, str(c)) for i, c in enumerate(frame.columns)]
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


def _check_exact(values: np.ndarray, what: str) -> None:
    """Refuse integers beyond 2**53 in magnitude: float64 would round them (2**53 + 1 becomes 2**53).

    Integer arrays are checked, and object arrays of Python integers (too large even for int64).
    """
    if values.size == 0 or values.ndim == 0:
        return
    if values.dtype == object:
        if not all(type(v) is int for v in values.flat):
            return
        found = [(r, v) for r, vs in enumerate(values.reshape(len(values), -1).tolist()) for v in vs if abs(v) > EXACT_INTEGERS]
        if not found:
            return
        row, first = found[0]
    elif values.dtype.kind in "iu":
        big = (values > EXACT_INTEGERS) | (values < -EXACT_INTEGERS)
        if not big.any():
            return
        where = tuple(int(i) for i in np.argwhere(big)[0])
        row, first = where[0], values[where]
    else:
        return
    raise NeuralMIError(
        f"{what} holds integers beyond 2**53 in magnitude ({first} at row {row}), which float64 cannot "
        "represent exactly; subtract an offset or keep the digits that matter, or declare them discrete (class labels)"
    )


def _tensor_to_numpy(data: Any, name: str) -> np.ndarray:
    """A torch tensor on any device and of any dtype numpy lacks (bfloat16, float8, sparse) as a numpy array."""
    import torch

    if data.is_meta:
        raise NeuralMIError(f"{name} is a meta tensor, which holds no values; pass a tensor with data")
    data = data.detach()
    if data.layout != torch.strided:
        data = data.to_dense()
    data = data.cpu()
    if data.is_floating_point() and data.dtype not in (torch.float16, torch.float32, torch.float64):
        data = data.float()  # bfloat16, float8: float32 holds them exactly
    try:
        return data.numpy()
    except (TypeError, RuntimeError) as err:
        raise NeuralMIError(f"{name} is a tensor of dtype {data.dtype}, which neuralmi cannot read ({err})") from None


def _to_numpy(data: Any, name: str) -> np.ndarray:
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # torch tensor, on any device
        return _tensor_to_numpy(data, name)
    if isinstance(data, np.ma.MaskedArray):
        if np.ma.getmaskarray(data).any():
            raise NeuralMIError(
                f"{name} is a masked array with {int(np.ma.getmaskarray(data).sum())} masked values; neuralmi does not "
                "read masks: drop the masked rows or fill them (numpy.ma.compress_rows, .filled) first"
            )
        data = data.data
    if _column_names(data) is not None:
        return numeric_frame(data, name)
    if hasattr(data, "to_numpy"):  # pandas Series
        data = data.to_numpy()
    try:
        return np.asarray(data)
    except ValueError as err:  # ragged lists
        raise NeuralMIError(f"{name} could not be read as a rectangular array: {err}") from None


def release_pages(arr: np.ndarray) -> None:
    """Unmap the resident pages of the shared memory map under ``arr`` (``np.memmap`` mode r, r+ or w+) after a pass.

    Memory, not data: the kernel maps them again from the page cache when they are next read.
    Anything else is left alone, a copy-on-write map (mode c) too (dropping its pages would drop its changes).
    """
    mode: str | None = None
    base: Any = arr
    while base is not None and not isinstance(base, mmap.mmap):
        if isinstance(base, np.memmap) and mode is None:
            mode = base.mode
        base = getattr(base, "base", None)
    if isinstance(base, mmap.mmap) and mode in ("r", "r+", "w+") and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)


def _all_finite(arr: np.ndarray) -> bool:
    """No NaN or inf in ``arr``, checked a chunk of rows at a time (no full-size mask; a memory map's pages released)."""
    finite = all(bool(np.isfinite(arr[a : a + ROWS_PER_CHUNK]).all()) for a in range(0, len(arr), ROWS_PER_CHUNK))
    release_pages(arr)
    return finite


def as_samples(data: Any, name: str = "x", *, keep_float32: bool = False) -> np.ndarray:
    """Validate samples and return them as a float64 array of shape (n, *sample_shape).

    A 1-D input is n samples of one feature. Integers (up to 2**53 in magnitude) and booleans are
    accepted; NaN or inf, missing values, masked values, non-numeric values, 0-dimensional input and
    samples of no features raise ``NeuralMIError`` naming the problem. With ``keep_float32``,
    float32 input is returned as it is (a memory-mapped array stays mapped, uncopied) instead of as
    a float64 copy.
    """
    names = _column_names(data)
    if names is None and hasattr(data, "to_frame"):  # a pandas Series: checked as a one-column table
        arr = numeric_frame(data.to_frame(), name)[:, 0]
    else:
        arr = _to_numpy(data, name)
    _check_exact(arr, name)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise NeuralMIError(f"{name} is non-numeric (dtype {arr.dtype}); pass numbers, booleans or a numeric table")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise NeuralMIError(f"{name} is complex (dtype {arr.dtype}); pass real and imaginary parts as separate features")
    if arr.ndim == 0:
        raise NeuralMIError(f"{name} is a scalar; pass an array of samples with shape (n, ...)")
    if arr.ndim > 1 and 0 in arr.shape[1:]:
        raise NeuralMIError(f"{name} has samples of no features (shape {arr.shape}); each sample needs at least one value")
    if not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[:, None]
    if _all_finite(arr):
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        row, rest = int(where[0]), tuple(int(i) for i in where[1:])
        kind = "NaN" if np.isnan(arr[tuple(where)]) else "inf"
        col = (names[rest[0]] if names is not None else rest[0]) if len(rest) == 1 else rest
        raise NeuralMIError(f"{name} has {kind} at row {row}, column {col!r} ({int(bad.sum())} non-finite values in all)")
    return arr


def _batch_arrays(batch: Any) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) parts of one collated batch as numpy arrays (float32 and float64 kept, other numbers as float64)."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise NeuralMIError(f"a Dataset or DataLoader must yield (x, y) pairs, got a batch of type {type(batch).__name__}")
    parts = []
    for part in batch:
        arr = _to_numpy(part, "a batch")
        parts.append(arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64))
    return parts[0], parts[1]


def read_pairs(data: Any, batch_size: int = ROWS_PER_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """The paired samples ``(x, y)`` of a torch ``Dataset`` of ``(x_i, y_i)`` items or a ``DataLoader`` of batches.

    A ``TensorDataset`` of two tensors gives its tensors' memory, uncopied (CPU). Another map-style
    dataset (``__len__`` and ``__getitem__``, or ``__getitems__``) is read in index order,
    ``batch_size`` rows at a time, into arrays allocated once. A ``DataLoader`` or an
    ``IterableDataset`` is iterated once, in its own order (a shuffling loader gives a different order
    each time: pass its dataset for a reproducible split). Float32 stays float32.

    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> x, y = read_pairs(TensorDataset(torch.zeros(5, 2), torch.ones(5)))
    >>> x.shape, y.shape, x.dtype
    ((5, 2), (5,), dtype('float32'))
    """
    from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        return _batch_arrays(data.tensors)
    if isinstance(data, DataLoader) or isinstance(data, IterableDataset):
        loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
        pairs = [_batch_arrays(batch) for batch in loader]
        if not pairs:
            raise NeuralMIError("the DataLoader yielded no batches")
        return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    if not isinstance(data, Dataset) or not hasattr(data, "__len__"):
        raise NeuralMIError(
            f"y is missing: pass y, or pass x as a torch Dataset / DataLoader of (x, y) pairs (got {type(data).__name__})"
        )
    n = len(data)
    out: tuple[np.ndarray, np.ndarray] | None = None
    for start, batch in zip(range(0, n, batch_size), DataLoader(data, batch_size=batch_size)):
        bx, by = _batch_arrays(batch)
        if out is None:
            out = (np.empty((n, *bx.shape[1:]), bx.dtype), np.empty((n, *by.shape[1:]), by.dtype))
        out[0][start : start + len(bx)], out[1][start : start + len(by)] = bx, by
    if out is None:
        raise NeuralMIError("the Dataset is empty")
    return out


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
Preprocess = Literal["standardize", "normal_scores"]
"""The names of :data:`PREPROCESSORS`."""
PREPROCESSORS: dict[Preprocess, type[Standardizer] | type[NormalScores]] = {
    "standardize": Standardizer,
    "normal_scores": NormalScores,
}
"""Per-feature maps fitted on the training split, by name."""
