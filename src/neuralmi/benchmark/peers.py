"""Peer estimators run on the very same samples: KSG (classical k-NN, :func:`neuralmi.ksg`) and torch-mist (in its own venv).

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
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuralmi.estimate import EstimatorConfig
from neuralmi.knn import ksg as public_ksg

__all__ = ["PEERS", "PeerResult", "ksg", "neuralmi_split", "peers_python", "torch_mist"]

WORKER = Path(__file__).with_name("_torch_mist_worker.py")


@dataclass(frozen=True)
class PeerResult:
    """A peer's estimate in nats and its wall time in seconds."""

    nats: float
    seconds: float


def ksg(x: np.ndarray, y: np.ndarray, k: int = 3, chunk: int | None = None) -> PeerResult:
    r"""The KSG estimator :func:`neuralmi.ksg` (Kraskov et al. 2004, algorithm 1) as a peer: its estimate and wall time.

    ``chunk`` is unused (the KD-tree needs no chunking) and kept only so old calls keep working.

    >>> import math
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1)); y = x + rng.normal(size=(2000, 1))
    >>> abs(ksg(x, y).nats - 0.5 * math.log(2)) < 0.05
    True
    """
    if chunk is not None:
        warnings.warn("ksg's chunk argument is unused: the KD-tree estimator needs no chunking", DeprecationWarning, stacklevel=2)
    start = time.perf_counter()
    value = public_ksg(x, y, k, blocks=0)
    return PeerResult(float(value), time.perf_counter() - start)


def peers_python() -> Path | None:
    """The interpreter of the peers' venv: ``$NEURALMI_PEERS_PYTHON``, or ``.peers-venv`` here, if present."""
    env = os.environ.get("NEURALMI_PEERS_PYTHON")
    path = Path(env) if env else Path(".peers-venv") / "bin" / "python"
    return path if path.exists() else None


def neuralmi_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows :func:`neuralmi.estimate_mi` fits on (training and validation) and tests on, at its default fractions."""
    train, val, test = EstimatorConfig(seed=seed).split_rows(n)
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
