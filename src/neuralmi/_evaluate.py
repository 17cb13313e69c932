"""Held-out evaluation of a trained critic: per-sample statistics, the estimate and its jackknife error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi.bounds import REPORTABLE

__all__ = ["HeldOut", "score_blocks", "summarise"]


@dataclass(frozen=True)
class HeldOut:
    """Per-sample statistics of a critic on held-out blocks, in float64.

    ``joint[i] = T(x_i, y_i)``; ``row[i]`` / ``col[i]`` are the log-sums of e^T over the other
    samples of i's block as x / as y; ``row_all[i]`` includes the diagonal; ``block[i]`` is the
    size of i's block.
    """

    joint: np.ndarray
    row: np.ndarray
    col: np.ndarray
    row_all: np.ndarray
    block: np.ndarray


def _log_sum_exp(scores: Tensor, dim: int) -> np.ndarray:
    """``log sum exp`` along ``dim``: shifted sums in the scores' precision, the log and the shift in float64.

    A row of equal scores (the untrained critic's zeros) gives exactly log(count), so DV = 0 exactly.
    """
    shift = scores.amax(dim, keepdim=True)
    sums = (scores - shift).exp_().sum(dim)
    return np.log(sums.double().cpu().numpy()) + shift.squeeze(dim).double().cpu().numpy()


@torch.no_grad()
def score_blocks(critic: nn.Module, x: Tensor, y: Tensor, block_size: int) -> HeldOut:
    """Score held-out samples block by block (all pairs within each block of ~block_size rows)."""
    n = len(x)
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for idx in np.array_split(np.arange(n), max(1, n // block_size)):
        s = critic(x[idx], y[idx])
        if s.dtype in (torch.float16, torch.bfloat16):
            s = s.float()
        elif s._base is not None or s.requires_grad or not s.is_contiguous():
            s = s.clone()  # never write into a tensor the critic may keep (a view, a parameter)
        joint = s.diagonal().cpu().numpy().astype(np.float64, copy=True)  # a copy, before the diagonal is masked in place
        s.diagonal().fill_(float("-inf"))
        stats = (joint, _log_sum_exp(s, 1), _log_sum_exp(s, 0), np.full(len(idx), float(len(idx))))
        for store, value in zip(parts, stats):
            store.append(value)
    joint, row, col, block = (np.concatenate(p) for p in parts)
    with np.errstate(invalid="ignore"):  # non-finite scores stay NaN; the callers check every result is finite
        return HeldOut(joint, row, col, np.logaddexp(row, joint), block)


def _dv_like(h: HeldOut, kind: str) -> tuple[float, np.ndarray]:
    """Estimate and leave-one-out values of DV / NWJ from the pooled off-diagonal mass."""
    n = len(h.joint)
    shift = max(h.row.max(), h.col.max())
    rows, cols = np.exp(h.row - shift), np.exp(h.col - shift)
    total, pairs = rows.sum(), (h.block - 1).sum()  # each sample heads one row of pairs
    loo_total = np.maximum(total - rows - cols, np.finfo(float).tiny)
    loo_pairs = pairs - 2 * (h.block - 1)
    loo_joint = (h.joint.sum() - h.joint) / (n - 1)
    if kind == "dv":
        value = h.joint.mean() - (np.log(total / pairs) + shift)
        loo = loo_joint - (np.log(loo_total / loo_pairs) + shift)
    else:  # nwj: mean(T) - mean(e^(T - 1))
        value = h.joint.mean() - np.exp(np.log(total / pairs) + shift - 1.0)
        loo = loo_joint - np.exp(np.log(loo_total / loo_pairs) + shift - 1.0)
    return float(value), loo


def summarise(h: HeldOut, report: str) -> tuple[float, float]:
    """(estimate in nats, standard error) of the ``report`` bound on held-out statistics.

    DV and NWJ use the delete-one jackknife over samples (each sample leaves its joint term and
    all its off-diagonal pairs); InfoNCE averages independent per-row terms.
    """
    with np.errstate(all="ignore"):  # non-finite statistics give a non-finite result, which the callers refuse
        return _summarise(h, report)


def _summarise(h: HeldOut, report: str) -> tuple[float, float]:
    n = len(h.joint)
    if report == "infonce":
        terms = h.joint - h.row_all + np.log(h.block)
        return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(n))
    if report not in ("dv", "nwj"):
        raise ValueError(f"cannot report with {report!r}; choose one of {REPORTABLE}")
    value, loo = _dv_like(h, report)
    stderr = math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())
    return value, stderr
