"""mi_matrix against estimate_mi called per pair, side by side, single-threaded, on Gaussian columns with known MI.

The columns have corr(i, j) = rho^|i-j|, so pair (i, j) holds I = -1/2 log(1 - rho^(2|i-j|)) nats.
Three ways, in one process, one thread each:

* ``mi_matrix`` at its defaults (separable critics trained in one batched pass + the Gaussian critic);
* ``estimate_mi`` per pair with the same candidates (separable hidden=(64,), embed_dim=16, the Gaussian
  critic; no quadratic, density-ratio or ensemble candidate): the like-for-like loop;
* ``estimate_mi`` per pair at its defaults, on the first ``--default-pairs`` pairs only (it is slow;
  its total is the median seconds per pair times the number of pairs).

Each line gives the seconds, and against the truth the median |error| and the share of 95% intervals
that cover it. A warm-up call first pays the one-time imports.

    OMP_NUM_THREADS=1 python benchmarks/matrix.py --columns 5 --n 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from typing import Any

import numpy as np
import torch

from neuralmi import estimate_mi, mi_matrix

SAME_CANDIDATES: dict[str, Any] = {
    "hidden": (64,),
    "embed_dim": 16,
    "quadratic_steps": 0,
    "density_ratio": False,
    "ensemble": False,
    "progress": False,
}


def columns(n: int, d: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples (n, d) with corr rho^|i-j| and the (d, d) closed-form pairwise MI."""
    idx = np.arange(d)
    corr = rho ** np.abs(idx[:, None] - idx[None, :])
    data = np.random.default_rng(seed).multivariate_normal(np.zeros(d), corr, size=n)
    with np.errstate(divide="ignore"):
        return data, -0.5 * np.log(1 - corr**2)


def score(estimates: list[tuple[float, float, float]], truths: list[float]) -> dict[str, float]:
    """Median |error| (nats) and the share of intervals covering the truth."""
    errors = [abs(e - t) for (e, _, _), t in zip(estimates, truths)]
    covered = [lo <= t <= hi for (_, lo, hi), t in zip(estimates, truths)]
    return {"median_abs_error": statistics.median(errors), "coverage": sum(covered) / len(covered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rho", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--default-pairs", type=int, default=2, help="pairs estimated by estimate_mi at its defaults")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, truth = columns(args.n, args.columns, args.rho, args.seed)
    pairs = [(i, j) for i in range(args.columns) for j in range(i + 1, args.columns)]
    truths = [float(truth[i, j]) for i, j in pairs]
    warnings.simplefilter("ignore")
    estimate_mi(data[:400, 0], data[:400, 1], max_steps=20, progress=False, threads=1)  # one-time imports

    start = time.perf_counter()
    m = mi_matrix(data, seed=args.seed, progress=False, threads=1)
    matrix_seconds = time.perf_counter() - start
    found = [(float(m.values[i, j]), float(m.low[i, j]), float(m.high[i, j])) for i, j in pairs]
    rows = {"mi_matrix": {"seconds": matrix_seconds, **score(found, truths)}}

    for name, options, chosen in (("estimate_mi, same candidates", SAME_CANDIDATES, pairs),
                                  ("estimate_mi, defaults", {"progress": False}, pairs[: args.default_pairs])):  # fmt: skip
        per_pair, results = [], []
        for i, j in chosen:
            r = estimate_mi(data[:, i], data[:, j], seed=args.seed, threads=1, **options)
            per_pair.append(r.seconds)
            results.append((r.nats, *r.ci))
        total = sum(per_pair) if chosen is pairs else statistics.median(per_pair) * len(pairs)
        rows[name] = {"seconds": total, "pairs_run": len(chosen), **score(results, truths[: len(chosen)])}

    print(f"{args.columns} columns, {len(pairs)} pairs, n = {args.n}, rho = {args.rho}, one thread")
    print(f"{'method':<30} {'seconds':>9} {'x mi_matrix':>12} {'median |err|':>13} {'coverage':>9}")
    for name, row in rows.items():
        ratio = row["seconds"] / matrix_seconds
        print(f"{name:<30} {row['seconds']:>9.1f} {ratio:>12.1f} {row['median_abs_error']:>13.4f} {row['coverage']:>9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
