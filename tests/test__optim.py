"""neuralmi._optim: AdamW against torch.optim's, the cosine decay against CosineAnnealingLR, and no torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from neuralmi._optim import AdamW, cosine_lr

STEPS = 20


def _params(seed: int) -> list[torch.nn.Parameter]:
    """Three float64 tensors of different shapes."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*shape, generator=gen, dtype=torch.float64)) for shape in ((4, 3), (3,), (2, 2, 2))]


def _run_side_by_side(
    ours: AdamW, theirs: torch.optim.Optimizer, mine: list[torch.Tensor], ref: list[torch.Tensor], start: int = 0
) -> None:
    """STEPS steps of both on the same random gradients and a learning rate that changes each step."""
    gen = torch.Generator().manual_seed(100 + start)
    for k in range(start, start + STEPS):
        lr = 0.05 * (1 + k % 7) / 7
        ours.lr = theirs.param_groups[0]["lr"] = lr
        for p, q in zip(mine, ref):
            q.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            p.grad = q.grad.clone()
        mine[1].grad = ref[1].grad = None if k % 5 == 3 else mine[1].grad  # a parameter left out now and then
        ours.step()
        theirs.step()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "foreach"])
@pytest.mark.parametrize(
    ("reference", "weight_decay"), [(torch.optim.AdamW, 0.05), (torch.optim.Adam, 0.0)], ids=["AdamW", "Adam"]
)
def test_updates_equal_torch_adam(fused: bool, reference: type[torch.optim.Optimizer], weight_decay: float) -> None:
    """Same weights as torch.optim.AdamW / Adam (single-tensor, float64) after 20 steps with a changing lr; weight_decay=0 is Adam."""
    mine, ref = _params(0), _params(0)
    ours = AdamW(mine, lr=0.01, weight_decay=weight_decay, fused=fused)
    theirs = reference(ref, lr=0.01, weight_decay=weight_decay, foreach=False)
    _run_side_by_side(ours, theirs, mine, ref)
    assert ours.fused == fused and (mine[0] - _params(0)[0]).abs().min() > 1e-3  # every weight moved
    for p, q in zip(mine, ref):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_state_dict_round_trip_and_torch_layout() -> None:
    """A state saved mid-run continues identically, from ours or from torch.optim.AdamW's state_dict."""
    mine, ref = _params(1), _params(1)
    ours, theirs = AdamW(mine, weight_decay=0.05), torch.optim.AdamW(ref, weight_decay=0.05, foreach=False)
    _run_side_by_side(ours, theirs, mine, ref)
    for state in (ours.state_dict(), theirs.state_dict()):
        assert set(state) == {"state", "param_groups"} and state["param_groups"][0]["params"] == [0, 1, 2]
        params = [torch.nn.Parameter(p.detach().clone()) for p in mine]
        resumed = AdamW(params, lr=1.0)
        resumed.load_state_dict(state)
        assert resumed.lr == ours.lr and resumed.weight_decay == 0.05
        continued = [torch.nn.Parameter(p.detach().clone()) for p in ref]
        reference = torch.optim.AdamW(continued, weight_decay=0.05, foreach=False)
        reference.load_state_dict(theirs.state_dict())
        _run_side_by_side(resumed, reference, params, continued, start=STEPS)
        for p, q in zip(params, continued):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="2 parameters, this optimiser 3"):
        AdamW(_params(2)).load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


def test_zero_grad() -> None:
    """set_to_none drops the gradients; otherwise they are zeroed in place."""
    p = torch.nn.Parameter(torch.ones(3))
    opt = AdamW([p])
    p.grad = torch.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and torch.equal(p.grad, torch.zeros(3))
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("eta_min", [0.0, 1e-4])
def test_cosine_lr_equals_cosine_annealing_lr(eta_min: float) -> None:
    """The rate of each step equals CosineAnnealingLR's over the whole half period."""
    total, lr = 50, 3e-3
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total, eta_min=eta_min)
    theirs = []
    for _ in range(total + 1):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert [cosine_lr(t, total, lr, eta_min) for t in range(total + 1)] == pytest.approx(theirs, rel=1e-12, abs=1e-18)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fused_on_cuda_equals_cpu() -> None:
    """The fused kernel on CUDA agrees with the CPU run in float64."""
    cpu, gpu = _params(3), [torch.nn.Parameter(p.detach().cuda()) for p in _params(3)]
    a, b = AdamW(cpu, weight_decay=0.05), AdamW(gpu, weight_decay=0.05)
    assert b.fused and b.state_dict()["state"] == {}
    for k in range(STEPS):
        grads = [torch.randn(p.shape, generator=torch.Generator().manual_seed(k), dtype=p.dtype) for p in cpu]
        for p, q, g in zip(cpu, gpu, grads):
            p.grad, q.grad = g, g.cuda()
        a.step()
        b.step()
    for p, q in zip(cpu, gpu):
        torch.testing.assert_close(p, q.cpu(), rtol=0, atol=1e-12)


def test_estimate_mi_leaves_torch_dynamo_unimported() -> None:
    """A fresh process's estimate_mi (trained, density-ratio and classifier critics) never imports torch._dynamo (about 2 CPU s)."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import neuralmi
        rng = np.random.default_rng(0)
        x = rng.normal(size=(300, 2))
        y = x + rng.normal(size=(300, 2))
        fast = dict(max_steps=20, progress=False, threads=1)
        neuralmi.estimate_mi(x, y, **fast)
        neuralmi.estimate_mi(x, (x[:, 0] > 0).astype(int), discrete_y=True, **fast)
        print(sorted(m for m in sys.modules if m.startswith("torch._dynamo")))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
