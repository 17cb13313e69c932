"""Run estimate_mi (and peers) over tasks x bounds x seeds; summarise; check self-consistency."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuralmi.benchmark.cmi import CMITask
from neuralmi.benchmark.peers import PEERS
from neuralmi.benchmark.tasks import QUICK_TASKS, find_task, get_family
from neuralmi.cmi import estimate_cmi
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import estimate_mi

__all__ = ["Record", "consistency_checks", "format_table", "run", "summarise"]

QUICK_N, QUICK_STEPS = 2000, 300
DEFAULT_FAMILY = "classic"

Method = Callable[..., tuple[float, float, float, float, float]]
"""(x, y, seed, discrete) -> (nats, stderr, ci low, ci high, seconds); a conditional task's method takes (x, y, z, seed, discrete)."""


@dataclass(frozen=True)
class Record:
    """One estimate of one task by one method with one seed."""

    task: str
    method: str
    seed: int
    n: int
    truth: float
    nats: float
    stderr: float
    ci_low: float
    ci_high: float
    seconds: float
    truth_stderr: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return asdict(self)


def _neuralmi(bound: str, quick: bool) -> Method:
    def method(x: np.ndarray, y: np.ndarray, seed: int, discrete: str) -> tuple[float, float, float, float, float]:
        extra: dict[str, Any] = {"max_steps": QUICK_STEPS} if quick else {}
        extra |= {f"discrete_{side}": True for side in discrete}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = estimate_mi(x, y, bound=bound, seed=seed, progress=False, **extra)
        return r.nats, r.stderr, r.ci[0], r.ci[1], r.seconds

    return method


def _neuralmi_cmi(quick: bool) -> Method:
    def method(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: int, discrete: str) -> tuple[float, float, float, float, float]:
        extra: dict[str, Any] = {"max_steps": QUICK_STEPS} if quick else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = estimate_cmi(x, y, z, seed=seed, progress=False, **extra)
        return r.nats, r.stderr, r.ci[0], r.ci[1], r.seconds

    return method


def _peer(name: str) -> Method:
    def method(x: np.ndarray, y: np.ndarray, seed: int, discrete: str) -> tuple[float, float, float, float, float]:
        try:
            r = PEERS[name](x, y, seed=seed)
        except RuntimeError as err:  # a failing peer is recorded as NaN, never stops the run
            warnings.warn(f"peer {name} failed: {err}", RuntimeWarning, stacklevel=2)
            return math.nan, math.nan, math.nan, math.nan, math.nan
        return r.nats, math.nan, math.nan, math.nan, r.seconds

    return method


def run(
    tasks: Sequence[str] | None = None,
    bounds: Sequence[str] = ("dv",),
    seeds: int = 1,
    *,
    quick: bool = False,
    peers: Sequence[str] = (),
    progress: Callable[[Record], None] | None = None,
    family: str | None = None,
) -> list[Record]:
    """Estimate every task with every method and seed, on the same samples for every method.

    The tasks are ``tasks``, or those of ``family`` (see :data:`~neuralmi.benchmark.tasks.FAMILIES`),
    or by default the ``classic`` family (:data:`~neuralmi.benchmark.tasks.QUICK_TASKS` with ``quick``).
    A conditional task (family ``cmi``) is estimated by :func:`~neuralmi.estimate_cmi` alone, as
    ``neuralmi[cmi]``: the bounds and peers estimate I(X;Y) and do not apply.
    """
    if tasks and family is not None:
        raise NeuralMIError("give tasks or a family, not both")
    if family is not None:
        names = list(get_family(family))
    else:
        names = list(tasks) if tasks else list(QUICK_TASKS if quick else get_family(DEFAULT_FAMILY))
    for peer in peers:
        if peer not in PEERS:
            raise NeuralMIError(f"unknown peer {peer!r}; choose from {sorted(PEERS)}")
    methods = {f"neuralmi[{b}]": _neuralmi(b, quick) for b in bounds} | {p: _peer(p) for p in peers}
    conditional = {"neuralmi[cmi]": _neuralmi_cmi(quick)}
    records = []
    for name in names:
        task = find_task(name)
        n = min(task.n, QUICK_N) if quick else task.n
        for seed in range(seeds):
            data = task.sample(seed, n)
            for method, fn in (conditional if isinstance(task, CMITask) else methods).items():
                nats, se, lo, hi, secs = fn(*data, seed, task.discrete)
                record = Record(name, method, seed, n, task.truth, nats, se, lo, hi, secs, task.truth_stderr)
                records.append(record)
                if progress is not None:
                    progress(record)
    return records


def summarise(records: Sequence[Record]) -> list[dict[str, Any]]:
    """Per task and method: truth, mean and spread of the estimates, relative error, coverage, seconds."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r.task, r.method), []).append(r)
    rows = []
    for (task, method), rs in groups.items():
        est = np.array([r.nats for r in rs])
        truth = rs[0].truth
        covered = [r.ci_low <= truth <= r.ci_high for r in rs if not math.isnan(r.ci_low)]
        rel = np.abs(est - truth) / truth if truth > 0 else np.array([math.nan])
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.abs(np.log(est / truth)) if truth > 0 else np.array([math.nan])
        rows.append(
            {
                "task": task,
                "method": method,
                "n": rs[0].n,
                "truth": truth,
                "truth_stderr": rs[0].truth_stderr,
                "mean": float(est.mean()),
                "spread": float(est.std(ddof=1)) if len(est) > 1 else 0.0,
                "median_rel_error": float(np.median(rel)),
                "max_abs_log_ratio": float(np.nan_to_num(log_ratio, nan=math.inf).max()),
                "coverage": sum(covered) / len(covered) if covered else math.nan,
                "seconds": float(np.median([r.seconds for r in rs])),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of :func:`summarise` rows."""
    head = f"{'task':<26} {'method':<22} {'n':>6} {'truth':>8} {'mean':>8} {'spread':>7} {'rel err':>8} {'cover':>6} {'sec':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        rel = "-" if math.isnan(r["median_rel_error"]) else f"{100 * r['median_rel_error']:.1f}%"
        cover = "-" if math.isnan(r["coverage"]) else f"{100 * r['coverage']:.0f}%"
        lines.append(
            f"{r['task']:<26} {r['method']:<22} {r['n']:>6} {r['truth']:>8.4f} {r['mean']:>8.4f} {r['spread']:>7.4f} "
            f"{rel:>8} {cover:>6} {r['seconds']:>7.1f}"
        )
    return "\n".join(lines)


def consistency_checks(seed: int = 0, quick: bool = False) -> dict[str, dict[str, float]]:
    """Self-consistency (Song & Ermon 2020) on 5-D Gaussians: independence, data processing, additivity.

    Returns each check's estimates and measured ratio beside the ideal: I(X; Y') for an independent
    copy Y' (ideal 0), I(X; Y[:, :2]) / I(X; Y) (ideal 2/5 here, and never above 1), and
    I([X1, X2]; [Y1, Y2]) / I(X1; Y1) for independent copies (ideal 2).
    """
    from neuralmi.benchmark.distributions import CorrelatedGaussian

    n = QUICK_N if quick else 10_000
    base = CorrelatedGaussian(5, 1.0)
    x, y = base.sample(n, seed)
    x2, y2 = base.sample(n, seed + 1)
    estimate = _neuralmi("dv", quick)
    full = estimate(x, y, seed, "")[0]
    shuffled = estimate(x, np.random.default_rng(seed).permutation(y), seed, "")[0]
    processed = estimate(x, y[:, :2], seed, "")[0]
    doubled = estimate(np.hstack([x, x2]), np.hstack([y, y2]), seed, "")[0]
    return {
        "independence": {"estimate": shuffled, "ideal": 0.0},
        "data_processing": {"estimate": processed, "reference": full, "ratio": processed / full, "ideal": 0.4},
        "additivity": {"estimate": doubled, "reference": full, "ratio": doubled / full, "ideal": 2.0},
    }
