"""Reading sample files: ``.npy`` and ``.npz`` with numpy, ``.csv``, ``.tsv`` and ``.parquet`` with pandas.

A table is read whole, as text where a column is text; only the columns picked by
:func:`select_columns` must be numeric, which :func:`neuralmi.data.as_samples` checks, so a label
column beside the data (as ``DataFrame.to_csv()`` writes) does no harm. pandas is imported
when a table is read, never when neuralmi is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuralmi.errors import NeuralMIError

__all__ = ["read_table", "select_columns"]

_SEPARATORS = {".csv": ",", ".tsv": "\t"}


def _pandas(path: Path, what: str) -> Any:
    """The pandas module, or a NeuralMIError saying how to install what reading ``path`` needs."""
    try:
        import pandas as pd
    except ImportError:
        raise NeuralMIError(f"{path}: reading {what} needs pandas: pip install 'neuralmi[dataframes]'") from None
    return pd


def _is_number(cell: str) -> bool:
    """True for a cell a numeric column may hold: a float, or empty / nan / inf (missing or non-finite values)."""
    try:
        float(cell)
    except ValueError:
        return cell.strip().lower() in ("", "nan", "inf", "-inf")
    return True


def _read_delimited(path: Path, sep: str) -> Any:
    """A delimited text file as a DataFrame; a first row of numbers is data, and its columns are named 0, 1, ..."""
    pd = _pandas(path, path.suffix)
    try:
        first = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
        has_header = not all(_is_number(cell) for cell in first.iloc[0])
        frame = pd.read_csv(path, sep=sep, header=0 if has_header else None)
    except pd.errors.EmptyDataError:
        raise NeuralMIError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise NeuralMIError(f"{path}: not a readable {path.suffix} table ({str(err).strip()})") from None
    if not has_header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    return frame


def _read_parquet(path: Path) -> Any:
    """A parquet file as a DataFrame (pandas reads it through pyarrow or fastparquet)."""
    pd = _pandas(path, "parquet")
    try:
        return pd.read_parquet(path)
    except ImportError as err:  # no parquet engine
        raise NeuralMIError(f"{path}: reading parquet needs pyarrow: pip install 'neuralmi[dataframes]' ({err})") from None


def read_table(path: str | Path) -> Any:
    """The samples in a file: an array (``.npy``), a dict of arrays (``.npz``) or a DataFrame (``.csv``, ``.tsv``, ``.parquet``).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b,label\\n1,2,u\\n3,4,v\\n")
    >>> table = read_table(p)
    >>> list(table.columns), select_columns(table, "a,b", str(p)).to_numpy().tolist()
    (['a', 'b', 'label'], [[1, 2], [3, 4]])
    """
    p = Path(path)
    if not p.exists():
        raise NeuralMIError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if suffix in _SEPARATORS:
        return _read_delimited(p, _SEPARATORS[suffix])
    if suffix == ".parquet":
        return _read_parquet(p)
    raise NeuralMIError(f"{p}: unreadable format {suffix or '(no extension)'!r}; use .npy, .npz, .csv, .tsv or .parquet")


def _column_indices(spec: str, names: list[str] | None, width: int, path: str) -> list[int]:
    """Indices named by ``spec``: comma-separated column names or indices, and ranges ``lo:hi`` of indices."""
    columns: list[int] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if names is not None and part in names:
            columns.append(names.index(part))
        elif ":" in part:
            lo, hi = part.split(":", 1)
            columns.extend(range(int(lo or 0), int(hi or width)))
        elif part.lstrip("-").isdigit():
            columns.append(int(part))
        else:
            raise NeuralMIError(f"{path}: no column named {part!r}" + (f"; columns are {names}" if names else ""))
    for c in columns:
        if not -width <= c < width:
            raise NeuralMIError(f"{path}: column index {c} is out of range for {width} columns")
    if not columns:
        raise NeuralMIError(f"{path}: no columns selected by {spec!r}")
    return columns


def select_columns(table: Any, spec: str, path: str) -> Any:
    """The columns of a DataFrame or 2-D array picked by names or indices, comma-separated, with ranges like ``0:3``.

    >>> select_columns(np.arange(6).reshape(2, 3), "0,2", "t.npy").tolist()
    [[0, 2], [3, 5]]
    """
    columns = getattr(table, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns]
        return table.iloc[:, _column_indices(spec, names, len(names), path)]
    values = np.asarray(table)
    width = values.shape[1] if values.ndim > 1 else 1
    return (values if values.ndim > 1 else values[:, None])[:, _column_indices(spec, None, width, path)]
