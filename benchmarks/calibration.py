"""Where the seed-to-seed spread of estimate_mi comes from: test sampling (the error bar) or the critic.

Run: ``.venv/bin/python benchmarks/calibration.py [--tasks ...] [--seeds 5] [--fresh 100] [--options JSON]``.
``--options`` passes estimate_mi options (e.g. ``'{"gaussian_critic": false}'``) to compare
configurations by the population value of the critic they report; ``--fresh 0`` skips the fresh
test sets.
For each seed, train as ``benchmarks/coverage.py`` does (fresh data, fresh estimator seed), then
score the trained critic

- on ``--fresh`` new test sets of the test split's size: their spread is the true sampling error
  of the estimate for that critic, to set beside the reported jackknife standard error;
- on one large new sample (``--population`` pairs): the critic's population value, whose gap to
  the truth is the critic's bias and whose spread over seeds is the critic's own variation;
- and report how far the real test split's estimate sits from that population value, in reported
  standard errors, with the test split's sample correlation for one-dimensional tasks.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import warnings

import numpy as np
import torch

from neuralmi import MIResult, estimate_mi
from neuralmi.benchmark import get_task

TASKS = ("gaussian_1d_rho0.4", "gaussian_5d_3nat")


def value(result: MIResult, x: np.ndarray, y: np.ndarray) -> float:
    """The result's critic, with its fitted preprocessing, scored on new samples (DV, nats)."""
    return result.evaluate(x, y).nats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(5)))
    parser.add_argument("--fresh", type=int, default=100, help="fresh test sets per critic")
    parser.add_argument("--population", type=int, default=100_000, help="pairs for the critic's population value")
    parser.add_argument("--options", default="{}", help="JSON options for estimate_mi")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    for name in args.tasks:
        task = get_task(name)
        print(f"{name}: truth {task.truth:.4f}, options {args.options}")
        print(
            f"{'seed':>4} {'estimate':>9} {'se':>7} {'fresh sd':>9} {'sd/se':>6} {'population':>11} {'test z':>7} {'test corr':>9}"
        )
        rows = []
        for seed in args.seeds:
            x, y = task.sample(1000 + seed, task.n)
            r = estimate_mi(x, y, progress=False, seed=seed, **json.loads(args.options))
            fresh = [value(r, *task.sample(10**6 + 1000 * seed + k, r.n_test)) for k in range(args.fresh)]
            population = value(r, *task.sample(2 * 10**6 + seed, args.population))
            fresh_sd = statistics.stdev(fresh) if len(fresh) > 1 else math.nan
            *_, test = r.config.split_rows(len(x))
            corr = float(np.corrcoef(x[test, 0], y[test, 0])[0, 1]) if x.shape[1] == 1 else math.nan
            z = (r.nats - population) / r.stderr
            rows.append((r.nats, r.stderr, fresh_sd, population, z))
            print(
                f"{seed:>4} {r.nats:>9.4f} {r.stderr:>7.4f} {fresh_sd:>9.4f} {fresh_sd / r.stderr:>6.2f} {population:>11.4f} "
                f"{z:>+7.2f} {corr:>9.4f}",
                flush=True,
            )
        _, se, sd, pop, z = (np.array(c) for c in zip(*rows))
        print(
            f"summary: sampling sd / reported se = {math.sqrt((sd**2).mean()) / math.sqrt((se**2).mean()):.3f}; "
            f"critic population value {pop.mean():.4f} (bias {pop.mean() - task.truth:+.4f}, "
            f"{100 * (pop.mean() - task.truth) / task.truth:+.1f}%), sd over seeds "
            f"{pop.std(ddof=1) if len(pop) > 1 else math.nan:.4f}; test-split z against it: rms {math.sqrt((z**2).mean()):.2f}\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
