"""Masked reductions over score matrices (private helpers for the bounds), and chunked float64 moments.

The marginal (off-diagonal) terms are computed with a diagonal mask inside each reduction:
``-inf`` inside ``logsumexp`` for log-mean-exps, and a masked elementwise function for means.
No N(N-1) copy is made (its scatter backward is slow) and no masked entry adds a term.
The closed-form fits (covariances, least squares) sum float64 terms over chunks of rows, so
no float64 copy of all rows is ever held.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from neuralmi.errors import NeuralMIError

__all__ = [
    "MOMENT_ROWS",
    "check_square",
    "chunked_moments",
    "chunked_sum",
    "joint",
    "logmeanexp",
    "marginal_logmeanexp",
    "marginal_mean",
]


def check_square(scores: Tensor, name: str = "scores") -> None:
    """Raise ``NeuralMIError`` unless ``scores`` is an (N, N) matrix with N >= 2."""
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise NeuralMIError(f"{name} must be a square (N, N) score matrix, got shape {tuple(scores.shape)}")
    if scores.shape[0] < 2:
        raise NeuralMIError(
            f"{name} score matrix needs N >= 2 rows to have off-diagonal (marginal) pairs, got N = {scores.shape[0]}"
        )


def _eye(scores: Tensor) -> Tensor:
    return torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)


def logmeanexp(values: Tensor, dim: int | None = None) -> Tensor:
    """``log mean exp(values)`` computed as ``logsumexp - log count``; never overflows."""
    if dim is None:
        return torch.logsumexp(values.reshape(-1), dim=0) - math.log(values.numel())
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def joint(scores: Tensor, marginal: Tensor | None) -> Tensor:
    """The joint scores: the diagonal of an (N, N) matrix, or the (N,) vector given with ``marginal``.

    With ``marginal=None``, ``scores`` is an all-pairs matrix (diagonal = joint pairs, off-diagonal =
    product-of-marginals pairs). Otherwise ``scores`` is the (N,) vector of joint scores and
    ``marginal`` the (M,) vector of shuffled-pair scores (MINE's original sampler).
    """
    if marginal is None:
        check_square(scores)
        return scores.diagonal()
    if scores.dim() != 1 or marginal.dim() != 1:
        raise NeuralMIError(
            "with marginal= given, scores and marginal must be 1-D vectors of joint and shuffled-pair scores, "
            f"got shapes {tuple(scores.shape)} and {tuple(marginal.shape)}"
        )
    if scores.numel() == 0 or marginal.numel() == 0:
        raise NeuralMIError("joint and marginal score vectors must not be empty")
    return scores


def marginal_logmeanexp(scores: Tensor, marginal: Tensor | None = None) -> Tensor:
    """``log mean exp`` over the marginal pairs: the off-diagonal of ``scores``, or ``marginal``."""
    if marginal is not None:
        return logmeanexp(marginal)
    n = scores.shape[0]
    return _OffDiagonalLogSumExp.apply(scores) - math.log(n * (n - 1))


def marginal_mean(fn: Callable[[Tensor], Tensor], scores: Tensor, marginal: Tensor | None = None) -> Tensor:
    """``mean fn(T)`` over the marginal pairs: the off-diagonal of ``scores``, or ``marginal``.

    The diagonal is masked both before ``fn`` (so no overflow there can leak into the
    gradient) and after it (so it adds no term).
    """
    if marginal is not None:
        return fn(marginal).mean()
    n, eye = scores.shape[0], _eye(scores)
    return fn(scores.masked_fill(eye, 0.0)).masked_fill(eye, 0.0).sum() / (n * (n - 1))


class _OffDiagonalLogSumExp(torch.autograd.Function):
    """``log sum exp`` of the off-diagonal of a square matrix, in one fused pass each way.

    Forward keeps the shifted exponentials (diagonal zeroed); backward is their normalised
    values, the softmax over the off-diagonal. Computed in at least float32 (bf16/fp16 scores
    under autocast). This is the training step's hottest N² work: about half the passes over
    the matrix of a masked ``torch.logsumexp`` with its autograd backward. Under
    ``create_graph=True`` (gradient penalties) the backward is recomputed with differentiable
    operations, so second derivatives stay exact.
    """

    @staticmethod
    def forward(ctx: Any, scores: Tensor) -> Tensor:
        dtype = torch.promote_types(scores.dtype, torch.float32)
        e = scores.detach().to(dtype, copy=True)
        e.diagonal().fill_(float("-inf"))
        shift = e.amax()
        if not torch.isfinite(shift):  # +inf or NaN scores: the plain formula gives the right non-finite value
            shift = torch.zeros((), dtype=dtype, device=e.device)
        total = e.sub_(shift).exp_().sum()
        ctx.save_for_backward(scores, e, total)
        return total.log() + shift

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        scores, e, total = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the gradient is wanted: differentiable recomputation
            masked = scores.to(e.dtype).masked_fill(_eye(scores), float("-inf"))
            return (grad * torch.softmax(masked.reshape(-1), 0).reshape(scores.shape)).to(scores.dtype)
        return (e * (grad / total)).to(scores.dtype)


MOMENT_ROWS = 65_536
"""Rows per chunk of the float64 reductions: temporaries stay a few MB at any row count."""


def chunked_sum(term: Callable[[int, int], Tensor], n: int, rows: int = MOMENT_ROWS) -> Tensor:
    """``sum_k term(a_k, b_k)`` over consecutive chunks ``[a_k, b_k)`` of ``range(n)``: a reduction over n rows, a chunk at a time.

    >>> v = torch.arange(10.0)
    >>> float(chunked_sum(lambda a, b: v[a:b].sum(), 10, rows=3))
    45.0
    """
    if n < 1:
        raise ValueError(f"a sum over rows needs at least one row, got n = {n}")
    total = term(0, min(n, rows))
    for a in range(rows, n, rows):
        total = total + term(a, min(n, a + rows))
    return total


def chunked_moments(rows_of: Callable[[int, int], Tensor], n: int, rows: int = MOMENT_ROWS) -> tuple[Tensor, Tensor]:
    r"""(mean, unbiased covariance) in float64 of the n rows that ``rows_of(a, b)`` gives as (b - a, d), a chunk at a time.

    Two passes, as ``torch.cov`` computes it: the mean, then
    :math:`\frac{1}{n-1} \sum_i (z_i - \bar z)(z_i - \bar z)^T` over centred chunks (no
    cancellation from raw second moments). Memory: a chunk, never all n rows in float64.

    >>> z = torch.randn(100, 3, dtype=torch.float64)
    >>> mean, cov = chunked_moments(lambda a, b: z[a:b], 100, rows=7)
    >>> torch.allclose(cov, torch.cov(z.T)) and torch.allclose(mean, z.mean(0))
    True
    """
    mean = chunked_sum(lambda a, b: rows_of(a, b).double().sum(0), n, rows) / n

    def outer(a: int, b: int) -> Tensor:
        centred = rows_of(a, b).double() - mean
        return centred.T @ centred

    return mean, chunked_sum(outer, n, rows) / (n - 1)
