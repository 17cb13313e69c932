"""Reading sample files: ``.npy`` and ``.npz`` with numpy, ``.csv``, ``.tsv`` and ``.parquet`` with pandas.

Delimited text is read as UTF-8 (a byte-order mark is dropped) by pandas' C parser, in chunks,
so a numeric column is held as float64 and never as strings: memory follows the numeric data.
A cell is a number only as the parser reads one (``1_000`` is not; ``1,000`` is with
``thousands=","``). Only the columns picked by :func:`select_columns` must be numeric, which
:func:`neuralmi.data.as_samples` checks, naming the first cell that is not, so a label column
beside the data (as ``DataFrame.to_csv()`` writes) does no harm. pandas is imported when a table
is read, never when neuralmi is.

Whether the first row is a header (``header=None``, the default) follows one rule:

- a first row with a cell that is no number (a name) is a header;
- a first row of whole numbers above columns holding decimals (``2019,2020`` over ``0.31,1.7``)
  is ambiguous, and refused: say ``header=True`` (``--header``) or ``header=False`` (``--no-header``);
- any other first row of numbers is data, and the columns are named ``0``, ``1``, ...
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from neuralmi.errors import NeuralMIError

__all__ = ["read_table", "select_columns"]

_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_CHUNK_ROWS = 100_000  # rows parsed at a time: the parser's text buffers stay small beside the float64 columns
_SNIFF_ROWS = 100  # rows read to decide whether the first one is a header
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)|", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+")
_MISSING = {"#N/A", "#NA", "<NA>", "N/A", "NA", "NULL", "None", "n/a", "null"}  # pandas' default missing-value marks


def _pandas(path: Path, what: str) -> Any:
    """The pandas module, or a NeuralMIError saying how to install what reading ``path`` needs."""
    try:
        import pandas as pd
    except ImportError:
        raise NeuralMIError(f"{path}: reading {what} needs pandas: pip install 'neuralmi[dataframes]'") from None
    return pd


def _is_number(cell: str, thousands: str | None) -> bool:
    """True for a cell the parser reads as a number, or an empty / nan / inf one (missing or non-finite)."""
    text = cell.strip()
    if thousands:
        text = text.replace(thousands, "")
    return text in _MISSING or _NUMBER.fullmatch(text) is not None


def _is_decimal(cell: str, thousands: str | None) -> bool:
    """True for a number written with a point or an exponent (``0.31``, ``1e-3``)."""
    return _is_number(cell, thousands) and any(c in cell for c in ".eE") and any(c.isdigit() for c in cell)


def _has_header(path: Path, sep: str, thousands: str | None, pd: Any) -> bool:
    """Whether the first row is a header, by the rule of the module's docstring."""
    rows = pd.read_csv(path, sep=sep, header=None, nrows=_SNIFF_ROWS, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    first = [str(c) for c in rows.iloc[0]]
    if not all(_is_number(c, thousands) for c in first):
        return True
    below = [str(c).strip() for c in rows.iloc[1:].to_numpy().ravel()]
    decimals = any(_is_decimal(c, thousands) for c in below)
    if decimals and all(_INTEGER.fullmatch(c.strip()) for c in first):
        raise NeuralMIError(
            f"{path}: the first row ({sep.join(first)[:60]}) holds whole numbers above columns of decimals, so it may be "
            "a header (years, ids) or data; say which with header=True / --header or header=False / --no-header"
        )
    return False


def _read_delimited(path: Path, sep: str, header: bool | None, thousands: str | None) -> Any:
    """A delimited text file as a DataFrame, parsed in chunks; without a header its columns are named 0, 1, ..."""
    pd = _pandas(path, path.suffix)
    try:
        if header is None:
            header = _has_header(path, sep, thousands, pd)
        reader = pd.read_csv(
            path, sep=sep, header=0 if header else None, thousands=thousands, encoding="utf-8-sig", chunksize=_CHUNK_ROWS
        )
        with reader:
            chunks = list(reader)
    except pd.errors.EmptyDataError:
        raise NeuralMIError(f"{path}: the file is empty") from None
    except UnicodeDecodeError:
        raise NeuralMIError(f"{path}: not UTF-8 text; save the table as UTF-8 (or ASCII)") from None
    except (pd.errors.ParserError, ValueError) as err:
        if isinstance(err, NeuralMIError):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NeuralMIError(f"{path}: not a readable {path.suffix} table ({first})") from None
    if not chunks:
        raise NeuralMIError(f"{path}: the file holds no rows")
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if not header:
        frame.columns = [str(i) for i in range(frame.shape[1])]
    return frame


def _read_parquet(path: Path) -> Any:
    """A parquet file as a DataFrame (pandas reads it through pyarrow or fastparquet)."""
    pd = _pandas(path, "parquet")
    try:
        return pd.read_parquet(path)
    except ImportError as err:  # no parquet engine
        raise NeuralMIError(f"{path}: reading parquet needs pyarrow: pip install 'neuralmi[dataframes]' ({err})") from None
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise NeuralMIError(f"{path}: not a readable parquet file ({str(err).strip()[:200]})") from None


def _read_numpy(path: Path) -> Any:
    """An ``.npy`` array or the arrays of an ``.npz``, never unpickling anything."""
    magic = b"\x93NUMPY" if path.suffix.lower() == ".npy" else b"PK"
    with open(path, "rb") as f:
        if f.read(len(magic)) != magic:
            raise NeuralMIError(f"{path}: not a {path.suffix} file (it does not start as numpy writes one)")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise NeuralMIError(
                f"{path}: holds Python objects (pickled), which neuralmi never loads; save numeric arrays"
            ) from None
        raise NeuralMIError(f"{path}: not a readable {path.suffix} file ({err})") from None
    except (EOFError, zipfile.BadZipFile, KeyError) as err:
        raise NeuralMIError(f"{path}: not a readable {path.suffix} file, truncated or of another format ({err})") from None


def read_table(path: str | Path, *, header: bool | None = None, thousands: str | None = None) -> Any:
    """The samples in a file: an array (``.npy``), a dict of arrays (``.npz``) or a DataFrame (``.csv``, ``.tsv``, ``.parquet``).

    ``header`` says whether a delimited file's first row names its columns (None: the rule of the
    module's docstring); ``thousands`` is the character grouping digits in its numbers, if any.

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
    if p.is_dir():
        raise NeuralMIError(f"{p}: a folder, not a file")
    if thousands is not None and len(thousands) != 1:
        raise NeuralMIError(f"thousands must be one character, got {thousands!r}")
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz", ".parquet", *_SEPARATORS):
        raise NeuralMIError(f"{p}: unreadable format {suffix or '(no extension)'!r}; use .npy, .npz, .csv, .tsv or .parquet")
    if not os.access(p, os.R_OK):
        raise NeuralMIError(f"{p}: permission denied, the file cannot be read")
    if p.stat().st_size == 0:
        raise NeuralMIError(f"{p}: the file is empty")
    try:
        if suffix in _SEPARATORS:
            return _read_delimited(p, _SEPARATORS[suffix], header, thousands)
        if suffix == ".parquet":
            return _read_parquet(p)
        return _read_numpy(p)
    except PermissionError:
        raise NeuralMIError(f"{p}: permission denied, the file cannot be read") from None


def _column_indices(spec: str, names: list[str] | None, width: int, path: str) -> list[int]:
    """Indices named by ``spec``: comma-separated column names or indices, and ranges ``lo:hi`` of indices."""
    columns: list[int] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if names is not None and part in names:
            columns.append(names.index(part))
        elif ":" in part:
            lo, hi = part.split(":", 1)
            if not all(re.fullmatch(r"-?\d*", s.strip()) for s in (lo, hi)):
                raise NeuralMIError(f"{path}: column range {part!r} must be of indices, like 0:3")
            columns.extend(range(int(lo or 0), int(hi or width)))
        elif re.fullmatch(r"-?\d+", part):
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
    if values.ndim not in (1, 2):
        raise NeuralMIError(f"{path}: columns are picked from a 1-D or 2-D array, this one has shape {values.shape}")
    width = values.shape[1] if values.ndim > 1 else 1
    return (values if values.ndim > 1 else values[:, None])[:, _column_indices(spec, None, width, path)]
