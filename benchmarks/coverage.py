"""Calibration of estimate_mi's 95% interval: coverage of the truth over seeds on Gaussian tasks.

Run: ``.venv/bin/python benchmarks/coverage.py [--seeds 20]``. Each seed draws fresh data and
uses a fresh estimator seed. Prints, per task: coverage, mean estimate, the spread of the
estimates over seeds beside the mean reported standard error, and the mean time.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import warnings

import numpy as np
import torch

from neuralmi import estimate_mi


def gaussian(n: int, dim: int, mi: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rho, rng = math.sqrt(1 - math.exp(-2 * mi / dim)), np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n, dim))


TASKS = {
    "gaussian_1d_rho0.4": (1, -0.5 * math.log(1 - 0.16)),
    "gaussian_5d_1nat": (5, 1.0),
    "gaussian_5d_3nat": (5, 3.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--json", help="also write the per-run records here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    records = []
    print(f"{'task':<20} {'truth':>7} {'coverage':>9} {'mean est':>9} {'sd(est)':>8} {'mean se':>8} {'mean z':>7} {'s/run':>6}")
    for name in args.tasks:
        dim, truth = TASKS[name]
        runs = []
        for seed in range(args.seeds):
            x, y = gaussian(args.n, dim, truth, seed=1000 + seed)
            r = estimate_mi(x, y, progress=False, seed=seed)
            runs.append(r)
            records.append({"task": name, "seed": seed, "truth": truth, "nats": r.nats, "stderr": r.stderr, "seconds": r.seconds})
        est = [r.nats for r in runs]
        covered = sum(r.ci[0] <= truth <= r.ci[1] for r in runs)
        z = statistics.mean((r.nats - truth) / r.stderr for r in runs)
        print(
            f"{name:<20} {truth:>7.4f} {covered:>4}/{len(runs):<4} {statistics.mean(est):>9.4f} {statistics.stdev(est):>8.4f} "
            f"{statistics.mean(r.stderr for r in runs):>8.4f} {z:>7.2f} {statistics.mean(r.seconds for r in runs):>6.1f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "x") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
