"""Seconds of one estimate_mi call with 1 thread, 2 threads and the default choice, alternating, on one sample.

The calls alternate (1, 2, default, 1, 2, default, ...) so that a busy machine slows each about
equally; the 1-minute load average before and after is printed beside the medians. The estimates
are equal for every thread count on the CPU up to float rounding; only the time differs.

Run: ``PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/threads.py [--task gaussian_5d_3nat] [--repeats 3] [--max-steps 300]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import warnings

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task
from neuralmi.estimate import default_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gaussian_5d_3nat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=300)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    x, y = get_task(args.task).sample(0)
    width = (x.reshape(len(x), -1).shape[1], y.reshape(len(y), -1).shape[1])
    chosen = default_threads(width)
    counts = {"1": 1, "2": 2, f"default ({chosen})": None}
    seconds: dict[str, list[float]] = {k: [] for k in counts}
    estimates: dict[str, float] = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        for label, threads in counts.items():
            r = estimate_mi(x, y, threads=threads, max_steps=args.max_steps, progress=False)
            seconds[label].append(r.seconds)
            estimates[label] = r.nats
    print(f"{args.task} ({width[0]}+{width[1]} features, n = {len(x):,}), max_steps {args.max_steps}, {os.cpu_count()} cores")
    print(f"1-minute load average before {load:.1f}, after {os.getloadavg()[0]:.1f}")
    for label in counts:
        print(
            f"  threads {label}: median {statistics.median(seconds[label]):.1f} s of {seconds[label]}; estimate {estimates[label]:.4f}"
        )


if __name__ == "__main__":
    main()
