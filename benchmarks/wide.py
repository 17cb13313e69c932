"""The wide case of issue 13: x with 13,000 features, y with 1,024, 2 nats in 8 coordinate pairs (or none).

Run: ``.venv/bin/python benchmarks/wide.py [--threads 1] [--cases independent,gaussian]``. Each
case draws x ~ N(0, I_13000), y ~ N(0, I_1024) and plants dependence in 8 (x column, y column)
pairs at seeded random positions, 0.25 nats each (2 nats in all):

- ``gaussian``: corr = sqrt(1 - e^-0.5) = 0.627 per pair (the issue's setup);
- ``monotone``: the same pairs seen through x -> e^x and y -> y^3 (MI unchanged);
- ``square``: y_j = x_i^2 + s * noise, zero correlation, s set so each pair holds 0.25 nats
  (quadrature of h(Y) - h(s * noise));
- ``independent``: no dependence (MI = 0), three seeds.

Prints one line per run: wall and CPU seconds of ``estimate_mi`` with its defaults, the estimate,
its 95% interval, the truth, the columns the screen kept and how many planted pairs they hold.
A first, small call pays the one-time imports before the timed runs; its time is printed apart.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from neuralmi import estimate_mi

DIMS = (13_000, 1024)
PAIRS = 8
PAIR_MI = 0.25


def square_noise(pair_mi: float) -> float:
    """The noise scale s with I(X; X^2 + s N) = pair_mi for X, N ~ N(0, 1): bisection on a quadrature of h(Y)."""
    x = np.linspace(-8, 8, 1601)
    weight = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi) * (x[1] - x[0])

    def mi(s: float) -> float:
        y = np.linspace(-8 * s, 64 + 8 * s, 2500)
        p = (weight[None, :] * np.exp(-((y[:, None] - x[None, :] ** 2) ** 2) / (2 * s * s))).sum(1) / (s * math.sqrt(2 * math.pi))
        h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)) * (y[1] - y[0])
        return h - 0.5 * math.log(2 * math.pi * math.e * s * s)

    lo, hi = 0.01, 50.0
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if mi(mid) > pair_mi else (lo, mid)
    return math.sqrt(lo * hi)


def sample(case: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float, list[tuple[int, int]]]:
    """(x, y, true MI, planted pairs) of a case."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIMS[0]), dtype=np.float32)
    y = rng.standard_normal((n, DIMS[1]), dtype=np.float32)
    if case == "independent":
        return x, y, 0.0, []
    cols_x = rng.choice(DIMS[0], PAIRS, replace=False)
    cols_y = rng.choice(DIMS[1], PAIRS, replace=False)
    rho = math.sqrt(-math.expm1(-2 * PAIR_MI))
    s = square_noise(PAIR_MI) if case == "square" else 0.0
    for i, j in zip(cols_x, cols_y):
        if case == "square":
            y[:, j] = x[:, i] ** 2 + s * y[:, j]
            continue
        y[:, j] = rho * x[:, i] + math.sqrt(1 - rho**2) * y[:, j]
        if case == "monotone":
            x[:, i], y[:, j] = np.exp(x[:, i]), y[:, j] ** 3
    return x, y, PAIRS * PAIR_MI, [(int(i), int(j)) for i, j in zip(cols_x, cols_y)]


def run(case: str, n: int, seed: int, threads: int | None) -> None:
    """Estimate one case and print its line."""
    x, y, truth, planted = sample(case, n, seed)
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = estimate_mi(x, y, progress=False, threads=threads)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    kept_x, kept_y = set(r.screen.get("x_columns") or []), set(r.screen.get("y_columns") or [])
    found = sum(i in kept_x and j in kept_y for i, j in planted)
    print(
        f"{case:<12} {n:>6} {seed:>4} {r.threads:>3} {wall:>7.1f} {cpu:>7.1f} {r.nats:>7.3f} "
        f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}]{'':<2} {truth:>5.2f}  {r.critic_kind:<14} "
        f"{len(kept_x)}+{len(kept_y)} cols, {found}/{len(planted)} planted, screen {r.screen.get('seconds', 0):.1f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the library's choice)")
    parser.add_argument("--cases", default="independent,gaussian,gaussian10k,monotone,square")
    args = parser.parse_args()
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate_mi(rng.normal(size=200), rng.normal(size=200), progress=False, max_steps=20, threads=args.threads)
    print(f"first call (one-time imports): {time.perf_counter() - start:.1f} s")
    print(
        f"{'case':<12} {'n':>6} {'seed':>4} {'thr':>3} {'wall s':>7} {'cpu s':>7} {'nats':>7} {'95% CI':<18} {'truth':>5}  critic"
    )
    for case in args.cases.split(","):
        if case == "independent":
            for seed in range(3):
                run(case, 2000, seed, args.threads)
        elif case == "gaussian10k":
            run("gaussian", 10_000, 0, args.threads)
        else:
            run(case, 2000, 0, args.threads)


if __name__ == "__main__":
    main()
