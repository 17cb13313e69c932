r"""``MIResult``: what :func:`~neuralmi.estimate_mi` returns — the held-out estimate, its error bar and how it was made.

Also :class:`MIWarning`, the warning category of results that need attention, and :func:`encode_pair`, which
sends new samples through a result's fitted preprocessing (:meth:`MIResult.evaluate`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from neuralmi._call import normal_interval as _interval
from neuralmi._evaluate import score_blocks, summarise
from neuralmi._plausibility import implausible
from neuralmi.bounds import check_reportable
from neuralmi.config import EstimatorConfig
from neuralmi.data import Preprocessor, as_samples, check_pair
from neuralmi.errors import NeuralMIError
from neuralmi.labels import Categorical
from neuralmi.screen import Columns

__all__ = ["LN2", "MIResult", "MIWarning", "Scaler", "encode_pair", "json_safe"]

LN2 = math.log(2.0)

Scaler = Preprocessor | Categorical | Columns
"""A side's preprocessing fitted on the training split: per-feature maps (of screened columns), or one-hot labels."""


class MIWarning(UserWarning):
    """A result that needs the user's attention: near a ceiling, negative, diverged, or a lower bound only."""


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, recursively: strict JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass
class MIResult:
    """An MI estimate on held-out samples, with its error bar and how it was made.

    Every field describes the critic that is reported (``critic_kind``): its training steps,
    curve and divergence. ``candidates`` records each candidate critic's validation value and
    curve; ``selection`` is their validation values alone. ``deterministic``: the dependence is
    deterministic, or too strong for the test split to measure; ``nats`` is then a lower bound and
    ``ci`` runs to infinity (the true MI may be infinite). ``knn``: the KSG check on the test split
    (``nats``, ``stderr``, ``k``, ``rows``, ``ci_high_before``); where it lies above the critic's
    interval, ``ci``'s upper limit is raised to its upper 95% limit (the critic may be short).
    ``in_sample``: the reported critic's bound on as many of its own training rows as the test
    split holds (``nats``, ``stderr``, ``rows``); ``ci``'s upper limit is raised to its upper 95%
    limit where that lies above, before the KSG check (see ``neuralmi._optimism``).
    """

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
    standardizers: tuple[Scaler, Scaler] | None = field(default=None, repr=False)
    x_shape: tuple[int, ...] = ()
    y_shape: tuple[int, ...] = ()
    critic_kind: str = ""  # the reported critic: the config's critic name, "gaussian", "quadratic", or a custom module's class
    selection: dict[str, float] = field(default_factory=dict)  # validation value of each candidate critic
    detected: bool = True  # some candidate beat the untrained critic by 2 validation standard errors
    still_improving: bool = False  # the reported critic's step budget ran out while it was still improving
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    threads: int = 1
    device: str = "cpu"
    preprocess: str = ""  # the reported critic's preprocessing of continuous sides ("" before the report stage)
    deterministic: bool = False  # the dependence is deterministic or too strong to measure: nats is a lower bound
    knn: dict[str, float] = field(default_factory=dict)  # the KSG check on the test split (see _crosscheck); {} where none ran
    in_sample: dict[str, float] = field(default_factory=dict)  # the critic on its training rows (_optimism); {} where none ran
    screen: dict[str, Any] = field(default_factory=dict)  # wide inputs: the columns kept by the screen (neuralmi.screen), else {}

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return self.nats / LN2

    def __str__(self) -> str:
        lo, hi = self.ci
        head = (
            f"I(X;Y) >= {lo:.4f} nats ({lo / LN2:.4f} bits), a 95% lower limit (deterministic or near-deterministic "
            f"dependence: the true MI may be infinite); estimate {self.nats:.4f} ± {self.stderr:.4f} "
            if self.deterministic
            else f"I(X;Y) = {self.nats:.4f} nats ({self.bits:.4f} bits) ± {self.stderr:.4f}, 95% CI [{lo:.4f}, {hi:.4f}] "
        )
        return (
            head + f"| {self.bound}->{self.report}, critic={self.critic_kind}, n_train={self.n_train}, n_test={self.n_test}, "
            f"{self.seconds:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (no tensors, no modules; non-finite numbers become null: ``ci_high`` of a lower bound)."""
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
            "detected": self.detected,
            "still_improving": self.still_improving,
            "deterministic": self.deterministic,
            "critic_kind": self.critic_kind,
            "selection": dict(self.selection),
            "candidates": self.candidates,
            "threads": self.threads,
            "device": self.device,
            "preprocess": self.preprocess,
            "knn": dict(self.knn),
            "in_sample": dict(self.in_sample),
            "screen": self.screen,
            "warnings": list(self.warnings),
            "curve": self.curve,
            "config": config,
        }
        out = json_safe(out)
        json.dumps(out, allow_nan=False)  # fail here, not in the user's serialiser
        return out

    def __iter__(self) -> Iterator[float]:
        """Deprecated: ``nats, stderr = result`` unpacks as the tuple ``SavedEstimator.estimate`` once returned."""
        return iter(self._as_tuple())

    def __getitem__(self, index: int) -> float:
        """Deprecated: ``result[0]`` / ``result[1]`` index the (nats, stderr) tuple ``SavedEstimator.estimate`` once returned."""
        return self._as_tuple()[index]

    def _as_tuple(self) -> tuple[float, float]:
        warnings.warn(
            "reading an MIResult as the tuple (nats, stderr) is deprecated; read result.nats and result.stderr",
            DeprecationWarning,
            stacklevel=3,
        )
        return (self.nats, self.stderr)

    def evaluate(self, x: Any, y: Any, report: str | None = None) -> MIResult:
        """The fitted critic's held-out bound on new paired samples, as a result with its own error bar.

        The samples go through the preprocessing fitted on the training split; ``report`` picks
        another reporting bound. Nothing is trained; ``n_test`` is the new sample count. A critic
        whose scores on them are not finite (NaN weights, say) raises ``NeuralMIError``; an estimate
        below -1 nat warns.
        """
        if self.standardizers is None:
            raise NeuralMIError("this result holds no fitted preprocessing; it cannot score new samples")
        report = report or self.report
        check_reportable(report)
        tx, ty = encode_pair(x, y, self.standardizers, (self.x_shape, self.y_shape), _module_device(self.critic))
        start = time.perf_counter()
        nats, stderr = summarise(score_blocks(self.critic, tx, ty, self.config.eval_batch_size), report)
        problem, messages = implausible(nats, stderr), []
        if problem is not None and not math.isfinite(nats + stderr):
            raise NeuralMIError(
                f"the {self.critic_kind} critic gives no estimate on these samples: {problem}; are its weights finite?"
            )
        if problem is not None:
            messages.append(f"the {self.critic_kind} critic on these samples: {problem}; are they unlike the training samples?")
            warnings.warn(messages[0], MIWarning, stacklevel=2)
        lo, hi = _interval(nats, stderr)
        return dataclasses.replace(
            self,
            nats=nats,
            stderr=stderr,
            ci=(lo, math.inf if self.deterministic else hi),
            report=report,
            n_test=len(tx),
            seconds=time.perf_counter() - start,
            warnings=messages,
            knn={},
            in_sample={},
        )


def encode_pair(
    x: Any, y: Any, scalers: tuple[Scaler, Scaler], shapes: tuple[Sequence[int], Sequence[int]], device: torch.device
) -> tuple[Tensor, Tensor]:
    """New paired samples through a fitted critic's preprocessing: checked against its sample shapes, as tensors."""
    encoded = []
    for name, data, scaler, shape in (("x", x, scalers[0], shapes[0]), ("y", y, scalers[1], shapes[1])):
        if isinstance(scaler, Categorical):
            encoded.append(scaler(data))
            continue
        arr = as_samples(data, name)
        shape = scaler.input_shape if isinstance(scaler, Columns) else shape
        if tuple(arr.shape[1:]) != tuple(shape):
            raise NeuralMIError(f"{name} samples have shape {arr.shape[1:]}, the critic was fitted on {tuple(shape)}")
        encoded.append(scaler(arr))
    check_pair(encoded[0], encoded[1], 4)
    return torch.from_numpy(encoded[0]).to(device), torch.from_numpy(encoded[1]).to(device)


def _module_device(module: nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")
