"""Seconds of default ``estimate_mi`` calls on named tasks, one thread: run it against two checkouts side by side.

Run: ``.venv/bin/python benchmarks/default_seconds.py gaussian_5d_3nat,parabola 3``, and at the same
time ``PYTHONPATH=<other checkout>/src .venv/bin/python benchmarks/default_seconds.py ...`` for the
comparison. Prints, per task, the median seconds over the repeats and the last estimate.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tasks", help="comma-separated task names")
    parser.add_argument("repeats", type=int, nargs="?", default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    for name in args.tasks.split(","):
        task = get_task(name)
        x, y = task.sample(0)
        seconds, nats = [], 0.0
        for seed in range(args.repeats):
            start = time.perf_counter()
            nats = estimate_mi(x, y, progress=False, seed=seed).nats
            seconds.append(time.perf_counter() - start)
        runs = [round(s, 1) for s in seconds]
        print(f"{name}: median {statistics.median(seconds):.2f} s over {len(seconds)} ({runs}), estimate {nats:.3f}", flush=True)


if __name__ == "__main__":
    main()
