r"""Discrete variables: labels as categories, never as one ordered number.

* :func:`as_labels` reads labels (numbers, booleans, strings, pandas categoricals, table rows) and
  codes them ``0 .. K-1`` in the sorted order of their categories.
* :class:`OneHot` is the preprocessor of a coded side (fitted on the training split).
* :func:`looks_discrete` says when an undeclared numeric side looks like labels, and
  :func:`code_columns` when integer columns of few values sit beside continuous ones.
* :class:`ClassifierCritic` (continuous x, discrete y) and :class:`ContingencyCritic` (both discrete)
  are density-ratio critics ``T(x, y) = log p(y | x) / p(y)`` under the score-matrix contract of
  :mod:`neuralmi.critics`; :func:`fit_classifier` and :func:`fit_contingency` fit them by maximum
  likelihood on a training split and choose on a validation split.

A coded side enters a critic as codes, a tensor of shape (M,) or (M, 1) of any dtype holding
integers; a code outside the critic's ``0 .. K-1`` (a category it never saw) scores 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi._optim import AdamW
from neuralmi.critics import Activation, _zero_, mlp
from neuralmi.data import _column_names, _to_numpy, is_numeric_dtype
from neuralmi.errors import NeuralMIError

__all__ = [
    "CODE_BLOCK_ELEMENTS",
    "NAMED_COLUMNS",
    "Categorical",
    "ClassifierCritic",
    "ClassifierFit",
    "ContingencyCritic",
    "OneHot",
    "Swapped",
    "as_labels",
    "code_columns",
    "fit_classifier",
    "fit_contingency",
    "looks_discrete",
]


# ----------------------------------------------------------------------------------------------- reading labels


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT and pandas.NA (whose ``!=`` is neither True nor False)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def _kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple, dict, set, np.ndarray)):
        return "sequence"
    return type(value).__name__


def _typed(values: np.ndarray, name: str) -> np.ndarray:
    """An object array of labels as a bool, number or str array (other single types stay object)."""
    flat = values.tolist()
    missing = [i for i, v in enumerate(flat) if _is_missing(v)]
    if missing:
        raise NeuralMIError(
            f"{name} has a missing label ({flat[missing[0]]!r}) at row {missing[0]} ({len(missing)} missing in all)"
        )
    kinds = sorted({_kind(v) for v in flat})
    if "sequence" in kinds:
        row = next(i for i, v in enumerate(flat) if _kind(v) == "sequence")
        raise NeuralMIError(f"{name} holds a sequence at row {row}; a label is one value per row (a DataFrame combines columns)")
    if len(kinds) > 1:
        raise NeuralMIError(f"{name} mixes label types ({', '.join(kinds)}); convert the labels to one type")
    kind = kinds[0] if kinds else "number"
    if kind == "bool":
        return np.array(flat, dtype=bool)
    if kind == "number":
        return np.array(flat, dtype=np.int64 if all(isinstance(v, numbers.Integral) for v in flat) else np.float64)
    return np.array(flat, dtype=str) if kind == "string" else values


def _one_column(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Canonical codes and sorted categories of one column of labels."""
    if values.dtype == object:
        values = _typed(values, name)
    if values.dtype.kind == "c":
        raise NeuralMIError(f"{name} is complex (dtype {values.dtype}); labels are integers, booleans or strings")
    if values.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            raise NeuralMIError(f"{name} has a missing label (NaN) at row {bad[0]} ({len(bad)} missing in all)")
        frac = np.flatnonzero(values != np.round(values))
        if len(frac):
            raise NeuralMIError(
                f"{name} has a non-integer label {values[frac[0]].item()!r} at row {frac[0]}: labels are integers, "
                "booleans or strings (leave a measured quantity continuous)"
            )
        values = values.astype(np.int64)
    if values.dtype.kind in "mM" and np.isnat(values).any():
        raise NeuralMIError(f"{name} has a missing label (NaT) at row {np.flatnonzero(np.isnat(values))[0]}")
    try:
        categories, codes = np.unique(values, return_inverse=True)
    except TypeError as err:
        raise NeuralMIError(f"{name} labels cannot be ordered ({err}); convert them to integers or strings") from None
    return codes.reshape(-1).astype(np.int64), categories


def _frame_rows(frame: Any, name: str, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct row of a table's columns is one category, ordered column by column."""
    if len(set(columns)) < len(columns):
        raise NeuralMIError(f"{name} has duplicate column names {columns}; rename them")
    parts = [_one_column(frame.iloc[:, j].to_numpy(), f"{name} column {col!r}") for j, col in enumerate(columns)]
    rows, codes = np.unique(np.stack([c for c, _ in parts], axis=1), axis=0, return_inverse=True)
    categories = np.empty(len(rows), dtype=[(col, cats.dtype) for col, (_, cats) in zip(columns, parts)])
    for j, (col, (_, cats)) in enumerate(zip(columns, parts)):
        categories[col] = cats[rows[:, j]]
    return codes.reshape(-1).astype(np.int64), categories


def _label_array(data: Any, name: str) -> np.ndarray:
    """Labels of a list, tensor, Series or array as a 1-D numpy array."""
    if isinstance(data, (list, tuple)):
        arr = np.empty(len(data), dtype=object)
        arr[:] = [v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v for v in data]
    elif hasattr(data, "detach") or hasattr(data, "to_numpy"):
        arr = _to_numpy(data, name)
    else:
        arr = np.asarray(data)
    if arr.ndim == 0:
        raise NeuralMIError(f"{name} is a scalar; pass one label per row, shape (n,)")
    if arr.ndim > 1 and math.prod(arr.shape[1:]) != 1:
        raise NeuralMIError(
            f"{name} has shape {arr.shape}: labels are one column, shape (n,) or (n, 1) "
            "(a pandas DataFrame combines several columns into one label)"
        )
    return arr.reshape(len(arr))


def _recode(codes: np.ndarray, found: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Codes into ``categories`` for data coded by its own categories ``found``; unknown ones become -1."""
    index = {v: i for i, v in enumerate(categories.tolist())}
    lookup = np.array([index.get(v, -1) for v in found.tolist()], dtype=np.int64)
    return lookup[codes]


def as_labels(
    data: Any, name: str = "y", *, categories: np.ndarray | None = None, min_rows: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Read labels as ``(codes, categories)`` with ``categories[codes[i]]`` the label of row i.

    Categories are sorted, so the codes (int64, shape (n,)) depend on the labels and not on
    how they were numbered or ordered in the data. Accepts integer, boolean and string arrays,
    integral floats, lists, torch tensors, pandas Series (categorical and string dtypes too) and
    DataFrames, whose several columns make one label per distinct row (``categories`` is then a
    structured array, one field per column). Given the ``categories`` of an earlier call, codes
    index into them instead, and a label not among them gets code -1.

    >>> codes, cats = as_labels(["b", "a", "c", "a"])
    >>> codes.tolist(), cats.tolist()
    ([1, 0, 2, 0], ['a', 'b', 'c'])
    >>> as_labels(["c", "z"], categories=cats)[0].tolist()
    [2, -1]
    """
    columns = _column_names(data)
    values = _label_array(data, name) if columns is None else None
    n = len(values) if values is not None else len(data)
    if n < min_rows:
        raise NeuralMIError(f"too few rows: {name} has {n} labels, need at least {min_rows}")
    if values is not None:
        codes, found = _one_column(values, name)
    elif not columns:
        raise NeuralMIError(f"{name} is a table without columns")
    elif len(columns) > 1:
        codes, found = _frame_rows(data, name, columns)
    else:
        codes, found = _one_column(data.iloc[:, 0].to_numpy(), f"{name} column {columns[0]!r}")
    return (codes, found) if categories is None else (_recode(codes, found, categories), categories)


def _codes_array(codes: Any, name: str) -> np.ndarray:
    """Integer codes (n,) from an array of shape (n,) or (n, 1) holding integers."""
    arr = np.asarray(codes)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or not is_numeric_dtype(arr.dtype):
        raise NeuralMIError(f"{name} must be integer codes of shape (n,) or (n, 1), got shape {arr.shape} and dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.array_equal(arr, np.round(arr)):
        raise NeuralMIError(f"{name} holds non-integer values; codes are integers (see as_labels)")
    return arr.astype(np.int64)


@dataclass(frozen=True)
class OneHot:
    """One-hot rows ``e_k`` for the codes seen in training, in sorted order; an unseen code maps to all zeros.

    The all-zero row of an unseen category carries no information about it (the critic sees the
    same input for every unseen label), which is all the training data can say.

    >>> enc = OneHot.fit(np.array([2, 0, 2]))
    >>> enc(np.array([0, 2, 1])).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """

    classes: np.ndarray

    @classmethod
    def fit(cls, codes: np.ndarray) -> OneHot:
        """The distinct training codes (n,) or (n, 1)."""
        return cls(np.unique(_codes_array(codes, "codes")))

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """Float32 one-hot matrix (n, K) of ``codes`` (n,) or (n, 1), K = number of training classes."""
        arr = _codes_array(codes, "codes")
        pos = np.searchsorted(self.classes, arr).clip(0, max(len(self.classes) - 1, 0))
        out = np.zeros((len(arr), len(self.classes)), dtype=np.float32)
        seen = np.flatnonzero(self.classes[pos] == arr) if len(self.classes) else np.zeros(0, dtype=np.int64)
        out[seen, pos[seen]] = 1.0
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for saving (``np.savez``, no pickles)."""
        return {"classes": self.classes}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> OneHot:
        """Inverse of :meth:`to_arrays`."""
        return cls(np.asarray(arrays["classes"], dtype=np.int64))


@dataclass(frozen=True)
class Categorical:
    """Labels to one-hot rows over the categories seen in training: the preprocessor of a discrete side.

    Raw labels of any kind :func:`as_labels` reads; a label not seen in training maps to an
    all-zero row (see :class:`OneHot`). Renumbering the labels permutes the columns only.

    >>> enc = Categorical(np.array(["cat", "dog"]))
    >>> enc(["dog", "cat", "eel"]).tolist()
    [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    """

    categories: np.ndarray

    @classmethod
    def fit(cls, codes: np.ndarray, categories: np.ndarray) -> Categorical:
        """The categories that training ``codes`` (indices into ``categories``, from :func:`as_labels`) use."""
        return cls(categories[np.unique(codes)])

    @property
    def width(self) -> int:
        """Columns of the one-hot rows: the number of training categories."""
        return len(self.categories)

    def encode(self, codes: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """Float32 one-hot rows (n, width) of ``codes`` into ``categories`` (as :func:`as_labels` returns them)."""
        return OneHot(np.arange(self.width))(_recode(codes, categories, self.categories))

    def __call__(self, data: Any) -> np.ndarray:
        """Float32 one-hot rows (n, width) of raw labels."""
        codes, _ = as_labels(data, "labels", categories=self.categories, min_rows=1)
        return OneHot(np.arange(self.width))(codes)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for saving (``np.savez``, no pickles)."""
        return {"categories": self.categories}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Categorical:
        """Inverse of :meth:`to_arrays`."""
        return cls(np.asarray(arrays["categories"]))


def looks_discrete(data: Any, name: str, *, max_categories: int = 20, rows_per_category: int = 10) -> str | None:
    """A warning message when undeclared numeric data look like labels, else None.

    They do when every value is an integer, the rows take at most ``max_categories`` distinct
    values (distinct rows, for several columns) and there are at least ``rows_per_category``
    rows per distinct value. As numbers, such labels would be read as ordered quantities.

    >>> looks_discrete(np.arange(100) % 3, "y") is not None
    True
    """
    if name not in ("x", "y"):
        raise NeuralMIError(f"name must be 'x' or 'y' (the side the flag declares), got {name!r}")
    columns = _column_names(data)
    try:
        arr = _to_numpy(data, name)
    except ValueError:
        return None
    if not is_numeric_dtype(arr.dtype) or arr.dtype == object or arr.ndim == 0 or len(arr) == 0:
        return None
    flat = arr.reshape(len(arr), -1).astype(np.float64)
    if not np.isfinite(flat).all() or not np.array_equal(flat, np.round(flat)):
        return None
    if any(len(np.unique(col)) > max_categories for col in flat.T):
        return None
    k = len(np.unique(flat, axis=0))
    if k < 2 or k > max_categories or len(flat) < rows_per_category * k:
        return None
    cols = columns if columns is not None else list(range(flat.shape[1]))
    where = f"column {cols[0]!r}" if len(cols) == 1 else "columns " + ", ".join(repr(c) for c in cols)
    return (
        f"{name} ({where}) takes only {k} distinct integer values in {len(flat)} rows and is read as an ordered "
        f"number; if these are category labels, declare them with discrete_{name}=True (CLI: --discrete {name})"
    )


CODE_BLOCK_ELEMENTS = 2**20
"""Values :func:`code_columns` reads at a time (rows per block: this over the side's width), so its temporaries stay a few MB."""

NAMED_COLUMNS = 5
"""Columns a warning names before it says how many more there are."""


def code_columns(
    samples: np.ndarray, name: str, columns: Sequence[Any] | None = None, *, max_categories: int = 20, rows_per_category: int = 10
) -> str | None:
    """A warning message when a side mixes continuous columns with integer columns of 3 to ``max_categories`` values, else None.

    Such a column may hold category codes (a region, a product type) that the critic reads as one
    ordered number. A side of integers alone is :func:`looks_discrete`'s to judge (pixel intensities
    are ordered); a 0/1 column is left alone (as a number it says all its one-hot would). Candidates
    are the columns of whole numbers with 3 to ``max_categories`` values in a first block of rows;
    one pass over the other rows, a block at a time in the input's own dtype, checks them on all
    rows (at least ``rows_per_category`` rows per value). Samples of shape (n, a, b) name a feature
    by its index ``(i, j)``.

    >>> rng = np.random.default_rng(0)
    >>> table = np.column_stack([rng.normal(size=300), np.arange(300) % 5])
    >>> code_columns(table, "x").split(" and ")[0]
    'x column 1 takes only 5 distinct integer values in 300 rows beside continuous columns'
    """
    flat = samples.reshape(len(samples), -1)
    if flat.shape[1] < 2:
        return None
    rows = max(1, CODE_BLOCK_ELEMENTS // flat.shape[1])
    head = np.asarray(flat[:rows])
    whole = (head == np.round(head)).all(0)
    if whole.all() or not whole.any():
        return None
    candidates = [j for j in map(int, np.flatnonzero(whole)) if 3 <= len(np.unique(head[:, j])) <= max_categories]
    if not candidates:
        return None
    values = [np.unique(head[:, j]) for j in candidates]
    keep = np.ones(len(candidates), dtype=bool)
    for start in range(rows, len(flat), rows):
        block = np.asarray(flat[start : start + rows])[:, candidates]
        keep &= (block == np.round(block)).all(0)
        for i in map(int, np.flatnonzero(keep)):
            values[i] = np.union1d(values[i], block[:, i])
            keep[i] = len(values[i]) <= max_categories
    found = [
        (_feature_name(samples, columns, j), len(v))
        for j, v, kept in zip(candidates, values, keep)
        if kept and len(flat) >= rows_per_category * len(v)
    ]
    if not found:
        return None
    tail = f"in {len(flat)} rows beside continuous columns"
    declare = f"(discrete_{name}=True would make each whole row of {name}, continuous columns included, one label)"
    if len(found) == 1:
        ((c, k),) = found
        return (
            f"{name} column {c!r} takes only {k} distinct integer values {tail} and is read as an ordered number; "
            f"if it holds category codes, one-hot encode it first {declare}"
        )
    listed = ", ".join(f"{c!r} ({k} values)" for c, k in found[:NAMED_COLUMNS])
    if len(found) > NAMED_COLUMNS:
        listed += f" and {len(found) - NAMED_COLUMNS} more"
    return (
        f"{name} columns {listed} take few distinct integer values {tail} and are read as ordered numbers; "
        f"if they hold category codes, one-hot encode them first {declare}"
    )


def _feature_name(samples: np.ndarray, columns: Sequence[Any] | None, j: int) -> Any:
    """Feature j of the flattened samples by its table name, its index (i, j, ...) in samples of shape (n, a, b, ...), or j."""
    if samples.ndim > 2:
        return tuple(int(i) for i in np.unravel_index(j, samples.shape[1:]))
    return columns[j] if columns is not None else j


# ---------------------------------------------------------------------------------------------------- critics


def _code_tensor(codes: Tensor, name: str) -> Tensor:
    """Codes (M,) or (M, 1) of any dtype as a long tensor (M,)."""
    if codes.dim() == 2 and codes.shape[1] == 1:
        codes = codes[:, 0]
    if codes.dim() != 1:
        raise NeuralMIError(f"{name} must be label codes of shape (M,) or (M, 1), got shape {tuple(codes.shape)}")
    return codes.long()


def _lookup(table: Tensor, codes: Tensor) -> tuple[Tensor, Tensor]:
    """Columns of ``table`` (N, K) at ``codes`` (M,) -> (N, M), and which codes lie in 0..K-1."""
    k = table.shape[-1]
    valid = (codes >= 0) & (codes < k)
    return table.index_select(-1, codes.clamp(0, k - 1)), valid


class _Standardize(nn.Module):
    """Fixed per-feature ``(x - mean) / scale`` (buffers, fitted on training rows)."""

    mean: Tensor
    scale: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.scale


class ClassifierCritic(nn.Module):
    r"""Density-ratio critic of a classifier, ``T(x, y = k) = log q(k | x) - log pi_k`` (Barber & Agakov 2003).

    ``q(k | x) = softmax(f(x) / tau)_k`` with a network ``f`` on flattened x (N, ...) and a
    temperature tau; ``pi`` is the training label frequency. y holds label codes, (M,) or (M, 1).
    All pairs cost one pass of f: the (N, K) table ``log q - log pi`` is gathered at the M codes.
    When q is the true posterior, T is the log density ratio log p(x, y) / (p(x) p(y)).
    Unfitted (``f``'s last layer zero, pi uniform) it scores every pair 0.

    >>> critic = ClassifierCritic(3, 4, hidden=(8,))
    >>> critic(torch.randn(5, 3), torch.tensor([0, 3])).shape
    torch.Size([5, 2])
    """

    log_prior: Tensor
    temperature: Tensor
    fit_record: ClassifierFit | None = None

    def __init__(
        self, x_dim: int, n_classes: int, hidden: Sequence[int] = (128, 128), *, activation: Activation = "relu"
    ) -> None:
        super().__init__()
        if n_classes < 1 or x_dim < 1:
            raise NeuralMIError(f"x_dim and n_classes must be positive, got {x_dim} and {n_classes}")
        self.x_dim, self.n_classes = x_dim, n_classes
        self.standardize = _Standardize(x_dim)
        self.network = mlp(x_dim, hidden, n_classes, activation)
        _zero_(self.network[-1])
        self.register_buffer("log_prior", torch.full((n_classes,), -math.log(n_classes)))
        self.register_buffer("temperature", torch.ones(()))

    @property
    def head(self) -> nn.Linear:
        """The network's last layer (one output per class)."""
        layer = self.network[-1]
        assert isinstance(layer, nn.Linear)
        return layer

    def logits(self, x: Tensor) -> Tensor:
        """Untempered logits f(x), shape (N, K)."""
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.x_dim:
            raise NeuralMIError(f"ClassifierCritic expects x with {self.x_dim} features per sample, got shape {tuple(x.shape)}")
        return self.network(self.standardize(flat))

    def log_ratio(self, x: Tensor) -> Tensor:
        """``log q(k | x_i) - log pi_k`` for every class, shape (N, K)."""
        return torch.log_softmax(self.logits(x) / self.temperature, dim=-1) - self.log_prior

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        scores, valid = _lookup(self.log_ratio(x), _code_tensor(y, "y"))
        return torch.where(valid, scores, torch.zeros((), dtype=scores.dtype, device=scores.device))

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        codes, table = _code_tensor(y, "y"), self.log_ratio(x)
        valid = (codes >= 0) & (codes < self.n_classes)
        picked = table.gather(1, codes.clamp(0, self.n_classes - 1)[:, None])[:, 0]
        return torch.where(valid, picked, torch.zeros((), dtype=picked.dtype, device=picked.device))


def _fit_temperature(logits: Tensor, codes: Tensor, steps: int = 50) -> float:
    """The tau minimising the cross-entropy of softmax(logits / tau): damped Newton on the convex 1/tau."""
    z, picked = logits.double(), logits.double().gather(1, codes[:, None])[:, 0]

    def loss(s: float) -> float:
        return float((torch.logsumexp(s * z, 1) - s * picked).mean())

    s = 1.0
    for _ in range(steps):
        p = torch.softmax(s * z, 1)
        mean = (p * z).sum(1)
        grad, hess = float((mean - picked).mean()), float(((p * z * z).sum(1) - mean**2).mean())
        if hess <= 1e-12 or abs(grad) < 1e-10:
            break
        step, before = grad / hess, loss(s)
        while s - step <= 0 or loss(s - step) > before:
            step /= 2
            if abs(step) < 1e-12:
                return 1.0 / s
        s -= step
    return 1.0 / s


def _data(pair: tuple[Any, Any], name: str, n_classes: int, device: torch.device) -> tuple[Tensor, Tensor]:
    x = torch.as_tensor(pair[0]).to(device=device, dtype=torch.float32)
    codes = _code_tensor(torch.as_tensor(pair[1]).to(device), f"{name} codes")
    if len(x) != len(codes) or len(x) == 0:
        raise NeuralMIError(f"{name} needs equal, non-zero numbers of samples and codes, got {len(x)} and {len(codes)}")
    if codes.min() < 0 or codes.max() >= n_classes:
        raise NeuralMIError(
            f"{name} codes must lie in 0..{n_classes - 1} (n_classes={n_classes}), got {int(codes.min())}..{int(codes.max())}"
        )
    return x.reshape(len(x), -1), codes


@torch.no_grad()
def _cross_entropy(critic: ClassifierCritic, x: Tensor, codes: Tensor, chunk: int = 8192) -> float:
    total = sum(
        float(nn.functional.cross_entropy(critic.logits(x[i : i + chunk]), codes[i : i + chunk], reduction="sum"))
        for i in range(0, len(x), chunk)
    )
    return total / len(x)


@dataclass(frozen=True)
class ClassifierFit:
    """How :func:`fit_classifier` went: steps run, the kept step, and the validation cross-entropy (nats)."""

    steps: int
    best_step: int
    budget_hit: bool  # the step budget ran out while the kept step was the latest evaluation: still improving
    val_cross_entropy: float  # of the kept weights, before the temperature
    calibrated_cross_entropy: float  # after it
    temperature: float


def _descend(
    critic: ClassifierCritic,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    generator: torch.Generator,
    settings: dict[str, Any],
) -> tuple[int, int, float]:
    """Mini-batch AdamW on the training cross-entropy with early stopping; keep the best validation weights.

    Returns (steps run, kept step, its validation cross-entropy).
    """
    (x, codes), n = train, len(train[0])
    params = list(critic.parameters())
    optimizer = AdamW(params, lr=settings["lr"], weight_decay=settings["weight_decay"])
    batch, max_steps, patience = min(settings["batch_size"], n), settings["max_steps"], settings["patience"]
    every = min(100, max(1, n // batch))  # once an epoch, at least every 100 steps
    best, best_step, step, since = _cross_entropy(critic, *val), 0, 0, 0
    best_state = {k: v.clone() for k, v in critic.state_dict().items()}
    while step < max_steps and since < patience:
        perm = torch.randperm(n, generator=generator).to(x.device)
        for start in range(0, n - batch + 1, batch):
            idx = perm[start : start + batch]
            loss = nn.functional.cross_entropy(critic.logits(x[idx]), codes[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step % every == 0 or step == max_steps:
                current = _cross_entropy(critic, *val)
                since = 0 if current < best else since + 1
                if current < best:
                    best, best_step = current, step
                    best_state = {k: v.clone() for k, v in critic.state_dict().items()}
            if step >= max_steps or since >= patience:
                break
    critic.load_state_dict(best_state)
    return step, best_step, best


def fit_classifier(
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    *,
    n_classes: int,
    seed: int = 0,
    hidden: Sequence[int] = (128, 128),
    activation: Activation = "relu",
    max_steps: int = 3000,
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    batch_size: int = 256,
    patience: int = 10,
    device: str | torch.device | None = None,
) -> ClassifierCritic:
    r"""Fit a :class:`ClassifierCritic` by maximum likelihood: minimise the cross-entropy :math:`-\frac1n\sum \log q(y_i|x_i)`.

    ``train`` and ``val`` are (x (n, ...), codes (n,)) pairs of arrays or tensors. AdamW on
    mini-batches; the weights of the best validation cross-entropy are kept (evaluated once an
    epoch, at least every 100 steps, stopping after ``patience`` evaluations without
    improvement), then a temperature is fitted on the validation cross-entropy (Guo et al.
    2017, "On calibration of modern neural networks"): an overconfident q lowers the DV bound.
    pi is the training label frequency with half a count added to every class. Deterministic
    for a ``seed`` on CPU. The returned critic's ``fit_record`` is a :class:`ClassifierFit`.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    (x, codes), (vx, vcodes) = _data(train, "train", n_classes, dev), _data(val, "val", n_classes, dev)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = ClassifierCritic(x.shape[1], n_classes, hidden, activation=activation).to(dev)
    counts = torch.bincount(codes, minlength=n_classes).double() + 0.5
    with torch.no_grad():
        critic.standardize.mean.copy_(x.mean(0))
        critic.standardize.scale.copy_(torch.where(x.std(0) > 0, x.std(0), torch.ones_like(x[0])))
        critic.log_prior.copy_((counts / counts.sum()).log().float())
        critic.head.bias.copy_(critic.log_prior)  # q(k|x) = pi_k: T = 0 before training
    settings = {"lr": lr, "weight_decay": weight_decay, "batch_size": batch_size, "max_steps": max_steps, "patience": patience}
    steps, best_step, val_ce = _descend(critic, (x, codes), (vx, vcodes), torch.Generator().manual_seed(seed), settings)
    critic.eval()
    with torch.no_grad():
        critic.temperature.fill_(_fit_temperature(critic.logits(vx), vcodes))
        calibrated = float(nn.functional.cross_entropy(critic.log_ratio(vx) + critic.log_prior, vcodes))
    budget_hit = steps >= max_steps and best_step == steps
    critic.fit_record = ClassifierFit(steps, best_step, budget_hit, val_ce, calibrated, float(critic.temperature))
    return critic


class ContingencyCritic(nn.Module):
    r"""Plug-in critic of two discrete variables, ``T[a, b] = log p(a, b) - log p(a) - log p(b)`` from a table.

    x and y hold codes, (N,) or (M,) or with one column; all pairs are one table lookup. A code
    outside the table scores 0. Unfitted (a zero table) it scores every pair 0. ``alpha`` is the
    smoothing it was fitted with.

    >>> critic = ContingencyCritic.from_counts(torch.tensor([[3.0, 1.0], [1.0, 3.0]]), alpha=0.0)
    >>> critic(torch.tensor([0, 1]), torch.tensor([0, 1])).diagonal()
    tensor([0.4055, 0.4055])
    """

    table: Tensor

    def __init__(self, n_x: int, n_y: int) -> None:
        super().__init__()
        self.register_buffer("table", torch.zeros(n_x, n_y))
        self.alpha = math.nan

    @classmethod
    def from_counts(cls, counts: Tensor, alpha: float) -> ContingencyCritic:
        r"""The smoothed table :math:`\hat p(a, b) \propto n_{ab} + \alpha` and its own marginals (float64 math).

        With ``alpha = 0`` (the plug-in), an empty cell of a non-empty row and column scores -1e4
        (impossible, yet finite) and a row or column without samples scores 0.
        """
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise NeuralMIError(f"alpha must be a non-negative finite number, got {alpha!r}")
        joint = counts.double() + alpha
        joint = joint / joint.sum()
        table = joint.log() - joint.sum(1, keepdim=True).log() - joint.sum(0, keepdim=True).log()
        critic = cls(*counts.shape)
        critic.table.copy_(torch.nan_to_num(table, nan=0.0, neginf=-1e4).float())
        critic.alpha = float(alpha)
        return critic

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        a, b = _code_tensor(x, "x"), _code_tensor(y, "y")
        rows, row_ok = _lookup(self.table.T, a)  # (n_y, N)
        scores, col_ok = _lookup(rows.T, b)
        return torch.where(row_ok[:, None] & col_ok[None, :], scores, torch.zeros((), dtype=scores.dtype, device=scores.device))

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        a, b = _code_tensor(x, "x"), _code_tensor(y, "y")
        ok = (a >= 0) & (a < self.table.shape[0]) & (b >= 0) & (b < self.table.shape[1])
        picked = self.table[a.clamp(0, self.table.shape[0] - 1), b.clamp(0, self.table.shape[1] - 1)]
        return torch.where(ok, picked, torch.zeros((), dtype=picked.dtype, device=picked.device))


def _pooled_dv(critic: ContingencyCritic, a: Tensor, b: Tensor) -> float:
    """DV on all pairs i != j of (a, b), from counts: mean T(a_i, b_i) - log mean_{i != j} e^{T(a_i, b_j)}."""
    n, table = len(a), critic.table.double()
    na = torch.bincount(a, minlength=table.shape[0]).double()
    nb = torch.bincount(b, minlength=table.shape[1]).double()
    joint = table[a, b]
    off = (na[:, None] * nb[None, :] * table.exp()).sum() - joint.exp().sum()
    return float(joint.mean() - (off / (n * (n - 1))).log())


def fit_contingency(
    train: tuple[Any, Any],
    val: tuple[Any, Any],
    *,
    n_classes: tuple[int, int],
    alphas: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
) -> ContingencyCritic:
    r"""Fit a :class:`ContingencyCritic` on training counts, with the Dirichlet smoothing ``alpha`` of best validation DV.

    ``train`` and ``val`` are (x codes, y codes) pairs; ``n_classes`` = (K_x, K_y). Each alpha
    in ``alphas`` adds alpha to every cell of the training table (a symmetric Dirichlet prior);
    the validation DV uses all pairs i != j, as the held-out report does. The grid leaves out
    0: a cell seen in validation but not in training would make the test estimate collapse.
    """
    k = tuple(int(v) for v in n_classes)
    data = []
    for name, (a, b) in (("train", train), ("val", val)):
        host = (
            v.detach().cpu() if isinstance(v, Tensor) else torch.as_tensor(np.asarray(v)) for v in (a, b)
        )  # counted on the CPU
        ca, cb = (_code_tensor(v, f"{name} codes") for v in host)
        if len(ca) != len(cb) or len(ca) < 2:
            raise NeuralMIError(f"{name} needs equal numbers of at least 2 codes on each side, got {len(ca)} and {len(cb)}")
        for side, c, kk in (("x", ca, k[0]), ("y", cb, k[1])):
            if c.min() < 0 or c.max() >= kk:
                raise NeuralMIError(f"{name} {side} codes must lie in 0..{kk - 1}, got {int(c.min())}..{int(c.max())}")
        data.append((ca, cb))
    (a, b), (va, vb) = data
    counts = torch.zeros(k, dtype=torch.float64).index_put_((a, b), torch.ones(len(a), dtype=torch.float64), accumulate=True)
    fits = [ContingencyCritic.from_counts(counts, alpha) for alpha in alphas]
    return max(fits, key=lambda c: _pooled_dv(c, va, vb))


class Swapped(nn.Module):
    """A critic with its arguments exchanged, ``Swapped(c)(x, y) = c(y, x)^T``: e.g. a classifier of discrete x from y.

    >>> c = ClassifierCritic(2, 3, hidden=(4,))
    >>> Swapped(c)(torch.tensor([0, 2, 1]), torch.randn(5, 2)).shape
    torch.Size([3, 5])
    """

    def __init__(self, critic: nn.Module) -> None:
        super().__init__()
        self.critic = critic

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        return self.critic(y, x).T

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        pairs: Any = self.critic.pairs  # any critic of the contract has them
        return pairs(y, x)
