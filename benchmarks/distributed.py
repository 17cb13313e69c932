"""Two gloo processes on the CPU: how far DDP with gathered negatives is from one process on the combined batch.

For every all-pairs bound and two critics (as ``tests/test_distributed.py``, float64), each rank
computes ``MILoss(..., gather=True)`` under DistributedDataParallel on its half of a batch and
compares the loss and all parameters' gradients (as one vector) with one process on the whole batch. Then each
rank runs the same default ``estimate_mi`` call (n = 2,000, 300 steps) on the same seeded sample.
Rank 0 prints the largest relative differences and every rank's estimate.

Run: ``PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/distributed.py``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_distributed import BOUNDS, LOCAL, WORLD, Model, _batch, _critics


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |a - b| relative to the largest |b|."""
    return float((a - b).abs().max() / b.abs().max())


def _worker(rank: int, init_file: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    x, y = _batch()
    rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
    worst = {"loss": 0.0, "gradient": 0.0}
    for bound in BOUNDS:
        for critic in _critics().values():
            torch.manual_seed(2)
            reference = Model(bound, copy.deepcopy(critic), gather=False).double()
            ddp = nn.parallel.DistributedDataParallel(copy.deepcopy(reference))
            ddp.module.mi.gather = True
            loss = ddp(x[rows], y[rows])
            (-loss).backward()
            expected = reference(x, y)
            (-expected).backward()
            worst["loss"] = max(worst["loss"], _relative(loss.detach(), expected.detach()))
            ours = torch.cat([p.grad.reshape(-1) for p in ddp.module.parameters()])
            theirs = torch.cat([q.grad.reshape(-1) for q in reference.parameters()])
            worst["gradient"] = max(worst["gradient"], _relative(ours, theirs))
    from neuralmi import estimate_mi

    rng = np.random.default_rng(0)
    sx = rng.normal(size=(2000, 2))
    sy = 0.8 * sx + 0.6 * rng.normal(size=(2000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        r = estimate_mi(sx, sy, progress=False, max_steps=300, threads=1)
        seconds = time.perf_counter() - start
    found = [None] * WORLD
    torch.distributed.all_gather_object(found, (worst, r.nats, r.stderr, seconds))
    if rank == 0:
        print(f"{len(BOUNDS)} bounds x 2 critics, {WORLD} gloo ranks x {LOCAL} rows, float64:")
        for k, (w, nats, se, secs) in enumerate(found):  # type: ignore[misc]
            print(
                f"  rank {k}: largest difference from one process, relative to the largest value: loss {w['loss']:.1e}, gradients {w['gradient']:.1e}; "
                f"estimate_mi {nats!r} ± {se:.4f} nats in {secs:.1f} s"
            )
        same = len({f[1] for f in found}) == 1  # type: ignore[index]
        print(f"estimate_mi gives {'the same' if same else 'DIFFERENT'} value on every rank")
    torch.distributed.destroy_process_group()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        torch.multiprocessing.spawn(_worker, args=(str(Path(tmp) / "init"),), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main()
