"""The neuralmi command, through main(argv) and a real subprocess."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from neuralmi.cli import main
from neuralmi.config import LR_SCHEDULES
from neuralmi.critics import CriticName
from neuralmi.data import Preprocess

FAST = ["--steps", "20", "--quiet"]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x + rng.normal(size=(400, 2)))
    return tmp_path / "x.npy", tmp_path / "y.npy"


def test_estimate_json_has_the_contract_keys(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(pair[0]), str(pair[1]), "--json", *FAST]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("mi_nats", "mi_bits", "stderr", "ci_low", "ci_high", "n_train", "n_test", "bound", "seconds"):
        assert key in out


def test_gaussian_critic_flags(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(pair[0]), str(pair[1]), "--json", "--critic", "gaussian", "--quiet"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["critic_kind"] == "gaussian" and alone["steps"] == 0
    flags = ["--no-gaussian-critic", "--no-density-ratio", "--no-ensemble"]
    assert main(["estimate", str(pair[0]), str(pair[1]), "--json", *flags, *FAST]) == 0
    off = json.loads(capsys.readouterr().out)
    assert off["critic_kind"] == "separable" and off["selection"] == {} and off["config"]["gaussian_critic"] is False
    assert (
        off["config"]["density_ratio"] is False and off["config"]["ensemble"] is False and set(off["candidates"]) == {"separable"}
    )
    assert (
        main(["estimate", str(pair[0]), str(pair[1]), "--json", "--critic", "quadratic", "--quadratic-steps", "100", "--quiet"])
        == 0
    )
    refined = json.loads(capsys.readouterr().out)
    assert refined["critic_kind"] == "quadratic" and refined["config"]["quadratic_steps"] == 100 and refined["steps"] <= 100
    for bad, message in (
        (["--quadratic-steps", "-1"], "quadratic_steps must be a non-negative integer, got -1"),
        (["--critic", "quadratic", "--quadratic-steps", "0"], "critic='quadratic' trains the Gaussian fit"),
    ):
        assert main(["estimate", str(pair[0]), str(pair[1]), "--quiet", *bad]) == 2
        assert message in capsys.readouterr().err


def test_estimate_one_line(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(pair[0]), str(pair[1]), *FAST]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "nats" in out[0] and "bits" in out[0] and "95% CI" in out[0]


def test_single_csv_table_with_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=300)
    rows = ["a,b,c"] + [f"{u},{u + rng.normal()},{rng.normal()}" for u in a]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    assert main(["estimate", str(tmp_path / "t.csv"), "--x", "a", "--y", "b,2", "--json", *FAST]) == 0
    assert json.loads(capsys.readouterr().out)["n_test"] == 90


def test_table_written_by_pandas_with_a_text_column_not_selected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    a = rng.normal(size=300)
    frame = pd.DataFrame({"a": a, "b": rng.normal(size=300), "c": a + rng.normal(size=300), "label": ["u", "v", "w"] * 100})
    frame.to_csv(tmp_path / "t.csv")  # with the unnamed index column too
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    for name in ("t.csv", "t.tsv"):
        assert main(["estimate", str(tmp_path / name), "--x", "a,b", "--y", "c", "--json", *FAST]) == 0
        assert json.loads(capsys.readouterr().out)["n_test"] == 90


def test_npz_with_x_and_y(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=100), y=rng.normal(size=100))
    assert main(["estimate", str(tmp_path / "d.npz"), *FAST]) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: [str(d / "missing.npy"), str(d / "y.npy")], "missing.npy: no such file"),
        (lambda d: [str(d / "x.npy"), str(d / "short.npy")], "has 400 rows but Y"),
        (lambda d: [str(d / "x.npy"), str(d / "bad.txt")], "unreadable format"),
        (lambda d: [str(d / "nan.csv"), "--x", "a", "--y", "b"], "nan.csv: X has NaN at row 1, column 'a'"),
        (lambda d: [str(d / "text.csv"), "--x", "a", "--y", "b"], "column 'b' is non-numeric"),
        (lambda d: [str(d / "x.npy")], "give two files"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    pair: tuple[Path, Path], make: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = pair[0].parent
    np.save(d / "short.npy", np.zeros((10, 2)))
    (d / "bad.txt").write_text("1 2 3")
    (d / "nan.csv").write_text("a,b\n1,2\nnan,3\n" + "1,2\n" * 20)
    (d / "text.csv").write_text("a,b\n1,x\n")
    assert main(["estimate", *make(d), *FAST]) == 2  # type: ignore[operator]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_outputs_are_never_overwritten_without_force(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    plot = pair[0].parent / "curve.png"
    plot.write_bytes(b"precious")
    assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(plot), *FAST]) == 2
    assert plot.read_bytes() == b"precious" and "--force" in capsys.readouterr().err
    saved = pair[0].parent / "model"
    saved.mkdir()
    assert main(["estimate", str(pair[0]), str(pair[1]), "--save", str(saved), *FAST]) == 2


def test_plot_and_save_then_load(pair: tuple[Path, Path]) -> None:
    pytest.importorskip("matplotlib")
    from neuralmi.io import load

    out = pair[0].parent
    assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(out / "c.png"), "--save", str(out / "m"), *FAST]) == 0
    assert (out / "c.png").read_bytes()[:4] == b"\x89PNG"
    saved = load(out / "m")
    again = saved.estimate(np.load(pair[0]), np.load(pair[1]))
    assert np.isfinite(again.nats) and again.stderr > 0
    with pytest.raises(ValueError, match=r"shape \(3,\), the critic was fitted on \(2,\)"):
        saved.estimate(np.zeros((50, 3)), np.zeros((50, 2)))


def test_load_refuses_other_format_versions(pair: tuple[Path, Path]) -> None:
    from neuralmi.io import load

    out = pair[0].parent / "m"
    assert main(["estimate", str(pair[0]), str(pair[1]), "--save", str(out), *FAST]) == 0
    meta = json.loads((out / "result.json").read_text())
    meta["format_version"] = 99
    (out / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format version 99"):
        load(out)


@pytest.mark.parametrize(
    ("flag", "choices"),
    [("--critic", get_args(CriticName)), ("--lr-schedule", LR_SCHEDULES), ("--preprocess", get_args(Preprocess))],
)
def test_choices_are_the_typed_choices_of_the_library(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str], flag: str, choices: tuple[str, ...]
) -> None:
    """argparse refuses a value outside the library's Literal and lists exactly its values."""
    assert main(["estimate", str(pair[0]), str(pair[1]), flag, "nope", *FAST]) == 2
    assert f"(choose from {', '.join(repr(c) for c in choices)})" in capsys.readouterr().err


def test_device_is_a_run_time_option(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--device reaches estimate_mi as its keyword (no DeprecationWarning); a malformed device is a usage error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert main(["estimate", str(pair[0]), str(pair[1]), "--device", "cpu", "--json", *FAST]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu" and "device" not in out["config"]
    assert main(["estimate", str(pair[0]), str(pair[1]), "--device", "gpu", *FAST]) == 2
    assert "device must be 'auto', 'cpu', 'cuda'" in capsys.readouterr().err


def test_bounds_lists_bounds_and_critics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bounds"]) == 0
    out = capsys.readouterr().out
    for name in ("dv", "nwj", "infonce", "smile", "f_pearson", "club", "concat", "separable"):
        assert f"  {name} " in out


def test_subprocess_streams_and_exit_codes(pair: tuple[Path, Path]) -> None:
    run = [sys.executable, "-m", "neuralmi"]
    ok = subprocess.run([*run, "estimate", str(pair[0]), str(pair[1]), "--json", *FAST], capture_output=True, text=True)
    assert ok.returncode == 0 and math.isfinite(json.loads(ok.stdout)["mi_nats"])
    assert ok.stderr == ""  # no progress bar when stderr is not a terminal
    bad = subprocess.run([*run, "estimate", "nope.npy", "nope2.npy"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    usage = subprocess.run([*run, "estimate"], capture_output=True, text=True)
    assert usage.returncode == 2


@pytest.mark.slow
def test_demo_quick_prints_truth_beside_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    assert main(["demo", "--quick", "--quiet", "--plot", str(tmp_path / "demo.png")]) == 0
    out = capsys.readouterr().out
    assert "truth" in out and "pm1_vector_7" in out and "independent_high_dim" in out
    assert (tmp_path / "demo.png").exists()


@pytest.mark.parametrize("error", [RuntimeError, ValueError, TypeError])
def test_a_bug_is_exit_1_asking_for_a_report_and_debug_shows_the_traceback(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: type[Exception]
) -> None:
    """Only NeuralMIError is the user's; a plain ValueError from inside the library is a bug like any other."""
    import neuralmi.estimate

    def broken(*args: object, **kwargs: object) -> None:
        raise error("boom")

    monkeypatch.setattr(neuralmi.estimate, "estimate_mi", broken)
    assert main(["estimate", str(pair[0]), str(pair[1]), *FAST]) == 1
    err = capsys.readouterr().err
    assert f"internal error, please report it: {error.__name__}: boom" in err and "--debug" in err and "Traceback" not in err
    assert main(["--debug", "estimate", str(pair[0]), str(pair[1]), *FAST]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_user_error_from_the_library_is_exit_2(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import neuralmi.estimate
    from neuralmi.errors import NeuralMIError

    def refuses(*args: object, **kwargs: object) -> None:
        raise NeuralMIError("x has too few rows")

    monkeypatch.setattr(neuralmi.estimate, "estimate_mi", refuses)
    assert main(["estimate", str(pair[0]), str(pair[1]), *FAST]) == 2
    assert capsys.readouterr().err == "neuralmi: error: x has too few rows\n"


def test_bench_refuses_an_unknown_bound_as_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--tasks", "binary_channel", "--bounds", "nope"]) == 2
    assert "bound 'nope'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import neuralmi

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"neuralmi {neuralmi.__version__}\n"


def test_each_warning_is_printed_once_without_a_source_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(300, 2)))
    np.save(tmp_path / "y.npy", rng.normal(size=(300, 2)))  # independent: no trained critic beats the untrained one
    cmd = [sys.executable, "-m", "neuralmi", "estimate", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    done = subprocess.run([*cmd, "--steps", "20", "--no-gaussian-critic"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("neuralmi: warning: ") for line in lines), done.stderr
    assert len(set(lines)) == len(lines)
    assert any("no dependence detected" in line for line in lines)


def test_plot_without_matplotlib_says_how_to_install(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(pair[0].parent / "p.png"), *FAST]) == 2
    assert "pip install 'neuralmi[plot]'" in capsys.readouterr().err


def test_parquet_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(2)
    a = rng.normal(size=200)
    pd.DataFrame({"a": a, "b": a + rng.normal(size=200)}).to_parquet(tmp_path / "t.parquet")
    assert main(["estimate", str(tmp_path / "t.parquet"), "--x", "a", "--y", "b", "--json", *FAST]) == 0
    assert json.loads(capsys.readouterr().out)["n_test"] == 60


@pytest.mark.slow
def test_bench_quick_runs_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--peers", "ksg", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "gaussian_5d_1nat" in table and "ksg" in table
    data = json.loads(out.read_text())
    assert {r["method"] for r in data["summary"]} == {"neuralmi[dv]", "ksg"}


def test_parquet_non_numeric_column_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": ["u", "v", "w"]}).to_parquet(tmp_path / "t.parquet")
    assert main(["estimate", str(tmp_path / "t.parquet"), "--x", "a", "--y", "label", *FAST]) == 2
    assert "column 'label' is non-numeric" in capsys.readouterr().err


def test_discrete_labels_from_a_table_with_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """String labels in a CSV column are declared with --discrete y: one-hot, renumbering-invariant, threads recorded."""
    import pandas as pd

    rng = np.random.default_rng(3)
    labels = rng.choice(["cat", "dog", "eel"], size=600)
    means = {"cat": -2.0, "dog": 0.0, "eel": 2.0}
    feature = np.array([means[v] for v in labels]) + rng.normal(size=600)
    pd.DataFrame({"f": feature, "animal": labels}).to_csv(tmp_path / "t.csv", index=False)
    args = ["estimate", str(tmp_path / "t.csv"), "--x", "f", "--y", "animal", "--discrete", "y", "--threads", "1"]
    assert main([*args, "--steps", "100", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["discrete_y"] is True and out["threads"] == 1 and out["critic_kind"] in out["candidates"]
    assert out["mi_nats"] > 0.3  # three well-separated classes: about 0.75 nats
    assert main([*args[:-2], "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


@pytest.fixture
def columns_csv(tmp_path: Path) -> Path:
    import pandas as pd

    rng = np.random.default_rng(4)
    z = rng.normal(size=(800, 2))
    table = pd.DataFrame({"a": z[:, 0], "b": 0.8 * z[:, 0] + 0.6 * z[:, 1], "c": rng.normal(size=800)})
    table["label"] = np.where(table["a"] + 0.5 * rng.normal(size=800) > 0, "up", "down")
    table.to_csv(tmp_path / "cols.csv", index=False)
    return tmp_path / "cols.csv"


def test_matrix_json_of_chosen_columns(columns_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`neuralmi matrix`: the Gaussian pair a-b at its closed form 1/2 ln(1/(1-0.64)), within error bars; strict JSON."""
    assert main(["matrix", str(columns_csv), "--columns", "0:3", "--critic", "gaussian", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == out["columns"] == ["a", "b", "c"] and out["nats"][0][0] is None
    assert abs(out["nats"][0][1] - 0.5 * math.log(1 / 0.36)) < 4 * out["stderr"][0][1]
    assert main(["matrix", str(columns_csv), "--columns", "a,b,c", "--critic", "gaussian", "--quiet"]) == 0
    assert "held-out; 3 pairs" in capsys.readouterr().out


def test_matrix_target_groups_discrete_and_plot(columns_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "rank.png"
    args = ["matrix", str(columns_csv), "--target", "label", "--discrete", "label", "--group", "ab=a,b", "--group", "c=c"]
    assert main([*args, "--steps", "50", "--seed", "1", "--threads", "1", "--plot", str(plot), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("ab") and lines[2].startswith("c") and plot.exists()
    assert main([*args, "--plot", str(plot)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_matrix_usage_errors(columns_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(columns_csv), "--target", "zz", "--quiet"]) == 2
    assert "no column named 'zz'" in capsys.readouterr().err
    assert main(["matrix", str(columns_csv), "--group", "nogroup", "--quiet"]) == 2
    assert "--group takes NAME=COLS" in capsys.readouterr().err
    assert main(["matrix", str(columns_csv), "--critic", "gaussian", "--quiet"]) == 2  # the label column is text
    assert "declare it with discrete=['label']" in capsys.readouterr().err
    assert main(["matrix", str(columns_csv), "--columns", "a:c", "--quiet"]) == 2
    assert "ranges a:b of indices" in capsys.readouterr().err
