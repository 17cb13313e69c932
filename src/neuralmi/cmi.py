r"""``estimate_cmi``: conditional mutual information I(X;Y|Z) from samples, with a held-out error bar.

.. math:: I(X; Y \mid Z) = \mathbb E \log \frac{p(y \mid x, z)}{p(y \mid z)}

Two mixture density networks (:class:`~neuralmi.density_ratio.MixtureDensityNetwork`) are fitted
by maximum likelihood on the training split: ``q(y|x,z)`` and ``q(y|z)``. The estimate is the
mean of the pointwise log ratio ``log q(y|x,z) - log q(y|z)`` over the untouched test split, and
its standard error is that of a mean over test rows: both terms are evaluated on the same rows, so
the error bar is paired. Each model's shortfall is a KL divergence,
``estimate = I(X;Y|Z) - E KL(p(y|x,z) || q(y|x,z)) + E KL(p(y|z) || q(y|z))``; both models start
from the same least-squares linear-Gaussian fit and share one family, so their errors partly cancel.
The measured comparison with a locally permuted critic and the chain-rule difference of two
``estimate_mi`` fits is in ``docs/guide/cmi.md`` (``benchmarks/cmi.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi.candidates import DETECTION_MARGIN
from neuralmi.config import EstimatorConfig, split_run_options
from neuralmi.data import as_samples
from neuralmi.density_ratio import MixtureDensityNetwork, fit_density_ratio
from neuralmi.density_ratio import _train as _train_mdn
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import (
    Z95,
    MIResult,
    MIWarning,
    Prepared,
    Scaler,
    _config,
    _interval,
    _threads,
    default_threads,
    encode_pair,
    prepare,
)
from neuralmi.labels import Categorical

__all__ = [
    "CMIResult",
    "ConditionalLogRatio",
    "PreparedCMI",
    "estimate_cmi",
    "fit_conditional_ratio",
    "prepare_cmi",
    "report_cmi",
]

Modelled = Literal["y", "x"]


class ConditionalLogRatio(nn.Module):
    r"""Pointwise ``log q(v|u,z) - log q(v|z)`` of two fitted conditional densities, v the modelled side.

    With ``modelled="y"``, u = x and v = y; with ``"x"``, the roles swap (I(X;Y|Z) is symmetric).
    ``ratio(x, y, z)[i]`` is the log ratio of row i, shape (N,).

    >>> full, reduced = MixtureDensityNetwork(3, 1, hidden=(8,)), MixtureDensityNetwork(2, 1, hidden=(8,))
    >>> ConditionalLogRatio(full, reduced).ratio(torch.randn(4, 1), torch.randn(4, 1), torch.randn(4, 2)).shape
    torch.Size([4])
    """

    def __init__(self, full: MixtureDensityNetwork, reduced: MixtureDensityNetwork, modelled: Modelled = "y") -> None:
        super().__init__()
        if modelled not in ("y", "x"):
            raise NeuralMIError(f"modelled must be 'y' or 'x', got {modelled!r}")
        if full.features != reduced.features or full.context_dim <= reduced.context_dim:
            raise NeuralMIError(
                f"the full model q(v|u,z) must model the reduced one's {reduced.features} features from more context, "
                f"got {full.features} features from {full.context_dim} (reduced: {reduced.context_dim})"
            )
        self.full, self.reduced, self.modelled = full, reduced, modelled

    @torch.no_grad()
    def ratio(self, x: Tensor, y: Tensor, z: Tensor, rows: int = 4096) -> Tensor:
        """``log q(v_i | u_i, z_i) - log q(v_i | z_i)`` for aligned rows, (N,), in chunks of ``rows``."""
        u, v = (x, y) if self.modelled == "y" else (y, x)
        u, v, z = (t.reshape(len(t), -1).float() for t in (u, v, z))
        out = [
            self.full.pairs(torch.cat((a, c), 1), b) - self.reduced.pairs(c, b)
            for a, b, c in zip(u.split(rows), v.split(rows), z.split(rows))
        ]
        return torch.cat(out)

    def forward(self, x: Tensor, y: Tensor, z: Tensor) -> Tensor:
        """Same as :meth:`ratio`."""
        return self.ratio(x, y, z)


def _mean_and_stderr(values: Tensor) -> tuple[float, float]:
    """Mean of per-row values in float64 and its standard error ``std / sqrt(n)``."""
    v = np.asarray(values.double().cpu())
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))


@dataclass
class CMIResult(MIResult):
    """An :class:`~neuralmi.MIResult` for I(X;Y|Z): the held-out mean log ratio, its paired error bar, the fits.

    ``critic`` is the :class:`ConditionalLogRatio`; ``bound`` is ``"likelihood"`` (both models are
    fitted by maximum likelihood) and ``report`` is ``"log_ratio"``. ``candidates`` holds each
    model's fit ("full": q(v|u,z), "reduced": q(v|z)); ``z_scaler`` and ``z_shape`` describe Z.
    """

    z_scaler: Scaler | None = field(default=None, repr=False)
    z_shape: tuple[int, ...] = ()

    def __str__(self) -> str:
        return super().__str__().replace("I(X;Y) =", "I(X;Y|Z) =", 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary, as :meth:`MIResult.to_dict`, with ``"quantity": "I(X;Y|Z)"`` and Z's sample shape."""
        return {**super().to_dict(), "quantity": "I(X;Y|Z)", "z_shape": list(self.z_shape)}

    def evaluate(self, x: Any, y: Any, z: Any = None, report: str | None = None) -> CMIResult:  # type: ignore[override]
        """The fitted models' held-out estimate on new rows (x, y, z), with its own error bar; nothing is trained."""
        if z is None or self.standardizers is None or self.z_scaler is None:
            raise NeuralMIError("evaluate needs new x, y and z rows, and a result that holds its fitted preprocessing")
        if report not in (None, self.report):
            raise NeuralMIError(f"a conditional estimate reports only {self.report!r}, got report={report!r}")
        assert isinstance(self.critic, ConditionalLogRatio)
        device = next(self.critic.parameters()).device
        tx, ty = encode_pair(x, y, self.standardizers, (self.x_shape, self.y_shape), device)
        tz = _encode_z(z, self.z_scaler, self.z_shape, device)
        if len(tz) != len(tx):
            raise NeuralMIError(f"z must have one row per (x, y) pair, got {len(tz)} and {len(tx)}")
        start = time.perf_counter()
        nats, stderr = _mean_and_stderr(self.critic.ratio(tx, ty, tz))
        return dataclasses.replace(
            self,
            nats=nats,
            stderr=stderr,
            ci=_interval(nats, stderr),
            n_test=len(tx),
            seconds=time.perf_counter() - start,
            warnings=[],
        )


def _encode_z(z: Any, scaler: Scaler, shape: tuple[int, ...], device: torch.device) -> Tensor:
    """New z rows through the preprocessing fitted on the training split."""
    if isinstance(scaler, Categorical):
        return torch.from_numpy(scaler(z)).to(device)
    arr = as_samples(z, "z")
    if tuple(arr.shape[1:]) != tuple(shape):
        raise NeuralMIError(f"z samples have shape {arr.shape[1:]}, the models were fitted on {tuple(shape)}")
    return torch.from_numpy(scaler(arr)).to(device)


# ---------------------------------------------------------------- prepare


@dataclass(frozen=True)
class PreparedCMI:
    """The prepare stage of :func:`estimate_cmi`: prepared (x, y) and (z, y) on one split (``prepare`` splits by row count and seed alone)."""

    xy: Prepared
    zy: Prepared

    def part(self, name: Literal["train", "val", "test"]) -> tuple[Tensor, Tensor, Tensor]:
        """(x, y, z) of one split, each flattened to (n, features)."""
        (x, y), (z, _) = getattr(self.xy, name), getattr(self.zy, name)
        return x.flatten(1), y.flatten(1), z.flatten(1)


def prepare_cmi(
    x: Any, y: Any, z: Any, cfg: EstimatorConfig, discrete_z: bool = False, device: str | torch.device | None = None
) -> PreparedCMI:
    """Validate, split by seeded index and fit each side's preprocessing on the training split, as :func:`~neuralmi.estimate.prepare`."""
    if not discrete_z:
        as_samples(z, "z")  # errors name z, not the x of the pair prepare sees
    if cfg.discrete_x and cfg.discrete_y:
        raise NeuralMIError("estimate_cmi models one continuous side given the others; x and y are both declared discrete")
    xy = prepare(x, y, cfg, device, alternative=False)
    zy = prepare(z, y, dataclasses.replace(cfg, discrete_x=discrete_z), device, alternative=False)
    return PreparedCMI(xy, zy)


def _modelled(data: Prepared, cfg: EstimatorConfig) -> Modelled:
    """The side whose density is modelled: the continuous one, the narrower where both are (y on a tie)."""
    if cfg.discrete_y:
        return "x"
    if cfg.discrete_x:
        return "y"
    dx, dy = data.dims
    return "y" if dy <= dx else "x"


# ---------------------------------------------------------------- fit


def _fit_conditional(
    context: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[MixtureDensityNetwork, dict[str, Any]]:
    """``q(target | context)`` by maximum likelihood on the training rows, stopped on the validation NLL, and its record."""
    critic = fit_density_ratio(
        (context[0], target[0]),
        (context[1], target[1]),
        seed=cfg.seed,
        max_steps=cfg.max_steps,
        batch_size=cfg.batch_size,
        device=context[0].device,
        side="y|x",
    )
    record = {
        "val_nll": critic.val_nll,
        "steps": critic.steps,
        "kept_step": critic.kept_step,
        "still_improving": critic.steps >= cfg.max_steps and critic.kept_step == critic.steps,
    }
    return critic.conditional, record


def _extend_context(q: MixtureDensityNetwork, extra: int) -> MixtureDensityNetwork:
    """A copy of ``q(v|z)`` taking context ``[u, z]``, its ``extra`` leading u features weighted 0: the same density."""
    first = q.net[0]
    assert isinstance(first, nn.Linear)
    hidden = [m.out_features for m in q.net if isinstance(m, nn.Linear)][:-1]
    scales: Literal["tied", "free"] = "tied" if q.tied else "free"
    full = MixtureDensityNetwork(q.context_dim + extra, q.features, q.components, hidden, scales=scales).to(first.weight.device)
    state = {k: v.clone() for k, v in q.state_dict().items()}
    for key in ("net.0.weight", "linear.weight"):
        state[key] = torch.cat((state[key].new_zeros(len(state[key]), extra), state[key]), 1)
    full.load_state_dict(state)
    return full


@torch.no_grad()
def _refit_linear_(full: MixtureDensityNetwork, context: Tensor, v: Tensor) -> None:
    """Least squares of the residuals ``w - E_q[w | context]`` on ``[context, 1]`` (float64), added to the linear mean; scales shrunk to match.

    Where the data are Gaussian this gives the full model the exact linear conditional mean of the
    added context; where u adds nothing given z, the coefficients are noise of order 1/sqrt(n).
    """
    log_weights, means, _ = full.mixture(context)
    w = full.whiten(v).double()
    residual = w - (log_weights.exp()[..., None] * means).sum(1).double()
    design = torch.cat((context.double(), torch.ones_like(residual[:, :1])), 1)
    gram = design.T @ design
    ridge = 1e-9 * gram.diagonal().max() * torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    coef = torch.linalg.solve(gram + ridge, design.T @ residual)
    after = residual - design @ coef
    full.linear.weight.add_(coef[:-1].T.float())
    full.linear.bias.add_(coef[-1].float())
    shrink = 0.5 * torch.log(after.var(0) / residual.var(0)).float()  # (d,) log-scale change per dimension
    last = full.net[-1]
    assert isinstance(last, nn.Linear)
    k, d = full.components, full.features
    start = k * (1 + d)
    if full.tied:
        last.bias[start + k :].add_(shrink)
    else:
        last.bias[start:].add_(shrink.repeat(k))


def _fit_nested(
    reduced: MixtureDensityNetwork, context: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[MixtureDensityNetwork, dict[str, Any]]:
    """``q(v|u,z)`` started from the fitted ``q(v|z)`` (u weighted 0), trained by maximum likelihood, stopped on validation."""
    full = _extend_context(reduced, context[0].shape[1] - reduced.context_dim)
    _refit_linear_(full, context[0], target[0])
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    steps, kept, best = _train_mdn(
        full, (context[0], target[0]), (context[1], target[1]), generator, cfg.max_steps, cfg.batch_size, 3e-3, 100, 5
    )
    record = {
        "val_nll": best - float(full.log_det),
        "steps": steps,
        "kept_step": kept,
        "still_improving": steps >= cfg.max_steps and kept == steps,
    }
    return full, record


def fit_conditional_ratio(
    data: PreparedCMI, cfg: EstimatorConfig, modelled: Modelled, nested: bool = True
) -> tuple[ConditionalLogRatio, dict[str, dict[str, Any]]]:
    """The fit stage: q(v|z), then q(v|u,z) from it, on the training split, each stopped on its validation likelihood."""
    (xt, yt, zt), (xv, yv, zv) = data.part("train"), data.part("val")
    (ut, vt), (uv, vv) = ((xt, yt), (xv, yv)) if modelled == "y" else ((yt, xt), (yv, xv))
    reduced, reduced_record = _fit_conditional((zt, zv), (vt, vv), cfg)
    context = (torch.cat((ut, zt), 1), torch.cat((uv, zv), 1))
    fit_full = functools.partial(_fit_nested, reduced) if nested else _fit_conditional
    full, full_record = fit_full(context, (vt, vv), cfg)
    return ConditionalLogRatio(full, reduced, modelled).eval(), {"full": full_record, "reduced": reduced_record}


# ---------------------------------------------------------------- report


def _messages(result: CMIResult, notes: tuple[str, ...]) -> list[str]:
    messages = list(notes)
    improving = [name for name, rec in result.candidates.items() if rec["still_improving"]]
    if improving:
        messages.append(
            f"the {' and '.join(improving)} model(s) were still improving when the budget of {result.config.max_steps} steps ran "
            "out; raise max_steps"
        )
    if not result.detected:
        messages.append(
            "no conditional dependence detected: q(v|u,z) did not beat q(v|z) by 2 standard errors on validation data; "
            "the estimate is 0 and the interval runs from 0 to the upper 95% limit of the held-out log ratio"
        )
    elif result.nats < 0:
        messages.append(
            f"held-out estimate is negative ({result.nats:.4f} nats): no conditional dependence detected (CMI is never negative)"
        )
    return messages


def report_cmi(
    data: PreparedCMI, ratio: ConditionalLogRatio, records: dict[str, dict[str, Any]], cfg: EstimatorConfig, start: float
) -> CMIResult:
    """The report stage: the mean log ratio on the untouched test split, its paired standard error, warnings.

    Where q(v|u,z) does not beat q(v|z) on validation by :data:`~neuralmi.candidates.DETECTION_MARGIN`
    standard errors, no conditional dependence is detected, as in :func:`~neuralmi.estimate_mi`:
    the estimate is 0 and the interval runs from 0 to the held-out value's upper 95% limit.
    """
    nats, stderr = _mean_and_stderr(ratio.ratio(*data.part("test")))
    val, val_se = _mean_and_stderr(ratio.ratio(*data.part("val")))
    detected = val > DETECTION_MARGIN * val_se and val > 0
    ci = _interval(nats, stderr) if detected else (0.0, max(0.0, nats) + Z95 * stderr)
    nats = nats if detected else 0.0
    xy = data.xy
    result = CMIResult(
        nats=nats,
        stderr=stderr,
        ci=ci,
        bound="likelihood",
        report="log_ratio",
        n_train=len(xy.train[0]),
        n_val=len(xy.val[0]),
        n_test=len(xy.test[0]),
        steps=records["full"]["steps"] + records["reduced"]["steps"],
        kept_step=records["full"]["kept_step"],
        seconds=0.0,
        curve={},
        config=cfg,
        critic=ratio,
        standardizers=xy.scalers,
        x_shape=xy.x_shape,
        y_shape=xy.y_shape,
        critic_kind="conditional_density_ratio",
        selection={"validation": val},
        detected=detected,
        still_improving=any(r["still_improving"] for r in records.values()),
        candidates=records,
        threads=torch.get_num_threads(),
        device=str(xy.device),
        z_scaler=data.zy.scalers[0],
        z_shape=data.zy.x_shape,
    )
    messages = _messages(result, tuple(dict.fromkeys((*xy.notes, *data.zy.notes))))
    for message in messages:
        warnings.warn(message, MIWarning, stacklevel=3)
    result.warnings.extend(messages)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------- the entry point


def estimate_cmi(
    x: Any,
    y: Any,
    z: Any,
    config: EstimatorConfig | None = None,
    *,
    discrete_z: bool = False,
    threads: int | None = None,
    **options: Any,
) -> CMIResult:
    r"""Estimate the conditional mutual information I(X;Y|Z) in nats and bits, with a held-out error bar.

    .. math:: \hat I = \frac1{n_{test}} \sum_{i \in test} \log q(y_i \mid x_i, z_i) - \log q(y_i \mid z_i)

    ``x``, ``y``, ``z`` (n, ...) are paired rows in any form :func:`~neuralmi.estimate_mi` takes.
    The split (60/10/30 by seeded index) and the per-feature preprocessing fitted on the training
    split are :func:`~neuralmi.estimate.prepare`'s; ``options`` override :class:`EstimatorConfig`
    fields (``max_steps`` and ``batch_size`` set the two density fits, ``seed``, ``test_fraction``,
    ``preprocess``, ``device``, ``discrete_x`` / ``discrete_y``); ``discrete_z`` declares Z as
    class labels. The narrower continuous side of x and y is modelled by two mixture density
    networks fitted by maximum likelihood (Bishop 1994), q(v|u,z) and q(v|z); ``stderr`` is the
    standard error of the mean log ratio over the test rows and ``ci`` the 95% normal interval. The
    estimate is not a bound and may come out negative. Where q(v|u,z) does not beat q(v|z) by two
    standard errors on validation, the result reports no conditional dependence (``detected`` is
    False): 0, with the interval from 0 to the held-out value's upper 95% limit.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=1500); x = z + rng.normal(size=1500); y = z + rng.normal(size=1500)
    >>> r = estimate_cmi(x, y, z, max_steps=100)
    >>> bool(r.ci[0] <= 0.0 <= r.ci[1])
    True
    """
    cfg, run = _config(config, options, None, {**split_run_options(options), "threads": threads})
    if run.checkpoint is not None:
        raise NeuralMIError("estimate_cmi does not checkpoint: its density models train in seconds")
    if not isinstance(discrete_z, bool):
        raise NeuralMIError(f"discrete_z must be True or False, got {discrete_z!r}")
    start = time.perf_counter()
    data = prepare_cmi(x, y, z, cfg, discrete_z, run.device)
    dx, dy = data.xy.dims
    with _threads(run.threads or default_threads((dx + data.zy.dims[0], dy))):
        ratio, records = fit_conditional_ratio(data, cfg, _modelled(data.xy, cfg))
        return report_cmi(data, ratio, records, cfg, start)
