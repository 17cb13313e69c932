"""The training loop of :func:`neuralmi.estimate_mi` (private): all pairs, Polyak averaging, early stopping."""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import torch
from torch import Tensor, nn

from neuralmi._evaluate import score_blocks, summarise
from neuralmi.bounds import get_bound

__all__ = ["Trainer"]


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is optional
        return None
    return tqdm(total=total, desc="neuralmi", unit="step", leave=False, file=sys.stderr)


class Trainer:
    """The training loop: all pairs of each batch, early stopping on a smoothed validation curve."""

    def __init__(self, critic: nn.Module, config: Any, train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor]) -> None:
        self.critic, self.config, self.train, self.val = critic, config, train, val
        self.bound = get_bound(config.bound)
        self.optimizer = torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.curve: dict[str, list[float]] = {"step": [], "train": [], "val": [], "val_smoothed": []}
        self.diverged = False
        self.best, self.best_state, self.since_best = -math.inf, dict[str, Any](), 0
        self.smoothed: float | None = None
        self.averaged = copy.deepcopy(critic).eval().requires_grad_(False) if config.average > 0 else critic
        self.params: list[Tensor] = list(critic.parameters())
        self.averaged_params = [p.detach() for p in self.averaged.parameters()]

    def _validate(self) -> float:
        value, _ = summarise(score_blocks(self.averaged, *self.val, self.config.eval_batch_size), self.config.report_bound)
        return value

    def _average(self) -> None:
        """Polyak averaging: the evaluated critic is an exponential moving average of the trained weights."""
        if self.config.average > 0:
            torch._foreach_lerp_(self.averaged_params, self.params, 1.0 - self.config.average)

    def _checkpoint(self, step: int, train_value: float) -> bool:
        """Record a validation point; return True while training should go on (NaN train value at step 0)."""
        cfg = self.config
        val_value = self._validate() if step == 0 or math.isfinite(train_value) else math.nan
        if not math.isfinite(val_value):
            self.diverged = True
            return False
        smoothed = val_value if self.smoothed is None else cfg.smoothing * self.smoothed + (1 - cfg.smoothing) * val_value
        self.smoothed = smoothed
        for key, v in zip(("step", "train", "val", "val_smoothed"), (step, train_value, val_value, smoothed)):
            self.curve[key].append(float(v))
        if smoothed > self.best:
            self.best, self.best_state, self.since_best = smoothed, copy.deepcopy(self.averaged.state_dict()), 0
            return True
        self.since_best += 1
        if self.since_best % cfg.decay_after == 0:  # a plateau: halve the learning rate
            for group in self.optimizer.param_groups:
                group["lr"] *= 0.5
        return self.since_best < cfg.patience

    def run(self) -> int:
        """Train; leave the critic at the best smoothed validation point; return the steps taken."""
        cfg, (x, y) = self.config, self.train
        n, batch = len(x), min(self.config.batch_size, len(self.train[0]))
        every = cfg.evaluation_interval(n)
        self._checkpoint(0, math.nan)  # the untrained critic is the baseline to beat
        perm, pos, window, step = torch.randperm(n, generator=self.generator), 0, [], 0
        bar = _progress(cfg.max_steps, cfg.progress)
        self.critic.train()
        for step in range(1, cfg.max_steps + 1):
            if pos + batch > n:
                perm, pos = torch.randperm(n, generator=self.generator), 0
            idx = perm[pos : pos + batch].to(x.device)
            pos += batch
            value = self.bound(self.critic(x[idx], y[idx]))
            self.optimizer.zero_grad(set_to_none=True)
            (-value).backward()
            self.optimizer.step()
            self._average()
            window.append(value.detach())
            if step % every and step != cfg.max_steps:
                continue
            if bar is not None:
                bar.update(len(window))
            train_value = float(torch.stack(window).mean())
            window = []
            if not self._checkpoint(step, train_value):
                break
        if bar is not None:
            bar.close()
        self.critic.load_state_dict(self.best_state)
        self.critic.eval()
        return step
