"""Calibration of estimate_mi's 95% interval: coverage of the truth over seeds, and which upper limit covered it.

Run: ``.venv/bin/python benchmarks/coverage.py [--seeds 20] [--tasks ... | --family NAME] [--first-data-seed 1000]
[--options JSON] [--json FILE]``. Seed s draws the task's data with seed ``first-data-seed + s`` (0: the very samples
``neuralmi bench`` uses for seed s) and runs the estimator with seed s, on ``--threads`` threads (default 1). Prints,
per task: coverage, mean estimate, the spread of the estimates over seeds beside the mean reported standard error,
the mean time, the critics that reported, and each run's mark:

- ``+``: the test split's sampling interval (estimate ± 1.96 standard errors) covers the truth;
- ``i``: it covers only up to the critic's in-sample limit (``result.in_sample``);
- ``k``: only up to the KSG check's raised limit (``result.knn``);
- ``-``: the truth lies below the reported interval; ``->``: above it.

Then a summary over all runs: coverage with each limit, the median relative error, how many runs lie within a factor
1.25 of the truth, and the median width of the reported interval over the sampling interval's.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import warnings
from collections import Counter
from typing import Any

import torch

from neuralmi import MIResult, estimate_mi
from neuralmi._call import Z95
from neuralmi.benchmark import get_family, get_task

TASKS = ("gaussian_1d_rho0.4", "gaussian_5d_1nat", "gaussian_5d_3nat")


def mark(r: MIResult, truth: float) -> str:
    """Which upper limit covers ``truth``: ``+`` sampling, ``i`` in-sample, ``k`` KSG, ``-``/``->`` a miss (below/above)."""
    low, high = r.ci
    if not low <= truth:
        return "-"
    sampling = (
        r.nats + Z95 * r.stderr if r.detected else r.knn.get("ci_high_before", high)
    )  # undetected: 0 to the candidates' limit
    if r.deterministic or truth <= sampling:
        return "+"
    own = r.in_sample["nats"] + Z95 * r.in_sample["stderr"] if r.in_sample else -math.inf
    if truth <= own:
        return "i"
    return "k" if truth <= high else "->"


def record(name: str, seed: int, truth: float, r: MIResult) -> dict[str, Any]:
    """One run as JSON: the estimate, its interval and where each upper limit came from."""
    return {
        "task": name,
        "seed": seed,
        "truth": truth,
        "nats": r.nats,
        "stderr": r.stderr,
        "ci_low": r.ci[0],
        "ci_high": r.ci[1] if math.isfinite(r.ci[1]) else None,
        "mark": mark(r, truth),
        "critic_kind": r.critic_kind,
        "detected": r.detected,
        "deterministic": r.deterministic,
        "in_sample": r.in_sample,
        "knn": r.knn,
        "seconds": r.seconds,
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def summary(records: list[dict[str, Any]]) -> str:
    """Coverage by limit, median relative error, runs within a factor 1.25, median widening of the interval."""
    n, marks = len(records), Counter(r["mark"] for r in records)
    if not n:
        return "no runs"
    sampling, in_sample = marks["+"], marks["+"] + marks["i"]
    covered = in_sample + marks["k"]
    measured = [r for r in records if r["truth"] > 0 and not r["deterministic"]]
    errors = [abs(r["nats"] - r["truth"]) / r["truth"] for r in measured]
    within = sum(0.8 <= r["nats"] / r["truth"] <= 1.25 for r in measured)
    widths = [
        (r["ci_high"] - r["ci_low"]) / (2 * Z95 * r["stderr"])
        for r in records
        if r["detected"] and not r["deterministic"] and r["stderr"] > 0
    ]
    return (
        f"{n} runs: the reported interval covers the truth on {covered} ({100 * covered / n:.0f}%); the sampling interval "
        f"alone on {sampling}; up to the in-sample limit on {in_sample}; it misses with the truth below it on {marks['-']}, "
        f"above it on {marks['->']}. "
        f"Median relative error {100 * _median(errors):.1f}% over {len(errors)} runs, {within} within a factor 1.25. "
        f"Median reported width / sampling width {_median(widths):.2f}. Median seconds "
        f"{statistics.median(r['seconds'] for r in records):.1f}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n", type=int, default=None, help="samples per run (default: each task's own n)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tasks", nargs="*", default=list(TASKS))
    which.add_argument("--family", help="every task of this family (classic, nongaussian)")
    parser.add_argument("--first-data-seed", type=int, default=1000, help="data seed of estimator seed 0 (0: bench's samples)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the per-run records here (never overwritten)")
    parser.add_argument("--options", default="{}", help='estimate_mi options as JSON, e.g. \'{"critic": "gaussian"}\'')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    names = get_family(args.family) if args.family else args.tasks
    records, options = [], json.loads(args.options)
    print(f"{'task':<28} {'truth':>7} {'coverage':>9} {'mean est':>9} {'sd(est)':>8} {'mean se':>8} {'s/run':>6}  marks  critics")
    for name in names:
        task = get_task(name)
        truth, runs = task.truth, []
        for seed in range(args.seeds):
            x, y = task.sample(args.first_data_seed + seed, args.n)
            r = estimate_mi(x, y, progress=False, seed=seed, threads=args.threads, **task.options, **options)
            runs.append(r)
            records.append(record(name, seed, truth, r))
        est = [r.nats for r in runs]
        covered = sum(r.ci[0] <= truth <= r.ci[1] for r in runs)
        print(
            f"{name:<28} {truth:>7.4f} {covered:>4}/{len(runs):<4} {statistics.mean(est):>9.4f} "
            f"{statistics.stdev(est) if len(est) > 1 else 0.0:>8.4f} {statistics.mean(r.stderr for r in runs):>8.4f} "
            f"{statistics.mean(r.seconds for r in runs):>6.1f}  {' '.join(rec['mark'] for rec in records[-len(runs) :])}  "
            f"{dict(Counter(r.critic_kind for r in runs))}",
            flush=True,
        )
    print(summary(records))
    if args.json:
        with open(args.json, "x") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
