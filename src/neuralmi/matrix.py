r"""``mi_matrix``: mutual information between every pair of columns (or column groups), or each against a target.

Every pair gets a held-out estimate with an error bar on the protocol of :func:`neuralmi.estimate_mi`:
one split of the rows into training, validation and test (seeded, by index) shared by all pairs,
preprocessing fitted on the training rows, candidate critics fitted on the training split and
chosen on validation by the one-standard-error rule, the bound reported on the untouched test split.

It is fast by design: the separable critics of all pairs train together in one batched pass
(stacked weights, one ``torch.bmm`` per layer; :mod:`neuralmi._batched`), each pair stopping on its
own validation curve, beside the closed-form Gaussian critic per pair, which wins where the
dependence is Gaussian after the normal-scores map. A side declared discrete is one-hot, with the
classifier (or, both sides discrete, the contingency table) critic as a candidate, as in
``estimate_mi``. The quadratic, density-ratio and ensemble candidates of ``estimate_mi`` are not fitted.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from neuralmi._batched import fit_separable_batch
from neuralmi._call import default_threads, pick_device
from neuralmi._call import torch_threads as _threads
from neuralmi._matrix_result import MIMatrix
from neuralmi._prepare import MIN_VAL_ROWS, Prepared, gaussian_fits
from neuralmi._variables import Variable, as_table, encode, note, variables
from neuralmi.candidates import Candidate, fit_gaussian, fit_labels, validate
from neuralmi.config import EstimatorConfig, RunOptions, run_options, split_run_options
from neuralmi.critics import SeparableCritic
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import build_critic, report
from neuralmi.result import MIResult, MIWarning, Scaler

__all__ = ["MATRIX_DEFAULTS", "MIMatrix", "mi_matrix"]

MATRIX_DEFAULTS: dict[str, Any] = {"hidden": (64,), "embed_dim": 16}
"""Where ``mi_matrix`` differs from :class:`EstimatorConfig`: small critics, one per pair (columns are narrow)."""


@dataclass
class _Job:
    """The shared split and features: all variables' encoded columns side by side (float32), and each one's slice."""

    cfg: EstimatorConfig
    parts: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # train, validation, test rows (n_part, F)
    slices: list[slice]
    scalers: list[Scaler]
    discrete: list[bool]
    device: torch.device
    seconds: dict[int, float] = field(default_factory=dict)

    def prepared(self, a: int, b: int) -> Prepared:
        """Pair (a, b) as :func:`neuralmi.estimate.prepare` would give it."""
        sa, sb = self.slices[a], self.slices[b]
        train, val, test = ((p[:, sa], p[:, sb]) for p in self.parts)
        dims = ((sa.stop - sa.start,), (sb.stop - sb.start,))
        return Prepared(
            train, val, test, (self.scalers[a], self.scalers[b]), *dims, self.device, (self.discrete[a], self.discrete[b])
        )


def _config(config: EstimatorConfig | None, options: dict[str, Any], threads: int | None) -> tuple[EstimatorConfig, RunOptions]:
    run = run_options(config, **split_run_options(options), threads=threads)
    try:
        network = (
            {} if options.get("critic", "separable") != "separable" else MATRIX_DEFAULTS
        )  # a fitted critic takes no network options
        cfg = dataclasses.replace(config or EstimatorConfig(**network), **options)
    except TypeError as err:
        known = sorted(f.name for f in dataclasses.fields(EstimatorConfig))
        raise TypeError(f"{err}; mi_matrix options are {known}") from None
    if cfg.critic not in ("separable", "gaussian"):
        raise NeuralMIError(
            f"mi_matrix trains separable critics or fits the Gaussian one: critic must be 'separable' or 'gaussian', got {cfg.critic!r}"
        )
    if run.checkpoint is not None:
        raise NeuralMIError("mi_matrix does not checkpoint: its critics train in one batched pass")
    if cfg.discrete_x or cfg.discrete_y:
        raise NeuralMIError("mi_matrix declares discrete columns by name: pass discrete=[...] instead of discrete_x / discrete_y")
    return cfg, run


def _job(found: list[Variable], rows: int, cfg: EstimatorConfig, run: RunOptions) -> _Job:
    train, val, test = cfg.split_rows(rows)
    if min(len(train), len(test)) < 4 or len(val) < MIN_VAL_ROWS:
        raise NeuralMIError(
            f"too few rows to split: {rows} rows give {len(train)} for training, {len(val)} for validation "
            f"(need {MIN_VAL_ROWS}) and {len(test)} for testing"
        )
    encoded = [encode(v, train, cfg) for v in found]
    widths = np.cumsum([0] + [e.shape[1] for e, _ in encoded])
    feats = torch.from_numpy(np.concatenate([e for e, _ in encoded], axis=1))
    device = pick_device(run.device)
    parts = tuple(feats[torch.from_numpy(idx)].to(device) for idx in (train, val, test))
    slices = [slice(int(a), int(b)) for a, b in zip(widths[:-1], widths[1:])]
    return _Job(cfg, parts, slices, [s for _, s in encoded], [v.discrete for v in found], device)  # type: ignore[arg-type]


def _gaussian(job: _Job, data: Prepared) -> Candidate | None:
    """The pair's Gaussian candidate, where the defaults offer one beside the network (fitted once: it is also the network's rival)."""
    cfg = job.cfg
    if cfg.critic == "gaussian" or all(data.discrete) or not (cfg.gaussian_critic and gaussian_fits(data)):
        return None
    return fit_gaussian(data.train, data.val, cfg)


def _rival(gaussian: Candidate | None) -> float | None:
    """The Gaussian critic's validation value plus its error, where it detects dependence: the network's rival."""
    return gaussian.val + gaussian.val_stderr if gaussian is not None and gaussian.detects else None


def _train_networks(
    job: _Job, pairs: list[tuple[int, int]], gaussians: dict[int, Candidate | None], tick: Any
) -> dict[int, Candidate]:
    """The separable candidate of each pair that is not discrete on both sides, all trained in one batched pass."""
    cfg = job.cfg
    batched = [p for p, (a, b) in enumerate(pairs) if not (job.discrete[a] and job.discrete[b])]
    if cfg.critic != "separable" or not batched:
        return {}
    start = time.perf_counter()
    width = max(max(job.slices[a].stop - job.slices[a].start, job.slices[b].stop - job.slices[b].start) for a, b in pairs)
    pad = job.parts[0].shape[1]  # the index of the zero column appended below
    index = torch.full((len(batched), 2, width), pad, dtype=torch.long)
    critics, rivals = [], list[float | None]()
    for k, p in enumerate(batched):
        for side, v in enumerate(pairs[p]):
            cols = torch.arange(job.slices[v].start, job.slices[v].stop)
            index[k, side, : len(cols)] = cols
        data = job.prepared(*pairs[p])
        critic = build_critic(cfg, *data.dims)
        assert isinstance(critic, SeparableCritic)
        critics.append(critic.to(job.device))
        rivals.append(_rival(gaussians[p]))
    padded = [torch.cat((part, part.new_zeros(len(part), 1)), 1) for part in job.parts[:2]]
    best, last, fits = fit_separable_batch(critics, index, padded[0], padded[1], cfg, tick, rivals)
    share = (time.perf_counter() - start) / len(batched)
    out = {}
    for k, p in enumerate(batched):
        val = job.prepared(*pairs[p]).val
        value, se = validate(best[k], val, cfg)
        fit = fits[k]
        out[p] = Candidate(
            "separable",
            best[k],
            value,
            se,
            steps=fit.steps,
            kept_step=fit.best_step,
            max_steps=cfg.max_steps,
            curve=fit.curve,
            diverged=fit.diverged,
            abandoned=fit.abandoned,
            seconds=share,
            trained=last[k],
        )
    return out


def _candidates(job: _Job, data: Prepared, network: Candidate | None, gaussian: Candidate | None) -> list[Candidate]:
    """Every candidate of one pair, as :func:`neuralmi.estimate.fit` chooses them (less the quadratic, density ratio, ensemble)."""
    cfg = job.cfg
    if cfg.critic == "gaussian":
        if not gaussian_fits(data):
            raise NeuralMIError(f"critic='gaussian' needs more training rows ({len(data.train[0])}) than twice the features")
        return [fit_gaussian(data.train, data.val, cfg)]
    if all(data.discrete):
        return [fit_labels(data.train, data.val, cfg, data.discrete)]
    found = [network] if network is not None else []
    if any(data.discrete):
        found.append(fit_labels(data.train, data.val, cfg, data.discrete))
    if gaussian is not None:
        found.append(gaussian)
    return found


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is optional
        return None
    return tqdm(total=total, desc="mi_matrix", unit="step", leave=False, file=sys.stderr)


def _pairs(found: list[Variable], target: Variable | None) -> list[tuple[int, int]]:
    if target is not None:
        return [(i, len(found)) for i in range(len(found))]
    return [(i, j) for i in range(len(found)) for j in range(i + 1, len(found))]


def _estimate(job: _Job, pairs: list[tuple[int, int]], bar: Any) -> list[MIResult]:
    """Each pair's result: its candidates, the selection and the held-out report (warnings kept in each result)."""
    gaussians = {p: _gaussian(job, job.prepared(a, b)) for p, (a, b) in enumerate(pairs)}
    networks = _train_networks(job, pairs, gaussians, bar.update if bar is not None else (lambda steps: None))
    results = []
    for p, (a, b) in enumerate(pairs):
        start = time.perf_counter()
        data = job.prepared(a, b)
        candidates = _candidates(job, data, networks.get(p), gaussians[p])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MIWarning)
            result = report(data, candidates, job.cfg, start)
        gaussian = gaussians[p]
        result.seconds += (networks[p].seconds if p in networks else 0.0) + (gaussian.seconds if gaussian is not None else 0.0)
        results.append(result)
        if bar is not None:
            bar.update(1)
    return results


def mi_matrix(
    data: Any,
    target: Any = None,
    *,
    groups: Any = None,
    discrete: Any = (),
    config: EstimatorConfig | None = None,
    threads: int | None = None,
    **options: Any,
) -> MIMatrix:
    r"""Held-out I(A;B) in nats, with error bars, for every pair of columns or groups, or each against ``target``.

    ``data`` is a pandas DataFrame or a 2-D array (rows are samples, columns variables). Without a
    ``target``, every pair of columns (or ``groups``) is estimated: a symmetric matrix with an
    empty (NaN) diagonal. With one, each column or group is paired with it: one column of values.

    Args:
        data: the table.
        target: a column label of ``data`` (left out of the pairs), or paired samples (array, Series).
        groups: ``{name: [columns]}`` or a list of column lists: each group is one (multivariate) variable.
        discrete: columns (or the target's name) holding class labels: one-hot, never one ordered number.
        config: an :class:`EstimatorConfig` (default: its defaults with ``hidden=(64,)``, ``embed_dim=16``).
        threads: torch CPU threads for the call (default: chosen from the width of the batched pass).
        **options: fields of the config (``max_steps``, ``batch_size``, ``seed``, ``critic='gaussian'``
            for the closed form alone, ``gaussian_critic=False``, ``progress``, ...).

    Returns:
        an :class:`MIMatrix`: ``nats``, ``stderr``, ``ci_low``, ``ci_high`` (DataFrames for a DataFrame,
        else arrays with ``rows`` and ``columns``), ``results`` (each pair's :class:`MIResult`),
        ``ranking()``, ``plot()``.

    Pairwise MI measures each pair alone: two copies of one signal both score high (redundancy),
    and features that inform only jointly score 0 alone (synergy: for y = x1 XOR x2,
    I(x1;y) = I(x2;y) = 0 while I(x1,x2;y) = ln 2; pass the pair as a group to see it).

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 2))
    >>> data = np.column_stack([z[:, 0], 0.8 * z[:, 0] + 0.6 * z[:, 1], rng.normal(size=2000)])
    >>> m = mi_matrix(data, critic="gaussian", progress=False)
    >>> bool(abs(m.nats[0, 1] - 0.5108) < 4 * m.stderr[0, 1]), bool(m.ci_low[0, 2] <= 0 <= m.ci_high[0, 2])
    (True, True)
    """
    cfg, run = _config(config, options, threads)
    start = time.perf_counter()
    table = as_table(data)
    found, target_var = variables(table, target, groups, discrete)
    notes = [n for n in map(note, [*found, *([target_var] if target_var else [])]) if n is not None]
    for message in notes:
        warnings.warn(message, MIWarning, stacklevel=2)
    everything = [*found, *([target_var] if target_var is not None else [])]
    job = _job(everything, table.rows, cfg, run)
    pairs = _pairs(found, target_var)
    width = sum(s.stop - s.start for s in job.slices)
    bar = _progress((cfg.max_steps if cfg.critic == "separable" else 0) + len(pairs), run.progress)
    try:
        with _threads(run.threads or default_threads((len(pairs) * width // max(1, len(job.slices)), 0))):
            results = _estimate(job, pairs, bar)
    finally:
        if bar is not None:
            bar.close()
    names = [v.name for v in everything]
    return MIMatrix.from_pairs(
        names, pairs, results, target=target_var.name if target_var else None, frame=table.frame,
        seconds=time.perf_counter() - start, notes=notes,
    )  # fmt: skip
