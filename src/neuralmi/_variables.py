"""The variables of :func:`neuralmi.mi_matrix` (private): columns or column groups of a table, and a target.

Each variable is read, checked and preprocessed on its own, the preprocessing fitted on the
training rows of the shared split: a continuous variable by the config's per-feature map
(normal scores by default), a declared discrete one as one-hot rows over its training categories
(:class:`neuralmi.labels.Categorical`, as :func:`neuralmi.estimate_mi` does with ``discrete_x``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralmi.config import EstimatorConfig
from neuralmi.data import PREPROCESSORS, as_samples, labels_hint
from neuralmi.errors import NeuralMIError
from neuralmi.labels import Categorical, as_labels, looks_discrete
from neuralmi.result import Scaler

__all__ = ["Table", "Variable", "as_table", "encode", "note", "variables"]


@dataclass(frozen=True)
class Table:
    """The user's data as columns: a DataFrame (``frame``) or a 2-D array, with its column labels."""

    data: Any
    labels: list[Hashable]
    frame: bool

    @property
    def rows(self) -> int:
        """The number of rows."""
        return len(self.data)

    def select(self, columns: Sequence[Hashable]) -> Any:
        """The columns (a DataFrame, or an (n, k) array)."""
        if self.frame:
            return self.data.loc[:, list(columns)]
        return self.data[:, [int(c) for c in columns]]  # type: ignore[call-overload]


def as_table(data: Any) -> Table:
    """A DataFrame, or a 2-D array / tensor / nested list with columns labelled 0, 1, ..."""
    if hasattr(data, "columns") and hasattr(data, "loc"):
        labels = list(data.columns)
        if len(set(labels)) < len(labels):
            raise NeuralMIError(f"data has duplicate column names {labels}; rename them")
        return Table(data, labels, True)
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise NeuralMIError(f"data must be a table: a DataFrame or a 2-D array (rows, columns), got shape {arr.shape}")
    return Table(arr, list(range(arr.shape[1])), False)


@dataclass(frozen=True)
class Variable:
    """One variable: its name, its columns, whether it holds labels, and its values (raw for a continuous one)."""

    name: Hashable
    values: Any
    discrete: bool
    columns: tuple[Hashable, ...] = ()


def _check_labels(table: Table, columns: Sequence[Hashable], what: str) -> None:
    missing = [c for c in columns if c not in table.labels]
    if missing:
        raise NeuralMIError(f"{what}: no column named {missing[0]!r}; columns are {table.labels}")


def _groups(table: Table, groups: Any, skip: Hashable | None) -> list[tuple[Hashable, tuple[Hashable, ...]]]:
    """(name, columns) of each group: every column but the target by default, or the groups given."""
    if groups is None:
        return [(c, (c,)) for c in table.labels if skip is None or c != skip]
    if isinstance(groups, Mapping):
        items = [(name, tuple(cols)) for name, cols in groups.items()]
    elif isinstance(groups, Sequence) and not isinstance(groups, str):
        items = [("+".join(str(c) for c in cols), tuple(cols)) for cols in groups]
    else:
        raise NeuralMIError(f"groups must be a dict of name -> columns or a list of column lists, got {type(groups).__name__}")
    for name, cols in items:
        if not cols or any(isinstance(c, (list, tuple, set)) for c in cols):
            raise NeuralMIError(f"group {name!r} must be a non-empty list of column names, got {list(cols)}")
        _check_labels(table, cols, f"group {name!r}")
    if len({name for name, _ in items}) < len(items):
        raise NeuralMIError(f"group names must be distinct, got {[name for name, _ in items]}")
    return items


def _labels_of(table: Table, columns: tuple[Hashable, ...], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, categories) of a discrete variable: each distinct row of its columns is one category."""
    part = table.select(columns)
    if table.frame:
        return as_labels(part if len(columns) > 1 else part.iloc[:, 0], name)
    if len(columns) == 1:
        return as_labels(part[:, 0], name)
    categories, codes = np.unique(as_samples(part, name), axis=0, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), np.arange(len(categories))


def _variable(table: Table, name: Hashable, columns: tuple[Hashable, ...], discrete: set[Hashable]) -> Variable:
    flags = {c in discrete for c in columns}
    if len(flags) > 1:
        raise NeuralMIError(f"group {name!r} mixes discrete and continuous columns {list(columns)}; declare all or none of them")
    what = f"column {columns[0]!r}" if len(columns) == 1 else f"group {name!r}"
    if flags == {True}:
        return Variable(name, _labels_of(table, columns, what), True, columns)
    part = table.select(columns)
    try:
        values = as_samples(part, what)
    except NeuralMIError as err:
        raise labels_hint(err, f"discrete={list(columns)!r} (CLI: --discrete {','.join(map(str, columns))})") from None
    return Variable(name, values, False, columns)


def _is_label(target: Any) -> bool:
    """A target given as a column label (a string, a number), not as samples of its own."""
    return isinstance(target, str) or (isinstance(target, Hashable) and not hasattr(target, "__len__"))


def _target_name(target: Any) -> Hashable:
    if _is_label(target):
        return target
    name = getattr(target, "name", None)
    return name if isinstance(name, Hashable) and name is not None else "target"


def _target(table: Table, target: Any, discrete: set[Hashable]) -> Variable:
    """The target: a column of the table (by label), or paired samples of its own (an array, a Series)."""
    name = _target_name(target)
    if _is_label(target):
        _check_labels(table, [target], "target")
        return _variable(table, name, (target,), discrete)
    try:
        values = as_labels(target, "target") if name in discrete else as_samples(target, "target")
    except NeuralMIError as err:
        raise labels_hint(err, f"discrete=[{name!r}]") from None
    rows = len(values[0]) if name in discrete else len(values)
    if rows != table.rows:
        raise NeuralMIError(f"target has {rows} rows but data has {table.rows}; rows must be paired")
    return Variable(name, values, name in discrete)


def variables(table: Table, target: Any, groups: Any, discrete: Any) -> tuple[list[Variable], Variable | None]:
    """The variables to pair (columns or groups) and the target, each read and checked."""
    declared = set([discrete] if isinstance(discrete, str) else discrete or ())
    target_name = None if target is None else _target_name(target)
    unknown = [c for c in declared if c not in table.labels and c != target_name]
    if unknown:
        raise NeuralMIError(f"discrete names {unknown} that are not columns; columns are {table.labels}")
    items = _groups(table, groups, target_name if target is not None and _is_label(target) else None)
    if target_name is not None and any(name == target_name for name, _ in items):
        raise NeuralMIError(f"the target {target_name!r} is also the name of a group; rename one of them")
    target_var = None if target is None else _target(table, target, declared)
    found = [_variable(table, name, cols, declared) for name, cols in items]
    if target_var is None and len(found) < 2:
        raise NeuralMIError(f"a matrix needs at least 2 columns or groups, got {len(found)}; or give a target")
    if not found:
        raise NeuralMIError("no columns to pair with the target")
    return found, target_var


def note(variable: Variable) -> str | None:
    """A warning when an undeclared continuous variable looks like labels (as :func:`looks_discrete` finds)."""
    if variable.discrete or looks_discrete(variable.values, "x") is None:
        return None
    return (
        f"{variable.name!r} takes only a few distinct integer values and is read as an ordered number; "
        f"if these are category labels, declare it with discrete=[{variable.name!r}] (CLI: --discrete {variable.name})"
    )


def encode(variable: Variable, train: np.ndarray, cfg: EstimatorConfig) -> tuple[np.ndarray, Scaler]:
    """Float32 features (n, d) of a variable, with the preprocessing fitted on the ``train`` rows."""
    if variable.discrete:
        codes, categories = variable.values
        scaler = Categorical.fit(codes[train], categories)
        return scaler.encode(codes, categories), scaler
    values = variable.values
    fitted = PREPROCESSORS[cfg.preprocess].fit(values[train])
    return fitted(values).reshape(len(values), -1), fitted
