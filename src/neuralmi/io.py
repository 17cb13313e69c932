"""Saving and loading trained estimators: critic weights, standardisation and summary, nothing pickled."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralmi._evaluate import score_blocks, summarise
from neuralmi._files import atomic_write
from neuralmi.critics import FITTED_CRITICS, make_critic
from neuralmi.data import PREPROCESSORS, Preprocessor, as_samples, check_pair
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig, MIResult, build_critic

__all__ = ["FORMAT_VERSION", "SavedEstimator", "load", "save"]

FORMAT_VERSION = 1


def _rebuild_critic(config: EstimatorConfig, kind: str, x_shape: Sequence[int], y_shape: Sequence[int]) -> nn.Module:
    """The critic :func:`load` fills with the saved weights: a fitted kind by its name, else the network the config names."""
    dims = int(np.prod(x_shape)), int(np.prod(y_shape))
    return make_critic(kind, *dims) if kind in FITTED_CRITICS else build_critic(config, *dims)


def _layout(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Each weight's name and shape: what a state dict must match to load."""
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def save(result: MIResult, directory: str | Path, *, force: bool = False) -> Path:
    """Save a result's critic weights, config, standardisation and summary to ``directory``."""
    if result.standardizers is None:
        raise NeuralMIError("this MIResult carries no standardisation; save the result estimate_mi returned")
    rebuilt = _rebuild_critic(result.config, result.critic_kind, result.x_shape, result.y_shape)
    if type(rebuilt) is not type(result.critic) or _layout(rebuilt) != _layout(result.critic):
        raise NeuralMIError(
            f"the critic is a {type(result.critic).__name__} module of your own, which neuralmi.load cannot rebuild; "
            "keep its weights with torch.save(result.critic.state_dict(), path) and rebuild the module yourself"
        )
    d = Path(directory)
    if d.exists() and not force:
        raise FileExistsError(f"{d} already exists; choose another directory or pass force=True (--force)")
    d.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "x_shape": list(result.x_shape), "y_shape": list(result.y_shape)}
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
    x_prep: Preprocessor
    y_prep: Preprocessor

    def __repr__(self) -> str:
        """One line: the critic, the shapes it reads and the estimate it was saved with (not the curve and config)."""
        s = self.summary
        return (
            f"SavedEstimator({type(self.critic).__name__}, x_shape={tuple(s['x_shape'])}, y_shape={tuple(s['y_shape'])}, "
            f"mi_nats={s['mi_nats']:.4f} ± {s['stderr']:.4f}, {s['bound']}->{s['report']}, n_train={s['n_train']})"
        )

    def estimate(self, x: Any, y: Any, report: str | None = None) -> tuple[float, float]:
        """(MI in nats, standard error) of the saved critic on new paired samples."""
        xs, ys = as_samples(x, "x"), as_samples(y, "y")
        check_pair(xs, ys, 4)
        for name, arr, shape in (("x", xs, self.summary["x_shape"]), ("y", ys, self.summary["y_shape"])):
            if list(arr.shape[1:]) != list(shape):
                raise NeuralMIError(f"{name} samples have shape {arr.shape[1:]}, the saved critic was trained on {tuple(shape)}")
        device = next(itertools.chain(self.critic.parameters(), self.critic.buffers())).device
        tx, ty = torch.from_numpy(self.x_prep(xs)).to(device), torch.from_numpy(self.y_prep(ys)).to(device)
        held = score_blocks(self.critic, tx, ty, int(self.summary["config"]["eval_batch_size"]))
        return summarise(held, report or self.summary["report"])


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
    cfg_fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in summary["config"].items()}
    cfg = EstimatorConfig(**cfg_fields)
    critic = _rebuild_critic(cfg, summary.get("critic_kind", ""), summary["x_shape"], summary["y_shape"])
    critic.load_state_dict(torch.load(d / "critic.pt", weights_only=True, map_location="cpu"))
    critic.eval()
    prep = PREPROCESSORS[cfg.preprocess]
    with np.load(d / "standardizers.npz", allow_pickle=False) as s:
        arrays = {k: s[k] for k in s.files}
    x_prep = prep.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("x_")})
    y_prep = prep.from_arrays({k[2:]: v for k, v in arrays.items() if k.startswith("y_")})
    return SavedEstimator(critic, summary, x_prep, y_prep)
