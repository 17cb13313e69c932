r"""AdamW and the cosine learning-rate decay for neuralmi's training loops, without ``torch.optim`` (private).

Constructing a ``torch.optim`` optimiser imports ``torch._dynamo`` (its methods are wrapped to stay
out of compiled graphs), which costs about 2 CPU seconds in every fresh process. The loops here need
only AdamW with one learning rate set before each step, so :class:`AdamW` calls the same kernels
directly: PyTorch's fused AdamW kernel on CPU and CUDA (the same numbers as
``torch.optim.AdamW(fused=True)``), ``torch._foreach_*`` ops elsewhere. Its :meth:`AdamW.state_dict`
has ``torch.optim``'s layout, so checkpoints written with either load into the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

__all__ = ["AdamW", "cosine_lr"]


def cosine_lr(step: int, total: int, lr: float, eta_min: float = 0.0) -> float:
    r"""The cosine decay of SGDR without restarts, :math:`\eta_t = \eta_{min} + (\eta - \eta_{min})(1 + \cos(\pi t / T)) / 2`.

    Loshchilov & Hutter (2017), "SGDR: Stochastic gradient descent with warm restarts"; the values of
    ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total, eta_min=eta_min)`` after ``step`` calls.

    Args:
        step: schedule steps taken, ``t`` (0 gives ``lr``).
        total: the half period ``T``, in steps (``t = T`` gives ``eta_min``).
        lr: the peak learning rate.
        eta_min: the floor.

    >>> cosine_lr(0, 10, 1.0, 0.1), cosine_lr(5, 10, 1.0, 0.1), cosine_lr(10, 10, 1.0, 0.1)
    (1.0, 0.55, 0.1)
    """
    return eta_min + (lr - eta_min) * (1.0 + math.cos(math.pi * step / total)) / 2


class AdamW:
    r"""AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay regularization"), as ``torch.optim.AdamW``.

    Per step, for each parameter with a gradient :math:`g`, at its step count :math:`t`:
    :math:`\theta \leftarrow \theta (1 - \eta \lambda)`, :math:`m \leftarrow \beta_1 m + (1 - \beta_1) g`,
    :math:`v \leftarrow \beta_2 v + (1 - \beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}`.
    ``weight_decay=0`` is Adam. One learning rate, the attribute ``lr``, serves all parameters; set it
    before a step to follow a schedule.

    Args:
        params: the tensors to optimise (leaves that receive ``.grad``).
        lr: the learning rate :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`.
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        fused: PyTorch's fused kernel (one per device and dtype); by default where it exists, for
            floating tensors on CPU or CUDA; otherwise ``torch._foreach_*`` ops.

    >>> w = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.0)
    >>> (w**2).sum().backward(); opt.step()
    >>> round(w.item(), 4)  # the first step moves each weight by lr against its gradient's sign
    0.9
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        fused: bool | None = None,
    ) -> None:
        """Hold the parameters; the moments are created at each parameter's first step, as in ``torch.optim``."""
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        if fused is None:
            fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in self.params)
        self.fused = fused
        self.state: dict[int, dict[str, Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (or zero them in place)."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.detach_().zero_()

    def _moments(self, i: int, p: Tensor) -> dict[str, Tensor]:
        """Parameter ``i``'s state: step count (float32; on the parameter's device for the fused kernel) and moments."""
        if i not in self.state:
            step = torch.zeros((), dtype=torch.float32, device=p.device if self.fused else "cpu")
            zeros = (torch.zeros_like(p, memory_format=torch.preserve_format) for _ in range(2))
            self.state[i] = dict(zip(("step", "exp_avg", "exp_avg_sq"), (step, *zeros)))
        return self.state[i]

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW step on every parameter that has a gradient."""
        groups: dict[tuple[torch.device, torch.dtype], list[list[Tensor]]] = {}
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            s = self._moments(i, p)
            group = groups.setdefault((p.device, p.dtype), [[], [], [], [], []])
            for column, t in zip(group, (p, p.grad, s["exp_avg"], s["exp_avg_sq"], s["step"])):
                column.append(t)
        for params, grads, exp_avgs, exp_avg_sqs, steps in groups.values():
            torch._foreach_add_(steps, 1)
            if self.fused:
                torch._fused_adamw_(
                    params,
                    grads,
                    exp_avgs,
                    exp_avg_sqs,
                    [],
                    steps,
                    lr=self.lr,
                    beta1=self.betas[0],
                    beta2=self.betas[1],
                    weight_decay=self.weight_decay,
                    eps=self.eps,
                    amsgrad=False,
                    maximize=False,
                )
            else:
                self._foreach_step(params, grads, exp_avgs, exp_avg_sqs, [float(t) for t in steps])

    def _foreach_step(self, params: list[Tensor], grads: list[Tensor], m: list[Tensor], v: list[Tensor], t: list[float]) -> None:
        """The update with ``torch._foreach_*`` ops, in the order of ``torch.optim.AdamW(foreach=True)``."""
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            torch._foreach_mul_(params, 1 - self.lr * self.weight_decay)
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, 1 - beta2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [(1 - beta2**k) ** 0.5 for k in t])
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, [-self.lr / (1 - beta1**k) for k in t])

    def state_dict(self) -> dict[str, Any]:
        """The state in ``torch.optim``'s layout: ``state`` by parameter index and one entry of ``param_groups``."""
        group = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay, "fused": self.fused}
        return {
            "state": {i: dict(s) for i, s in self.state.items()},
            "param_groups": [{**group, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, or a single-group one of ``torch.optim.AdamW`` / ``Adam`` over the same parameters."""
        (group,) = state_dict["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(f"the state holds {len(group['params'])} parameters, this optimiser {len(self.params)}")
        self.lr, self.betas, self.eps, self.weight_decay = group["lr"], tuple(group["betas"]), group["eps"], group["weight_decay"]
        self.state = {}
        for i, saved in state_dict["state"].items():
            s = self._moments(int(i), self.params[int(i)])
            s["step"].fill_(float(saved["step"]))
            s["exp_avg"].copy_(saved["exp_avg"])
            s["exp_avg_sq"].copy_(saved["exp_avg_sq"])
