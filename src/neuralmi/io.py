"""Saving and loading trained estimators: critic weights, standardisation and summary, nothing pickled."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralmi._critic_specs import build_critic_from, describe_critic
from neuralmi._files import commit, read_folder, stage_folder
from neuralmi.cmi import CMIResult
from neuralmi.config import MOVED_TO_RUN, EstimatorConfig
from neuralmi.critics import (
    FITTED_CRITICS,
)
from neuralmi.data import PREPROCESSORS
from neuralmi.errors import NeuralMIError
from neuralmi.labels import Categorical
from neuralmi.result import MIResult, Scaler
from neuralmi.screen import Columns

__all__ = [
    "FORMAT_VERSION",
    "SAVED_FILES",
    "SavedEstimator",
    "build_critic_from",
    "check_save_target",
    "describe_critic",
    "load",
    "save",
    "saved_files",
]

FORMAT_VERSION = 2  # 2: result.json holds the SHA-256 of critic.pt and standardizers.npz
"""The layout :func:`save` writes; :func:`load` reads it and version 1 (no checksums)."""
READABLE_VERSIONS = (1, FORMAT_VERSION)
SAVED_FILES = ("critic.pt", "standardizers.npz", "result.json")
"""The files of a saved estimator's folder."""


def _rebuild_critic(config: EstimatorConfig, spec: dict[str, Any], x_shape: Sequence[int], y_shape: Sequence[int]) -> nn.Module:
    """The critic :func:`load` fills with the saved weights."""
    dims = int(np.prod(x_shape)), int(np.prod(y_shape))
    return build_critic_from(spec, config, dims)


def _layout(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """Each weight's name and shape: what a state dict must match to load."""
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def saved_files(result: MIResult) -> dict[str, bytes]:
    """The files :func:`save` writes, as bytes: ``critic.pt``, ``standardizers.npz`` and ``result.json``.

    ``result.json`` holds the SHA-256 of the other two, which :func:`load` checks.
    """
    if result.standardizers is None:
        raise NeuralMIError("this MIResult carries no standardisation; save the result estimate_mi returned")
    spec = describe_critic(result.critic)
    rebuilt = None if spec["type"] == "custom" else _rebuild_critic(result.config, spec, result.x_shape, result.y_shape)
    if rebuilt is None or type(rebuilt) is not type(result.critic) or _layout(rebuilt) != _layout(result.critic):
        raise NeuralMIError(
            f"the critic is a {type(result.critic).__name__} module of your own, which neuralmi.load cannot rebuild; "
            "keep its weights with torch.save(result.critic.state_dict(), path) and rebuild the module yourself"
        )
    preps = {"x": result.standardizers[0], "y": result.standardizers[1]}
    if isinstance(result, CMIResult):
        if result.z_scaler is None:
            raise NeuralMIError("this CMIResult carries no preprocessing of Z; save the result estimate_cmi returned")
        preps["z"] = result.z_scaler
    arrays: dict[str, Any] = {f"{side}_{k}": v for side, prep in preps.items() for k, v in prep.to_arrays().items()}
    critic, scalers = io.BytesIO(), io.BytesIO()
    torch.save(result.critic.state_dict(), critic)
    np.savez(scalers, **arrays)
    files = {"critic.pt": critic.getvalue(), "standardizers.npz": scalers.getvalue()}
    meta = {
        "format_version": FORMAT_VERSION,
        "x_shape": list(result.x_shape),
        "y_shape": list(result.y_shape),
        "critic_spec": spec,
        "checksums": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    return {**files, "result.json": json.dumps({**result.to_dict(), **meta}, indent=2).encode()}


def check_save_target(directory: str | Path, *, force: bool) -> Path:
    """Raise unless ``save`` may write ``directory``: absent, or (with ``force``) a folder holding only a saved estimator."""
    d = Path(directory)
    if d.exists() and not force:
        raise FileExistsError(f"{d} already exists; choose another directory or pass force=True (--force)")
    if d.exists() and not d.is_dir():
        raise NeuralMIError(f"{d} is a file; an estimator is saved as a folder")
    if d.is_dir():
        others = sorted(p.name for p in d.iterdir() if p.name not in SAVED_FILES)
        if others:
            raise NeuralMIError(
                f"{d} holds files other than a saved estimator's ({', '.join(others[:5])}); "
                "it is not replaced, choose another directory"
            )
    return d


def save(result: MIResult, directory: str | Path, *, force: bool = False) -> Path:
    """Save a result's critic weights, config, standardisation and summary to the folder ``directory``.

    The files are written in full into a new hidden folder beside it (with the umask's modes) and
    then renamed into place, so ``directory`` is the whole old folder or the whole new one, also
    for a concurrent ``load``, another writer or Ctrl-C. With ``force``, an existing folder is
    replaced if it holds only a saved estimator's files.
    """
    files = saved_files(result)
    d = check_save_target(directory, force=force)
    d.parent.mkdir(parents=True, exist_ok=True)
    commit([stage_folder(d, files, replace=force)])
    return d


@dataclass(repr=False)
class SavedEstimator:
    """A trained critic with its standardisation, reloaded by :func:`load`."""

    critic: nn.Module
    summary: dict[str, Any]
    x_prep: Scaler
    y_prep: Scaler
    z_prep: Scaler | None = None  # a conditional estimator's (I(X;Y|Z)) preprocessing of Z

    def __repr__(self) -> str:
        """One line: the critic, the shapes it reads and the estimate it was saved with (not the curve and config)."""
        s = self.summary
        return (
            f"SavedEstimator({type(self.critic).__name__}, {'I(X;Y|Z), ' if _conditional(s) else ''}x_shape={tuple(s['x_shape'])}, y_shape={tuple(s['y_shape'])}, "
            f"mi_nats={s['mi_nats']:.4f} ± {s['stderr']:.4f}, {s['bound']}->{s['report']}, n_train={s['n_train']})"
        )

    def estimate(self, x: Any, y: Any, report: str | None = None, *, z: Any = None) -> MIResult:
        """The saved critic's held-out estimate on new paired samples: :meth:`MIResult.evaluate` of the saved result.

        A conditional estimator (saved from :func:`~neuralmi.estimate_cmi`) needs the rows of Z as
        ``z`` and returns a :class:`~neuralmi.CMIResult`. ``nats, stderr = saved.estimate(x, y)``
        still unpacks, with a DeprecationWarning.
        """
        result = self.result()
        if isinstance(result, CMIResult):
            if z is None:
                raise NeuralMIError("this saved estimator measures I(X;Y|Z): pass the rows of Z as z=")
            return result.evaluate(x, y, z, report)
        if z is not None:
            raise NeuralMIError("this saved estimator measures I(X;Y); z applies to one saved from estimate_cmi")
        return result.evaluate(x, y, report)

    def result(self) -> MIResult:
        """The saved result, holding the critic and its preprocessing (non-finite numbers were saved as null).

        A :class:`~neuralmi.CMIResult` for an estimator saved from :func:`~neuralmi.estimate_cmi`.
        """
        s = self.summary

        def number(key: str) -> float:
            return math.nan if s[key] is None else float(s[key])

        conditional = self.z_prep is not None
        cls = CMIResult if conditional else MIResult
        rebuilt = {
            "nats",
            "stderr",
            "ci",
            "config",
            "critic",
            "standardizers",
            "x_shape",
            "y_shape",
            "device",
            "z_scaler",
            "z_shape",
        }
        kept = {f.name: s[f.name] for f in dataclasses.fields(cls) if f.name not in rebuilt and f.name in s}
        if conditional:
            kept |= {"z_scaler": self.z_prep, "z_shape": tuple(s["z_shape"])}
        return cls(
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


def _read(d: Path) -> dict[str, bytes]:
    """The three files of a saved folder, read through one handle (a folder replaced meanwhile is read again)."""
    if not d.is_dir():
        raise NeuralMIError(
            f"{d}: {'no such folder' if not d.exists() else 'a file, not a folder'} (neuralmi.load reads a folder written by save / --save)"
        )
    for attempt in range(3):
        try:
            return read_folder(d, SAVED_FILES)
        except FileNotFoundError as err:
            missing = Path(err.filename or "?").name
            if attempt == 2 or not all((d / name).exists() for name in SAVED_FILES):
                raise NeuralMIError(f"{d}: {missing} is missing; is {d} a folder written by neuralmi save / --save?") from None
    raise AssertionError("unreachable")


def _conditional(summary: dict[str, Any]) -> bool:
    """The summary is of a conditional estimator, saved from :func:`~neuralmi.estimate_cmi`."""
    return summary.get("quantity") == "I(X;Y|Z)"


def _finite_or_null(value: Any) -> bool:
    """True for a finite number (``to_dict`` writes a non-finite one as null)."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def _check_fields(d: Path, summary: Any) -> dict[str, Any]:
    """The summary of ``result.json`` after checking the type of every field :func:`load` and :class:`SavedEstimator` read."""
    if not isinstance(summary, dict):
        raise NeuralMIError(f"{d}/result.json: holds a {type(summary).__name__}, not an object")
    version = summary.get("format_version")
    if version not in READABLE_VERSIONS:
        raise NeuralMIError(f"{d}: saved with format version {version}, this neuralmi reads {FORMAT_VERSION}")

    def is_shape(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in v)

    checks = {
        "x_shape": is_shape,
        "y_shape": is_shape,
        "config": lambda v: isinstance(v, dict),
        "critic_spec": lambda v: v is None or isinstance(v, dict),
        "bound": lambda v: isinstance(v, str),
        "report": lambda v: isinstance(v, str),
        "n_train": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "mi_nats": _finite_or_null,
        "stderr": _finite_or_null,
    }
    if _conditional(summary):  # Z's shape and kind too
        checks |= {"z_shape": is_shape, "discrete_z": lambda v: isinstance(v, bool)}
    if version == FORMAT_VERSION:
        checks["checksums"] = lambda v: isinstance(v, dict) and all(isinstance(v.get(n), str) for n in SAVED_FILES[:2])
    for key, ok in checks.items():
        if key not in summary or not ok(summary[key]):
            raise NeuralMIError(f"{d}/result.json: field {key!r} is {'missing' if key not in summary else 'malformed'}")
    return summary


def load(directory: str | Path) -> SavedEstimator:
    """Load an estimator saved by :func:`save` (weights only: nothing is unpickled; checksums verified).

    A missing, altered or unreadable file raises ``NeuralMIError`` naming the folder.
    """
    d = Path(directory)
    raw = _read(d)
    try:
        summary = _check_fields(d, json.loads(raw["result.json"]))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NeuralMIError(f"{d}/result.json: not valid JSON ({err})") from None
    for name, expected in (summary.get("checksums") or {}).items():
        if name in raw and hashlib.sha256(raw[name]).hexdigest() != expected:
            raise NeuralMIError(f"{d}/{name}: checksum mismatch, the file changed after it was saved (a damaged or edited file)")
    try:
        return _rebuild(summary, raw)
    except NeuralMIError as err:
        raise NeuralMIError(f"{d}: {err}") from None
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise NeuralMIError(f"{d}: not a loadable saved estimator ({type(err).__name__}: {str(err)[:200]})") from None


def _rebuild(summary: dict[str, Any], raw: dict[str, bytes]) -> SavedEstimator:
    """The estimator described by a checked summary, with the weights and preprocessing of the raw files."""
    cfg = _config_from(summary)
    kind = summary.get("critic_kind", "")
    spec = summary.get("critic_spec") or ({"type": kind, "dims": []} if kind in FITTED_CRITICS else {"type": "network"})
    if spec.get("type") in FITTED_CRITICS and not spec.get("dims"):
        spec["dims"] = [int(np.prod(summary["x_shape"])), int(np.prod(summary["y_shape"]))]
    critic = _rebuild_critic(cfg, spec, summary["x_shape"], summary["y_shape"])
    critic.load_state_dict(torch.load(io.BytesIO(raw["critic.pt"]), weights_only=True, map_location="cpu"))
    critic.eval()
    with np.load(io.BytesIO(raw["standardizers.npz"]), allow_pickle=False) as s:
        arrays = {k: s[k] for k in s.files}
    preprocess = summary.get("preprocess") or cfg.preprocess  # the reported critic's own (older files: the config's)
    if preprocess not in PREPROCESSORS:
        raise NeuralMIError(f"unknown preprocessing {preprocess!r} in result.json")
    preps = [Categorical if discrete else PREPROCESSORS[preprocess] for discrete in (cfg.discrete_x, cfg.discrete_y)]
    if _conditional(summary):  # Z of a conditional estimator
        preps.append(Categorical if summary["discrete_z"] else PREPROCESSORS[preprocess])
    parts = [{k[2:]: v for k, v in arrays.items() if k.startswith(f"{side}_")} for side in "xyz"]
    x_prep, y_prep = (Columns.from_arrays(prep, part) for prep, part in zip(preps[:2], parts))  # a screened side too
    z_prep = [prep.from_arrays(part) for prep, part in zip(preps[2:], parts[2:])]
    return SavedEstimator(critic, summary, x_prep, y_prep, *z_prep)
