"""Digits against their labels through the default ``estimate_mi``: the label numbering must not matter.

For seeds 0, 1, 2: ``estimate_mi(x, digit, discrete_y=True, seed=s)`` on scikit-learn's
``load_digits`` (64 pixels, 1,797 rows), the same with the labels renumbered by a seeded
permutation and as the strings "a"-"j", and the held-out bound a logistic regression proves on
the same split, mean of ``log q(k|x) - log p_hat(k)`` over the test rows with its standard error.

Run: ``PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/digits_labels.py``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import neuralmi
from neuralmi.config import EstimatorConfig


def logistic_bound(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """Held-out ``E log q(k|x) - log p_hat(k)`` of a logistic regression on estimate_mi's split for ``seed``, and its standard error."""
    cfg = EstimatorConfig(seed=seed)
    train, _, test = cfg.split_rows(len(x))
    scale = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=3000).fit(scale.transform(x[train]), y[train])
    log_q = model.predict_log_proba(scale.transform(x[test]))[np.arange(len(test)), y[test]]
    terms = log_q - np.log((np.bincount(y[test], minlength=10) / len(test))[y[test]])
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(len(terms)))


def main() -> None:
    warnings.simplefilter("ignore")
    x, digit = load_digits(return_X_y=True)
    for seed in (0, 1, 2):
        permutation = np.random.default_rng(seed + 1).permutation(10)
        labels = {"digits": digit, "renumbered": permutation[digit], "strings": np.array(list("abcdefghij"))[permutation[digit]]}
        cells = []
        for name, y in labels.items():
            r = neuralmi.estimate_mi(x, y, discrete_y=True, seed=seed, threads=1, progress=False)
            cells.append(f"{name} {r.nats:.3f} ± {r.stderr:.3f} ({r.critic_kind})")
        bound, se = logistic_bound(x, digit, seed)
        print(f"seed {seed}: " + "; ".join(cells) + f"; logistic bound {bound:.3f} ± {se:.3f}", flush=True)


if __name__ == "__main__":
    main()
