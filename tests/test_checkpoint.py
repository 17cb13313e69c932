"""Checkpoints of estimate_mi: bit-for-bit resumption, atomic writes under SIGKILL, weights-only loads, refusals."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import shutil
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neuralmi import EstimatorConfig, MIResult, MIWarning, _train, estimate_mi
from neuralmi import estimate as estimate_module
from neuralmi.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from neuralmi.critics import QuadraticCritic
from neuralmi.errors import NeuralMIError

from .conftest import correlated_gaussian

X, Y = correlated_gaussian(300, 2, 0.5, seed=7)
SMALL: dict[str, Any] = {
    "max_steps": 60, "eval_every": 10, "batch_size": 32, "hidden": (16,), "embed_dim": 8,
    "lr": 3e-2, "average": 0.9, "smoothing": 0.0, "patience": 100, "decay_after": 1, "seed": 3, "progress": False,
}  # fmt: skip
"""Small and fast; validation plateaus (halving the learning rate) from step 20 on, and no early stop."""


def quiet(x: Any = X, y: Any = Y, **kw: Any) -> MIResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        return estimate_mi(x, y, **{**SMALL, **kw})


def interrupt_after(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Make training stop as if killed right after the checkpoint of ``step`` is written."""
    real = _train.save_checkpoint

    def save_then_stop(path: str, payload: dict[str, Any]) -> None:
        real(path, payload)
        if payload["step"] >= step:
            raise KeyboardInterrupt

    monkeypatch.setattr(_train, "save_checkpoint", save_then_stop)


def assert_same(a: MIResult, b: MIResult) -> None:
    assert (a.nats, a.stderr, a.ci, a.steps) == (b.nats, b.stderr, b.ci, b.steps)
    assert a.curve.keys() == b.curve.keys()
    for key in a.curve:  # exact equality, NaN equal to NaN (the step-0 train value)
        np.testing.assert_array_equal(a.curve[key], b.curve[key], strict=True)
    for (k, u), (_, v) in zip(a.critic.state_dict().items(), b.critic.state_dict().items()):
        assert torch.equal(u, v), k


@pytest.fixture(scope="module")
def reference() -> MIResult:
    return quiet()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    quiet(checkpoint=str(path), max_steps=20)
    return path


@pytest.mark.parametrize(("stop_at", "extra"), [(10, {}), (40, {}), (30, {"average": 0.0})])
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_at: int, extra: dict[str, Any]
) -> None:
    path = tmp_path / "run.ckpt"
    with monkeypatch.context() as m:
        interrupt_after(m, stop_at)
        with pytest.raises(KeyboardInterrupt):
            quiet(checkpoint=path, **extra)
    saved = load_checkpoint(path)
    assert saved["step"] == stop_at and not saved["done"] and saved["curve"]["step"][-1] == stop_at
    assert_same(quiet(checkpoint=path, **extra), quiet(**extra))


def test_interrupted_checkpoint_carries_a_decayed_learning_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.ckpt"
    interrupt_after(monkeypatch, 40)
    with pytest.raises(KeyboardInterrupt):
        quiet(checkpoint=path)
    saved = load_checkpoint(path)
    assert saved["lr_scale"] < 1.0  # a plateau halved it, so the resume test covers the plateau state
    lrs = {g["lr"] for g in saved["optimizer"]["param_groups"]}
    config = EstimatorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"].items()})
    assert len(lrs) == 1 and lrs.pop() == pytest.approx(config.lr_at(saved["step"]) * saved["lr_scale"])


def test_finished_checkpoint_gives_the_same_result_without_training(
    reference: MIResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, real, written = tmp_path / "run.ckpt", _train.save_checkpoint, []
    monkeypatch.setattr(_train, "save_checkpoint", lambda p, payload: written.append(payload["step"]) or real(p, payload))
    first = quiet(checkpoint=path, checkpoint_every=4)
    assert_same(first, reference)
    assert written == [40, 60]  # every 4th validation point, and the last
    assert load_checkpoint(path)["done"]
    real_step = _train.Trainer._train_step

    def step(trainer: _train.Trainer, batch: int) -> torch.Tensor:  # the quadratic candidate is refitted: cheap, seeded
        if not isinstance(trainer.critic, QuadraticCritic):
            pytest.fail("a finished run trained its critic again")
        return real_step(trainer, batch)

    monkeypatch.setattr(_train.Trainer, "_train_step", step)
    assert_same(quiet(checkpoint=path, device="cpu"), reference)  # device and checkpoint_every may change
    assert_same(quiet(checkpoint=path, quadratic_steps=0), reference)  # so may the candidates: they are not in the file


def test_diverged_run_is_resumed_as_diverged(tmp_path: Path) -> None:
    path, diverging = tmp_path / "run.ckpt", {"bound": "nwj", "lr": 1e3}
    first = quiet(checkpoint=path, **diverging)
    network = first.candidates["separable"]  # the diverged network may lose to another candidate; its record keeps the flag
    assert network["diverged"] and load_checkpoint(path)["diverged"] and load_checkpoint(path)["done"]
    again = quiet(checkpoint=path, **diverging)
    assert again.candidates["separable"]["diverged"]
    assert_same(again, first)


def test_checkpoint_file_loads_with_weights_only_and_holds_the_state(finished: Path) -> None:
    saved = torch.load(finished, weights_only=True)
    assert saved["format_version"] == FORMAT_VERSION and isinstance(saved["neuralmi_version"], str)
    assert saved["step"] == 20 and saved["pos"] > 0 and saved["perm"].dtype == torch.long
    assert saved["generator"].dtype == torch.uint8 and saved["optimizer"]["param_groups"][0]["lr"] > 0
    assert set(saved["critic"]) == set(saved["averaged"]) == set(saved["best_state"])
    assert saved["config"]["hidden"] == [16] and "checkpoint" not in saved["config"]  # a run-time option, not a setting
    assert saved["identity"]["data"]["n_train"] == 180 and saved["identity"]["data"]["x_shape"] == [2]
    assert set(saved["curve"]) == {"step", "train", "val", "val_smoothed"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y": Y[::-1].copy()}, "the data differs.*fingerprint"),
        ({"x": X[:250], "y": Y[:250]}, "the data differs.*n_train: checkpoint 180, now 150"),
        ({"x": X[:, :1]}, "the data differs.*x_shape: checkpoint \\[2\\], now \\[1\\]"),
        ({"lr": 1e-3}, "the configuration differs.*lr: checkpoint 0.03, now 0.001"),
        ({"hidden": (8,)}, "the configuration differs.*hidden: checkpoint \\[16\\], now \\[8\\]"),
        ({"seed": 4, "batch_size": 16}, "the configuration differs.*batch_size.*seed"),
    ],
)
def test_resume_refuses_other_data_or_settings(finished: Path, tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "run.ckpt"
    shutil.copy(finished, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        quiet(**{"max_steps": 20, "checkpoint": path, **change})
    assert path.read_bytes() == before


def test_other_format_version_is_refused(finished: Path, tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    torch.save({**torch.load(finished, weights_only=True), "format_version": 99}, path)
    with pytest.raises(ValueError, match=f"format version 99, this neuralmi reads version {FORMAT_VERSION}"):
        quiet(checkpoint=path, max_steps=20)


UNPICKLED: list[str] = []


class Payload:
    """An object whose unpickling would leave a trace."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return UNPICKLED.append, ("unpickled",)


def test_arbitrary_pickles_are_refused_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    torch.save({"format_version": FORMAT_VERSION, "x": Payload()}, path)
    with pytest.raises(ValueError, match="not a readable neuralmi checkpoint"):
        quiet(checkpoint=path)
    path.write_bytes(b"truncated")
    with pytest.raises(ValueError, match="not a readable neuralmi checkpoint"):
        quiet(checkpoint=path)
    assert UNPICKLED == []


def test_bad_checkpoint_options() -> None:
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        quiet(checkpoint_every=0)
    with pytest.raises(ValueError, match="checkpoint must be a file path"):
        quiet(checkpoint=3)


SIZE = 1 << 22  # 16 MB of float32: each save takes long enough for kills to land mid-write


def _write_forever(path: str, start: int, data: torch.Tensor) -> None:
    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool (it would hang)
    for i in itertools.count(start):
        save_checkpoint(path, {"counter": i, "data": data})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a writer process")
def test_killed_writer_never_leaves_a_partial_checkpoint(tmp_path: Path) -> None:
    path, rng, last, data = tmp_path / "big.ckpt", random.Random(0), 0, torch.arange(SIZE, dtype=torch.float32)
    save_checkpoint(path, {"counter": 0, "data": data})
    for _ in range(5):
        writer = multiprocessing.get_context("fork").Process(target=_write_forever, args=(str(path), last + 1, data))
        writer.start()
        time.sleep(rng.uniform(0.1, 0.8))
        os.kill(writer.pid, signal.SIGKILL)  # type: ignore[arg-type]
        writer.join()
        assert writer.exitcode == -signal.SIGKILL
        saved = torch.load(path, weights_only=True)  # the last complete write, never a partial one
        assert saved["counter"] >= last and torch.equal(saved["data"], data)
        last = saved["counter"]
    assert last > 0  # the writers did write
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert leftovers and all(n.startswith(".big.ckpt.") and n.endswith(".tmp") for n in leftovers)  # kills hit mid-write


def test_a_flipped_byte_in_tensor_data_is_refused(tmp_path: Path) -> None:
    """The stored SHA-256 of the contents catches a change torch.load alone reads without complaint."""
    path, data = tmp_path / "run.ckpt", torch.arange(1000, dtype=torch.float32)
    save_checkpoint(path, {"counter": 1, "data": data})
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(data.numpy().tobytes())
    assert at > 0
    raw[at + 2001] ^= 0x01  # one bit of one float in the middle of the tensor's storage
    path.write_bytes(bytes(raw))
    assert not torch.equal(torch.load(path, weights_only=True)["data"], data)  # torch reads the altered value silently
    with pytest.raises(NeuralMIError, match=f"{path}: checksum mismatch"):
        load_checkpoint(path)


def test_a_checkpoint_of_version_2_without_checksum_is_still_read(finished: Path, tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    payload = torch.load(finished, weights_only=True)
    del payload["checksum"]
    torch.save({**payload, "format_version": 2}, path)
    assert load_checkpoint(path)["step"] == 20


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing" / "run.ckpt", "checkpoint .*run.ckpt: the folder .*missing does not exist"),
        (lambda d: d / "file" / "run.ckpt", "checkpoint .*: .*file is a file, not a folder"),
        (lambda d: d, "checkpoint .* is a folder; give the path of a file"),
    ],
)
def test_a_checkpoint_that_cannot_be_written_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Any, message: str
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(estimate_module, "prepare", lambda *a, **k: pytest.fail("the data were prepared"))
    with pytest.raises(NeuralMIError, match=message):
        quiet(checkpoint=make(tmp_path))


def test_checkpoint_files_get_the_umask_mode(tmp_path: Path) -> None:
    before = os.umask(0o002)
    try:
        save_checkpoint(tmp_path / "run.ckpt", {"counter": 0})
    finally:
        os.umask(before)
    assert (tmp_path / "run.ckpt").stat().st_mode & 0o777 == 0o664
