"""What the true critic scores on the test rows: the DV bound of the true log density ratio, beside the default estimate.

For each (task, seed) whose distribution has an exact ``pointwise_mutual_information`` (the Gaussian, Student-t,
uniform-noise, Gaussian-mixture, class-label, swiss-roll, circle, parabola, heteroscedastic, Clayton and log-normal laws, and the bijections of them: spirals, shears,
elementwise transforms, reshapes): ``task.sample(seed)``, the test rows ``estimate_mi``
reports on (its seeded 60/10/30 split), and the DV bound of the critic T(x, y) = log p(x, y) - log p(x) p(y) on them,
scored as ``estimate_mi`` scores its test split (all pairs within blocks of 1,024 rows; the same jackknife
standard error). Beside it, ``estimate_mi(x, y, seed=seed)``. The truth is the population value; the oracle is
what these very rows give the true critic, so ``estimate - oracle`` is the fitted critic's own shortfall, free
of the test sample's luck.

Run: ``.venv/bin/python benchmarks/oracle.py --tasks uniform_noise_1x1_eps0.75 [--seeds 3] [--no-default]``. One thread.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi import estimate_mi
from neuralmi._evaluate import score_blocks, summarise
from neuralmi.benchmark import get_task
from neuralmi.config import EstimatorConfig
from neuralmi.errors import NeuralMIError

LOWEST = -700.0
"""Scores below this are raised to it: -inf (a pair off the support) would make the jackknife's differences NaN."""


class TrueCritic(nn.Module):
    """The score-matrix contract around a distribution's exact pointwise MI, on rows named by index.

    ``critic(i, j)[a, b] = pmi(x[i_a], y[j_b])`` for index columns ``i`` (N, 1) and ``j`` (M, 1), so rows of any
    shape and dtype (labels too) reach the distribution as it draws them.
    """

    def __init__(self, distribution: Any, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.distribution, self.x, self.y = distribution, x, y

    def forward(self, i: Tensor, j: Tensor) -> Tensor:
        """All-pairs scores (N, M), in float64."""
        rows, cols = i[:, 0].long().numpy(), j[:, 0].long().numpy()
        pmi = self.distribution.pointwise_mutual_information(self.x[np.repeat(rows, len(cols))], self.y[np.tile(cols, len(rows))])
        scores = np.maximum(np.asarray(pmi, dtype=np.float64), LOWEST)  # -inf off the support: e^-700 adds nothing
        return torch.from_numpy(scores.reshape(len(rows), len(cols)))


def test_rows(x: np.ndarray, y: np.ndarray, seed: int, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``estimate_mi(x, y, seed=seed, **options)`` reports on."""
    cfg = EstimatorConfig(seed=seed, **options)
    _, _, test = cfg.split_rows(len(x))
    return x[test], y[test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", required=True, help="comma-separated task names")
    parser.add_argument("--seeds", type=int, default=3, help="data and estimator seeds 0, 1, ...")
    parser.add_argument("--no-default", action="store_true", help="the oracle alone, without estimate_mi")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"{'task':<28} {'seed':>4} {'truth':>7} {'oracle on test rows':>20} {'estimate':>9} {'est - oracle':>12}")
    for name in args.tasks.split(","):
        task = get_task(name)
        exact = getattr(task.distribution, "pointwise_mutual_information", None)
        try:
            if exact is None:
                raise NeuralMIError(f"{type(task.distribution).__name__} has no exact pointwise mutual information")
            exact(*task.distribution.sample(2, 0))
        except NeuralMIError as err:
            raise SystemExit(f"{name}: {err}") from None
        for seed in range(args.seeds):
            x, y = task.sample(seed)
            options: dict[str, Any] = dict(task.options)
            tx, ty = test_rows(x, y, seed, options)
            index = torch.arange(len(tx), dtype=torch.float64)[:, None]
            critic = TrueCritic(task.distribution, tx, ty)
            block = EstimatorConfig(**options).eval_batch_size
            oracle, se = summarise(score_blocks(critic, index, index, block), "dv")
            line = f"{name:<28} {seed:>4} {task.truth:>7.4f} {oracle:>11.4f} ± {se:.4f}"
            if not args.no_default:
                r = estimate_mi(x, y, seed=seed, progress=False, threads=1, **options)
                line += f" {r.nats:>9.4f} {r.nats - oracle:>+12.4f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
