"""Saving and loading trained estimators: critic weights, standardisation and summary, nothing pickled."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralmi._files import atomic_write
from neuralmi.candidates import Ensemble, FromOneHot
from neuralmi.config import MOVED_TO_RUN
from neuralmi.critics import (
    ACTIVATIONS,
    FITTED_CRITICS,
    BilinearCritic,
    ConcatCritic,
    GaussianCritic,
    QuadraticCritic,
    SeparableCritic,
    make_critic,
)
from neuralmi.data import PREPROCESSORS
from neuralmi.density_ratio import DensityRatioCritic, MixtureDensityNetwork
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig, MIResult, Scaler, build_critic
from neuralmi.labels import Categorical, ClassifierCritic, ContingencyCritic, Swapped

__all__ = ["FORMAT_VERSION", "SavedEstimator", "build_critic_from", "describe_critic", "load", "save"]

FORMAT_VERSION = 1


def _mlp_layout(net: nn.Module) -> tuple[list[int], str]:
    """(hidden widths, activation name) of an :func:`~neuralmi.critics.mlp`."""
    layers = list(net.children())
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    acts = [m for m in layers if not isinstance(m, nn.Linear)]
    name = next((k for k, cls in ACTIVATIONS.items() if acts and type(acts[0]) is cls), "relu")
    return [m.out_features for m in linears[:-1]], name


def describe_critic(critic: nn.Module) -> dict[str, Any]:
    """The critic's class and constructor arguments as plain JSON: what :func:`build_critic_from` rebuilds before the weights load.

    A network the config names is ``{"type": "network"}`` (rebuilt from the config); a module of
    your own is ``{"type": "custom"}``, which cannot be rebuilt.
    """
    if isinstance(critic, (GaussianCritic, QuadraticCritic)):
        return {"type": "gaussian" if isinstance(critic, GaussianCritic) else "quadratic", "dims": [critic.x_dim, critic.y_dim]}
    if isinstance(critic, DensityRatioCritic):
        q = critic.conditional
        hidden, activation = _mlp_layout(q.net)
        return {
            "type": "density_ratio",
            "context_dim": q.context_dim,
            "features": q.features,
            "components": q.components,
            "hidden": hidden,
            "activation": activation,
            "scales": "tied" if q.tied else "free",
            "side": critic.side,
            "floor": critic.floor,
            "reference_rows": len(critic.reference),
        }
    if isinstance(critic, ClassifierCritic):
        hidden, activation = _mlp_layout(critic.network)
        return {
            "type": "classifier",
            "x_dim": critic.x_dim,
            "n_classes": critic.n_classes,
            "hidden": hidden,
            "activation": activation,
        }
    if isinstance(critic, ContingencyCritic):
        return {"type": "contingency", "shape": list(critic.table.shape)}
    if isinstance(critic, FromOneHot):
        return {"type": "one_hot", "coded": list(critic.coded), "inner": describe_critic(critic.critic)}
    if isinstance(critic, Swapped):
        return {"type": "swapped", "inner": describe_critic(critic.critic)}
    if isinstance(critic, Ensemble):
        return {"type": "ensemble", "members": [describe_critic(m) for m in critic.members]}
    if type(critic) in (SeparableCritic, ConcatCritic, BilinearCritic):
        return {"type": "network"}
    return {"type": "custom"}


def build_critic_from(spec: dict[str, Any], config: EstimatorConfig, dims: tuple[int, int]) -> nn.Module:
    """An unfitted critic of the layout :func:`describe_critic` wrote, ready for ``load_state_dict``."""
    kind = spec.get("type")
    if kind in ("gaussian", "quadratic"):
        return make_critic(kind, *spec["dims"])
    if kind == "density_ratio":
        q = MixtureDensityNetwork(
            spec["context_dim"],
            spec["features"],
            spec["components"],
            tuple(spec["hidden"]),
            activation=spec["activation"],
            scales=spec.get("scales", "free"),
        )
        reference = torch.zeros(spec["reference_rows"], spec["context_dim"])
        return DensityRatioCritic(q, reference, side=spec["side"], floor=spec["floor"])
    if kind == "classifier":
        return ClassifierCritic(spec["x_dim"], spec["n_classes"], tuple(spec["hidden"]), activation=spec["activation"])
    if kind == "contingency":
        return ContingencyCritic(*spec["shape"])
    if kind == "one_hot":
        return FromOneHot(build_critic_from(spec["inner"], config, dims), (bool(spec["coded"][0]), bool(spec["coded"][1])))
    if kind == "swapped":
        return Swapped(build_critic_from(spec["inner"], config, dims))
    if kind == "ensemble":
        return Ensemble([build_critic_from(m, config, dims) for m in spec["members"]])
    if kind == "network":
        return build_critic(config, *dims)
    raise NeuralMIError(f"cannot rebuild a critic described as {spec!r}")


def _rebuild_critic(config: EstimatorConfig, spec: dict[str, Any], x_shape: Sequence[int], y_shape: Sequence[int]) -> nn.Module:
    """The critic :func:`load` fills with the saved weights."""
    dims = int(np.prod(x_shape)), int(np.prod(y_shape))
    return build_critic_from(spec, config, dims)


def _layout(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Each weight's name and shape: what a state dict must match to load."""
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def save(result: MIResult, directory: str | Path, *, force: bool = False) -> Path:
    """Save a result's critic weights, config, standardisation and summary to ``directory``."""
    if result.standardizers is None:
        raise NeuralMIError("this MIResult carries no standardisation; save the result estimate_mi returned")
    spec = describe_critic(result.critic)
    rebuilt = None if spec["type"] == "custom" else _rebuild_critic(result.config, spec, result.x_shape, result.y_shape)
    if rebuilt is None or type(rebuilt) is not type(result.critic) or _layout(rebuilt) != _layout(result.critic):
        raise NeuralMIError(
            f"the critic is a {type(result.critic).__name__} module of your own, which neuralmi.load cannot rebuild; "
            "keep its weights with torch.save(result.critic.state_dict(), path) and rebuild the module yourself"
        )
    d = Path(directory)
    if d.exists() and not force:
        raise FileExistsError(f"{d} already exists; choose another directory or pass force=True (--force)")
    d.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "x_shape": list(result.x_shape),
        "y_shape": list(result.y_shape),
        "critic_spec": spec,
    }
    summary = {**result.to_dict(), **meta}
    x_prep, y_prep = result.standardizers
    arrays: dict[str, Any] = {
        **{f"x_{k}": v for k, v in x_prep.to_arrays().items()},
        **{f"y_{k}": v for k, v in y_prep.to_arrays().items()},
    }
    atomic_write(d / "critic.pt", lambda f: torch.save(result.critic.state_dict(), f))
    atomic_write(d / "standardizers.npz", lambda f: np.savez(f, **arrays))
    atomic_write(d / "result.json", lambda f: f.write(json.dumps(summary, indent=2).encode()))
    return d


@dataclass(repr=False)
class SavedEstimator:
    """A trained critic with its standardisation, reloaded by :func:`load`."""

    critic: nn.Module
    summary: dict[str, Any]
    x_prep: Scaler
    y_prep: Scaler

    def __repr__(self) -> str:
        """One line: the critic, the shapes it reads and the estimate it was saved with (not the curve and config)."""
        s = self.summary
        return (
            f"SavedEstimator({type(self.critic).__name__}, x_shape={tuple(s['x_shape'])}, y_shape={tuple(s['y_shape'])}, "
            f"mi_nats={s['mi_nats']:.4f} ± {s['stderr']:.4f}, {s['bound']}->{s['report']}, n_train={s['n_train']})"
        )

    def estimate(self, x: Any, y: Any, report: str | None = None) -> MIResult:
        """The saved critic's held-out estimate on new paired samples: :meth:`MIResult.evaluate` of the saved result.

        ``nats, stderr = saved.estimate(x, y)`` still unpacks, with a DeprecationWarning.
        """
        return self._result().evaluate(x, y, report)

    def _result(self) -> MIResult:
        """The saved result, holding the critic and its preprocessing (non-finite numbers were saved as null)."""
        s = self.summary

        def number(key: str) -> float:
            return math.nan if s[key] is None else float(s[key])

        rebuilt = {"nats", "stderr", "ci", "config", "critic", "standardizers", "x_shape", "y_shape", "device"}
        kept = {f.name: s[f.name] for f in dataclasses.fields(MIResult) if f.name not in rebuilt and f.name in s}
        return MIResult(
            nats=number("mi_nats"),
            stderr=number("stderr"),
            ci=(number("ci_low"), number("ci_high")),
            config=_config_from(s),
            critic=self.critic,
            standardizers=(self.x_prep, self.y_prep),
            x_shape=tuple(s["x_shape"]),
            y_shape=tuple(s["y_shape"]),
            device=str(next(itertools.chain(self.critic.parameters(), self.critic.buffers()), torch.empty(0)).device),
            **kept,
        )


def _config_from(summary: dict[str, Any]) -> EstimatorConfig:
    """The saved config (lists back to tuples; the run-time options of older files, no longer config fields, dropped)."""
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in summary["config"].items() if k not in MOVED_TO_RUN
    }
    return EstimatorConfig(**fields)


def load(directory: str | Path) -> SavedEstimator:
    """Load an estimator saved by :func:`save` (weights only: nothing is unpickled)."""
    d = Path(directory)
    for name in ("critic.pt", "standardizers.npz", "result.json"):
        if not (d / name).exists():
            raise FileNotFoundError(f"{d / name}: missing; is {d} a directory written by neuralmi save / --save?")
    summary = json.loads((d / "result.json").read_text())
    if summary.get("format_version") != FORMAT_VERSION:
        raise NeuralMIError(
            f"{d}: saved with format version {summary.get('format_version')}, this neuralmi reads {FORMAT_VERSION}"
        )
    cfg = _config_from(summary)
    kind = summary.get("critic_kind", "")
    spec = summary.get("critic_spec") or ({"type": kind, "dims": []} if kind in FITTED_CRITICS else {"type": "network"})
    if spec.get("type") in FITTED_CRITICS and not spec.get("dims"):
        spec["dims"] = [int(np.prod(summary["x_shape"])), int(np.prod(summary["y_shape"]))]
    critic = _rebuild_critic(cfg, spec, summary["x_shape"], summary["y_shape"])
    critic.load_state_dict(torch.load(d / "critic.pt", weights_only=True, map_location="cpu"))
    critic.eval()
    with np.load(d / "standardizers.npz", allow_pickle=False) as s:
        arrays = {k: s[k] for k in s.files}
    preprocess = summary.get("preprocess") or cfg.preprocess  # the reported critic's own (older files: the config's)
    if preprocess not in PREPROCESSORS:
        raise NeuralMIError(f"{d}: unknown preprocessing {preprocess!r} in result.json")
    preps = [Categorical if discrete else PREPROCESSORS[preprocess] for discrete in (cfg.discrete_x, cfg.discrete_y)]
    x_prep = preps[0].from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("x_")})
    y_prep = preps[1].from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("y_")})
    return SavedEstimator(critic, summary, x_prep, y_prep)
