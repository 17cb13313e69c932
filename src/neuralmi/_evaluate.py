"""Held-out evaluation of a trained critic: per-sample statistics, the estimate and its jackknife error."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi.bounds import REPORTABLE

__all__ = ["HeldOut", "dv_like", "paired_difference", "score_blocks", "scored_alike", "summarise"]


@dataclass(frozen=True)
class HeldOut:
    """Per-sample statistics of a critic on held-out blocks, in float64.

    ``joint[i] = T(x_i, y_i)``; ``row[i]`` / ``col[i]`` are the log-sums of e^T over the other
    samples of i's block as x / as y; ``row_all[i]`` includes the diagonal; ``block[i]`` is the
    size of i's block; ``nce_col[k] = sum_{i != k} -log(1 - e^(T(x_i, y_k) - row_all[i]))`` over
    k's block is how much the other rows' InfoNCE log-normalisers drop when y_k leaves it (None
    where the statistics were scored for another bound).
    """

    joint: np.ndarray
    row: np.ndarray
    col: np.ndarray
    row_all: np.ndarray
    block: np.ndarray
    nce_col: np.ndarray | None = None


def _log_sum_exp(scores: Tensor, dim: int) -> np.ndarray:
    """``log sum exp`` along ``dim``: shifted sums in the scores' precision, the log and the shift in float64.

    A row of equal scores (the untrained critic's zeros) gives exactly log(count), so DV = 0 exactly.
    """
    shift = scores.amax(dim, keepdim=True)
    sums = (scores - shift).exp_().sum(dim)
    return np.log(sums.double().cpu().numpy()) + shift.squeeze(dim).double().cpu().numpy()


def _column_drops(masked: Tensor, row_all: np.ndarray) -> np.ndarray:
    """``sum_i -log(1 - p_ik)`` per column k, ``p_ik = e^(S_ik - row_all_i)`` (0 on the masked diagonal), in the scores' precision.

    ``p`` is capped one unit in the last place below 1: a row that one other sample's score
    dominates by more than the precision can tell (about 16 nats in float32) gives a large finite drop.
    """
    p = (masked - torch.from_numpy(row_all).to(masked.device, masked.dtype)[:, None]).exp_()
    below_one = 1.0 - torch.finfo(masked.dtype).eps / 2
    return p.clamp_(max=below_one).neg_().log1p_().sum(0, dtype=torch.float64).neg_().cpu().numpy()


@torch.no_grad()
def score_blocks(critic: nn.Module, x: Tensor, y: Tensor, block_size: int, report: str | None = None) -> HeldOut:
    """Score held-out samples block by block (all pairs within each block of ~block_size rows).

    ``report``: the bound the statistics are for; InfoNCE's column terms (``nce_col``, a few more
    passes over each block) are computed for ``"infonce"`` or None only.
    """
    n, columns = len(x), report in (None, "infonce")
    outs, start = [np.empty(n) for _ in range(6 if columns else 5)], 0  # filled block by block: no parts to concatenate
    for idx in np.array_split(np.arange(n), max(1, n // block_size)):
        s = critic(x[idx], y[idx])
        if s.dtype in (torch.float16, torch.bfloat16):
            s = s.float()
        elif s._base is not None or s.requires_grad or not s.is_contiguous():
            s = s.clone()  # never write into a tensor the critic may keep (a view, a parameter)
        joint = s.diagonal().cpu().numpy().astype(np.float64, copy=True)  # a copy, before the diagonal is masked in place
        s.diagonal().fill_(float("-inf"))
        row = _log_sum_exp(s, 1)
        with np.errstate(invalid="ignore"):  # non-finite scores stay NaN; the callers check every result is finite
            row_all = np.logaddexp(row, joint)
        stats = (joint, row, _log_sum_exp(s, 0), row_all, np.full(len(idx), float(len(idx))))
        for out, value in zip(outs, (*stats, _column_drops(s, row_all)) if columns else stats):
            out[start : start + len(idx)] = value
        start += len(idx)
    joint, row, col, row_all, block = outs[:5]
    return HeldOut(joint, row, col, row_all, block, outs[5] if columns else None)


def dv_like(h: HeldOut, kind: str) -> tuple[float, np.ndarray]:
    r"""DV or NWJ on held-out statistics from the pooled off-diagonal mass, and its delete-one values (n,).

    .. math:: \mathrm{DV} = \overline{T_{ii}} - \log \overline{e^{T_{ij}}}_{i \ne j}, \qquad
              \mathrm{NWJ} = \overline{T_{ii}} - \overline{e^{T_{ij} - 1}}_{i \ne j}

    (Donsker & Varadhan 1983; Nguyen, Wainwright & Jordan 2010). ``kind`` is ``"dv"`` or ``"nwj"``.
    Leaving sample k out drops its joint term and its row and column of its block's pairs; the
    jackknife of these values is :func:`summarise`'s standard error, and the difference of two
    critics' values row by row gives a paired error bar.
    """
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


def _infonce(h: HeldOut) -> tuple[float, np.ndarray]:
    """Estimate and leave-one-out values of InfoNCE, the mean of ``T_ii - log mean_j e^(T_ij)`` over rows.

    Leaving sample k out drops its row's term, and from the other rows of its block its column:
    their log-normalisers fall by ``nce_col[k]`` in all and their ``log B`` becomes ``log(B - 1)``.
    """
    if h.nce_col is None:
        raise ValueError("these statistics were scored for another bound; score them with report='infonce'")
    n, size = len(h.joint), h.block
    terms = h.joint - h.row_all + np.log(size)
    others = (size - 1) * (np.log(np.maximum(size - 1, 1)) - np.log(size))
    return float(terms.mean()), (terms.sum() - terms + h.nce_col + others) / (n - 1)


def summarise(h: HeldOut, report: str) -> tuple[float, float]:
    """(estimate in nats, standard error) of the ``report`` bound on held-out statistics.

    The standard error is the delete-one jackknife over samples, ``sqrt((n-1)/n * sum (loo - mean loo)^2)``:
    each sample leaves its joint term and every pair it is part of (its row and its column of
    its block's score matrix), so the dependence between rows that share a block's y's is counted.
    """
    with np.errstate(all="ignore"):  # non-finite statistics give a non-finite result, which the callers refuse
        return _summarise(h, report)


def _leave_one_out(h: HeldOut, report: str) -> tuple[float, np.ndarray]:
    """(estimate, delete-one values) of the ``report`` bound on held-out statistics."""
    if report == "infonce":
        return _infonce(h)
    if report in ("dv", "nwj"):
        return dv_like(h, report)
    raise ValueError(f"cannot report with {report!r}; choose one of {REPORTABLE}")


def _jackknife(loo: np.ndarray) -> float:
    """``sqrt((n-1)/n * sum (loo - mean loo)^2)``: the delete-one jackknife standard error."""
    n = len(loo)
    return math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())


def _summarise(h: HeldOut, report: str) -> tuple[float, float]:
    value, loo = _leave_one_out(h, report)
    return value, _jackknife(loo)


def scored_alike(a: HeldOut, b: HeldOut) -> bool:
    """Both statistics cover as many rows in the same blocks: what :func:`paired_difference` needs to pair them."""
    return len(a.joint) == len(b.joint) and np.array_equal(a.block, b.block)


def paired_difference(a: HeldOut, b: HeldOut, report: str) -> tuple[float, float]:
    """(bound of critic a minus bound of critic b, jackknife standard error of the difference) on the same held-out rows.

    Each sample leaves both critics' statistics at once, so the noise the two share (which rows were
    drawn) cancels: the error bar of a difference between close critics is far below either one's.
    """
    if not scored_alike(a, b):
        raise ValueError("a paired difference needs both critics scored on the same rows in the same blocks")
    with np.errstate(all="ignore"):
        (value_a, loo_a), (value_b, loo_b) = _leave_one_out(a, report), _leave_one_out(b, report)
        return value_a - value_b, _jackknife(loo_a - loo_b)
