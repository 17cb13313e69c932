r"""``estimate_mi``: measure I(X;Y) from paired samples with a held-out estimate and an error bar.

The pipeline: validate -> split (train / validation / test) -> map each feature with a
preprocessor fitted on the training split -> train the critic on all pairs of each batch -> stop
on a smoothed validation curve -> keep the closed-form Gaussian critic (refined by training as a
quadratic critic) instead if it wins on validation -> report the chosen bound on the untouched test
split, with a jackknife standard error.
No number is ever computed on samples the critic was trained or selected on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi._evaluate import REPORTABLE, score_blocks, summarise
from neuralmi._train import Trainer
from neuralmi.bounds import BOUNDS
from neuralmi.critics import CRITICS, FITTED_CRITICS, Activation, GaussianCritic, QuadraticCritic, make_critic
from neuralmi.data import PREPROCESSORS, Preprocessor, as_samples, check_pair, split_indices

__all__ = ["REPORT_WITH", "EstimatorConfig", "MIResult", "MIWarning", "build_critic", "estimate_mi", "pick_device"]

REPORT_WITH: dict[str, str] = {
    "js": "dv",
    "f_gan": "dv",
    "smile": "dv",
    "dv": "dv",
    "donsker_varadhan": "dv",
    "mine": "dv",
    "nwj": "dv",
    "mine_f": "dv",
    "f_kl": "dv",
    "tuba": "dv",
    "infonce": "infonce",
    "nce": "infonce",
}
"""Which bound reports the held-out estimate for each training bound (hand-written pairs).

Critics trained with JS/GAN, DV, NWJ, KL or SMILE converge to the log density ratio up to a
constant, which DV is invariant to, so they are reported with DV; InfoNCE critics are only
defined up to a per-row shift, so they report InfoNCE. The interpolated bound's optimal critic
carries a y-dependent normaliser that neither DV nor InfoNCE is invariant to: it is for MILoss only.
"""

LN2 = math.log(2.0)

GAUSSIAN_MAX_FEATURES = 1024
"""The Gaussian critic is a candidate only up to this many x plus y features (its covariance is (d, d))."""

QUADRATIC_TRAINING: dict[str, Any] = {"lr": 0.1, "lr_schedule": "constant", "eval_every": 50, "patience": 4, "weight_decay": 0.0}
"""How the quadratic critic trains from the Gaussian fit: a larger step than a network's for its few
parameters, checked every 50 steps, stopped after 4 checks without a new best (200 steps where the
fit is best), and no weight decay (it would shrink the fit). The bound, batch size, Polyak rate,
smoothing and plateau halving are the config's."""

LR_SCHEDULES = ("cosine", "constant")
"""Learning-rate schedules over ``max_steps`` (a plateau on validation halves the rate on top)."""


class MIWarning(UserWarning):
    """A result that needs the user's attention: near a ceiling, negative, or diverged."""


@dataclass(frozen=True)
class EstimatorConfig:
    """Every knob of :func:`estimate_mi`; frozen, so a result records exactly how it was made."""

    bound: str = "dv"
    report: str | None = None
    critic: str = "separable"
    hidden: tuple[int, ...] = (256,)
    activation: Activation = "elu"
    embed_dim: int = 32
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    average: float = 0.99
    max_steps: int = 2000
    lr_schedule: Literal["cosine", "constant"] = "cosine"  # cosine: lr decays to lr/10 at max_steps
    gaussian_critic: bool = True  # also fit the closed-form Gaussian critic; keep it if it wins on validation
    quadratic_steps: int = 500  # steps refining the Gaussian candidate as a trained QuadraticCritic (0: closed form only)
    eval_every: int | None = None
    patience: int = 10
    decay_after: int = 3
    smoothing: float = 0.5
    preprocess: Literal["standardize", "normal_scores"] = "normal_scores"
    test_fraction: float = 0.3
    val_fraction: float = 0.1
    eval_batch_size: int = 1024
    seed: int = 0
    device: str | None = None
    progress: bool = True
    checkpoint: str | None = None  # a file: written at validation points, resumed from when it exists
    checkpoint_every: int = 1  # write the checkpoint at every n-th validation point (and always at the last)

    def __post_init__(self) -> None:
        if self.bound not in REPORT_WITH:
            detail = "it does not estimate MI in nats; use it through MILoss" if self.bound in BOUNDS else "unknown bound"
            raise ValueError(
                f"bound {self.bound!r} cannot be used by estimate_mi ({detail}); choose one of {sorted(REPORT_WITH)}"
            )
        if self.report is not None and self.report not in REPORTABLE:
            raise ValueError(f"report must be one of {REPORTABLE}, got {self.report!r}")
        if not isinstance(self.quadratic_steps, int) or isinstance(self.quadratic_steps, bool) or self.quadratic_steps < 0:
            raise ValueError(f"quadratic_steps must be a non-negative integer, got {self.quadratic_steps!r}")
        if self.critic == "quadratic" and self.quadratic_steps == 0:
            raise ValueError(
                "critic='quadratic' trains the Gaussian fit for quadratic_steps steps, got 0; critic='gaussian' is the fit alone"
            )
        if not isinstance(self.gaussian_critic, bool):
            raise ValueError(f"gaussian_critic must be True or False, got {self.gaussian_critic!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.preprocess not in PREPROCESSORS:
            raise ValueError(f"preprocess must be one of {sorted(PREPROCESSORS)}, got {self.preprocess!r}")
        if self.critic not in CRITICS:
            raise ValueError(f"unknown critic {self.critic!r}; choose one of {sorted(CRITICS)}")
        if self.checkpoint is not None and self.critic in FITTED_CRITICS:
            raise ValueError(
                f"checkpoint applies to a trained network; critic={self.critic!r} is fitted in seconds and never checkpointed"
            )
        if self.checkpoint is not None:  # a PathLike is kept as its string, so the config stays JSON-safe
            if not isinstance(self.checkpoint, (str, os.PathLike)):
                raise ValueError(f"checkpoint must be a file path or None, got {self.checkpoint!r}")
            object.__setattr__(self, "checkpoint", os.fspath(self.checkpoint))
        names = ("batch_size", "max_steps", "eval_every", "patience", "decay_after", "eval_batch_size", "embed_dim")
        for name in (*names, "checkpoint_every"):
            value = getattr(self, name)
            if name == "eval_every" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2 or self.eval_batch_size < 2:
            raise ValueError("batch_size and eval_batch_size must be at least 2 (pairs need two samples)")
        if not (0 < self.test_fraction < 1 and 0 <= self.val_fraction < 1 and self.test_fraction + self.val_fraction < 1):
            raise ValueError(
                f"test_fraction and val_fraction must be in (0, 1) with a sum below 1, got {self.test_fraction} and {self.val_fraction}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a non-negative finite number, got {self.weight_decay!r}")
        if not 0 <= self.average < 1:
            raise ValueError(f"average (the weight-averaging rate) must lie in [0, 1), got {self.average}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must lie in [0, 1), got {self.smoothing}")

    def lr_at(self, step: int) -> float:
        """The scheduled learning rate of step ``step`` (1-based), before plateau halvings."""
        if self.lr_schedule == "constant":
            return self.lr
        progress = min(1.0, (step - 1) / max(1, self.max_steps - 1))
        return self.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))

    def evaluation_interval(self, n_train: int) -> int:
        """Steps between validation points: ``eval_every``, or about 10 epochs capped at 100 steps."""
        if self.eval_every is not None:
            return self.eval_every
        return min(100, 10 * math.ceil(n_train / self.batch_size))

    @property
    def report_bound(self) -> str:
        """The bound reported on the test split."""
        return self.report or REPORT_WITH[self.bound]


@dataclass
class MIResult:
    """An MI estimate on held-out samples, with its error bar and how it was made."""

    nats: float
    stderr: float
    ci: tuple[float, float]
    bound: str
    report: str
    n_train: int
    n_val: int
    n_test: int
    steps: int
    kept_step: int
    seconds: float
    curve: dict[str, list[float]]
    config: EstimatorConfig
    critic: nn.Module = field(repr=False)
    diverged: bool = False
    warnings: list[str] = field(default_factory=list)
    standardizers: tuple[Preprocessor, Preprocessor] | None = field(default=None, repr=False)
    x_shape: tuple[int, ...] = ()
    y_shape: tuple[int, ...] = ()
    critic_kind: str = ""  # the reported critic: the config's critic name, "gaussian", "quadratic", or a custom module's class
    selection: dict[str, float] = field(default_factory=dict)  # validation DV of each candidate critic

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return self.nats / LN2

    def __str__(self) -> str:
        lo, hi = self.ci
        return (
            f"I(X;Y) = {self.nats:.4f} nats ({self.bits:.4f} bits) ± {self.stderr:.4f}, 95% CI [{lo:.4f}, {hi:.4f}] "
            f"| {self.bound}->{self.report}, critic={self.critic_kind}, n_train={self.n_train}, n_test={self.n_test}, "
            f"{self.seconds:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (no tensors, no modules)."""
        config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self.config).items()}
        out = {
            "mi_nats": self.nats,
            "mi_bits": self.bits,
            "stderr": self.stderr,
            "stderr_bits": self.stderr / LN2,
            "ci_low": self.ci[0],
            "ci_high": self.ci[1],
            "bound": self.bound,
            "report": self.report,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "steps": self.steps,
            "kept_step": self.kept_step,
            "seconds": self.seconds,
            "diverged": self.diverged,
            "critic_kind": self.critic_kind,
            "selection": dict(self.selection),
            "warnings": list(self.warnings),
            "curve": self.curve,
            "config": config,
        }
        json.dumps(out)  # fail here, not in the user's serialiser
        return out


def pick_device(device: str | torch.device | None) -> torch.device:
    """The given device, or CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available on this machine")
    return dev


def build_critic(config: EstimatorConfig, x_dim: int, y_dim: int) -> nn.Module:
    """The critic a config names, initialised from its seed (the global RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.critic == "separable":
            return make_critic(
                "separable", x_dim, y_dim, hidden=config.hidden, embed_dim=config.embed_dim, activation=config.activation
            )
        if config.critic == "concat":
            return make_critic("concat", x_dim, y_dim, hidden=config.hidden, activation=config.activation)
        return make_critic(config.critic, x_dim, y_dim)  # bilinear, or an unfitted gaussian / quadratic


def _warn(result: MIResult, n_negatives: int) -> None:
    messages = []
    if result.diverged:
        messages.append("training diverged (non-finite bound); the last good critic was restored and used")
    ceiling = math.log(n_negatives) if result.report == "infonce" else math.log(result.n_test)
    if result.nats > ceiling - 1.0:
        what = "log of the number of negatives" if result.report == "infonce" else "log n_test"
        messages.append(
            f"estimate {result.nats:.3f} nats is near the ceiling {ceiling:.3f} nats ({what}) of the {result.report} bound; "
            "the true MI may be higher: use more samples"
        )
    if not result.diverged and result.steps > 0 and result.kept_step == 0 and result.critic_kind not in FITTED_CRITICS:
        messages.append(
            "no trained critic beat the untrained one (which scores every pair 0) by 2 standard errors on validation data: "
            "no dependence detected, and the estimate is 0 with a zero-width interval by construction"
        )
    if result.nats < 0:
        messages.append(f"held-out estimate is negative ({result.nats:.4f} nats): no dependence detected (MI is never negative)")
    for message in messages:
        warnings.warn(message, MIWarning, stacklevel=3)
    result.warnings.extend(messages)


def _train_quadratic(
    gaussian: GaussianCritic, train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[QuadraticCritic, Trainer]:
    """Train a :class:`QuadraticCritic` from the Gaussian fit for ``cfg.quadratic_steps`` steps of ``cfg.bound``.

    Step 0 is the closed-form fit, the maximum-likelihood one where the data are Gaussian. A
    refined step replaces it only if its smoothed validation bound is higher by one validation
    standard error (the one-standard-error rule: the simpler fit wins ties within the noise).
    """
    quadratic = QuadraticCritic.from_gaussian(gaussian)
    settings = dict(QUADRATIC_TRAINING, max_steps=cfg.quadratic_steps, progress=False, checkpoint=None)
    trainer = Trainer(quadratic, dataclasses.replace(cfg, **settings), train, val, first_margin=1.0)
    trainer.run()
    return quadratic, trainer


def _select_quadratic(
    trained: nn.Module, kind: str, train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[nn.Module, str, dict[str, float]]:
    """Keep the Gaussian critic (refined as a quadratic one, if that helped) if its bound is higher on validation.

    Like the first trained critic, it must also beat the untrained critic (DV = 0) by two validation
    standard errors; a fit that does not is not refined either (e.g. an overfitted covariance in
    many dimensions). The test split plays no part in the choice.
    """

    def on_val(critic: nn.Module) -> tuple[float, float]:
        return summarise(score_blocks(critic, *val, cfg.eval_batch_size), cfg.report_bound)

    gaussian = GaussianCritic.fit(*train)
    candidate: nn.Module = gaussian
    candidate_kind, (value, se) = "gaussian", on_val(gaussian)
    selection = {kind: on_val(trained)[0], "gaussian": value}
    # refine only a fit that detects dependence: a quadratic form sees it only through the cross-covariance
    if cfg.quadratic_steps > 0 and value > 2.0 * se:
        quadratic, trainer = _train_quadratic(gaussian, train, val, cfg)
        if trainer.best_step > 0:
            candidate, candidate_kind, (value, se) = quadratic, "quadratic", on_val(quadratic)
            selection["quadratic"] = value
    if value > selection[kind] and value > 2.0 * se:
        return candidate, candidate_kind, selection
    return trained, kind, selection


def estimate_mi(
    x: Any, y: Any, config: EstimatorConfig | None = None, *, critic: nn.Module | None = None, **options: Any
) -> MIResult:
    r"""Estimate I(X;Y) in nats and bits from paired samples, with a held-out error bar.

    ``x`` (n, ...) and ``y`` (n, ...) are numpy arrays, torch tensors, pandas objects or lists;
    a 1-D input is one feature. ``options`` override fields of :class:`EstimatorConfig`
    (``bound``, ``critic`` name, ``batch_size``, ``lr``, ``max_steps``, ``test_fraction``,
    ``seed``, ``device``, ``progress``, ...); ``critic=`` may also be an ``nn.Module`` of your
    own mapping (x, y) batches to (N, M) scores.

    The critic trains on all pairs of each batch of the training split, stops on a smoothed
    validation curve, and the ``report`` bound is computed on the test split only; ``stderr`` is
    its delete-one jackknife standard error and ``ci`` the 95% normal interval.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> r = estimate_mi(x, y, progress=False, max_steps=300)
    >>> abs(r.nats - 0.5108) < 4 * r.stderr + 0.05
    True
    """
    if isinstance(critic, str):
        options["critic"], critic = critic, None
    try:
        cfg = dataclasses.replace(config or EstimatorConfig(), **options)
    except TypeError as err:
        known = sorted(f.name for f in dataclasses.fields(EstimatorConfig))
        raise TypeError(f"{err}; estimate_mi options are {known}") from None
    start = time.perf_counter()
    xs, ys = as_samples(x, "x"), as_samples(y, "y")
    n_min = 3 * 4  # every split needs a few pairs
    check_pair(xs, ys, n_min)
    train_idx, val_idx, test_idx = split_indices(len(xs), (1 - cfg.test_fraction - cfg.val_fraction, cfg.val_fraction), cfg.seed)
    if min(len(train_idx), len(test_idx)) < 4:
        raise ValueError(
            f"too few rows to split: {len(xs)} samples give {len(train_idx)} for training and {len(test_idx)} for testing"
        )
    if len(val_idx) < 4:  # small data: stop on the training curve's held-out stand-in, the test split stays untouched
        val_idx = train_idx
    prep = PREPROCESSORS[cfg.preprocess]
    scalers = (prep.fit(xs[train_idx]), prep.fit(ys[train_idx]))
    device = pick_device(cfg.device)

    def part(idx: np.ndarray) -> tuple[Tensor, Tensor]:
        return tuple(torch.from_numpy(s(a[idx])).to(device) for s, a in zip(scalers, (xs, ys)))  # type: ignore[return-value]

    train, val, test = part(train_idx), part(val_idx), part(test_idx)
    dims = int(np.prod(xs.shape[1:])), int(np.prod(ys.shape[1:]))
    selection: dict[str, float] = {}
    model: nn.Module
    if critic is None and cfg.critic in FITTED_CRITICS:  # closed form, refined by training if quadratic
        try:
            model = GaussianCritic.fit(*train)
        except ValueError as err:
            raise ValueError(
                f"critic={cfg.critic!r} is fitted on the training split ({len(train_idx)} of {len(xs)} rows): {err}"
            ) from None
        steps, kept, diverged, kind = 0, 0, False, cfg.critic
        curve: dict[str, list[float]] = {"step": [], "train": [], "val": [], "val_smoothed": []}
        if cfg.critic == "quadratic":
            model, quadratic_trainer = _train_quadratic(model, train, val, cfg)
            steps, kept, curve, diverged = (
                quadratic_trainer.step,
                quadratic_trainer.best_step,
                quadratic_trainer.curve,
                quadratic_trainer.diverged,
            )
    else:
        model = (critic if critic is not None else build_critic(cfg, *dims)).to(device)
        trainer = Trainer(model, cfg, train, val)
        steps = trainer.run()
        kept, curve, diverged = trainer.best_step, trainer.curve, trainer.diverged
        kind = cfg.critic if critic is None else type(critic).__name__
        if critic is None and cfg.gaussian_critic and val_idx is not train_idx and sum(dims) <= GAUSSIAN_MAX_FEATURES:
            if len(train_idx) > 2 * sum(dims):
                model, kind, selection = _select_quadratic(model, kind, train, val, cfg)
    held_out = score_blocks(model, *test, cfg.eval_batch_size)
    nats, stderr = summarise(held_out, cfg.report_bound)
    result = MIResult(
        nats=nats,
        stderr=stderr,
        ci=(nats - 1.959964 * stderr, nats + 1.959964 * stderr),
        bound=cfg.bound,
        report=cfg.report_bound,
        n_train=len(train_idx),
        n_val=len(val_idx) if val_idx is not train_idx else 0,
        n_test=len(test_idx),
        steps=steps,
        kept_step=kept,
        seconds=time.perf_counter() - start,
        curve=curve,
        config=cfg,
        critic=model,
        diverged=diverged,
        standardizers=scalers,
        x_shape=tuple(xs.shape[1:]),
        y_shape=tuple(ys.shape[1:]),
        critic_kind=kind,
        selection=selection,
    )
    _warn(result, int(held_out.block.min()))
    return result
