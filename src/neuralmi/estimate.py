r"""``estimate_mi``: measure I(X;Y) from paired samples with a held-out estimate and an error bar.

Three stages. **prepare** (``neuralmi._prepare``): validate, split train / validation / test by
seeded index, map each feature with preprocessing fitted on the training split. **fit**
(``neuralmi._fit``): every candidate critic that applies (the trained network, the closed-form Gaussian
critic and its quadratic refinement, the density-ratio critics, the label critics) fitted on the
training split and scored on validation. **report** (:func:`report`): the kept critic's bound on
the untouched test split, with a jackknife standard error and a 95% interval.
The estimate is never computed on samples a critic was trained or selected on; the interval's upper
limit also admits the kept critic's bound on its own training rows (``neuralmi._optimism``).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi._call import Z95, default_threads, pick_device
from neuralmi._call import normal_interval as _interval
from neuralmi._call import resolve_config as _config
from neuralmi._call import torch_threads as _threads
from neuralmi._crosscheck import knn_check, raised_interval
from neuralmi._evaluate import HeldOut, score_blocks, summarise
from neuralmi._fit import build_critic, fit, fitted_rows
from neuralmi._optimism import InSample, in_sample_check, optimism_interval, overfits
from neuralmi._plausibility import ceiling, deterministic_dependence, implausible
from neuralmi._prepare import (
    Prepared,
    gaussian_fits,
    prepare,
)
from neuralmi.bounds import REPORT_WITH
from neuralmi.candidates import (
    QUADRATIC_TRAINING,
    Candidate,
    select,
)
from neuralmi.config import DeviceKind, EstimatorConfig, RunOptions
from neuralmi.errors import NeuralMIError
from neuralmi.result import MIResult, MIWarning, encode_pair

__all__ = [
    "QUADRATIC_TRAINING",
    "REPORT_WITH",
    "EstimatorConfig",
    "MIResult",
    "MIWarning",
    "Prepared",
    "RunOptions",
    "build_critic",
    "default_threads",
    "encode_pair",
    "estimate_mi",
    "fit",
    "pick_device",
    "prepare",
    "report",
]


# ---------------------------------------------------------------- report

DISAGREEMENT_SE = 2.0
DISAGREEMENT_RELATIVE = 0.1
"""Candidates disagree when the runner-up's validation value is below the kept one's by more than
2 standard errors of the difference and by more than 10% of the kept value."""


def _disagreement(kept: Candidate, candidates: list[Candidate]) -> str | None:
    others = [c for c in candidates if c is not kept and c.detects]
    if not others or not kept.detects:
        return None
    runner = max(others, key=lambda c: c.val)
    gap, se = kept.val - runner.val, math.hypot(kept.val_stderr, runner.val_stderr)
    if gap > DISAGREEMENT_SE * se and gap > DISAGREEMENT_RELATIVE * kept.val:
        return (
            f"the candidate critics disagree: {kept.name} scores {kept.val:.3f} ± {kept.val_stderr:.3f} nats on validation, "
            f"{runner.name} {runner.val:.3f} ± {runner.val_stderr:.3f}; the estimate is a lower bound and may be low"
        )
    return None


def _warnings(
    result: MIResult, kept: Candidate, candidates: list[Candidate], n_negatives: int, own: InSample | None
) -> list[str]:
    messages = []
    if result.diverged:
        messages.append("training diverged (non-finite bound); the last good critic was restored and used")
    top = ceiling(result.report, result.n_test, n_negatives)
    if result.nats > top - 1.0 and not result.deterministic:
        what = "log of the number of negatives" if result.report == "infonce" else "log n_test"
        messages.append(
            f"estimate {result.nats:.3f} nats is near the ceiling {top:.3f} nats ({what}) of the {result.report} bound; "
            "the true MI may be higher: use more samples"
        )
    if not result.detected:
        messages.append(
            "no candidate critic beat the untrained one (which scores every pair 0) by 2 standard errors on validation data: "
            "no dependence detected; the estimate is 0 and the interval runs from 0 to the highest upper 95% limit of the candidates on the test split"
        )
    if result.still_improving:
        messages.append(
            f"the {kept.name} critic was still improving when its budget of {kept.max_steps} steps ran out; "
            "the estimate is likely low: raise max_steps"
        )
    disagreement = _disagreement(kept, candidates)
    if disagreement is not None:
        messages.append(disagreement)
    if own is not None and overfits(own, result.nats, result.stderr):
        messages.append(
            f"the {kept.name} critic scores {own.nats:.3f} ± {own.stderr:.3f} nats on {own.rows} of its own training rows, "
            f"above its held-out {result.nats:.3f} ± {result.stderr:.3f}: it fits the rows it was trained on better than new "
            f"ones, so its held-out bound is likely low; the interval's upper limit is raised to {own.upper:.3f} "
            "(more samples narrow the gap)"
        )
    if result.detected and result.nats < 0:
        messages.append(f"held-out estimate is negative ({result.nats:.4f} nats): no dependence detected (MI is never negative)")
    return messages


def _no_dependence(
    data: Prepared, candidates: list[Candidate], cfg: EstimatorConfig
) -> tuple[float, float, tuple[float, float], list[str]]:
    """(0, stderr, interval, notes) where no candidate detects dependence: MI is 0 to within what the candidates resolve.

    Each candidate's trained critic (its last weights, where the kept ones are the untrained
    start) is scored on the test split; the interval runs from 0 to the highest upper 95% limit
    (a negative value counting as 0) among those whose held-out value is plausible (finite, at
    least -1 nat), or, where none is, among the finite ones (overfit critics, with a note); it is
    capped at the bound's ceiling on the test split, which no held-out value can exceed.
    ``stderr`` is that candidate's. It is never a zero-width measurement unless no candidate has
    any spread (every critic constant); where no value is finite, ``NeuralMIError``.
    """
    best: dict[bool, tuple[float, float]] = {}  # plausible or not -> (upper limit, stderr)
    problems, negatives = list[str](), len(data.test[0])
    for candidate in candidates:
        critic = candidate.trained if candidate.trained is not None else candidate.critic
        held = score_blocks(critic, *data.view(candidate.preprocess).test, cfg.eval_batch_size)
        value, se = summarise(held, cfg.report_bound)
        negatives, problem = int(held.block.min()), implausible(value, se)
        if problem is not None:
            problems.append(f"{candidate.name}{' (diverged)' if candidate.diverged else ''}: {problem}")
        if math.isfinite(value + se):  # MI >= 0: a negative value counts as 0
            limit, plausible = max(0.0, value) + Z95 * se, problem is None
            if limit > best.get(plausible, (-math.inf, 0.0))[0]:
                best[plausible] = (limit, se)
    if not best:
        raise NeuralMIError(f"no candidate critic gives a usable estimate on the test split: {'; '.join(problems)}")
    top = ceiling(cfg.report_bound, len(data.test[0]), negatives)
    upper, stderr = best.get(True) or best[False]
    notes = []
    if True not in best:
        notes.append(
            f"every candidate critic's held-out value is implausible ({'; '.join(problems)}): they overfit the training "
            f"split; the interval's upper limit comes from their spread, capped at the ceiling {top:.3f} nats"
        )
    return 0.0, stderr, (0.0, min(upper, top)), notes


def _choose(data: Prepared, candidates: list[Candidate], cfg: EstimatorConfig) -> tuple[Candidate, bool, HeldOut, list[str]]:
    """(the candidate to report, whether it detects dependence, its test statistics, the candidates set aside and why).

    A detecting candidate whose held-out estimate is not finite or below -1 nat is set aside and
    the selection is made again among the rest; with none left, ``NeuralMIError``.
    """
    pool, set_aside = list(candidates), list[str]()
    while pool:
        kept, detected = select(pool, cfg.report_bound)
        held = score_blocks(kept.critic, *data.view(kept.preprocess).test, cfg.eval_batch_size)
        problem = implausible(*summarise(held, cfg.report_bound))
        if problem is None or not detected:
            return kept, detected, held, set_aside
        set_aside.append(f"the {kept.name} critic was set aside and flagged diverged: {problem}")
        kept.diverged = True
        pool.remove(kept)
    raise NeuralMIError("no candidate critic gives a usable estimate on the test split: " + "; ".join(set_aside))


def _lower_bound(data: Prepared, held: HeldOut, nats: float, report: str) -> str | None:
    """Why the result can only be a lower bound (deterministic dependence, or an estimate above the ceiling), or None."""
    top = ceiling(report, len(data.test[0]), int(held.block.min()))
    if nats > top:
        return f"the {report} estimate {nats:.3f} nats exceeds the ceiling {top:.3f} nats that this test split can show"
    if any(data.discrete):  # a label side carries finite information: its entropy
        return None
    return deterministic_dependence(_numpy_pair(data.train), _numpy_pair(data.test), top, gaussian_fits(data))


def _numpy_pair(split: tuple[Tensor, Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """A split's (x, y) as flat (n, d) numpy arrays on the CPU."""
    x, y = (t.reshape(len(t), -1).cpu().numpy() for t in split)
    return x, y


def report(data: Prepared, candidates: list[Candidate], cfg: EstimatorConfig, start: float) -> MIResult:
    """The report stage: the chosen candidate's bound on the untouched test split, its error bar and warnings."""
    kept, detected, held_out, set_aside = _choose(data, candidates, cfg)
    report_bound = cfg.report_bound
    knn: dict[str, float] = {}
    own: InSample | None = None  # the kept critic on its own training rows (detected, not a lower bound)
    nats, stderr = summarise(held_out, report_bound)
    why = _lower_bound(data, held_out, nats if detected else 0.0, report_bound)
    if why is not None:  # InfoNCE of the same critic: a lower bound that never exceeds ln(negatives), with a small variance
        detected, report_bound = True, "infonce"
        nats, stderr = summarise(held_out, report_bound)
        if implausible(nats, stderr) is not None:
            nats, stderr = 0.0, 0.0
        ci = (max(0.0, nats - Z95 * stderr), math.inf)
    else:
        if detected:
            ci = _interval(nats, stderr)
            train = data.view(kept.preprocess).train
            rows = min(len(data.test[0]), fitted_rows())  # rows every candidate was fitted on
            own = in_sample_check(kept.critic, train, rows, cfg.eval_batch_size, report_bound)
            ci = optimism_interval(ci, own)  # the fit's optimism: held-out and in-sample bounds bracket its family's reach
        else:
            nats, stderr, ci, notes = _no_dependence(data, candidates, cfg)
            set_aside.extend(notes)
        check = None if any(data.discrete) else knn_check(_numpy_pair(data.test), cfg.seed)
        if check is not None:  # a second opinion that needs no critic: it can only raise the upper limit
            knn = {"nats": float(check), "stderr": check.stderr, "k": check.k, "rows": check.n, "ci_high_before": ci[1]}
            ci = raised_interval(ci, check)
    view = data.view(kept.preprocess)
    result = MIResult(
        nats=nats,
        stderr=stderr,
        ci=ci,
        bound=cfg.bound,
        report=report_bound,
        n_train=len(data.train[0]),
        n_val=len(data.val[0]),
        n_test=len(data.test[0]),
        steps=kept.steps,
        kept_step=kept.kept_step,
        seconds=0.0,
        curve=kept.curve,
        config=cfg,
        critic=kept.critic,
        diverged=kept.diverged,
        standardizers=view.scalers,
        x_shape=data.x_shape,
        y_shape=data.y_shape,
        critic_kind=kept.name,
        selection={c.name: c.val for c in candidates} if len(candidates) > 1 else {},
        detected=detected,
        still_improving=kept.still_improving,
        candidates={c.name: c.record() for c in candidates},
        threads=torch.get_num_threads(),
        device=str(data.device),
        preprocess=view.preprocess,
        deterministic=why is not None,
        knn=knn,
        in_sample={"nats": own.nats, "stderr": own.stderr, "rows": own.rows} if own is not None else {},
        screen=data.screen,
    )
    messages = [*data.notes, *set_aside, *_warnings(result, kept, candidates, int(held_out.block.min()), own)]
    if knn and ci[1] > knn["ci_high_before"]:
        messages.append(
            f"the {kept.name} critic may be short: the KSG k-NN estimate on {knn['rows']} test rows, "
            f"{knn['nats']:.4f} ± {knn['stderr']:.4f} nats, lies above its interval; the upper 95% limit is raised from "
            f"{knn['ci_high_before']:.4f} to {ci[1]:.4f} (the estimate stays the critic's held-out bound, a lower bound)"
        )
    if why is not None:
        messages.append(
            f"deterministic or near-deterministic dependence: {why}. Reported is the InfoNCE bound of the {kept.name} "
            f"critic on the test split, at most ln({int(held_out.block.min())}) = {math.log(held_out.block.min()):.3f} nats: "
            "a lower bound, capped by the sample size and the critics' regularisation; the true MI may be infinite, "
            "and the interval has no upper limit"
        )
    for message in messages:
        warnings.warn(message, MIWarning, stacklevel=3)
    result.warnings.extend(messages)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------- the entry point


def estimate_mi(
    x: Any,
    y: Any = None,
    config: EstimatorConfig | None = None,
    *,
    critic: nn.Module | str | None = None,
    device: DeviceKind | str | torch.device | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    threads: int | None = None,
    **options: Any,
) -> MIResult:
    r"""Estimate I(X;Y) in nats and bits from paired samples, with a held-out error bar.

    ``x`` (n, ...) and ``y`` (n, ...) are numpy arrays (memory-mapped too), torch tensors, pandas
    objects or lists; a 1-D input is one feature. With ``y`` left out, ``x`` is a torch
    ``Dataset`` of (x_i, y_i) items or a ``DataLoader`` of (x, y) batches.

    Three stages: **prepare** (validate, split 60/10/30 by seeded index, preprocessing fitted on
    the training split), **fit** (each candidate critic fitted on the training split and scored
    by the report bound on validation; the best that beats the untrained critic by 2 standard
    errors is kept), **report** (its bound on the untouched test split; ``stderr`` is the
    delete-one jackknife and ``ci`` the 95% normal interval).

    Args:
        x: samples (n, ...): a numpy array, torch tensor, pandas object or list; 1-D is one feature.
        y: samples (n, ...), paired row by row with ``x``.
        config: an :class:`EstimatorConfig`; ``options`` replace its fields.
        critic: a critic name (:data:`~neuralmi.critics.CriticName`), or an ``nn.Module`` of your
            own mapping (x, y) batches to (N, M) scores.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``; None or ``"auto"``: CUDA when available.
        progress: show a progress bar of the training steps (needs tqdm).
        checkpoint: a file written at validation points; a run resumes from it when it exists.
        checkpoint_every: write the checkpoint at every n-th validation point (and always at the last).
        threads: torch CPU threads for the call (None: chosen from the data's width and the
            cores); the caller's setting is restored afterwards.
        **options: fields of :class:`EstimatorConfig` (``bound``, ``batch_size``, ``lr``,
            ``max_steps``, ``test_fraction``, ``seed``, ``hidden``, ...).

    The run-time arguments (``device`` to ``threads``) do not change what is estimated and are
    not part of ``result.config``; given through an :class:`EstimatorConfig` they still work,
    with a DeprecationWarning, where the keyword is left at its default.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> r = estimate_mi(x, y, progress=False, max_steps=300)
    >>> abs(r.nats - 0.5108) < 4 * r.stderr + 0.05
    True
    """
    if isinstance(critic, str):
        options["critic"], critic = critic, None
    given = {"device": device, "progress": progress, "checkpoint": checkpoint, "checkpoint_every": checkpoint_every}
    cfg, run = _config(config, options, critic, {**given, "threads": threads})
    start = time.perf_counter()
    data = prepare(x, y, cfg, run.device, alternative=critic is None, screen=critic is None, threads=run.threads)
    with _threads(run.threads or default_threads(data.dims)):
        candidates = fit(data, cfg, critic, run)
        return report(data, candidates, cfg, start)
