"""Peer estimators run on the very same samples: KSG (classical k-NN) and torch-mist (in its own venv).

torch-mist needs numpy < 2 and pandas, so it is never a dependency of neuralmi: ``make peers``
builds ``.peers-venv`` and :func:`torch_mist` runs a small worker script there through a
subprocess, passing samples through a temporary ``.npz`` file.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuralmi.data import split_indices
from neuralmi.estimate import EstimatorConfig

__all__ = ["PEERS", "PeerResult", "ksg", "neuralmi_split", "peers_python", "torch_mist"]

WORKER = Path(__file__).with_name("_torch_mist_worker.py")


@dataclass(frozen=True)
class PeerResult:
    """A peer's estimate in nats and its wall time in seconds."""

    nats: float
    seconds: float


def _max_norm_counts(z: torch.Tensor, radius: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each row i, the number of rows j != i with ||z_j - z_i||_inf < radius_i."""
    counts = []
    for start in range(0, len(z), chunk):
        d = torch.cdist(z[start : start + chunk], z, p=float("inf"))
        counts.append((d < radius[start : start + chunk, None]).sum(1) - 1)
    return torch.cat(counts)


def _jitter(a: np.ndarray) -> np.ndarray:
    """Flattened float64 copy with noise of 1e-10 of each feature's scale: ties (discrete data) break as in sklearn."""
    flat = np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float64)
    scale = np.maximum(flat.std(axis=0), 1e-300)
    return flat + 1e-10 * scale * np.random.default_rng(0).normal(size=flat.shape)


def ksg(x: np.ndarray, y: np.ndarray, k: int = 3, chunk: int = 1024) -> PeerResult:
    r"""KSG estimator, algorithm 1 of Kraskov, Stögbauer & Grassberger (2004), max-norm, O(n^2) memory-bounded.

    .. math:: \hat I = \psi(k) + \psi(n) - \langle \psi(n_x + 1) + \psi(n_y + 1) \rangle

    >>> import math
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1)); y = x + rng.normal(size=(2000, 1))
    >>> abs(ksg(x, y).nats - 0.5 * math.log(2)) < 0.05
    True
    """
    start = time.perf_counter()
    tx, ty = (torch.from_numpy(_jitter(a)) for a in (x, y))
    n = len(tx)
    eps = []
    for s in range(0, n, chunk):
        d = torch.maximum(torch.cdist(tx[s : s + chunk], tx, p=float("inf")), torch.cdist(ty[s : s + chunk], ty, p=float("inf")))
        eps.append(d.kthvalue(k + 1, dim=1).values)  # the 0th neighbour is the point itself
    radius = torch.cat(eps)
    nx, ny = _max_norm_counts(tx, radius, chunk), _max_norm_counts(ty, radius, chunk)
    digamma = torch.special.digamma
    value = digamma(torch.tensor(float(k))) + digamma(torch.tensor(float(n))) - (digamma(nx + 1.0) + digamma(ny + 1.0)).mean()
    return PeerResult(float(value), time.perf_counter() - start)


def peers_python() -> Path | None:
    """The interpreter of the peers' venv: ``$NEURALMI_PEERS_PYTHON``, or ``.peers-venv`` here, if present."""
    env = os.environ.get("NEURALMI_PEERS_PYTHON")
    path = Path(env) if env else Path(".peers-venv") / "bin" / "python"
    return path if path.exists() else None


def neuralmi_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows :func:`neuralmi.estimate_mi` fits on (training and validation) and tests on, at its default fractions."""
    defaults = EstimatorConfig()
    train, val, test = split_indices(n, (1 - defaults.test_fraction - defaults.val_fraction, defaults.val_fraction), seed)
    return np.concatenate([train, val]), test


def torch_mist(x: np.ndarray, y: np.ndarray, estimator: str = "mine", *, seed: int = 0, timeout: float = 3600) -> PeerResult:
    """torch-mist's ``estimate_mi`` at its defaults for ``estimator``, one thread, in the peers' venv.

    It trains (with its own validation split) on neuralmi's training and validation samples and
    reports on neuralmi's test split for the same ``seed`` (:func:`neuralmi_split`).
    """
    python = peers_python()
    if python is None:
        raise RuntimeError("torch-mist is not installed: run `make peers` (or set NEURALMI_PEERS_PYTHON)")
    fit, test = neuralmi_split(len(x), seed)
    flat_x, flat_y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "out.json"
        np.savez(data, x=flat_x[fit], y=flat_y[fit], x_test=flat_x[test], y_test=flat_y[test])
        cmd = [str(python), str(WORKER), str(data), str(out), estimator, str(seed)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            raise RuntimeError(f"torch-mist worker failed: {done.stderr.strip().splitlines()[-1:]}")
        result = json.loads(out.read_text())
    return PeerResult(float(result["nats"]), float(result["seconds"]))


PEERS = {
    "ksg": lambda x, y, seed=0: ksg(x, y),
    "torch_mist_mine": lambda x, y, seed=0: torch_mist(x, y, "mine", seed=seed),
    "torch_mist_smile": lambda x, y, seed=0: torch_mist(x, y, "smile", seed=seed),
    "torch_mist_infonce": lambda x, y, seed=0: torch_mist(x, y, "infonce", seed=seed),
}
"""Peer estimators by name (hand-written)."""
