"""Where one training step and one validation pass of estimate_mi spend their time, on one CPU thread.

Run: ``.venv/bin/python benchmarks/profile_step.py``. Times the default critic (5+5 features,
batch 256) for a training step and a 1,000-sample validation pass (medians), then prints the
``torch.profiler`` table of 100 training steps.
"""

from __future__ import annotations

import statistics
import time

import torch

from neuralmi import EstimatorConfig
from neuralmi._evaluate import score_blocks, summarise
from neuralmi._train import make_optimizer
from neuralmi.bounds import donsker_varadhan
from neuralmi.estimate import build_critic


def median_ms(fn: object, repeats: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean time of ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    cfg = EstimatorConfig()
    critic = build_critic(cfg, 5, 5)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6000, 5, generator=gen)
    y = x + 0.3 * torch.randn(6000, 5, generator=gen)
    optimizer = make_optimizer(list(critic.parameters()), cfg.lr, cfg.weight_decay)

    def step() -> None:
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=gen)
        loss = -donsker_varadhan(critic(x[idx], y[idx]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def validate() -> None:
        summarise(score_blocks(critic, x[:1000], y[:1000], cfg.eval_batch_size), "dv")

    for _ in range(200):  # warm up, and move the critic off its all-zero start
        step()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"training step (batch {cfg.batch_size}): {median_ms(step, 200):.2f} ms")
    print(f"validation pass (1,000 samples): {median_ms(validate, 20):.2f} ms")
    with torch.profiler.profile() as prof:
        for _ in range(100):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
