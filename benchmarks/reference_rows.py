"""The density-ratio critic's aggregate marginal over every training row (the default) against a trimmed subset.

For each (task, seed): the default call's split and normal scores (``prepare``), one density-ratio fit on
them (``fit_density_ratio`` with the steps and patience the default call's candidate uses), and the DV bound of that one fit on the test rows, with
the marginal q̄(v) = mean over reference rows u_r of q(v | u_r) taken

- over every training row (up to ``MAX_REFERENCE``), as ``fit_density_ratio`` does by default;
- over R' rows, the number ``reference_size`` finds enough on the validation rows (what
  ``size_reference=True`` keeps), drawn ``--draws`` times at random from the same training rows.

The conditional q(v|u) is the same in every line, so the spread of the trimmed estimates is the
marginal's Monte Carlo noise alone; the jackknife standard error of each estimate does not include it.

Run: ``.venv/bin/python benchmarks/reference_rows.py [--tasks noisy_radius_3x1,clayton_exponential]
[--seeds 3] [--draws 20]``. One thread.
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from typing import Any

import torch

from neuralmi._evaluate import score_blocks, summarise
from neuralmi._fit import ratio_rows
from neuralmi._prepare import prepare
from neuralmi.benchmark import get_task
from neuralmi.candidates import DENSITY_RATIO_PATIENCE, DENSITY_RATIO_STEPS
from neuralmi.config import EstimatorConfig
from neuralmi.density_ratio import DensityRatioCritic, _needed_rows, fit_density_ratio

BLOCK = 1024  # test rows per block, as estimate_mi scores them


def run(name: str, seed: int, draws: int) -> None:
    """Print one (task, seed) line: the estimate with every row, R', and the trimmed draws' spread."""
    task = get_task(name)
    x, y = task.sample(seed)
    options: dict[str, Any] = dict(task.options)
    cfg = EstimatorConfig(seed=seed, **options)
    data = prepare(x, y, cfg, "cpu", alternative=False)
    critic = fit_density_ratio(
        ratio_rows(data), data.val, seed=seed, max_steps=DENSITY_RATIO_STEPS, patience=DENSITY_RATIO_PATIENCE
    )
    every, every_se = summarise(score_blocks(critic, *data.test, BLOCK), "dv")
    u_train = ratio_rows(data)[0 if critic.side == "y|x" else 1]
    v_val = data.val[1 if critic.side == "y|x" else 0]
    size = _needed_rows(critic.conditional, critic.reference, v_val)  # what size_reference=True keeps
    generator = torch.Generator().manual_seed(seed)
    values, errors = [], []
    for _ in range(draws):
        rows = u_train[torch.randperm(len(u_train), generator=generator)[:size]]
        trimmed = DensityRatioCritic(critic.conditional, rows, side=critic.side, floor=critic.floor).eval()
        value, error = summarise(score_blocks(trimmed, *data.test, BLOCK), "dv")
        values.append(value)
        errors.append(error)
    low = sum(v < every - 2 * every_se for v in values)
    print(
        f"{name:<22} {seed:>4} {task.truth:>7.4f} {every:>7.4f} ± {every_se:.4f} {size:>5}/{len(u_train):<5} "
        f"{min(values):>7.4f} {statistics.median(values):>7.4f} {max(values):>7.4f} {max(errors):>7.4f} {low:>4}/{draws}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="noisy_radius_3x1,clayton_exponential", help="comma-separated task names")
    parser.add_argument("--seeds", type=int, default=3, help="data and estimator seeds 0, 1, ...")
    parser.add_argument("--draws", type=int, default=20, help="random draws of the trimmed rows per fit")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(
        f"{'task':<22} {'seed':>4} {'truth':>7} {'all rows':>16} {'kept/rows':>11} "
        f"{'trimmed: min':>7} {'median':>7} {'max':>7} {'max se':>7} {'low':>4}"
    )
    for name in args.tasks.split(","):
        for seed in range(args.seeds):
            run(name, seed, args.draws)


if __name__ == "__main__":
    main()
