"""The training loop of :func:`neuralmi.estimate_mi` (private): all pairs, Polyak averaging, early stopping, checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from neuralmi._evaluate import score_blocks, summarise
from neuralmi._optim import AdamW
from neuralmi.bounds import get_bound
from neuralmi.checkpoint import check_matches, fingerprint, load_checkpoint, save_checkpoint
from neuralmi.config import EstimatorConfig, RunOptions
from neuralmi.errors import NeuralMIError

__all__ = ["Trainer", "make_optimizer", "out_of_reach"]

STATE = (
    "step",
    "done",
    "diverged",
    "best",
    "best_state",
    "best_step",
    "since_best",
    "smoothed",
    "curve",
    "perm",
    "pos",
    "lr_scale",
)
"""Trainer attributes a checkpoint holds besides the critics, the optimiser and the generator."""

NOT_COMPARED = ("gaussian_critic", "quadratic_steps", "density_ratio", "ensemble")
"""Config fields that may differ on resumption: the candidates beside the trained critic are fitted
after training and never checkpointed. (The run-time options, :class:`RunOptions`, are not in the
config: a GPU run may resume on the CPU, though not bit for bit.)"""

QUIET = RunOptions(progress=False)
"""A run without progress bar or checkpoint: how the candidates beside the main network train."""


ABANDON_AFTER = 5
"""Validation points a critic trains for before it may be abandoned as out of a rival's reach."""

ABANDON_WINDOW = 3
"""Validation points over which the curve's recent rate of improvement is measured."""


def out_of_reach(smoothed: Sequence[float], best: float, rival: float | None, remaining: float) -> bool:
    """A smoothed validation curve, extended at its rate over the last ABANDON_WINDOW points for ``remaining`` more, stays below ``rival``.

    Learning curves flatten, so the straight extension is optimistic: a critic that could still win
    is not stopped by it. Never before ABANDON_AFTER validation points, and never without a rival.

    >>> out_of_reach([0.0, 0.1, 0.2, 0.25, 0.28, 0.3], 0.3, rival=1.0, remaining=5)  # 0.3 + 5 * 0.1 / 3 < 1
    True
    >>> out_of_reach([0.0, 0.1, 0.2, 0.25, 0.28, 0.3], 0.3, rival=0.45, remaining=5)
    False
    """
    if rival is None or len(smoothed) <= max(ABANDON_AFTER, ABANDON_WINDOW):
        return False
    rate = max(0.0, (smoothed[-1] - smoothed[-1 - ABANDON_WINDOW]) / ABANDON_WINDOW)
    return max(smoothed[-1], best) + rate * remaining < rival


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is optional
        return None
    return tqdm(total=total, initial=initial, desc="neuralmi", unit="step", leave=False, file=sys.stderr)


def make_optimizer(params: list[Tensor], lr: float, weight_decay: float) -> AdamW:
    """AdamW, fused into one kernel per step where PyTorch offers it (floating weights on CPU or CUDA)."""
    return AdamW(params, lr=lr, weight_decay=weight_decay)


class Trainer:
    """The training loop: all pairs of each batch, early stopping on a smoothed validation curve."""

    def __init__(
        self,
        critic: nn.Module,
        config: EstimatorConfig,
        train: tuple[Tensor, Tensor],
        val: tuple[Tensor, Tensor],
        first_margin: float = 2.0,
        rival: float | None = None,
        run: RunOptions = QUIET,
    ) -> None:
        """``first_margin``: validation standard errors by which the first kept step must beat step 0; ``run``: progress bar and checkpoint.

        ``rival``: a validation value another candidate reached; training is abandoned once this
        critic cannot reach it (:meth:`_out_of_reach`).
        """
        self.critic, self.config, self.train, self.val, self.run_options = critic, config, train, val, run
        self.first_margin, self.rival, self.abandoned = first_margin, rival, False
        self.bound = get_bound(config.bound)
        self.optimizer = make_optimizer(list(critic.parameters()), config.lr, config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.curve: dict[str, list[float]] = {"step": [], "train": [], "val": [], "val_smoothed": []}
        self.diverged, self.done, self.step, self.best_step = False, False, 0, 0
        self.best, self.best_state, self.since_best = -math.inf, dict[str, Any](), 0
        self.smoothed: float | None = None
        self.final_state: dict[str, Any] | None = None  # the last averaged weights, where the kept ones are step 0's
        self.lr_scale = 1.0  # halved at each validation plateau, on top of the schedule
        self.perm, self.pos = torch.empty(0, dtype=torch.long), 0
        self.averaged = copy.deepcopy(critic).eval().requires_grad_(False) if config.average > 0 else critic
        self.params: list[Tensor] = list(critic.parameters())
        self.averaged_params = [p.detach() for p in self.averaged.parameters()]

    def _validate(self) -> tuple[float, float]:
        """The report bound of the averaged critic on the validation split, and its standard error."""
        report = self.config.report_bound
        return summarise(score_blocks(self.averaged, *self.val, self.config.eval_batch_size, report), report)

    def _average(self) -> None:
        """Polyak averaging: the evaluated critic is an exponential moving average of the trained weights."""
        if self.config.average > 0:
            torch._foreach_lerp_(self.averaged_params, self.params, 1.0 - self.config.average)

    def _validation_point(self, step: int, train_value: float) -> bool:
        """Record a validation point; return True while training should go on (NaN train value at step 0)."""
        cfg = self.config
        val_value, val_se = self._validate() if step == 0 or math.isfinite(train_value) else (math.nan, math.nan)
        if not math.isfinite(val_value):
            self.diverged = True
            if not self.best_state:  # the first point: there is no good state to restore, so the starting weights stay
                self.best_state = copy.deepcopy(self.averaged.state_dict())
            return False
        smoothed = val_value if self.smoothed is None else cfg.smoothing * self.smoothed + (1 - cfg.smoothing) * val_value
        self.smoothed = smoothed
        for key, v in zip(("step", "train", "val", "val_smoothed"), (step, train_value, val_value, smoothed)):
            self.curve[key].append(float(v))
        # the first trained critic must beat step 0 (the untrained one: DV = 0) by first_margin validation standard errors
        if smoothed > self.best and (step == 0 or self.best_step > 0 or smoothed > self.best + self.first_margin * val_se):
            self.best, self.best_state, self.since_best = smoothed, copy.deepcopy(self.averaged.state_dict()), 0
            self.best_step = step
            return True
        self.since_best += 1
        if self.since_best % cfg.decay_after == 0:  # a plateau: halve the learning rate
            self.lr_scale *= 0.5
        return self.since_best < cfg.patience

    def _out_of_reach(self, every: int) -> bool:
        """The critic's validation curve cannot reach its rival in the steps left (:func:`out_of_reach`)."""
        remaining = max(0, self.config.max_steps - self.step) / every
        return out_of_reach(self.curve["val_smoothed"], self.best, self.rival, remaining)

    @functools.cached_property
    def identity(self) -> dict[str, dict[str, Any]]:
        """What a checkpoint must share with this run: the settings, the data and the critic's layout."""
        (x, y), (vx, vy) = self.train, self.val
        data = {"n_train": len(x), "n_val": len(vx), "x_shape": list(x.shape[1:]), "y_shape": list(y.shape[1:])}
        return {
            "configuration": {k: v for k, v in self._config_dict().items() if k not in NOT_COMPARED},
            "data": {**data, "fingerprint": fingerprint(x, y, vx, vy)},
            "critic": {k: list(v.shape) for k, v in self.critic.state_dict().items()},
        }

    def _config_dict(self) -> dict[str, Any]:
        """The config as plain values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self.config).items()}

    def _save(self) -> None:
        """Write everything needed to continue this run bit for bit to the configured checkpoint file."""
        path = self.run_options.checkpoint
        if path is None:
            raise NeuralMIError("no checkpoint file is configured")
        payload = {key: getattr(self, key) for key in STATE}
        payload.update(config=self._config_dict(), identity=self.identity, critic=self.critic.state_dict())
        payload.update(averaged=self.averaged.state_dict() if self.averaged is not self.critic else None)
        payload.update(optimizer=self.optimizer.state_dict(), generator=self.generator.get_state())
        save_checkpoint(path, payload)

    def _resume(self) -> bool:
        """Restore the state of the configured checkpoint file if it exists; return whether it did."""
        path = self.run_options.checkpoint
        if path is None or not Path(path).exists():
            return False
        payload = load_checkpoint(path)
        for what, current in self.identity.items():  # in order: the seed and fractions set the data split
            check_matches(path, what, payload["identity"][what], current)
        self.critic.load_state_dict(payload["critic"])
        if payload["averaged"] is not None:
            self.averaged.load_state_dict(payload["averaged"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.generator.set_state(payload["generator"])
        for key in STATE:
            setattr(self, key, payload[key])
        return True

    def _train_step(self, batch: int) -> Tensor:
        """One optimiser step on all pairs of the next batch of the data order; return the bound's value."""
        x, y = self.train
        if self.pos + batch > len(x):
            self.perm, self.pos = torch.randperm(len(x), generator=self.generator), 0
        idx = self.perm[self.pos : self.pos + batch].to(x.device)
        self.pos += batch
        self.optimizer.lr = self.config.lr_at(self.step) * self.lr_scale
        value = self.bound(self.critic(x[idx], y[idx]))
        self.optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        self.optimizer.step()
        self._average()
        return value.detach()

    def run(self) -> int:
        """Train (resuming from the checkpoint file, if any); leave the critic at the best validation point; return the steps."""
        cfg, run, n = self.config, self.run_options, len(self.train[0])
        batch, every = min(cfg.batch_size, n), cfg.evaluation_interval(n)
        if not self._resume():
            self.done = not self._validation_point(0, math.nan)  # the baseline to beat; non-finite: diverged at once
            self.perm = torch.randperm(n, generator=self.generator)
        bar, window = _progress(cfg.max_steps, self.step, run.progress), list[Tensor]()
        self.critic.train()
        while not self.done:
            self.step += 1
            window.append(self._train_step(batch))
            if self.step % every and self.step != cfg.max_steps:
                continue
            if bar is not None:
                bar.update(len(window))
            train_value, window = float(torch.stack(window).mean()), []
            self.done = not self._validation_point(self.step, train_value) or self.step >= cfg.max_steps
            if not self.done and self._out_of_reach(every):
                self.done = self.abandoned = True
            if run.checkpoint is not None and (self.done or (self.step // every) % run.checkpoint_every == 0):
                self._save()
        if bar is not None:
            bar.close()
        if self.best_step == 0 and self.step > 0 and not self.diverged:  # nothing beat step 0: keep the trained weights aside
            self.final_state = copy.deepcopy(self.averaged.state_dict())
        self.critic.load_state_dict(self.best_state)
        self.critic.eval()
        return self.step
