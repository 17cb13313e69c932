r"""Many separable critics trained together (private): stacked weights, one batched pass, per-pair early stopping.

P pairs of variables share the rows of one data set. Their P separable critics
``T_p(x, y) = g_p(x)^T h_p(y) + a_p(x) + b_p(y)`` (:class:`neuralmi.critics.SeparableCritic`) are held
as stacked weights of shape (P, in, out), zero-padded to the widest side, and evaluated with
``torch.baddbmm``: every step scores all pairs of one batch of rows for every variable pair at once,
giving a (P, B, B) stack of score matrices. The losses are summed; the pairs share no parameter,
so each pair's gradient is the one it would have alone. One Adam state serves all pairs, with a
learning rate per pair, so each pair has the schedule, plateau halving and patience of
:class:`neuralmi._train.Trainer` on its own validation curve, and a stopped pair leaves the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi._evaluate import HeldOut, summarise
from neuralmi._train import out_of_reach
from neuralmi.bounds import get_bound
from neuralmi.config import EstimatorConfig
from neuralmi.critics import SeparableCritic

__all__ = ["PairFit", "StackedSeparable", "batched_dv", "fit_separable_batch"]

Layers = list[tuple[Tensor, Tensor]]


class StackedSeparable(nn.Module):
    """P :class:`~neuralmi.critics.SeparableCritic` networks as stacked, zero-padded weights: scores (P, B, B).

    >>> critics = [SeparableCritic(1, 2, hidden=(4,), embed_dim=3), SeparableCritic(2, 1, hidden=(4,), embed_dim=3)]
    >>> stack = StackedSeparable(critics, (2, 2))
    >>> stack(torch.randn(2, 5, 2), torch.randn(2, 5, 2)).shape
    torch.Size([2, 5, 5])
    """

    def __init__(self, critics: Sequence[SeparableCritic], widths: tuple[int, int]) -> None:
        super().__init__()
        first = critics[0]
        self.embed_dim, self.activation = first.embed_dim, first.g[1] if len(first.g) > 1 else nn.Identity()
        self.g = nn.ParameterList(_stack([c.g for c in critics], widths[0]))
        self.h = nn.ParameterList(_stack([c.h for c in critics], widths[1]))

    def _side(self, params: Sequence[Tensor], v: Tensor) -> Tensor:
        for i in range(0, len(params), 2):
            v = torch.baddbmm(params[i + 1], v, params[i])
            if i + 2 < len(params):
                v = self.activation(v)
        return v

    def forward(self, x: Tensor, y: Tensor, active: Tensor | None = None, params: Sequence[Tensor] | None = None) -> Tensor:
        """Scores (A, B, B) of x (A, B, dx) and y (A, B, dy): critics ``active`` (all P if None), weights ``params`` (its own if None)."""
        values = list(params) if params is not None else list(self.parameters())
        g, h = values[: len(self.g)], values[len(self.g) :]
        if active is not None:
            g, h = [p.index_select(0, active) for p in g], [p.index_select(0, active) for p in h]
        gx, hy = self._side(g, x), self._side(h, y)
        e, ones = self.embed_dim, gx.new_ones(*gx.shape[:2], 1)
        gx = torch.cat((gx, ones), 2)
        hy = torch.cat((hy[..., :e], ones, hy[..., e:]), 2)
        return torch.bmm(gx, hy.transpose(1, 2))

    def export(self, p: int, template: SeparableCritic, params: Sequence[Tensor] | None = None) -> SeparableCritic:
        """Critic ``p`` as a standalone :class:`SeparableCritic` (``template`` gets its weights; ``params``: other stacked values)."""
        values = list(params) if params is not None else [t.detach() for t in self.parameters()]
        n_g = len(self.g)
        for seq, stacked in ((template.g, values[:n_g]), (template.h, values[n_g:])):
            linears = [m for m in seq if isinstance(m, nn.Linear)]
            with torch.no_grad():
                for lin, w, b in zip(linears, stacked[0::2], stacked[1::2]):
                    lin.weight.copy_(w[p, : lin.in_features].T)
                    lin.bias.copy_(b[p, 0])
        return template.eval()


def _stack(sides: Sequence[nn.Sequential], width: int) -> list[nn.Parameter]:
    """Weights (P, in, out) and biases (P, 1, out) of each linear layer, the first layer's inputs zero-padded to ``width``."""
    per_layer: list[list[Tensor]] = []
    for seq in sides:
        linears = [m for m in seq if isinstance(m, nn.Linear)]
        tensors = []
        for i, lin in enumerate(linears):
            w = lin.weight.detach().T
            if i == 0:
                w = torch.cat((w, w.new_zeros(width - w.shape[0], w.shape[1])))
            tensors += [w, lin.bias.detach()[None, :]]
        per_layer.append(tensors)
    return [nn.Parameter(torch.stack(column)) for column in zip(*per_layer)]


class _OffDiagonalLogSumExp(torch.autograd.Function):
    """``log sum_{i≠j} e^{S_ij}`` of each of P square matrices (P, B, B) in one fused pass each way (a batched
    :class:`neuralmi._math._OffDiagonalLogSumExp`): forward keeps the shifted exponentials, backward rescales them."""

    @staticmethod
    def forward(ctx: Any, scores: Tensor) -> Tensor:
        ctx.dtype = scores.dtype
        e = scores.detach().to(torch.promote_types(scores.dtype, torch.float32), copy=True)
        e.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
        shift = e.flatten(1).amax(1)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        total = e.sub_(shift[:, None, None]).exp_().flatten(1).sum(1)
        ctx.save_for_backward(e, total)
        return total.log() + shift

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        e, total = ctx.saved_tensors
        return (e * (grad / total)[:, None, None]).to(ctx.dtype)


def batched_dv(scores: Tensor) -> Tensor:
    r"""Donsker–Varadhan bound of each of P score matrices (P, B, B): ``mean diag - log mean_{i≠j} e^{S_ij}``, shape (P,).

    >>> s = torch.randn(3, 5, 5, dtype=torch.float64, requires_grad=True)
    >>> from neuralmi.bounds import donsker_varadhan
    >>> torch.allclose(batched_dv(s), torch.stack([donsker_varadhan(m) for m in s]))
    True
    >>> torch.autograd.gradcheck(lambda t: batched_dv(t).sum(), (s,))
    True
    """
    b = scores.shape[1]
    off = _OffDiagonalLogSumExp.apply(scores) - math.log(b * (b - 1))
    return scores.diagonal(dim1=1, dim2=2).mean(1) - off


def _bounds(name: str) -> Callable[[Tensor], Tensor]:
    if name == "dv":
        return batched_dv
    bound = get_bound(name)
    return lambda scores: torch.stack([bound(s) for s in scores])


@torch.no_grad()
def _held_out(scores: Tensor) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(joint, row, col) log-sum statistics of each of P score blocks (P, b, b), as :func:`score_blocks` forms them."""
    eye = torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)
    masked = scores.double().masked_fill(eye, float("-inf"))
    joint, row, col = scores.diagonal(dim1=1, dim2=2).double(), masked.logsumexp(2), masked.logsumexp(1)
    return [(j.cpu().numpy(), r.cpu().numpy(), c.cpu().numpy()) for j, r, c in zip(joint, row, col)]


@dataclass
class PairFit:
    """How one pair's critic trained: steps, the kept step, its validation curve, and whether it diverged."""

    steps: int = 0
    best_step: int = 0
    best: float = -math.inf
    smoothed: float | None = None
    since_best: int = 0
    lr_scale: float = 1.0
    diverged: bool = False
    done: bool = False
    rival: float | None = None  # another candidate's validation value plus its error: out of reach, training stops
    abandoned: bool = False
    curve: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "train": [], "val": [], "val_smoothed": []})


class _BatchFit:
    """The training loop over stacked critics: per-pair validation, smoothing, plateau halving and patience."""

    def __init__(self, model: StackedSeparable, cfg: EstimatorConfig, data: tuple[Tensor, Tensor, Tensor]) -> None:
        self.model, self.cfg = model, cfg
        self.feats, self.val_feats, self.index = data[0], data[1], data[2]  # index: (P, 2, width) feature columns
        self.params = list(model.parameters())
        self.averaged = [p.detach().clone() for p in self.params]
        self.best_state = [p.clone() for p in self.averaged]
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.fits = [PairFit() for _ in range(len(self.index))]
        self.bound = _bounds(cfg.bound)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.perm, self.pos, self.step = torch.randperm(len(self.feats), generator=self.generator), 0, 0
        self.every = cfg.evaluation_interval(len(self.feats))

    def _sides(self, rows: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        """x (A, B, dx) and y (A, B, dy) of the active pairs from rows (B, F+1) of features (the last column is 0)."""
        index = self.index[active]
        return rows[:, index[:, 0]].transpose(0, 1), rows[:, index[:, 1]].transpose(0, 1)

    def _adam(self, lr: Tensor, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        """One AdamW step (PyTorch's defaults) with a learning rate per pair, ``lr`` (P,)."""
        t = self.step
        for p, (m, v) in zip(self.params, self.moments):
            if p.grad is None:
                continue
            rate = lr.view(-1, *([1] * (p.dim() - 1)))
            with torch.no_grad():
                p.mul_(1 - rate * self.cfg.weight_decay)
                m.lerp_(p.grad, 1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2**t)).sqrt_().add_(eps)
                p.addcdiv_(m * (rate / (1 - beta1**t)), denom, value=-1.0)

    def _train_step(self, active: Tensor, batch: int) -> Tensor:
        if self.pos + batch > len(self.feats):
            self.perm, self.pos = torch.randperm(len(self.feats), generator=self.generator), 0
        idx = self.perm[self.pos : self.pos + batch].to(self.feats.device)
        self.pos += batch
        self.step += 1
        x, y = self._sides(self.feats[idx], active)
        values = self.bound(self.model(x, y, active))
        finite = torch.isfinite(values)
        for p in self.params:
            p.grad = None
        (-torch.where(finite, values, torch.zeros_like(values)).sum()).backward()
        lr = torch.zeros(len(self.fits), dtype=self.params[0].dtype, device=self.feats.device)
        scales = torch.tensor([self.fits[i].lr_scale for i in active.tolist()], dtype=lr.dtype)
        lr[active] = self.cfg.lr_at(self.step) * scales.to(lr.device)
        self._adam(lr)
        if self.cfg.average > 0:
            torch._foreach_lerp_(self.averaged, [p.detach() for p in self.params], 1.0 - self.cfg.average)
        else:
            torch._foreach_copy_(self.averaged, [p.detach() for p in self.params])
        return torch.where(finite, values.detach(), torch.full_like(values, math.nan))

    @torch.no_grad()
    def _validate(self, active: Tensor) -> list[tuple[float, float]]:
        """(report bound, standard error) on validation of each active pair's averaged critic, blocks as :func:`score_blocks`."""
        n = len(self.val_feats)
        parts: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(len(active))]
        for idx in np.array_split(np.arange(n), max(1, n // self.cfg.eval_batch_size)):
            rows = self.val_feats[torch.from_numpy(idx).to(self.val_feats.device)]
            chunk = max(1, 2**24 // max(1, len(idx) ** 2))
            for start in range(0, len(active), chunk):
                sub = active[start : start + chunk]
                stats = _held_out(self.model(*self._sides(rows, sub), sub, self.averaged))
                for k, s in enumerate(stats):
                    parts[start + k].append((*s, np.full(len(idx), float(len(idx)))))
        out = []
        for blocks in parts:
            joint, row, col, size = (np.concatenate([b[i] for b in blocks]) for i in range(4))
            out.append(summarise(HeldOut(joint, row, col, np.logaddexp(row, joint), size), self.cfg.report_bound))
        return out

    def _record(self, p: int, step: int, train: float, val: float, se: float) -> None:
        """One validation point of pair p; then the pair stops where its curve cannot reach its rival (as :class:`Trainer`)."""
        self._point(p, step, train, val, se)
        fit = self.fits[p]
        remaining = max(0, self.cfg.max_steps - step) / self.every
        if not fit.done and out_of_reach(fit.curve["val_smoothed"], fit.best, fit.rival, remaining):
            fit.done = fit.abandoned = True

    def _point(self, p: int, step: int, train: float, val: float, se: float) -> None:
        """One validation point of pair p, by the rules of :meth:`Trainer._validation_point` (first margin 2 SE)."""
        fit, cfg = self.fits[p], self.cfg
        fit.steps = step
        if not math.isfinite(val):
            fit.diverged = fit.done = True
            return
        smoothed = val if fit.smoothed is None else cfg.smoothing * fit.smoothed + (1 - cfg.smoothing) * val
        fit.smoothed = smoothed
        for key, v in zip(("step", "train", "val", "val_smoothed"), (step, train, val, smoothed)):
            fit.curve[key].append(float(v))
        if smoothed > fit.best and (step == 0 or fit.best_step > 0 or smoothed > fit.best + 2.0 * se):
            fit.best, fit.best_step, fit.since_best = smoothed, step, 0
            for best, avg in zip(self.best_state, self.averaged):
                best[p].copy_(avg[p])
            return
        fit.since_best += 1
        if fit.since_best % cfg.decay_after == 0:
            fit.lr_scale *= 0.5
        fit.done = fit.since_best >= cfg.patience

    def run(self, tick: Callable[[int], None]) -> list[PairFit]:
        """Train until every pair stops or the budget runs out; ``tick(steps)`` reports progress."""
        cfg, n = self.cfg, len(self.feats)
        batch, every = min(cfg.batch_size, n), self.every
        everyone = torch.arange(len(self.fits), device=self.feats.device)
        for p, (val, se) in enumerate(self._validate(everyone)):
            self._record(p, 0, math.nan, val, se)
        window: list[Tensor] = []
        while self.step < cfg.max_steps:
            active = torch.tensor([p for p, f in enumerate(self.fits) if not f.done], dtype=torch.long)
            if len(active) == 0:
                break
            active = active.to(self.feats.device)
            window.append(self._train_step(active, batch))
            if self.step % every and self.step != cfg.max_steps:
                continue
            tick(len(window))
            train = torch.stack(window).mean(0).tolist()
            window = []
            for p, value, (val, se) in zip(active.tolist(), train, self._validate(active)):
                self._record(p, self.step, value, val if math.isfinite(value) else math.nan, se)
        return self.fits


def fit_separable_batch(
    critics: Sequence[SeparableCritic],
    index: Tensor,
    train: Tensor,
    val: Tensor,
    cfg: EstimatorConfig,
    tick: Callable[[int], None] = lambda steps: None,
    rivals: Sequence[float | None] | None = None,
) -> tuple[list[SeparableCritic], list[SeparableCritic | None], list[PairFit]]:
    """Train P separable critics together; return each at its best validation point, its last weights, and its record.

    ``critics`` are the P initial critics; ``index`` (P, 2, width) names the feature columns of each
    pair's x and y in ``train`` and ``val`` (rows, F + 1 columns, the last all zeros for padding).
    ``rivals``: per pair, a validation value another candidate reached (None: none); a pair stops
    training once its curve cannot reach it (:func:`neuralmi._train.out_of_reach`), as in
    :func:`~neuralmi.estimate.fit`. The last weights are returned only where nothing beat the
    untrained start (else None).
    """
    model = StackedSeparable(critics, (index.shape[2], index.shape[2])).to(train.device)
    loop = _BatchFit(model, cfg, (train, val, index.to(train.device)))
    for fit, rival in zip(loop.fits, rivals or []):
        fit.rival = rival
    fits = loop.run(tick)
    best = [model.export(p, critic, loop.best_state) for p, critic in enumerate(critics)]
    last = [
        model.export(p, _clone(critic), loop.averaged) if fit.best_step == 0 and fit.steps > 0 and not fit.diverged else None
        for p, (critic, fit) in enumerate(zip(critics, fits))
    ]
    return best, last, fits


def _clone(critic: SeparableCritic) -> SeparableCritic:
    import copy

    return copy.deepcopy(critic)
