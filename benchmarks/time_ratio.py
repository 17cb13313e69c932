"""Median seconds of the default ``estimate_mi`` on a task family against the 5-D Gaussian tasks, their calls interleaved.

Run: ``.venv/bin/python benchmarks/time_ratio.py [--family nongaussian] [--seeds 3] [--json FILE]``, with
``python3 -c "while True: pass"`` beside it for a second CPU-bound job on the cores; ``--pool A.json B.json ...``
prints the same figures over the calls of several such runs together, from their ``--json`` files (no new calls).

Each task's seed-s samples (``neuralmi bench``'s) get the default call with estimator seed s on one
thread. The calls of both groups run in one seeded random order, so load that drifts on shared cores
falls on both groups alike; run in sequence, the groups would each see a different stretch of it. It
prints the family's median seconds (``MIResult.seconds``), the Gaussian tasks' median, their ratio and a
90% bootstrap interval of the ratio (calls resampled within each group).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import warnings
from typing import Any

import numpy as np
import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import FAMILIES, get_family, get_task

GAUSSIAN_TASKS = ("gaussian_5d_1nat", "gaussian_5d_3nat", "gaussian_5d_5nat")
"""The reference: the Gaussian copulas of the ``classic`` family that the closed-form Gaussian critic answers."""


def ratio_interval(family: list[float], gaussian: list[float], draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """90% bootstrap interval of median(family) / median(gaussian), resampling each group's calls."""
    rng = np.random.default_rng(seed)
    f, g = np.asarray(family), np.asarray(gaussian)
    ratios = [np.median(rng.choice(f, len(f))) / np.median(rng.choice(g, len(g))) for _ in range(draws)]
    low, high = np.quantile(ratios, [0.05, 0.95])
    return float(low), float(high)


def summary(label: str, records: list[dict[str, Any]]) -> str:
    """One line: each group's median seconds, their ratio and its 90% bootstrap interval."""
    seconds = {g: [r["seconds"] for r in records if r["group"] == g] for g in ("family", "gaussian")}
    if not seconds["family"] or not seconds["gaussian"]:
        raise SystemExit("the calls hold no family or no Gaussian group")
    family, gaussian = (statistics.median(seconds[g]) for g in ("family", "gaussian"))
    low, high = ratio_interval(seconds["family"], seconds["gaussian"])
    return (
        f"{label}: median {family:.2f} s over {len(seconds['family'])} calls; Gaussian tasks: median {gaussian:.2f} s "
        f"({min(seconds['gaussian']):.2f}-{max(seconds['gaussian']):.2f}) over {len(seconds['gaussian'])}; "
        f"ratio {family / gaussian:.2f} (90% bootstrap interval {low:.2f}-{high:.2f})"
    )


def _records(path: str) -> list[dict[str, Any]]:
    """The per-call records a ``--json`` run wrote."""
    with open(path) as f:
        return list(json.load(f))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="nongaussian", choices=[name for name in FAMILIES if name != "cmi"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--order-seed", type=int, default=0, help="seeds the interleaved order of the calls")
    parser.add_argument("--json", help="also write the per-call records here (never overwritten)")
    parser.add_argument("--pool", nargs="+", metavar="FILE", help="pool the calls of these --json files instead of running")
    args = parser.parse_args()
    if args.pool:
        records = [r for path in args.pool for r in _records(path)]
        families = {r["family"] for r in records if r["group"] == "family" and "family" in r}
        if len(families) > 1:
            raise SystemExit(f"the files hold calls of several families ({', '.join(sorted(families))}); pool one at a time")
        runs = f"{len(args.pool)} run{'s' if len(args.pool) > 1 else ''} pooled"
        print(summary(runs if not families else f"{families.pop()}, {runs}", records))
        return
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    calls = [
        (group, name, seed)
        for group, names in (("gaussian", GAUSSIAN_TASKS), ("family", get_family(args.family)))
        for name in names
        for seed in range(args.seeds)
    ]
    random.Random(args.order_seed).shuffle(calls)
    records = []
    for i, (group, name, seed) in enumerate(calls):
        task = get_task(name)
        options: dict[str, Any] = dict(task.options)
        r = estimate_mi(*task.sample(seed), progress=False, seed=seed, threads=1, **options)
        records.append({"group": group, "family": args.family, "task": name, "seed": seed, "seconds": r.seconds, "nats": r.nats})
        print(f"{i + 1:>3}/{len(calls)} {group:<8} {name:<28} seed {seed}  {r.seconds:6.2f} s", flush=True)
    print(summary(args.family, records))
    if args.json:
        with open(args.json, "x") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
