"""Peer adapters: torch-mist is handed neuralmi's own split of the samples."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neuralmi import estimate_mi
from neuralmi.benchmark import peers
from neuralmi.data import split_indices

pytestmark = pytest.mark.filterwarnings("ignore::neuralmi.MIWarning")  # two training steps: the estimate means nothing

FAKE_WORKER = """
import json, shutil, sys
shutil.copy(sys.argv[1], sys.argv[0] + ".npz")  # keep what the adapter handed over, beside this script
with open(sys.argv[2], "w") as f:
    json.dump({"nats": 0.25, "seconds": 0.5}, f)
"""


def test_torch_mist_gets_the_rows_estimate_mi_fits_on_and_tests_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer reports on exactly the test rows estimate_mi reports on for the same seed, at its default fractions."""
    worker = tmp_path / "worker.py"
    worker.write_text(FAKE_WORKER)
    monkeypatch.setattr(peers, "WORKER", worker)
    monkeypatch.setenv("NEURALMI_PEERS_PYTHON", sys.executable)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(203, 2)), rng.normal(size=(203, 1))
    assert peers.torch_mist(x, y, seed=5) == peers.PeerResult(0.25, 0.5)

    with np.load(str(worker) + ".npz") as handed:
        x_fit, x_test, y_test = handed["x"], handed["x_test"], handed["y_test"]
    cfg = estimate_mi(x, y, seed=5, max_steps=2, progress=False, gaussian_critic=False).config  # the split it used
    _, _, test = split_indices(len(x), (1 - cfg.test_fraction - cfg.val_fraction, cfg.val_fraction), cfg.seed)
    np.testing.assert_array_equal(x_test, x[test])
    np.testing.assert_array_equal(y_test, y[test])
    assert sorted(map(tuple, np.concatenate([x_fit, x_test]))) == sorted(map(tuple, x))  # the rest is for fitting
