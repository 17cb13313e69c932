"""Tests of neuralmi.cmi: zero under conditional independence, the collider, the chain rule, invariance, the protocol, the CLI."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralmi
from neuralmi import CMIResult, EstimatorConfig, NeuralMIError, estimate_cmi, estimate_mi
from neuralmi.benchmark.cmi import JointGaussian
from neuralmi.cli import main
from neuralmi.cmi import prepare_cmi

FAST = {"max_steps": 100}
Z95 = 1.959963984540054


def _cmi(x: np.ndarray, y: np.ndarray, z: np.ndarray, **options: object) -> CMIResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate_cmi(x, y, z, **{**FAST, **options})  # type: ignore[arg-type]


def _covers(result: CMIResult, value: float) -> bool:
    return result.ci[0] <= value <= result.ci[1]


def test_zero_under_conditional_independence() -> None:
    """X -> Z -> Y: X and Y are strongly dependent (I(X;Y) = 0.20 nats) but independent given Z."""
    x, y, z = JointGaussian.chain(1).sample(1500, 0)
    r = _cmi(x, y, z)
    assert _covers(r, 0.0), r.ci
    assert r.stderr > 0  # an interval, not a point


def test_collider_is_positive_while_xy_are_independent() -> None:
    law = JointGaussian.collider(1, 0.5)  # I(X;Y) = 0, I(X;Y|Z) = 0.511
    x, y, z = law.sample(1500, 1)
    r = _cmi(x, y, z)
    assert r.ci[0] > 0
    assert abs(r.nats - law.conditional_mutual_information) < 4 * r.stderr + 0.05


def test_gaussian_value_and_result_contract() -> None:
    law = JointGaussian.conditional(1, 0.5)
    x, y, z = law.sample(1500, 2)
    r = _cmi(x, y, z)
    assert abs(r.nats - 0.5) < 4 * r.stderr + 0.05
    assert isinstance(r, neuralmi.MIResult) and str(r).startswith("I(X;Y|Z) =")
    assert (r.n_train, r.n_val, r.n_test) == (900, 150, 450)
    assert r.ci == pytest.approx((r.nats - Z95 * r.stderr, r.nats + Z95 * r.stderr))
    out = r.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["quantity"] == "I(X;Y|Z)" and out["critic_kind"] == "conditional_density_ratio"
    assert set(out["candidates"]) == {"full", "reduced"}
    again = r.evaluate(*law.sample(1000, 3))
    assert again.n_test == 1000 and abs(again.nats - 0.5) < 4 * again.stderr + 0.05
    with pytest.raises(NeuralMIError, match="x, y and z"):
        r.evaluate(x, y)


def test_chain_rule_within_error_bars() -> None:
    """I(X; (Y, Z)) = I(X; Z) + I(X; Y|Z), each side estimated on its own."""
    x, y, z = JointGaussian.conditional(1, 0.4, coupling=1.0).sample(3000, 4)
    cmi = _cmi(x, y, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = estimate_mi(x, np.hstack((y, z)), critic="gaussian", progress=False)
        given = estimate_mi(x, z, critic="gaussian", progress=False)
    gap = joint.nats - given.nats - cmi.nats
    assert abs(gap) < 3 * math.sqrt(joint.stderr**2 + given.stderr**2 + cmi.stderr**2), gap


def test_invariant_to_monotone_maps_exactly_and_to_a_mixing_of_x_within_error_bars() -> None:
    x, y, z = JointGaussian.conditional(2, 0.5).sample(1500, 5)
    base = _cmi(x, y, z)
    mapped = _cmi(np.exp(x), y**3 + y, np.tanh(z))
    # ranks kept: the normal scores of the training rows, hence the fits, are the same; only the held-out rows'
    # scores, interpolated between training values, move a little
    assert abs(mapped.nats - base.nats) < 0.05 * base.stderr
    mixed = _cmi(x @ np.array([[1.0, 0.5], [-0.5, 1.0]]), y, z)
    assert abs(mixed.nats - base.nats) < 3 * math.hypot(base.stderr, mixed.stderr)


def test_symmetric_in_x_and_y_within_error_bars() -> None:
    x, y, z = JointGaussian.collider(1, 1.0).sample(1500, 6)
    xy, yx = _cmi(x, y, z), _cmi(y, x, z)
    assert abs(xy.nats - yx.nats) < 3 * math.hypot(xy.stderr, yx.stderr)


def test_discrete_z_confounder() -> None:
    rng = np.random.default_rng(7)
    z = rng.integers(0, 3, size=1500)
    x, y = z + rng.normal(size=1500), z + rng.normal(size=1500)
    r = _cmi(x, y, z, discrete_z=True)
    assert _covers(r, 0.0), r.ci
    assert r.z_shape == (3,)  # one-hot over the training labels


def test_split_is_estimate_mi_s() -> None:
    """prepare_cmi's (x, y) and (z, y) parts share one split: the y rows are the same tensors in both."""
    x, y, z = JointGaussian.chain(1).sample(300, 8)
    data = prepare_cmi(x, y, z, EstimatorConfig(seed=3))
    for part in ("train", "val", "test"):
        assert torch.equal(getattr(data.xy, part)[1], getattr(data.zy, part)[1])
    assert len(data.xy.test[0]) == 90


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"z": np.zeros((10, 1))}, "same number of rows"),
        ({"z": np.full((300, 1), np.nan)}, "z has NaN"),
        ({"z": np.array(["a", "b", "c"] * 100)}, "z is non-numeric.*declare it with discrete_z=True"),
        ({"discrete_x": True, "discrete_y": True}, "both declared discrete"),
        ({"discrete_z": "yes"}, "discrete_z"),
    ],
)
def test_bad_input_names_the_problem(kwargs: dict[str, object], match: str) -> None:
    x, y, z = JointGaussian.chain(1).sample(300, 0)
    args = {"z": z, **kwargs}
    with pytest.raises(NeuralMIError, match=match):
        estimate_cmi(x, y, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the command line


@pytest.fixture
def triple(tmp_path: Path) -> tuple[Path, Path, Path]:
    x, y, z = JointGaussian.collider(1, 0.5).sample(600, 0)
    for name, value in (("x", x), ("y", y), ("z", z)):
        np.save(tmp_path / f"{name}.npy", value)
    return tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "z.npy"


def test_cli_given_a_file(triple: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    x, y, z = map(str, triple)
    assert main(["estimate", x, y, "--given", z, "--steps", "50", "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quantity"] == "I(X;Y|Z)" and out["ci_low"] <= out["mi_nats"] <= out["ci_high"]
    assert main(["estimate", x, y, "--given", z, "--steps", "50", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("I(X;Y|Z) = ")


def test_cli_given_columns_of_one_table_and_an_npz_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y, z = JointGaussian.collider(1, 0.5).sample(600, 0)
    table = tmp_path / "t.csv"
    table.write_text("a,b,c1\n" + "\n".join(f"{p},{q},{r}" for p, q, r in zip(x[:, 0], y[:, 0], z[:, 0])) + "\n")
    assert main(["estimate", str(table), "--x", "a", "--y", "b", "--given", "c1", "--steps", "50", "--quiet", "--json"]) == 0
    from_table = json.loads(capsys.readouterr().out)
    np.savez(tmp_path / "d.npz", x=x, y=y, z=z)
    assert main(["estimate", str(tmp_path / "d.npz"), "--given", "z", "--steps", "50", "--quiet", "--json"]) == 0
    from_npz = json.loads(capsys.readouterr().out)
    assert from_table["mi_nats"] == pytest.approx(from_npz["mi_nats"], abs=1e-5)  # the same numbers, read two ways


def test_cli_text_labels_not_declared_name_the_flag_with_the_sides_declared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a,b,g\n" + "".join(f"{i % 3},{i * 0.1},{'uvw'[i % 3]}\n" for i in range(60)))
    assert main(["estimate", str(table), "--x", "a", "--y", "b", "--given", "g", "--quiet"]) == 2
    assert (
        "column 'g' is non-numeric: row 0 holds 'u', not a number; if it holds category labels, declare it with --discrete z"
        in (capsys.readouterr().err)
    )
    assert main(["estimate", str(table), "--x", "a", "--y", "b", "--given", "g", "--discrete", "x", "--quiet"]) == 2
    assert "declare it with --discrete xz" in capsys.readouterr().err  # x stays declared
    assert main(["estimate", str(table), "--x", "a", "--y", "g", "--discrete", "x", "--quiet"]) == 2
    assert "declare it with --discrete xy" in capsys.readouterr().err


def test_cli_given_saves_plots_and_prints_json_in_one_run(
    triple: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--save, --plot and --json work with --given as for plain MI; the saved folder loads back as the printed result."""
    pytest.importorskip("matplotlib")
    x, y, z = map(str, triple)
    folder, plot = triple[0].parent / "saved", triple[0].parent / "curve.png"
    args = ["estimate", x, y, "--given", z, "--steps", "50", "--quiet", "--json", "--save", str(folder), "--plot", str(plot)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = neuralmi.load(folder)
    assert loaded.summary["mi_nats"] == out["mi_nats"] and loaded.summary["quantity"] == "I(X;Y|Z)"
    arrays = [np.load(p) for p in triple]
    assert loaded.estimate(arrays[0], arrays[1], z=arrays[2]).n_test == 600


def test_cli_given_checks_outputs_before_training_and_writes_none_on_failure(
    triple: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    import neuralmi.cmi
    import neuralmi.plotting

    x, y, z = map(str, triple)
    folder = triple[0].parent / "saved"
    folder.mkdir()
    monkeypatch.setattr(neuralmi.cmi, "estimate_cmi", lambda *a, **k: pytest.fail("estimate_cmi ran"))
    assert main(["estimate", x, y, "--given", z, "--save", str(folder), "--quiet"]) == 2  # exists, no --force
    assert "already exists" in capsys.readouterr().err
    assert main(["estimate", x, y, "--given", z, "--plot", str(folder / "c.xyz"), "--quiet"]) == 2
    assert "matplotlib cannot write" in capsys.readouterr().err
    monkeypatch.undo()

    def broken(*a: object, **k: object) -> None:
        raise RuntimeError("the plot failed")

    monkeypatch.setattr(neuralmi.plotting, "plot_curve", broken)
    new = triple[0].parent / "new"
    assert (
        main(["estimate", x, y, "--given", z, "--steps", "20", "--save", str(new), "--plot", str(new) + ".png", "--quiet"]) != 0
    )
    assert "the plot failed" in capsys.readouterr().err
    assert not new.exists()  # whole or none: the save is not written without the plot


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--given", "nowhere.npy"], "no such file"),
        (["--given", "{z}", "--bound", "nwj"], "--bound do"),
        (["--discrete", "z"], "--discrete z"),
        (["--given", "{short}"], "has 5 rows"),
    ],
)
def test_cli_given_usage_errors(
    triple: tuple[Path, Path, Path], extra: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y, z = map(str, triple)
    short = str(triple[2].parent / "short.npy")
    np.save(short, np.zeros(5))
    args = ["estimate", x, y, *(a.format(z=z, short=short) for a in extra), "--quiet"]
    assert main(args) == 2
    assert match in capsys.readouterr().err
