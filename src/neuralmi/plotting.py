"""Plots of training curves and benchmark results (matplotlib is an optional extra).

Each function returns a matplotlib ``Figure`` (shown by a notebook when it is a cell's value) and
writes it as an image only when given a path. Figures are built without pyplot, so the user's
backend and pyplot's open figures are left as they are.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_bench", "plot_curve", "plot_demo", "require_matplotlib"]


def require_matplotlib() -> type[Figure]:
    """matplotlib's ``Figure`` class, or an ImportError saying how to install matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'neuralmi[plot]'") from None
    return Figure


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    """Lay the figure out and write it to ``path`` if one is given (the format follows its suffix)."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig


def plot_curve(result: Any, path: str | os.PathLike[str] | None = None, truth: float | None = None) -> Figure:
    """Train and held-out bound by step, with the final test estimate and its 95% interval.

    A conditional result (:class:`~neuralmi.CMIResult`) has no training bound: its curve is the
    validation log ratio by step of q(v|u,z)'s training.
    """
    fig = require_matplotlib()(figsize=(7, 4.2), dpi=120)
    ax = fig.subplots()
    curve, quantity = result.curve, getattr(result, "quantity", "I(X;Y)")
    if "train" in curve:
        ax.plot(curve["step"], curve["train"], color="#1f77b4", label=f"train ({result.bound}, batch mean)")
    ax.plot(
        curve["step"],
        curve["val"],
        color="#ff7f0e",
        alpha=0.5 if "val_smoothed" in curve else 1.0,
        label=f"validation ({result.report})",
    )
    if "val_smoothed" in curve:
        ax.plot(curve["step"], curve["val_smoothed"], color="#ff7f0e", label="validation, smoothed")
    ax.axvline(result.kept_step, color="grey", ls=":", lw=1, label=f"critic kept: step {result.kept_step}")
    lo, hi = result.ci
    ax.axhspan(lo, hi, color="#2ca02c", alpha=0.2, label=f"test estimate 95% CI [{lo:.3f}, {hi:.3f}]")
    ax.axhline(result.nats, color="#2ca02c", lw=1.5, label=f"test estimate {result.nats:.3f} nats")
    if truth is not None:
        ax.axhline(truth, color="black", ls="--", lw=1, label=f"truth {truth:.3f} nats")
    values = [v for v in [*curve.get("train", []), *curve["val"], lo, hi] if math.isfinite(v)]
    if values:
        top, bottom = max(values), min(values)
        pad = 0.1 * max(top - bottom, 0.1)
        ax.set_ylim(max(bottom, result.nats - 3 * max(abs(result.nats), 0.5)) - pad, top + pad)
    ax.set_xlabel("training step" if "train" in curve else "training step of q(v|u,z)")
    ax.set_ylabel("bound (nats)" if "train" in curve else "log ratio (nats)")
    ax.set_title(f"neuralmi: {quantity} = {result.nats:.3f} ± {result.stderr:.3f} nats ({result.bits:.3f} bits)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _finish(fig, path)


def plot_demo(rows: list[dict[str, Any]], path: str | os.PathLike[str] | None = None) -> Figure:
    """Estimate with 95% interval beside the truth for each demo example."""
    fig = require_matplotlib()(figsize=(7, 3.8), dpi=120)
    ax = fig.subplots()
    names = [r["name"] for r in rows]
    ys = range(len(rows))
    est = [r["mi_nats"] for r in rows]
    highs = [r["ci_high"] if r["ci_high"] is not None else r["mi_nats"] for r in rows]  # null: a lower bound, no upper limit
    err = [[r["mi_nats"] - r["ci_low"] for r in rows], [hi - r["mi_nats"] for r, hi in zip(rows, highs)]]
    ax.errorbar(est, list(ys), xerr=err, fmt="o", color="#1f77b4", capsize=4, label="neuralmi estimate, 95% CI")
    ax.scatter([r["truth_nats"] for r in rows], list(ys), marker="|", s=300, color="black", label="truth")
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel("mutual information (nats)")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    return _finish(fig, path)


def plot_bench(rows: list[dict[str, Any]], records: list[Any], path: str | os.PathLike[str] | None = None) -> Figure:
    """Estimate minus truth per task and method: mean with the spread over seeds, the ideal 0 drawn."""
    methods = sorted({r["method"] for r in rows})
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig = require_matplotlib()(figsize=(8, 0.45 * len(tasks) + 1.5), dpi=120)
    ax = fig.subplots()
    for k, method in enumerate(methods):
        mine = {r["task"]: r for r in rows if r["method"] == method}
        pos = [i + 0.8 * (k - (len(methods) - 1) / 2) / max(len(methods), 1) for i, t in enumerate(tasks) if t in mine]
        mean = [mine[t]["mean"] - mine[t]["truth"] for t in tasks if t in mine]
        spread = [max(mine[t]["spread"], 0.0) for t in tasks if t in mine]
        ax.errorbar(mean, pos, xerr=spread, fmt="o", capsize=3, label=method)
    ax.axvline(0.0, color="black", lw=1)
    ax.set_yticks(range(len(tasks)), tasks, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("estimate - truth (nats), mean ± spread over seeds")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    return _finish(fig, path)
