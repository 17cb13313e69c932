"""The training loop of estimate_mi (neuralmi._train): its learning rate, step by step."""

from __future__ import annotations

import math

import pytest
import torch

from neuralmi import EstimatorConfig
from neuralmi._train import Trainer
from neuralmi.estimate import build_critic

from .conftest import NaNCritic


def test_the_trainer_follows_the_schedule_and_plateau_halvings() -> None:
    """Each step's rate is the schedule's, halved once per earlier validation point that failed to set a new best.

    The reference walks the recorded validation curve on its own (decay_after=1: every point without a
    new best is a plateau; first_margin=0: a new best is any higher smoothed value), and the rates
    are read from the optimiser as each step begins.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=gen)
    y = 0.5 * x + torch.randn(200, 2, generator=gen)
    cfg = EstimatorConfig(max_steps=60, eval_every=5, patience=100, decay_after=1, batch_size=32, lr=3e-3)
    trainer = Trainer(build_critic(cfg, 2, 2), cfg, (x[:150], y[:150]), (x[150:], y[150:]), first_margin=0.0)
    rates: list[float] = []
    step = trainer.optimizer.step

    def step_recording_the_rate() -> None:
        rates.append(trainer.optimizer.lr)
        step()

    trainer.optimizer.step = step_recording_the_rate
    assert trainer.run() == 60

    best, halvings, improved = -math.inf, 0, 0
    halvings_before: dict[int, int] = {}
    for step, value in zip(trainer.curve["step"], trainer.curve["val_smoothed"]):
        if value > best:
            best, improved = value, improved + (step > 0)
        else:
            halvings += 1
        halvings_before[int(step) + 1] = halvings  # in force from the next step on
    in_force = [halvings_before[max(s for s in halvings_before if s <= step)] for step in range(1, 61)]
    expected = [cfg.lr_at(step) * 0.5**h for step, h in zip(range(1, 61), in_force)]
    assert rates == pytest.approx(expected, rel=1e-12)
    assert improved >= 1 and halvings >= 2  # both branches ran: the test covers new bests and plateaus
    assert len(set(in_force)) > 2 and cfg.lr_at(60) < cfg.lr_at(1)  # and the schedule and the halvings both moved the rate


def test_a_critic_whose_curve_cannot_reach_a_rival_is_abandoned() -> None:
    """The straight extension of the last points' rate to the budget decides: below the rival, training stops."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 1, generator=gen)
    y = 0.5 * x + torch.randn(300, 1, generator=gen)
    cfg = EstimatorConfig(max_steps=400, eval_every=10, patience=100, batch_size=64)
    free = Trainer(build_critic(cfg, 1, 1), cfg, (x[:200], y[:200]), (x[200:], y[200:]))
    free.run()
    assert free.step == 400 and not free.abandoned  # no rival: the whole budget
    far = Trainer(build_critic(cfg, 1, 1), cfg, (x[:200], y[:200]), (x[200:], y[200:]), rival=50.0)
    far.run()
    assert far.abandoned and far.step == 10 * 5  # at the first chance: ABANDON_AFTER points after step 0
    near = Trainer(build_critic(cfg, 1, 1), cfg, (x[:200], y[:200]), (x[200:], y[200:]), rival=-1.0)
    near.run()
    assert not near.abandoned and near.step == 400  # already above the rival: never abandoned
    # the rule itself, on a curve laid down by hand: 0.1 nats per point, 10 points left
    probe = Trainer(build_critic(cfg, 1, 1), cfg, (x[:200], y[:200]), (x[200:], y[200:]), rival=1.5)
    probe.curve["val_smoothed"] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    probe.best, probe.step = 0.5, 300
    assert not probe._out_of_reach(10)  # 0.5 + 0.1 * 10 = 1.5: just reachable
    probe.rival = 1.51
    assert probe._out_of_reach(10)


def test_a_non_finite_first_validation_point_is_a_divergence_not_a_crash() -> None:
    """No best state was stored before the first point: training stops at step 0, flagged, with the starting weights."""
    x, y = torch.randn(40, 1), torch.randn(40, 1)
    cfg = EstimatorConfig(max_steps=20, eval_every=5, batch_size=8)
    critic = NaNCritic()
    trainer = Trainer(critic, cfg, (x[:30], y[:30]), (x[30:], y[30:]))
    assert trainer.run() == 0
    assert trainer.diverged and trainer.best_step == 0 and trainer.final_state is None
    assert critic.weight.item() == 1.0  # the starting weights, untouched
