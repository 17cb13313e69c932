"""Speed of estimate_mi on one CPU thread: the default run, loop overhead, and the wide independent case.

Run: ``make bench`` or ``.venv/bin/python benchmarks/speed.py [--repeats 3]``. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
import torch

from neuralmi import EstimatorConfig, estimate_mi
from neuralmi._train import make_optimizer
from neuralmi.benchmark import get_task
from neuralmi.bounds import get_bound
from neuralmi.estimate import build_critic


def bare_loop(x: np.ndarray, y: np.ndarray, steps: int, cfg: EstimatorConfig) -> float:
    """A hand-written loop: same critic, bound, batch and optimiser; no validation, no averaging."""
    critic = build_critic(cfg, x.shape[1], y.shape[1])
    tx, ty = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    opt = make_optimizer(list(critic.parameters()), cfg.lr, cfg.weight_decay)
    bound = get_bound(cfg.bound)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(tx), (cfg.batch_size,), generator=gen)
        loss = -bound(critic(tx[idx], ty[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def candidate_line(label: str, runs: list[Any]) -> str:
    """Median seconds of each candidate critic inside the calls (from ``MIResult.candidates``), beside the whole calls."""
    names = sorted({name for r in runs for name in r.candidates})
    parts = [
        f"{name} {statistics.median(r.candidates[name]['seconds'] for r in runs if name in r.candidates):.2f} s" for name in names
    ]
    kinds = [r.critic_kind for r in runs]
    return f"  {label}: median call {statistics.median(r.seconds for r in runs):.2f} s; candidates {', '.join(parts)}; reported by {kinds}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-wide", action="store_true", help="skip the 13,000 x 1,024 feature case")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")

    x, y = get_task("gaussian_5d_3nat").sample(seed=0)
    runs = [estimate_mi(x, y, progress=False, seed=s) for s in range(args.repeats)]
    secs = statistics.median(r.seconds for r in runs)
    errs = [abs(r.nats - 3.0) / 3.0 for r in runs]
    print(f"default estimate_mi, 5+5-d Gaussian, 3 nats, n=10,000: median {secs:.2f} s, steps {[r.steps for r in runs]}")
    print(
        f"  estimates {[round(r.nats, 3) for r in runs]} (truth 3.0), median relative error {100 * statistics.median(errs):.1f}%"
    )
    print(candidate_line("this task", runs))
    px, py = get_task("pm1_vector_7").sample(seed=0)
    print(candidate_line("±1 channel", [estimate_mi(px, py, progress=False, seed=s) for s in range(args.repeats)]))

    steps = 1000
    # the training loop's throughput: the candidates fitted beside it (timed in the first line) are off here
    cfg = EstimatorConfig(max_steps=steps, patience=10**6, gaussian_critic=False, density_ratio=False, ensemble=False)
    ours, bare = [], []
    for _ in range(args.repeats):
        r = estimate_mi(x, y, config=cfg, progress=False)
        ours.append(steps / r.seconds)
        bare.append(steps / bare_loop(x[:6000], y[:6000], steps, cfg))
    ratio = statistics.median(o / b for o, b in zip(ours, bare))
    print(
        f"step throughput over {steps} steps (batch {cfg.batch_size}): estimate_mi {statistics.median(ours):.0f} steps/s "
        f"(whole call with the network alone: validation, averaging, final test included), bare loop {statistics.median(bare):.0f} steps/s, ratio {ratio:.2f}"
    )

    if not args.skip_wide:
        wx, wy = get_task("independent_high_dim").sample(seed=15)
        r = estimate_mi(wx, wy, progress=False)
        print(f"independent 13,000 x 1,024 features, n=2,000: {r.seconds:.1f} s, estimate {r.nats:.4f}, CI {r.ci}")


if __name__ == "__main__":
    main()
