"""Saved estimators: what save refuses, and how a loaded one reads."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from neuralmi import EstimatorConfig, MIResult, SeparableCritic, estimate_mi
from neuralmi.errors import NeuralMIError
from neuralmi.io import SAVED_FILES, load, save

pytestmark = pytest.mark.filterwarnings("ignore::neuralmi.MIWarning")  # ten training steps: the estimates mean nothing


class DotCritic(nn.Module):
    """A critic of the user's own: ``T(x, y) = <W x, y>``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Linear(2, 2, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.w(x) @ y.T


def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    return x, x + rng.normal(size=(200, 2))


def fit(**options: Any) -> Any:
    return estimate_mi(*samples(), max_steps=10, progress=False, gaussian_critic=False, **options)


@pytest.mark.parametrize(
    ("critic", "name"),
    [(DotCritic(), "DotCritic"), (SeparableCritic(2, 2, hidden=(8,), embed_dim=4), "SeparableCritic")],
)
def test_save_refuses_a_critic_load_cannot_rebuild(critic: nn.Module, name: str, tmp_path: Path) -> None:
    """A module of the user's own, or a registry critic built with other sizes than the config names."""
    torch.manual_seed(0)
    result = fit(critic=critic)
    with pytest.raises(NeuralMIError, match=f"critic is a {name} module of your own, which neuralmi.load cannot rebuild"):
        save(result, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_loaded_estimator_has_a_one_line_repr(tmp_path: Path) -> None:
    result = fit()
    saved = load(save(result, tmp_path / "m"))
    text = repr(saved)
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith(f"SavedEstimator({type(result.critic).__name__}, x_shape=(2,), y_shape=(2,), ")
    assert f"mi_nats={result.nats:.4f} ± {result.stderr:.4f}" in text


@pytest.mark.parametrize("kind", ["density_ratio", "density_ratio_standardize", "classifier", "contingency"])
def test_every_candidate_critic_saves_and_loads_back(tmp_path: Path, kind: str) -> None:
    """The density-ratio, classifier and table critics (with their one-hot labels) rebuild from result.json.

    A density ratio fitted on the standardised view is saved with that view's preprocessing, not the config's.
    """
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, size=1500)
    feature = labels[:, None] + 0.7 * rng.normal(size=(1500, 1))
    other = np.where(rng.random(1500) < 0.8, labels, rng.integers(0, 3, size=1500))
    parabola = np.column_stack((feature**2 + 0.3 * rng.normal(size=(1500, 1)), rng.normal(size=1500)))  # 1 + 2: no tie
    data = {
        "density_ratio": ((feature, parabola), {"preprocess": "standardize"}),
        "density_ratio_standardize": ((feature, parabola), {}),
        "classifier": ((feature, np.array(["a", "b", "c"])[labels]), {"discrete_y": True}),
        "contingency": ((labels, other), {"discrete_x": True, "discrete_y": True}),
    }
    (x, y), options = data[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate_mi(x, y, progress=False, max_steps=100, gaussian_critic=False, **options)
    assert result.critic_kind == kind, result.selection  # each data set is one its candidate wins
    saved = load(save(result, tmp_path / "est"))
    estimate, again = saved.estimate(x, y), result.evaluate(x, y)
    assert isinstance(estimate, MIResult) and estimate.critic_kind == kind and estimate.n_test == len(x)
    assert estimate.nats == pytest.approx(again.nats, abs=1e-6) and estimate.stderr == pytest.approx(again.stderr, abs=1e-6)
    assert saved.summary["critic_spec"]["type"] in ("density_ratio", "one_hot")
    assert saved.summary["preprocess"] == result.preprocess
    if kind.startswith("density_ratio"):
        assert result.preprocess == "standardize" and type(saved.x_prep).__name__ == "Standardizer"
        assert saved.summary["critic_spec"]["side"] == result.critic.side == "x|y"  # the smaller side, x, is modelled


def test_a_density_ratio_of_either_side_rebuilds_from_its_description() -> None:
    """The spec written to result.json names the modelled side; the rebuilt critic scores as the fitted one."""
    from neuralmi._critic_specs import build_critic_from, describe_critic
    from neuralmi.config import EstimatorConfig
    from neuralmi.density_ratio import fit_density_ratio

    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g)
    y = x + 0.5 * torch.randn(400, 2, generator=g)
    for side in ("y|x", "x|y"):
        critic = fit_density_ratio((x[:300], y[:300]), (x[300:], y[300:]), seed=0, max_steps=30, side=side)  # type: ignore[arg-type]
        spec = describe_critic(critic)
        rebuilt = build_critic_from(spec, EstimatorConfig(), (2, 2))
        rebuilt.load_state_dict(critic.state_dict())
        assert spec["side"] == side == rebuilt.side
        torch.testing.assert_close(rebuilt(x[:5], y[:7]), critic(x[:5], y[:7]))


def test_estimate_returns_a_result_that_still_unpacks_with_a_warning(tmp_path: Path) -> None:
    """``saved.estimate`` is ``MIResult.evaluate`` of the saved result; the old tuple unpacking warns and still works."""
    x, y = samples()
    result = fit()
    saved = load(save(result, tmp_path / "m"))
    estimate = saved.estimate(x[:100], y[:100], report="infonce")
    again = result.evaluate(x[:100], y[:100], report="infonce")
    assert isinstance(estimate, MIResult) and (estimate.report, estimate.n_test) == ("infonce", 100)
    assert (estimate.nats, estimate.stderr, estimate.ci) == (again.nats, again.stderr, again.ci)
    assert estimate.config == result.config and estimate.x_shape == (2,) and estimate.evaluate(x, y).n_test == 200
    with pytest.warns(DeprecationWarning, match=r"reading an MIResult as the tuple \(nats, stderr\) is deprecated") as caught:
        nats, stderr = saved.estimate(x[:100], y[:100], report="infonce")
    assert (nats, stderr) == (estimate.nats, estimate.stderr) and caught[0].filename == __file__  # points at the caller
    with pytest.warns(DeprecationWarning, match="reading an MIResult as the tuple"):
        assert (estimate[0], estimate[1]) == (estimate.nats, estimate.stderr)


def test_files_saved_with_run_time_options_in_the_config_load_quietly(tmp_path: Path) -> None:
    """Files written when device, progress and the checkpoint were config fields load without a DeprecationWarning."""
    d = save(fit(), tmp_path / "m")
    summary = json.loads((d / "result.json").read_text())
    summary["config"].update(device=None, progress=False, checkpoint=None, checkpoint_every=1)
    (d / "result.json").write_text(json.dumps(summary))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        saved = load(d)
        estimate = saved.estimate(*samples())
    assert estimate.n_test == 200 and estimate.config == EstimatorConfig(max_steps=10, gaussian_critic=False)


def gaussian_fit(width: int = 2, seed: int = 0) -> Any:
    """A result in a fraction of a second: the closed-form Gaussian critic, nothing trained."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, width))
    return estimate_mi(x, x + rng.normal(size=(400, width)), critic="gaussian", progress=False)


@pytest.fixture(scope="module")
def result() -> Any:
    return gaussian_fit()


@pytest.fixture
def umask() -> Any:
    before = os.umask(0o022)
    yield
    os.umask(before)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_saved_files_get_the_umask_modes(result: Any, tmp_path: Path, umask: None) -> None:
    os.umask(0o002)
    d = save(result, tmp_path / "m")
    assert d.stat().st_mode & 0o777 == 0o775
    assert {p.name: p.stat().st_mode & 0o777 for p in d.iterdir()} == dict.fromkeys(SAVED_FILES, 0o664)


@pytest.mark.parametrize("at", [1, 2, 3, 4])
def test_ctrl_c_while_saving_leaves_the_whole_old_folder_or_nothing(
    result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int
) -> None:
    """KeyboardInterrupt at each file write (1-3) or at the move into place (4): no new folder, the old one intact."""
    from neuralmi import _files

    old = save(gaussian_fit(3), tmp_path / "old")
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    real_write, real_rename, calls = _files._write_new, os.rename, []

    def write(path: Path, fn: Any) -> None:
        calls.append(path)
        if len(calls) == at:
            raise KeyboardInterrupt
        real_write(path, fn)

    def rename(a: Any, b: Any) -> None:
        if at == 4:
            raise KeyboardInterrupt
        real_rename(a, b)

    monkeypatch.setattr(_files, "_write_new", write)
    monkeypatch.setattr(_files.os, "rename", rename)
    monkeypatch.setattr(_files, "_exchange", lambda a, b: (_ for _ in ()).throw(KeyboardInterrupt))
    for target, force in ((tmp_path / "new", False), (old, True)):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            save(result, target, force=force)
    monkeypatch.undo()
    assert not (tmp_path / "new").exists() and hidden(tmp_path) == []
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    assert load(old).summary["x_shape"] == [3]


def test_concurrent_saves_into_one_folder_never_load_as_a_mixed_pair(tmp_path: Path) -> None:
    """Two threads save results of 2 and 3 features into one folder while a third loads: every load is one whole save."""
    results, target, stop = {2: gaussian_fit(2), 3: gaussian_fit(3)}, tmp_path / "m", threading.Event()
    save(results[2], target)
    loaded: list[tuple[list[int], int]] = []
    failures: list[str] = []

    def write(width: int) -> None:
        for _ in range(25):
            save(results[width], target, force=True)

    def read() -> None:
        while not stop.is_set():
            try:
                s = load(target)
            except Exception as err:
                failures.append(f"{type(err).__name__}: {err}")
                continue
            loaded.append((s.summary["x_shape"], s.critic.x_dim))

    threads = [threading.Thread(target=write, args=(w,)) for w in (2, 3)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join()
    stop.set()
    threads[2].join()
    assert failures == [] and loaded, failures[:3]
    assert all(shape == [dim] for shape, dim in loaded)
    assert hidden(tmp_path) == []


def test_a_flipped_byte_is_refused_naming_the_file(result: Any, tmp_path: Path) -> None:
    d = save(result, tmp_path / "m")
    for name in ("critic.pt", "standardizers.npz"):
        data = bytearray((d / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (d / name).write_bytes(bytes(data))
        with pytest.raises(NeuralMIError, match=f"{name}: checksum mismatch"):
            load(d)
        save(result, d, force=True)


def _edit_json(d: Path, change: Any) -> None:
    summary = json.loads((d / "result.json").read_text())
    change(summary)
    (d / "result.json").write_text(json.dumps(summary))


def _garbage_critic(d: Path) -> None:
    """A critic file of the right checksum that torch cannot read."""
    (d / "critic.pt").write_bytes(b"garbage")
    _edit_json(d, lambda s: s["checksums"].update({"critic.pt": hashlib.sha256(b"garbage").hexdigest()}))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: (d / "critic.pt").unlink(), "critic.pt is missing"),
        (lambda d: (d / "result.json").write_text("{not json"), "result.json: not valid JSON"),
        (lambda d: (d / "result.json").write_text("[1, 2]"), "result.json: holds a list"),
        (lambda d: _edit_json(d, lambda s: s.pop("config")), "field 'config' is missing"),
        (lambda d: _edit_json(d, lambda s: s.update(x_shape="two")), "field 'x_shape' is malformed"),
        (lambda d: _edit_json(d, lambda s: s.update(mi_nats="big")), "field 'mi_nats' is malformed"),
        (lambda d: _edit_json(d, lambda s: s.update(stderr=float("inf"))), "field 'stderr' is malformed"),  # JSON Infinity
        (lambda d: _edit_json(d, lambda s: s.pop("checksums")), "field 'checksums' is missing"),
        (lambda d: _edit_json(d, lambda s: s["config"].update(colour="red")), "not a loadable saved estimator"),
        (lambda d: _edit_json(d, lambda s: s["config"].update(batch_size=-1)), "batch_size must be a positive integer"),
        (lambda d: _edit_json(d, lambda s: s["critic_spec"].update(dims=[5, 2])), "not a loadable saved estimator"),
        (_garbage_critic, "not a loadable saved estimator"),
    ],
)
def test_a_tampered_folder_raises_one_error_naming_it(result: Any, tmp_path: Path, tamper: Any, message: str) -> None:
    d = save(result, tmp_path / "m")
    tamper(d)
    with pytest.raises(NeuralMIError, match=message) as caught:
        load(d)
    assert str(d) in str(caught.value)


def test_load_names_a_missing_folder_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(NeuralMIError, match="no such folder"):
        load(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(NeuralMIError, match="a file, not a folder"):
        load(tmp_path / "f")


def test_a_folder_of_format_1_without_checksums_still_loads(result: Any, tmp_path: Path) -> None:
    d = save(result, tmp_path / "m")
    _edit_json(d, lambda s: s.update(format_version=1, checksums=None) or s.pop("checksums"))
    assert load(d).summary["format_version"] == 1


def test_force_replaces_only_a_saved_estimator(result: Any, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(NeuralMIError, match=r"holds files other than a saved estimator's \(todo.txt\)"):
        save(result, tmp_path / "notes", force=True)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(NeuralMIError, match="is a file"):
        save(result, tmp_path / "file", force=True)


# ---------------------------------------------- a conditional estimator (estimate_cmi)


@pytest.fixture(scope="module")
def conditional() -> Any:
    from neuralmi import estimate_cmi
    from neuralmi.benchmark.cmi import JointGaussian

    x, y, z = JointGaussian.collider(1, 0.5).sample(400, 0)
    labels = (z[:, 0] > 0).astype(int)  # a discrete Z too: its one-hot preprocessing must come back
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate_cmi(x, y, z, max_steps=20), estimate_cmi(x, y, labels, max_steps=20, discrete_z=True)


@pytest.mark.parametrize("which", [0, 1], ids=["continuous z", "discrete z"])
def test_a_conditional_estimator_saves_and_loads_back(conditional: Any, which: int, tmp_path: Path) -> None:
    from neuralmi import CMIResult
    from neuralmi.benchmark.cmi import JointGaussian

    result = conditional[which]
    save(result, tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert "I(X;Y|Z)" in repr(loaded)
    back = loaded.result()
    assert isinstance(back, CMIResult) and back.nats == result.nats and back.z_shape == result.z_shape
    x, y, z = JointGaussian.collider(1, 0.5).sample(300, 1)
    z = (z[:, 0] > 0).astype(int) if which else z
    new = loaded.estimate(x, y, z=z)  # the reloaded models on new rows: the original's numbers
    assert isinstance(new, CMIResult)
    assert new.nats == pytest.approx(result.evaluate(x, y, z).nats, abs=1e-6)
    with pytest.raises(NeuralMIError, match="pass the rows of Z"):
        loaded.estimate(x, y)


def test_z_is_refused_by_a_plain_estimator(result: Any, tmp_path: Path) -> None:
    save(result, tmp_path / "m")
    x, y = samples()
    with pytest.raises(NeuralMIError, match="z applies to one saved from estimate_cmi"):
        load(tmp_path / "m").estimate(x, y, z=x)
