r"""Gathering across ``torch.distributed`` ranks with gradients, for all-pairs bounds under DistributedDataParallel.

Under DDP each process holds a local batch of B pairs. An all-pairs bound computed on it alone sees
B - 1 negatives per row and, for InfoNCE, is capped at log B. :func:`gathered_scores` builds the
score matrix of the **global** batch (N = W B pairs over W ranks): each rank scores its own rows
``x_r`` against the gathered ``y`` of every rank, and the (B, N) row blocks are gathered into the
(N, N) matrix. Every rank then computes the same bound, equal to the bound of one process on the
concatenated batch.

Gradients: :func:`all_gather_with_grad` sums, in its backward, each rank's gradient for a slice
over all ranks (every rank differentiates the same global loss, so rank r receives W times its
share). DDP averages gradients over the W ranks, which turns these into exactly the gradient of
the global bound, for the critic's parameters and for any network in front of it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from neuralmi.errors import NeuralMIError

__all__ = ["all_gather_with_grad", "gathered_scores", "is_distributed"]


def is_distributed() -> bool:
    """True when ``torch.distributed`` is built in and a process group is initialised."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


class _AllGather(torch.autograd.Function):
    """Concatenate every rank's tensor along dim 0; the backward sums the incoming gradients over ranks and keeps this rank's slice."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any) -> Tensor:
        dist = torch.distributed
        local = tensor.contiguous()  # the collective reads raw memory: a strided view would be sent scrambled
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, local, group=group)
        ctx.group, ctx.rows, ctx.rank = group, len(local), dist.get_rank(group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        total = grad.contiguous().clone()  # all_reduce works in place; autograd may still hold grad
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM, group=ctx.group)
        return total[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows], None


def _check_equal_rows(tensor: Tensor, group: Any) -> None:
    """Raise ``NeuralMIError`` unless every rank holds the same number of rows."""
    dist = torch.distributed
    rows = torch.tensor([len(tensor)], device=tensor.device)
    every = [torch.empty_like(rows) for _ in range(dist.get_world_size(group))]
    dist.all_gather(every, rows, group=group)
    counts = [int(r) for r in every]
    if len(set(counts)) > 1:
        raise NeuralMIError(
            f"gathering needs the same batch size on every rank, got {counts} rows by rank; "
            "drop or pad the last batch (DistributedSampler pads by default)"
        )


def all_gather_with_grad(tensor: Tensor, group: Any = None) -> Tensor:
    r"""Every rank's ``tensor`` (B, ...) concatenated in rank order, (W B, ...), with gradients flowing back to each rank.

    The backward gives rank r the sum over ranks of the gradients of its slice, :math:`\sum_k \partial L_k / \partial t_r`
    (the reduction a SimCLR-style gather layer makes); with one global loss differentiated on every
    rank and DDP's averaging that is :math:`\partial L / \partial t_r`. Without an initialised
    process group it returns ``tensor`` itself.

    >>> t = torch.ones(2, 3)
    >>> all_gather_with_grad(t) is t  # one process
    True
    """
    if not is_distributed():
        return tensor
    _check_equal_rows(tensor, group)
    gathered: Tensor = _AllGather.apply(tensor, group)
    return gathered


def gathered_scores(critic: nn.Module, x: Tensor, y: Tensor, group: Any = None) -> Tensor:
    r"""The (N, N) score matrix of the global batch: this rank's rows ``critic(x_r, y_all)`` gathered from every rank.

    :math:`S = [T(x_i, y_j)]_{i,j \le N}` over the concatenated batches of all W ranks, in rank
    order, so the diagonal holds the joint pairs. Each rank evaluates only its (B, N) block (the
    critic's y side sees all N rows); the blocks are gathered with :func:`all_gather_with_grad`.

    >>> from neuralmi.critics import BilinearCritic
    >>> gathered_scores(BilinearCritic(2, 2), torch.randn(4, 2), torch.randn(4, 2)).shape
    torch.Size([4, 4])
    """
    if len(x) != len(y):
        raise NeuralMIError(f"x and y must be paired batches, got {len(x)} and {len(y)} rows")
    rows = critic(x, all_gather_with_grad(y, group))
    return all_gather_with_grad(rows, group)
