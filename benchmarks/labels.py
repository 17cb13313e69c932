"""The label critics measured: digits against the logistic-regression bound, a class-conditional Gaussian, a table.

Run: ``.venv/bin/python benchmarks/labels.py [seeds, default 0,1,2]``. One thread; 60/10/30 splits;
every figure is the held-out DV of :mod:`neuralmi._evaluate` (1024-row blocks) with its jackknife error.
Fit times are CPU seconds of :func:`fit_classifier` after one warm-up fit (which pays one-time costs).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from neuralmi._evaluate import score_blocks, summarise
from neuralmi.data import split_indices
from neuralmi.labels import ClassifierCritic, as_labels, fit_classifier, fit_contingency


def held_out_dv(critic: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return summarise(score_blocks(critic, torch.tensor(x, dtype=torch.float32), torch.tensor(y), 1024), "dv")


def timed_fit(x: np.ndarray, y: np.ndarray, parts: list[np.ndarray], k: int, seed: int) -> tuple[ClassifierCritic, float]:
    train, val = parts[0], parts[1]
    start = time.process_time()
    critic = fit_classifier((x[train], y[train]), (x[val], y[val]), n_classes=k, seed=seed)
    return critic, time.process_time() - start


def digits(seed: int) -> None:
    x, digit = load_digits(return_X_y=True)
    parts = split_indices(len(x), (0.6, 0.1), seed)
    train, test = parts[0], parts[2]
    codes, _ = as_labels(digit)
    critic, seconds = timed_fit(x, codes, parts, 10, seed)
    est, se = held_out_dv(critic, x[test], codes[test])
    renumbered, _ = as_labels(np.random.default_rng(seed + 1).permutation(10)[digit])
    other, _ = timed_fit(x, renumbered, parts, 10, seed)
    est_p, se_p = held_out_dv(other, x[test], renumbered[test])
    scale = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000).fit(scale.transform(x[train]), codes[train])
    log_q = model.predict_log_proba(scale.transform(x[test]))[np.arange(len(test)), codes[test]]
    p = np.bincount(codes[test]) / len(test)
    terms = log_q - np.log(p[codes[test]])
    bound, bound_se = terms.mean(), terms.std(ddof=1) / math.sqrt(len(test))
    r = critic.fit_record
    print(
        f"digits seed {seed}: classifier {est:.3f} ± {se:.3f} | renumbered {est_p:.3f} ± {se_p:.3f} | "
        f"logistic bound {bound:.3f} ± {bound_se:.3f} | H(Y_test) {-(p * np.log(p)).sum():.3f} | "
        f"fit {seconds:.2f} s CPU, {r.steps if r else '?'} steps, tau {float(critic.temperature):.2f}"
    )


def class_gaussian(seed: int, n: int = 10_000, k: int = 10, d: int = 5) -> None:
    rng = np.random.default_rng(123)
    means, prior = rng.normal(scale=1.5, size=(k, d)), rng.dirichlet(np.full(k, 5.0))

    def sample(m: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        g = np.random.default_rng(s)
        y = g.choice(k, size=m, p=prior)
        return means[y] + g.normal(size=(m, d)), y

    def log_ratio(x: np.ndarray) -> np.ndarray:
        joint = np.log(prior) - 0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1)
        return joint - logsumexp(joint, 1, keepdims=True) - np.log(prior)

    xt, yt = sample(400_000, 999)
    terms = log_ratio(xt)[np.arange(len(yt)), yt]
    x, y = sample(n, seed)
    parts = split_indices(n, (0.6, 0.1), seed)
    critic, seconds = timed_fit(x, y, parts, k, seed)
    est, se = held_out_dv(critic, x[parts[2]], y[parts[2]])
    oracle = ClassifierCritic(d, k, hidden=())
    with torch.no_grad():
        oracle.head.weight.copy_(torch.tensor(means))
        oracle.head.bias.copy_(torch.tensor(np.log(prior) - 0.5 * (means**2).sum(1)))
        oracle.log_prior.copy_(torch.tensor(np.log(prior)))
    est_o, _ = held_out_dv(oracle, x[parts[2]], y[parts[2]])
    r = critic.fit_record
    print(
        f"class Gaussian {d}-D, {k} classes, n={n}, seed {seed}: truth {terms.mean():.4f} ± {terms.std() / math.sqrt(len(terms)):.4f} | "
        f"classifier {est:.4f} ± {se:.4f} | exact posterior on the same test rows {est_o:.4f} | "
        f"fit {seconds:.2f} s CPU, {r.steps if r else '?'} steps"
    )


def table(seed: int, n: int = 30_000) -> None:
    p = np.array([[0.20, 0.05, 0.05], [0.02, 0.15, 0.03], [0.05, 0.05, 0.20], [0.10, 0.05, 0.05]])
    truth = float((p * np.log(p / np.outer(p.sum(1), p.sum(0)))).sum())
    cells = np.random.default_rng(seed).choice(p.size, size=n, p=p.ravel())
    a, b = cells // 3, cells % 3
    parts = split_indices(n, (0.6, 0.1), seed)
    critic = fit_contingency((a[parts[0]], b[parts[0]]), (a[parts[1]], b[parts[1]]), n_classes=(4, 3))
    est, se = held_out_dv(critic, a[parts[2]], b[parts[2]])
    counts = np.zeros_like(p)
    np.add.at(counts, (a, b), 1.0)
    q = counts / n
    plug_in = float((q * np.log(q / np.outer(q.sum(1), q.sum(0)))).sum())
    print(
        f"4x3 table n={n} seed {seed}: exact {truth:.4f} | plug-in {plug_in:.4f} | contingency {est:.4f} ± {se:.4f} (alpha {critic.alpha})"
    )


def main() -> None:
    torch.set_num_threads(1)
    seeds = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "0,1,2").split(",")]
    x, digit = load_digits(return_X_y=True)
    fit_classifier((x[:200], digit[:200]), (x[200:300], digit[200:300]), n_classes=10, max_steps=2)  # warm-up
    for seed in seeds:
        digits(seed)
    for seed in seeds:
        class_gaussian(seed)
    for seed in seeds:
        table(seed)


if __name__ == "__main__":
    main()
