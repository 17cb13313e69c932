r"""The prepare stage of :func:`~neuralmi.estimate_mi` (private): validate, split by seeded index, preprocess.

Each split's rows are preprocessed a block at a time straight into float32 tensors on the device,
with preprocessing fitted on the training split only; wide inputs may first be screened; where the
density-ratio critic will be a candidate, a second, standardised view is prepared beside the normal
scores. :mod:`neuralmi.estimate` re-exports :class:`Prepared` and :func:`prepare`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuralmi._call import default_threads, pick_device
from neuralmi._call import torch_threads as _threads
from neuralmi.config import DeviceKind, EstimatorConfig
from neuralmi.critics import FITTED_CRITICS
from neuralmi.data import (
    PREPROCESSORS,
    ROWS_PER_CHUNK,
    Preprocess,
    _column_names,
    as_samples,
    check_pair,
    labels_hint,
    read_pairs,
    release_pages,
)
from neuralmi.density_ratio import DENSITY_RATIO_MAX_FEATURES
from neuralmi.errors import NeuralMIError
from neuralmi.labels import Categorical, as_labels, code_columns, looks_discrete
from neuralmi.result import Scaler
from neuralmi.screen import Columns, fit_screen, screen_width

__all__ = [
    "ALTERNATIVE_PREPROCESS",
    "DENSITY_RATIO_TRAIN_ROWS",
    "GAUSSIAN_MAX_FEATURES",
    "MIN_VAL_ROWS",
    "PREPROCESS_FIT_ROWS",
    "Prepared",
    "density_ratio_fits",
    "density_ratio_offered",
    "gaussian_fits",
    "prepare",
]


GAUSSIAN_MAX_FEATURES = 1024
"""The Gaussian critic is a candidate only up to this many x plus y features (its covariance is (d, d))."""


@dataclass(frozen=True)
class Prepared:
    """The prepare stage's output: preprocessed train / validation / test tensors and what made them.

    A discrete side arrives as one-hot rows over its training categories (``discrete``).
    """

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    scalers: tuple[Scaler, Scaler]
    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]
    device: torch.device
    discrete: tuple[bool, bool] = (False, False)
    notes: tuple[str, ...] = ()
    preprocess: Preprocess = "normal_scores"
    alternative: Prepared | None = None  # the same split standardised, where normal scores would hide the data's geometry
    screen: dict[str, Any] = field(default_factory=dict)  # wide inputs: the screen's record (x_shape, y_shape: the kept columns)
    test_later: Callable[[], tuple[Tensor, Tensor]] | None = field(default=None, repr=False, compare=False)
    """Where set, ``test`` is empty and this preprocesses the test split: :meth:`view` calls it once, when a report needs it."""

    @property
    def dims(self) -> tuple[int, int]:
        """Features per sample of x and of y (one-hot width for a discrete side)."""
        return int(np.prod(self.x_shape)), int(np.prod(self.y_shape))

    def view(self, preprocess: str | None) -> Prepared:
        """The split under ``preprocess`` (None: this one's own)."""
        if preprocess is None or preprocess == self.preprocess:
            return self
        if self.alternative is None or self.alternative.preprocess != preprocess:
            raise NeuralMIError(f"no {preprocess!r} view of the data was prepared")
        return self._alternative_with_test

    @functools.cached_property
    def _alternative_with_test(self) -> Prepared:
        alternative = self.alternative
        assert alternative is not None
        if alternative.test_later is None:
            return alternative
        return dataclasses.replace(alternative, test=alternative.test_later(), test_later=None)


MIN_VAL_ROWS = 4
"""The fewest validation rows: validation is never borrowed from the training split."""


PREPROCESS_FIT_ROWS = 100_000
"""A continuous side's preprocessing is fitted on the first this many training rows (a seeded random sample of them)."""


def _side(data: Any, name: str, discrete: bool) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """(samples or label codes, categories or None, a note) of one side; float32 samples stay float32, uncopied."""
    if discrete:
        codes, categories = as_labels(data, name)
        return codes, categories, None
    try:
        samples = as_samples(data, name, keep_float32=True)
    except NeuralMIError as err:
        raise labels_hint(err, f"discrete_{name}=True") from None
    head = samples[:ROWS_PER_CHUNK]  # a non-integer among the first rows: no labels, without a full float64 copy
    if np.array_equal(head, np.round(head)):
        return samples, None, looks_discrete(data, name)
    return samples, None, code_columns(samples, name, _column_names(data))


def _fit_scaler(
    values: np.ndarray, categories: np.ndarray | None, idx: np.ndarray, preprocess: Preprocess, columns: np.ndarray | None = None
) -> Scaler:
    if categories is not None:
        return Categorical.fit(values[idx], categories)
    # idx is a seeded permutation: its head is a random sample
    rows = values[idx[:PREPROCESS_FIT_ROWS]]
    release_pages(values)
    if columns is not None:
        inner = PREPROCESSORS[preprocess].fit(rows.reshape(len(rows), -1)[:, columns].astype(np.float64))
        return Columns(inner, columns, tuple(values.shape[1:]))
    return PREPROCESSORS[preprocess].fit(rows.astype(np.float64, copy=False))


def _screen(
    sides: tuple[np.ndarray, np.ndarray], idx: np.ndarray, threads: int | None
) -> tuple[dict[str, Any], tuple[np.ndarray | None, ...], str | None]:
    """(the record, the kept columns of each side, a note) of a screen of wide continuous sides on training rows ``idx``.

    It runs on ``threads`` torch threads (None: :func:`default_threads` of the full widths). Not
    wide (:func:`neuralmi.screen.screen_width`): an empty record, all columns and no note.
    """
    dims = tuple(int(np.prod(v.shape[1:])) for v in sides)
    cap = screen_width((dims[0], dims[1]), len(idx))
    if cap is None:
        return {}, (None, None), None
    rows = [v[idx[:PREPROCESS_FIT_ROWS]] for v in sides]
    for v in sides:
        release_pages(v)
    with _threads(threads or default_threads((dims[0], dims[1]))):
        fitted = fit_screen(rows[0].reshape(len(rows[0]), -1), rows[1].reshape(len(rows[1]), -1), cap)
    kept = [len(c) if c is not None else d for c, d in zip((fitted.x_columns, fitted.y_columns), dims)]
    note = (
        f"wide inputs ({dims[0]:,} + {dims[1]:,} features, {len(idx):,} training rows): a screen of every column pair on the "
        f"training split kept {kept[0]} + {kept[1]} columns ({fitted.passed[0]} + {fitted.passed[1]} beat its threshold, "
        f"z > {fitted.threshold:.2f}); the estimate is the MI of the kept columns, a lower bound on I(X;Y) (result.screen; screen=False for all columns)"
    )
    return fitted.record(), (fitted.x_columns, fitted.y_columns), note


def _apply(scaler: Scaler, values: np.ndarray, categories: np.ndarray | None) -> np.ndarray:
    if isinstance(scaler, Categorical):
        assert categories is not None
        return scaler.encode(values, categories)
    return scaler(values)


def _split_rows(
    scaler: Scaler, values: np.ndarray, categories: np.ndarray | None, splits: list[np.ndarray], device: torch.device
) -> list[Tensor]:
    """Each split's preprocessed rows of one side as a float32 tensor on ``device``, in the split's order.

    The source is read once, in consecutive blocks of rows (a memory map's pages released after
    each), and each block's rows are scattered to their places in the splits; rows in no split are skipped.
    """
    which, where = np.full(len(values), -1, dtype=np.int8), np.empty(len(values), dtype=np.int64)
    for k, idx in enumerate(splits):
        which[idx], where[idx] = k, np.arange(len(idx))
    outs: list[Tensor] = []
    for a in range(0, len(values), ROWS_PER_CHUNK):
        block = torch.from_numpy(_apply(scaler, values[a : a + ROWS_PER_CHUNK], categories))
        release_pages(values)
        if not outs:
            outs = [torch.empty((len(idx), *block.shape[1:]), dtype=block.dtype, device=device) for idx in splits]
        part, place = which[a : a + len(block)], where[a : a + len(block)]
        for k, out in enumerate(outs):
            mine = part == k
            out[torch.from_numpy(place[mine]).to(device)] = block[torch.from_numpy(mine)].to(device)
    return outs


ALTERNATIVE_PREPROCESS: Preprocess = "standardize"
"""The second view offered to the density-ratio critic when the config's preprocessing is normal scores.

Normal scores make a Gaussian copula exactly Gaussian (the closed-form candidates' strength), but
they bend the joint geometry of everything else: a scale mixture (Student-t) loses its radial
form and a Gaussian mixture stops being one. The density-ratio critic is fitted on both views
and validation decides."""

DENSITY_RATIO_TRAIN_ROWS = 512_000
"""The density-ratio candidates are fitted on at most this many training rows (the head of the seeded training
order, a random sample): their 2,000 steps of 256 rows draw no more. The alternative view holds no more training
rows; its validation and test rows are the main view's, its test split preprocessed only when a report needs it."""


def prepare(
    x: Any,
    y: Any,
    cfg: EstimatorConfig,
    device: DeviceKind | str | torch.device | None = None,
    *,
    alternative: bool = True,
    screen: bool = False,
    threads: int | None = None,
) -> Prepared:
    """Validate, split by index (seeded), fit preprocessing on the training split, move to ``device`` (see :func:`pick_device`).

    ``y=None`` reads x as a torch ``Dataset`` / ``DataLoader`` of (x, y) pairs (:func:`neuralmi.data.read_pairs`).
    Float32 input (a memory map too) is never copied whole: each split is preprocessed a chunk of
    rows at a time, straight into its float32 tensor on the device. Continuous preprocessing is
    fitted on at most :data:`PREPROCESS_FIT_ROWS` training rows. Where the density-ratio critic will
    be a candidate on continuous data preprocessed by normal scores, the same split under
    :data:`ALTERNATIVE_PREPROCESS` is prepared too (``alternative``), with at most
    :data:`DENSITY_RATIO_TRAIN_ROWS` of its training rows and its test split left for :meth:`Prepared.view`.
    With ``screen`` (and ``cfg.screen``), wide continuous inputs keep only the columns a screen of
    the training rows selects (:mod:`neuralmi.screen`, on ``threads`` torch threads); each side's
    preprocessing then takes the full samples, and no second view is prepared (it would double the
    density-ratio critic's time on the wide path).
    """
    if y is None:
        x, y = read_pairs(x)
    (xs, x_cats, x_note), (ys, y_cats, y_note) = (
        _side(x, "x", cfg.discrete_x),
        _side(y, "y", cfg.discrete_y),
    )
    check_pair(xs, ys, 3 * 4)  # every split needs a few pairs
    train_idx, val_idx, test_idx = cfg.split_rows(len(xs))
    if min(len(train_idx), len(test_idx)) < 4:
        raise NeuralMIError(
            f"too few rows to split: {len(xs)} samples give {len(train_idx)} for training and {len(test_idx)} for testing"
        )
    if len(val_idx) < MIN_VAL_ROWS:
        raise NeuralMIError(
            f"too few rows for a validation split: {len(xs)} samples with val_fraction={cfg.val_fraction} give "
            f"{len(val_idx)} validation rows, need at least {MIN_VAL_ROWS}; pass more samples or a larger val_fraction"
        )
    target = pick_device(device)
    notes = tuple(note for note in (x_note, y_note) if note is not None)
    sides = ((xs, x_cats), (ys, y_cats))
    record: dict[str, Any] = {}
    columns: tuple[np.ndarray | None, ...] = (None, None)
    if screen and cfg.screen and not (cfg.discrete_x or cfg.discrete_y):
        record, columns, note = _screen((xs, ys), train_idx, threads)
        notes += (note,) if note is not None else ()

    def view(preprocess: Preprocess, train_rows: int | None = None, test_now: bool = True) -> Prepared:
        scalers = tuple(_fit_scaler(v, c, train_idx, preprocess, cols) for (v, c), cols in zip(sides, columns))
        parts = [train_idx[:train_rows], val_idx, test_idx if test_now else test_idx[:0]]
        train, val, test = zip(*(_split_rows(s, v, c, parts, target) for s, (v, c) in zip(scalers, sides)))
        x_shape, y_shape = (tuple(t.shape[1:]) for t in train)
        discrete = (cfg.discrete_x, cfg.discrete_y)
        later = None if test_now else functools.partial(_test_rows, scalers, sides, test_idx.copy(), target)
        args = (train, val, test, scalers, x_shape, y_shape, target, discrete, notes, preprocess)
        return Prepared(*args, screen=record, test_later=later)  # type: ignore[arg-type]

    data = view(cfg.preprocess)
    if alternative and not record and cfg.preprocess != ALTERNATIVE_PREPROCESS and density_ratio_offered(data, cfg):
        data = dataclasses.replace(data, alternative=view(ALTERNATIVE_PREPROCESS, DENSITY_RATIO_TRAIN_ROWS, test_now=False))
    return data


def _test_rows(
    scalers: Sequence[Scaler], sides: Sequence[tuple[np.ndarray, np.ndarray | None]], rows: np.ndarray, device: torch.device
) -> tuple[Tensor, Tensor]:
    """The preprocessed test rows of both sides (a view's test split, made when first needed)."""
    x, y = (_split_rows(s, v, c, [rows], device)[0] for s, (v, c) in zip(scalers, sides))
    return x, y


def gaussian_fits(data: Prepared) -> bool:
    """The Gaussian critic is a candidate: few enough features for its (d, d) covariance and enough rows."""
    total = sum(data.dims)
    return total <= GAUSSIAN_MAX_FEATURES and len(data.train[0]) > 2 * total


def density_ratio_fits(data: Prepared) -> bool:
    """The density-ratio critic is a candidate: a side of at most 20 features, at most 1,024 in all, and more rows than features."""
    total = sum(data.dims)
    return min(data.dims) <= DENSITY_RATIO_MAX_FEATURES and total <= GAUSSIAN_MAX_FEATURES and len(data.train[0]) > total + 1


def density_ratio_offered(data: Prepared, cfg: EstimatorConfig) -> bool:
    """The density-ratio critic is a candidate: asked for, continuous sides, a modelled side it can fit."""
    return cfg.density_ratio and cfg.critic not in FITTED_CRITICS and not any(data.discrete) and density_ratio_fits(data)
