"""estimate_mi and an MILoss training loop on a CUDA device against the CPU: time, result and agreement, one table.

Checks that the automatic device choice picks CUDA, that the CPU and GPU estimates of one
seeded Gaussian sample agree within their error bars (a z-score of the difference), and the
throughput of MILoss training steps (all pairs of a 1,024 batch) on each device. Exits with
status 2 and a message when no CUDA device is present.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/gpu.py [--device cuda:0] [--n 20000] [--steps 200]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np
import torch

from neuralmi import MILoss, estimate_mi
from neuralmi.critics import SeparableCritic
from neuralmi.estimate import pick_device

WIDTH = 5
RHO = 0.6
TRUTH = -WIDTH / 2 * math.log(1 - RHO**2)


def sample(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with ``WIDTH`` coordinate pairs of correlation ``RHO``: I = -WIDTH/2 log(1 - RHO^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, WIDTH)).astype(np.float32)
    y = (RHO * x + math.sqrt(1 - RHO**2) * rng.standard_normal((n, WIDTH))).astype(np.float32)
    return x, y


def timed_estimate(x: np.ndarray, y: np.ndarray, device: str, max_steps: int) -> tuple[float, float, float, str]:
    """(nats, stderr, seconds, critic kind) of estimate_mi on ``device``."""
    start = time.perf_counter()
    r = estimate_mi(x, y, device=device, max_steps=max_steps, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return r.nats, r.stderr, time.perf_counter() - start, r.critic_kind


def training_steps_per_second(x: np.ndarray, y: np.ndarray, device: str, steps: int, batch: int = 1024) -> float:
    """MILoss (InfoNCE, separable critic) optimiser steps per second on ``device``, after 5 warm-up steps."""
    torch.manual_seed(0)
    mi = MILoss(SeparableCritic(WIDTH, WIDTH, hidden=(256,), embed_dim=32), "infonce").to(device)
    opt = torch.optim.Adam(mi.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    g = torch.Generator(device="cpu").manual_seed(0)
    start = 0.0
    for step in range(steps + 5):
        if step == 5:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
        idx = torch.randint(len(tx), (batch,), generator=g).to(device)
        loss = -mi(tx[idx], ty[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="a CUDA device (default: the automatic choice)")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200, help="MILoss training steps timed on each device")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device is present (torch.cuda.is_available() is False): nothing to compare; run this on a GPU machine")
        return 2
    auto = str(pick_device(None))
    device = args.device or auto
    if not device.startswith("cuda"):
        print(f"--device must name a CUDA device, got {device!r}")
        return 2
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    x, y = sample(args.n)
    cpu = timed_estimate(x, y, "cpu", args.max_steps)
    gpu = timed_estimate(x, y, device, args.max_steps)
    z = (gpu[0] - cpu[0]) / math.hypot(cpu[1], gpu[1])
    rates = {d: training_steps_per_second(x, y, d, args.steps) for d in ("cpu", device)}
    print(f"{torch.cuda.get_device_name(device)}; automatic device choice: {auto}; truth {TRUTH:.4f} nats, n = {args.n:,}")
    print(f"| {'device':<8} | {'estimate (nats)':>18} | {'critic':<12} | {'seconds':>8} | {'MILoss steps/s':>14} |")
    print(f"|{'-' * 10}|{'-' * 20}|{'-' * 14}|{'-' * 10}|{'-' * 16}|")
    for name, (nats, se, seconds, kind) in (("cpu", cpu), (device, gpu)):
        print(f"| {name:<8} | {nats:>9.4f} ± {se:<6.4f} | {kind:<12} | {seconds:>8.1f} | {rates[name]:>14.1f} |")
    agree = abs(z) < 3
    print(
        f"CPU and GPU estimates differ by {z:+.2f} standard errors: {'agree' if agree else 'DISAGREE'}; "
        f"speed-up {cpu[2] / gpu[2]:.1f}x (estimate), {rates[device] / rates['cpu']:.1f}x (training steps)"
    )
    return 0 if agree and auto.startswith("cuda") else 1


if __name__ == "__main__":
    sys.exit(main())
