r"""``estimate_cmi``: conditional mutual information I(X;Y|Z) from samples, with a held-out error bar.

.. math:: I(X; Y \mid Z) = \mathbb E \log \frac{p(y \mid x, z)}{p(y \mid z)}

Two mixture density networks (:class:`~neuralmi.density_ratio.MixtureDensityNetwork`) are fitted
by maximum likelihood on the training split: ``q(y|x,z)`` and ``q(y|z)`` (the model and its fits
are :mod:`neuralmi.conditional_ratio`). The estimate is the
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
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor

from neuralmi._call import Z95, normal_interval, resolve_config, torch_threads
from neuralmi.candidates import DETECTION_MARGIN
from neuralmi.conditional_ratio import ConditionalLogRatio, Modelled, fit_conditional, fit_nested
from neuralmi.config import EstimatorConfig, split_run_options
from neuralmi.data import as_samples, labels_hint
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import Prepared, default_threads, prepare
from neuralmi.labels import Categorical
from neuralmi.result import MIResult, MIWarning, Scaler, encode_pair

__all__ = [
    "CMIResult",
    "ConditionalLogRatio",
    "PreparedCMI",
    "estimate_cmi",
    "fit_conditional_ratio",
    "prepare_cmi",
    "report_cmi",
]


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
    ``curve`` is the validation log ratio ``"val"`` (the kept q(v|z)'s validation NLL minus
    q(v|u,z)'s) at each validation check ``"step"`` of q(v|u,z)'s training, step 0 its start.
    """

    quantity: ClassVar[str] = "I(X;Y|Z)"
    z_scaler: Scaler | None = field(default=None, repr=False)
    z_shape: tuple[int, ...] = ()

    def __str__(self) -> str:
        return super().__str__().replace("I(X;Y) =", "I(X;Y|Z) =", 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary, as :meth:`MIResult.to_dict`, with ``"quantity": "I(X;Y|Z)"``, Z's sample shape and whether Z holds labels."""
        discrete_z = isinstance(self.z_scaler, Categorical)
        return {**super().to_dict(), "quantity": self.quantity, "z_shape": list(self.z_shape), "discrete_z": discrete_z}

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
            ci=normal_interval(nats, stderr),
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
        try:
            as_samples(z, "z")  # errors name z, not the x of the pair prepare sees
        except NeuralMIError as err:
            raise labels_hint(err, "discrete_z=True") from None
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


def fit_conditional_ratio(
    data: PreparedCMI, cfg: EstimatorConfig, modelled: Modelled, nested: bool = True
) -> tuple[ConditionalLogRatio, dict[str, dict[str, Any]]]:
    """The fit stage: q(v|z), then q(v|u,z) from it, on the training split, each stopped on its validation likelihood."""
    (xt, yt, zt), (xv, yv, zv) = data.part("train"), data.part("val")
    (ut, vt), (uv, vv) = ((xt, yt), (xv, yv)) if modelled == "y" else ((yt, xt), (yv, xv))
    reduced, reduced_record = fit_conditional((zt, zv), (vt, vv), cfg)
    context = (torch.cat((ut, zt), 1), torch.cat((uv, zv), 1))
    fit_full = functools.partial(fit_nested, reduced) if nested else fit_conditional
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
    ci = normal_interval(nats, stderr) if detected else (0.0, max(0.0, nats) + Z95 * stderr)
    nats = nats if detected else 0.0
    xy = data.xy
    fitted = records["full"].get("curve", {"step": [], "val_nll": []})
    curve = {"step": fitted["step"], "val": [records["reduced"]["val_nll"] - nll for nll in fitted["val_nll"]]}
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
        curve=curve,
        config=cfg,
        critic=ratio,
        standardizers=xy.scalers,
        x_shape=xy.x_shape,
        y_shape=xy.y_shape,
        critic_kind="conditional_density_ratio",
        selection={"validation": val},
        detected=detected,
        still_improving=any(r["still_improving"] for r in records.values()),
        candidates={name: {k: v for k, v in rec.items() if k != "curve"} for name, rec in records.items()},
        threads=torch.get_num_threads(),
        device=str(xy.device),
        preprocess=cfg.preprocess,
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
    cfg, run = resolve_config(config, options, None, {**split_run_options(options), "threads": threads})
    if run.checkpoint is not None:
        raise NeuralMIError("estimate_cmi does not checkpoint: its density models train in seconds")
    if not isinstance(discrete_z, bool):
        raise NeuralMIError(f"discrete_z must be True or False, got {discrete_z!r}")
    start = time.perf_counter()
    data = prepare_cmi(x, y, z, cfg, discrete_z, run.device)
    dx, dy = data.xy.dims
    with torch_threads(run.threads or default_threads((dx + data.zy.dims[0], dy))):
        ratio, records = fit_conditional_ratio(data, cfg, _modelled(data.xy, cfg))
        return report_cmi(data, ratio, records, cfg, start)
