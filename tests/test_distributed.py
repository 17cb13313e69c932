"""Gathering across ranks: 2 gloo processes under DDP give the loss and gradients of one process on the combined batch."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from neuralmi.critics import ConcatCritic, SeparableCritic
from neuralmi.distributed import all_gather_with_grad, gathered_scores, is_distributed
from neuralmi.errors import NeuralMIError
from neuralmi.losses import MILoss

WORLD = 2
LOCAL = 6  # rows per rank
BOUNDS = ("dv", "infonce", "nwj", "js", "smile", "tuba", "interpolated")

needs_gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available",
)


class Model(nn.Module):
    """An encoder in front of an MI loss, as in representation learning: gradients must reach it through the gather."""

    def __init__(self, bound: str, critic: nn.Module, gather: bool) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 3)
        self.mi = MILoss(critic, bound, gather=gather)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.mi(self.encoder(x), y)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(WORLD * LOCAL, 3, generator=g, dtype=torch.float64)
    y = 0.8 * x + 0.6 * torch.randn(WORLD * LOCAL, 3, generator=g, dtype=torch.float64)
    return x, y


def _critics() -> dict[str, nn.Module]:
    """The critics with every weight drawn at random: their zero-initialised last layers would score every pair 0,
    and no gradient would then reach the gathered y or the encoder (an all-zero check passes any gather)."""
    torch.manual_seed(1)
    critics = {
        "separable": SeparableCritic(3, 3, hidden=(8,), embed_dim=4).double(),
        "concat": ConcatCritic(3, 3, hidden=(8,)).double(),
    }
    with torch.no_grad():
        for critic in critics.values():
            for p in critic.parameters():
                p.normal_(0.0, 0.5)
    return critics


def _worker(rank: int, init_file: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        x, y = _batch()
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        for bound in BOUNDS:
            for name, critic in _critics().items():
                torch.manual_seed(2)
                reference = Model(bound, copy.deepcopy(critic), gather=False).double()
                ddp = nn.parallel.DistributedDataParallel(copy.deepcopy(reference))
                ddp.module.mi.gather = True
                # a non-contiguous local y (a transposed view): the gather must not send it scrambled
                local_y = y[rows].t().contiguous().t()
                loss = ddp(x[rows], local_y)
                (-loss).backward()
                expected = reference(x, y)
                (-expected).backward()
                where = f"rank {rank}, {bound}, {name}"
                torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-9, msg=f"loss on {where}")
                for (pname, p), q in zip(ddp.module.named_parameters(), reference.parameters()):
                    torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-9, msg=f"gradient of {pname} on {where}")
                del ddp  # its reducer holds the process group: let it go before the group is torn down
        torch.distributed.barrier()  # no rank closes its connections while the other still talks on them
    finally:
        torch.distributed.destroy_process_group()


def _spawn(worker: Callable[[int, str], None], tmp_path: Path) -> None:
    """Run `worker` on WORLD gloo ranks; once more, on a fresh rendezvous file, if a rank was killed by a signal.

    A rank that fails a check raises, and spawn re-raises that at once. A rank killed by a signal is the gloo
    runtime aborting under a loaded machine (seen once in CI: "terminate called without an active exception"),
    not a wrong number; a second crash in a row still fails the test.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for attempt in range(2):
        try:
            torch.multiprocessing.spawn(worker, args=(str(tmp_path / f"init{attempt}"),), nprocs=WORLD, join=True)
            return
        except torch.multiprocessing.ProcessExitedException as crash:
            if crash.signal_name is None or attempt == 1:
                raise


@needs_gloo
def test_two_ranks_under_ddp_match_one_process_on_the_combined_batch(tmp_path) -> None:
    _spawn(_worker, tmp_path)


def test_one_process_gathers_nothing() -> None:
    assert not is_distributed()
    t = torch.randn(4, 2)
    assert all_gather_with_grad(t) is t
    critic = _critics()["separable"]
    x, y = _batch()
    assert torch.equal(gathered_scores(critic, x, y), critic(x, y))
    assert torch.equal(MILoss(critic, "infonce", gather=True)(x, y), MILoss(critic, "infonce")(x, y))


def test_gather_needs_all_pairs() -> None:
    with pytest.raises(NeuralMIError, match="sampler='all_pairs'"):
        MILoss(_critics()["separable"], "dv", sampler="shuffle", gather=True)
    with pytest.raises(NeuralMIError, match="paired batches"):
        gathered_scores(_critics()["separable"], torch.randn(4, 3), torch.randn(5, 3))


def _unequal_worker(rank: int, init_file: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        with pytest.raises(NeuralMIError, match=r"same batch size on every rank, got \[3, 4\]"):
            all_gather_with_grad(torch.zeros(3 + rank, 2))
    finally:
        torch.distributed.destroy_process_group()


@needs_gloo
def test_unequal_batches_are_refused_by_name(tmp_path) -> None:
    _spawn(_unequal_worker, tmp_path)
