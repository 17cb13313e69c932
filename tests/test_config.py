"""The config: run-time options outside it (deprecated inside), critic options checked against the critic, typed choices."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
import torch

from neuralmi import EstimatorConfig, MIResult, MIWarning, estimate_mi
from neuralmi.bounds import REGISTRY, REPORTABLE, BoundName, ReportName
from neuralmi.config import LR_SCHEDULES, MOVED_TO_RUN, LRSchedule, RunOptions, run_options
from neuralmi.critics import CRITICS, ConcatCritic, CriticName, SeparableCritic
from neuralmi.data import PREPROCESSORS, Preprocess
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import build_critic

from .conftest import correlated_gaussian

X, Y = correlated_gaussian(200, 2, 0.5, seed=7)
SMALL: dict[str, Any] = {"max_steps": 20, "eval_every": 10, "hidden": (8,), "embed_dim": 4, "gaussian_critic": False}


def quiet(config: EstimatorConfig | None = None, **kw: Any) -> MIResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        return estimate_mi(X, Y, config, **kw)


def test_run_time_options_are_not_config_fields() -> None:
    names = {f.name for f in dataclasses.fields(EstimatorConfig)}
    assert names.isdisjoint(MOVED_TO_RUN) and set(MOVED_TO_RUN) < {f.name for f in dataclasses.fields(RunOptions)}
    result = quiet(progress=False, device="cpu", **SMALL)
    assert set(result.to_dict()["config"]).isdisjoint(MOVED_TO_RUN) and result.device == "cpu"


def test_run_time_options_in_a_config_warn_and_still_apply(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    with pytest.warns(DeprecationWarning, match=r"EstimatorConfig\(progress, checkpoint=...\) is deprecated"):
        config = EstimatorConfig(progress=False, checkpoint=path, **SMALL)
    assert config == EstimatorConfig(**SMALL)  # not part of what the config compares or records
    assert run_options(config) == RunOptions(progress=False, checkpoint=str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # using the config warns no more
        first = quiet(config)
    assert path.exists()  # the deprecated checkpoint option was honoured
    assert quiet(config, checkpoint=tmp_path / "other.ckpt").nats == first.nats
    assert (tmp_path / "other.ckpt").exists()  # a keyword given to estimate_mi wins over the config's
    replaced = dataclasses.replace(config, lr=2e-3)
    assert replaced.lr == 2e-3 and run_options(replaced) == RunOptions()  # a replaced config carries no run options


def test_run_options_are_checked() -> None:
    for bad, message in [
        ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda'"),
        ({"progress": "yes"}, "progress must be True or False"),
        ({"checkpoint": 3}, "checkpoint must be a file path"),
        ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
        ({"threads": 0}, "threads must be a positive integer"),
    ]:
        with pytest.raises(NeuralMIError, match=message):
            RunOptions(**bad)
        with pytest.raises(NeuralMIError, match=message):
            quiet(**SMALL, **bad)
    assert RunOptions(device=torch.device("cpu"), threads=2).threads == 2 and RunOptions(device="auto").device == "auto"


@pytest.mark.parametrize(
    ("critic", "option", "value", "takes"),
    [
        ("concat", "embed_dim", 8, "hidden, activation"),
        ("bilinear", "hidden", (8,), "none of hidden, embed_dim, activation"),
        ("gaussian", "activation", "relu", "none of hidden, embed_dim, activation"),
        ("quadratic", "embed_dim", 4, "none of"),
    ],
)
def test_a_critic_option_the_critic_does_not_take_is_refused(critic: str, option: str, value: Any, takes: str) -> None:
    message = f"{option}={value!r} does not apply to critic='{critic}' (it takes {takes}"
    with pytest.raises(NeuralMIError, match=re.escape(message)):
        EstimatorConfig(critic=critic, **{option: value})  # type: ignore[arg-type]
    EstimatorConfig(critic=critic)  # at their defaults they are fine


def test_a_passed_critic_module_refuses_layout_options() -> None:
    with pytest.raises(NeuralMIError, match="hidden does not apply to a critic module you pass"):
        quiet(critic=SeparableCritic(2, 2, hidden=(8,), embed_dim=4), hidden=(16,), max_steps=5)


def test_the_critic_is_built_with_exactly_the_options_it_takes() -> None:
    concat = build_critic(EstimatorConfig(critic="concat", hidden=(8, 4), activation="tanh"), 2, 3)
    assert isinstance(concat, ConcatCritic) and concat.first_x.out_features == 8
    assert [type(m).__name__ for m in concat.head.modules() if not isinstance(m, torch.nn.Sequential)] == [
        "Tanh",
        "Linear",
        "Tanh",
        "Linear",
    ]
    separable = build_critic(EstimatorConfig(hidden=(6,), embed_dim=3), 2, 3)
    assert isinstance(separable, SeparableCritic) and separable.embed_dim == 3 and separable.g[0].out_features == 6


def test_each_choice_is_a_literal_that_names_its_registry() -> None:
    assert get_args(CriticName) == tuple(CRITICS)
    assert get_args(Preprocess) == tuple(PREPROCESSORS)
    assert get_args(BoundName) == tuple(REGISTRY)
    assert get_args(ReportName) == REPORTABLE
    assert get_args(LRSchedule) == LR_SCHEDULES == ("cosine", "constant")
    fields = {f.name: f.type for f in dataclasses.fields(EstimatorConfig)}
    assert (fields["critic"], fields["preprocess"], fields["lr_schedule"]) == ("CriticName", "Preprocess", "LRSchedule")
    with pytest.raises(NeuralMIError, match=r"unknown critic 'mlp'; choose one of \['bilinear', 'concat'"):
        EstimatorConfig(critic="mlp")  # type: ignore[arg-type]


def test_the_default_config_still_estimates() -> None:
    """No deprecation warning on the plain path (the README's call)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        result = quiet(progress=False, **SMALL)
    assert np.isfinite(result.nats)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seed": -1}, r"seed must be an integer from 0 to 2\*\*64 - 1, got -1 \(int\)"),
        ({"seed": "1"}, r"seed must be an integer .* got '1' \(str\)"),
        ({"seed": 2**70}, r"seed must be an integer .* got 1180591620717411303424 \(int\)"),
        ({"seed": 1.0}, r"seed must be an integer .* \(float\)"),
        ({"seed": True}, r"seed must be an integer .* \(bool\)"),
        ({"lr": "0.1"}, r"lr must be a number, got '0.1' \(str\)"),
        ({"test_fraction": None}, r"test_fraction must be a number, got None"),
    ],
)
def test_bad_numbers_are_refused_with_their_type(options: dict[str, object], message: str) -> None:
    with pytest.raises(NeuralMIError, match=message):
        EstimatorConfig(**options)  # type: ignore[arg-type]


def test_numpy_numbers_are_accepted_and_stored_as_python_numbers() -> None:
    config = EstimatorConfig(batch_size=np.int64(64), seed=np.uint64(2**64 - 1), max_steps=np.int32(10), lr=np.float32(0.5))  # type: ignore[arg-type]
    assert (config.batch_size, config.seed, config.max_steps, config.lr) == (64, 2**64 - 1, 10, 0.5)
    assert all(type(v) in (int, float) for v in (config.batch_size, config.seed, config.max_steps, config.lr))
    json.dumps(asdict(config))


def test_split_rows_is_the_seeded_cut_estimate_mi_makes_and_refuses_no_rows() -> None:
    cfg = EstimatorConfig(seed=3, test_fraction=0.2, val_fraction=0.2)
    train, val, test = cfg.split_rows(50)
    assert (len(train), len(val), len(test)) == (30, 10, 10)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(50))
    assert all(np.array_equal(a, b) for a, b in zip(cfg.split_rows(50), cfg.split_rows(np.int64(50))))
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive number of rows"):
            cfg.split_rows(bad)  # type: ignore[arg-type]
