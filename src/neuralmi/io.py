"""Reading sample files (npy, npz, csv, tsv, parquet) and saving / loading trained estimators."""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralmi._evaluate import score_blocks, summarise
from neuralmi._files import atomic_write
from neuralmi.critics import FITTED_CRITICS, make_critic
from neuralmi.data import PREPROCESSORS, Preprocessor, as_samples, check_pair, numeric_frame
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig, MIResult, build_critic

__all__ = ["FORMAT_VERSION", "SavedEstimator", "load", "read_table", "save", "select_columns"]

FORMAT_VERSION = 1


def _read_delimited(path: Path, delimiter: str) -> tuple[np.ndarray, list[str]]:
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=delimiter) if r]
    if not rows:
        raise NeuralMIError(f"{path}: the file is empty")

    def is_number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return cell.strip().lower() in ("", "nan", "inf", "-inf")
        return True

    header = not all(is_number(c) for c in rows[0])
    names = [c.strip() for c in rows[0]] if header else [str(i) for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    values = np.empty((len(body), len(names)))
    for i, row in enumerate(body):
        if len(row) != len(names):
            raise NeuralMIError(f"{path}: row {i} has {len(row)} fields, the header has {len(names)}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise NeuralMIError(f"{path}: column {names[j]!r} is non-numeric (row {i} holds {cell!r})") from None
    return values, names


def read_table(path: str | Path) -> tuple[np.ndarray | dict[str, np.ndarray], list[str] | None]:
    """Read samples from ``.npy``, ``.npz`` (a dict of arrays), ``.csv``, ``.tsv`` or ``.parquet``.

    Returns the array (or the npz's arrays by name) and the column names of a table, if any.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return np.load(p, allow_pickle=False), None
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}, None
    if suffix in (".csv", ".tsv"):
        return _read_delimited(p, "\t" if suffix == ".tsv" else ",")
    if suffix == ".parquet":
        try:
            import pandas as pd

            frame = pd.read_parquet(p)
        except ImportError as err:
            raise NeuralMIError(
                f"{p}: reading parquet needs pandas and pyarrow: pip install 'neuralmi[dataframes]' ({err})"
            ) from None
        return numeric_frame(frame, f"{p}:"), [str(c) for c in frame.columns]
    raise NeuralMIError(f"{p}: unreadable format {suffix or '(no extension)'!r}; use .npy, .npz, .csv, .tsv or .parquet")


def select_columns(values: np.ndarray, names: list[str] | None, spec: str, path: str) -> np.ndarray:
    """Columns picked by a comma-separated list of names or indices, with ranges like ``0:3``."""
    columns: list[int] = []
    width = values.shape[1] if values.ndim > 1 else 1
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
    return values[:, columns]


def save(result: MIResult, directory: str | Path, *, force: bool = False) -> Path:
    """Save a result's critic weights, config, standardisation and summary to ``directory``."""
    if result.standardizers is None:
        raise NeuralMIError("this MIResult carries no standardisation; save the result estimate_mi returned")
    d = Path(directory)
    if d.exists() and not force:
        raise FileExistsError(f"{d} already exists; choose another directory or pass force=True (--force)")
    d.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "x_shape": list(result.x_shape), "y_shape": list(result.y_shape)}
    summary = {**result.to_dict(), **meta}
    x_prep, y_prep = result.standardizers
    arrays: dict[str, Any] = {
        **{f"x_{k}": v for k, v in x_prep.to_arrays().items()},
        **{f"y_{k}": v for k, v in y_prep.to_arrays().items()},
    }
    atomic_write(d / "critic.pt", lambda f: torch.save(result.critic.state_dict(), f))
    atomic_write(d / "standardizers.npz", lambda f: np.savez(f, **arrays))
    atomic_write(d / "result.json", lambda f: f.write(json.dumps(summary, indent=2).encode()))
    return d


@dataclass
class SavedEstimator:
    """A trained critic with its standardisation, reloaded by :func:`load`."""

    critic: nn.Module
    summary: dict[str, Any]
    x_prep: Preprocessor
    y_prep: Preprocessor

    def estimate(self, x: Any, y: Any, report: str | None = None) -> tuple[float, float]:
        """(MI in nats, standard error) of the saved critic on new paired samples."""
        xs, ys = as_samples(x, "x"), as_samples(y, "y")
        check_pair(xs, ys, 4)
        for name, arr, shape in (("x", xs, self.summary["x_shape"]), ("y", ys, self.summary["y_shape"])):
            if list(arr.shape[1:]) != list(shape):
                raise NeuralMIError(f"{name} samples have shape {arr.shape[1:]}, the saved critic was trained on {tuple(shape)}")
        device = next(itertools.chain(self.critic.parameters(), self.critic.buffers())).device
        tx, ty = torch.from_numpy(self.x_prep(xs)).to(device), torch.from_numpy(self.y_prep(ys)).to(device)
        held = score_blocks(self.critic, tx, ty, int(self.summary["config"]["eval_batch_size"]))
        return summarise(held, report or self.summary["report"])


def load(directory: str | Path) -> SavedEstimator:
    """Load an estimator saved by :func:`save` (weights only: nothing is unpickled)."""
    d = Path(directory)
    for name in ("critic.pt", "standardizers.npz", "result.json"):
        if not (d / name).exists():
            raise FileNotFoundError(f"{d / name}: missing; is {d} a directory written by neuralmi save / --save?")
    summary = json.loads((d / "result.json").read_text())
    if summary.get("format_version") != FORMAT_VERSION:
        raise NeuralMIError(
            f"{d}: saved with format version {summary.get('format_version')}, this neuralmi reads {FORMAT_VERSION}"
        )
    cfg_fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in summary["config"].items()}
    cfg = EstimatorConfig(**cfg_fields)
    dims = int(np.prod(summary["x_shape"])), int(np.prod(summary["y_shape"]))
    kind = summary.get("critic_kind")
    critic = make_critic(kind, *dims) if kind in FITTED_CRITICS else build_critic(cfg, *dims)
    critic.load_state_dict(torch.load(d / "critic.pt", weights_only=True, map_location="cpu"))
    critic.eval()
    prep = PREPROCESSORS[cfg.preprocess]
    with np.load(d / "standardizers.npz", allow_pickle=False) as s:
        arrays = {k: s[k] for k in s.files}
    x_prep = prep.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("x_")})
    y_prep = prep.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("y_")})
    return SavedEstimator(critic, summary, x_prep, y_prep)
