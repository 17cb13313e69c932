"""The library on a CUDA device: splits, every candidate and the losses run there and agree with the CPU. Skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralmi import MILoss, estimate_mi
from neuralmi.config import EstimatorConfig
from neuralmi.critics import SeparableCritic
from neuralmi.estimate import prepare

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.filterwarnings("ignore::neuralmi.estimate.MIWarning"),
]

FAST = {"max_steps": 100, "progress": False, "quadratic_steps": 50}


def _pair(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2))
    return x, 0.8 * x + 0.6 * rng.standard_normal((n, 2))


def test_prepare_puts_the_cpu_splits_on_the_device() -> None:
    x, y = _pair()
    on_cpu, on_gpu = (prepare(x, y, EstimatorConfig(), d) for d in ("cpu", "cuda"))
    for split in ("train", "val", "test"):
        for a, b in zip(getattr(on_cpu, split), getattr(on_gpu, split)):
            assert b.device.type == "cuda" and torch.equal(a, b.cpu())


def test_estimate_on_cuda_agrees_with_the_cpu_within_error_bars() -> None:
    x, y = _pair()
    cpu, gpu = (estimate_mi(x, y, device=d, **FAST) for d in ("cpu", "cuda"))
    assert gpu.device.startswith("cuda") and next(gpu.critic.parameters()).device.type == "cuda"
    assert abs(gpu.nats - cpu.nats) < 3 * np.hypot(cpu.stderr, gpu.stderr)
    assert set(gpu.candidates) == set(cpu.candidates)


@pytest.mark.parametrize("discrete", [(False, True), (True, True)], ids=["classifier", "contingency"])
def test_label_candidates_run_on_cuda(discrete: tuple[bool, bool]) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 1200)
    b = (a + (rng.random(1200) < 0.3)) % 3
    x = a if discrete[0] else a + rng.standard_normal(1200)
    r = estimate_mi(x, b, device="cuda", discrete_x=discrete[0], discrete_y=discrete[1], **FAST)
    assert r.detected and r.device.startswith("cuda")
    assert r.evaluate(x[:200], b[:200]).n_test == 200


def test_miloss_trains_on_cuda() -> None:
    mi = MILoss(SeparableCritic(2, 2, hidden=(16,), embed_dim=4), "infonce").cuda()
    x = torch.randn(64, 2, device="cuda")
    loss = -mi(x, x + 0.5 * torch.randn_like(x))
    loss.backward()
    assert all(p.grad is not None and p.grad.device.type == "cuda" for p in mi.parameters())
