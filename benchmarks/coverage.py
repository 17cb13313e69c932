"""Calibration of estimate_mi's 95% interval: coverage of the truth over seeds on Gaussian tasks.

Run: ``.venv/bin/python benchmarks/coverage.py [--seeds 20] [--options JSON]``. Each seed draws
fresh data and uses a fresh estimator seed. Prints, per task: coverage, mean estimate, the spread
of the estimates over seeds beside the mean reported standard error, the mean time, and how often
each critic reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from collections import Counter

import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task

TASKS = ("gaussian_1d_rho0.4", "gaussian_5d_1nat", "gaussian_5d_3nat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--json", help="also write the per-run records here")
    parser.add_argument("--options", default="{}", help='estimate_mi options as JSON, e.g. \'{"critic": "gaussian"}\'')
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    records, options = [], json.loads(args.options)
    print(
        f"{'task':<20} {'truth':>7} {'coverage':>9} {'mean est':>9} {'sd(est)':>8} {'mean se':>8} {'mean z':>7} {'s/run':>6}  critics"
    )
    for name in args.tasks:
        task = get_task(name)
        truth, runs = task.truth, []
        for seed in range(args.seeds):
            x, y = task.sample(1000 + seed, args.n)
            r = estimate_mi(x, y, progress=False, seed=seed, **task.options, **options)
            runs.append(r)
            record = {"task": name, "seed": seed, "truth": truth, "nats": r.nats, "stderr": r.stderr, "seconds": r.seconds}
            records.append({**record, "critic_kind": r.critic_kind})
        est = [r.nats for r in runs]
        covered = sum(r.ci[0] <= truth <= r.ci[1] for r in runs)
        z = statistics.mean((r.nats - truth) / r.stderr for r in runs)
        print(
            f"{name:<20} {truth:>7.4f} {covered:>4}/{len(runs):<4} {statistics.mean(est):>9.4f} {statistics.stdev(est):>8.4f} "
            f"{statistics.mean(r.stderr for r in runs):>8.4f} {z:>7.2f} {statistics.mean(r.seconds for r in runs):>6.1f}  "
            f"{dict(Counter(r.critic_kind for r in runs))}",
            flush=True,
        )
    if args.json:
        with open(args.json, "x") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
