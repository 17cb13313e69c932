"""The neuralmi command, through main(argv) and a real subprocess."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, get_args

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
        (
            lambda d: [str(d / "text.csv"), "--x", "a", "--y", "b"],
            "column 'b' is non-numeric: row 0 holds 'x', not a number; if it holds category labels, declare it with --discrete y",
        ),
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
    err = capsys.readouterr().err  # refused before any work, naming the device and the kinds there are
    assert "'gpu'" in err and "'cuda'" in err and err.count("\n") == 1


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
    assert (
        "column 'label' is non-numeric: row 0 holds 'u', not a number; if it holds category labels, declare it with --discrete y"
        in capsys.readouterr().err
    )


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
    assert "a:c" in capsys.readouterr().err  # a range of names is refused, naming it


# ---------------------------------------------- outputs checked first, written whole; Ctrl-C; exit codes (issue 15)


@pytest.fixture(scope="module")
def fitted() -> Any:
    """A real result in a fraction of a second (the closed-form Gaussian critic), for runs that must not train."""
    from neuralmi import estimate_mi

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    return estimate_mi(x, x + rng.normal(size=(400, 2)), critic="gaussian", progress=False)


def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import neuralmi.estimate

    monkeypatch.setattr(neuralmi.estimate, "estimate_mi", lambda *a, **k: pytest.fail("estimate_mi ran"))


def returns(monkeypatch: pytest.MonkeyPatch, result: Any, seen: list[Any] | None = None) -> None:
    import neuralmi.estimate

    def fake(x: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        if seen is not None:
            seen.append((x, y))
        return result

    monkeypatch.setattr(neuralmi.estimate, "estimate_mi", fake)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuralmi import _files

    def refuse(path: Any, mode: int = 0o777) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_files.os, "mkdir", refuse)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--plot", "p.txt"], "--plot p.txt: matplotlib cannot write .txt; name it with one of .*png"),
        (["--plot", "p"], "matplotlib cannot write a file without a suffix"),
        (["--plot", "missing/p.png"], "--plot missing/p.png: the folder missing does not exist"),
        (["--plot", "x.npy/p.png"], "--plot x.npy/p.png: x.npy is a file, not a folder"),
        (["--plot", "."], "--plot . is a folder; give the path of a file"),
        (["--save", "x.npy/m"], "--save x.npy/m: x.npy is a file, not a folder"),
        (["--save", "missing/m"], "the folder missing does not exist"),
        (["--save", "x.npy", "--force"], "--save x.npy is a file; give the path of a folder"),
        (["--save", "notes", "--force"], "notes holds files other than a saved estimator's"),
        (["--save", "m", "READ-ONLY"], "--save m: cannot write in . \\(Permission denied\\)"),
        (["--device", "foo"], "unknown device 'foo'"),
        (["--device", "mps"], "device 'mps' is not available on this machine"),
    ],
)
def test_outputs_and_device_are_checked_before_any_work(
    pair: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    import torch

    if "--plot" in flags:
        pytest.importorskip("matplotlib")
    if "mps" in flags and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    monkeypatch.chdir(pair[0].parent)
    (pair[0].parent / "notes").mkdir()
    (pair[0].parent / "notes" / "todo.txt").write_text("keep me")
    if "READ-ONLY" in flags:
        flags = flags[:-1]
        _read_only(monkeypatch)
    no_training(monkeypatch)
    assert main(["estimate", "x.npy", "y.npy", *flags, "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert (pair[0].parent / "notes" / "todo.txt").read_text() == "keep me"


def test_bench_checks_its_json_path_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import neuralmi.benchmark.runner

    monkeypatch.setattr(neuralmi.benchmark.runner, "run", lambda *a, **k: pytest.fail("the benchmark ran"))
    assert main(["bench", "--quick", "--json", str(tmp_path / "missing" / "b.json")]) == 2
    assert "--json" in capsys.readouterr().err


def _pickled(d: Path) -> None:
    np.save(d / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: (d / "e.npy").write_bytes(b""), ["e.npy", "y.npy"], "e.npy: the file is empty"),
        (lambda d: (d / "dir.npy").mkdir(), ["dir.npy", "y.npy"], "dir.npy: a folder, not a file"),
        (_pickled, ["o.npy", "y.npy"], "o.npy: holds Python objects"),
        (lambda d: np.save(d / "s.npy", np.float64(1.0)), ["s.npy", "y.npy", "--x", "0"], "s.npy: columns are picked from a 1-D"),
        (lambda d: None, ["x.npy", "y.npy", "--x", "a:b"], "column range 'a:b' must be of indices"),
        (lambda d: np.save(d / "n.npy", np.zeros((400, 0))), ["n.npy", "y.npy"], "n.npy: X has samples of no features"),
        (lambda d: np.save(d / "b.npy", np.arange(400) + 2**60), ["b.npy", "y.npy"], r"b.npy: X holds integers beyond 2\*\*53"),
        (
            lambda d: (d / "u.csv").write_text("a,b\n" + "1,2\n" * 30 + "1_000,3\n"),
            ["u.csv", "--x", "a", "--y", "b"],
            "u.csv: X column 'a' is non-numeric: row 30 holds '1_000', not a number",
        ),
        (
            lambda d: (d / "years.csv").write_text("2019,2020\n" + "0.5,1.5\n" * 30),
            ["years.csv", "--x", "0", "--y", "1"],
            "years.csv: the first row .* --header or .* --no-header",
        ),
    ],
)
def test_input_the_user_can_fix_is_exit_2_and_one_sentence(
    pair: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(pair[0].parent)
    make(pair[0].parent)
    no_training(monkeypatch)
    assert main(["estimate", *args, "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and re.search(message, err[0]) and "internal error" not in err[0], err


def test_an_unreadable_file_is_exit_2(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import neuralmi.tables

    monkeypatch.setattr(neuralmi.tables.os, "access", lambda path, mode: False)  # root reads anything: the check is faked
    no_training(monkeypatch)
    assert main(["estimate", str(pair[0]), str(pair[1])]) == 2
    assert "x.npy: permission denied, the file cannot be read" in capsys.readouterr().err


def test_header_and_thousands_flags(
    tmp_path: Path, fitted: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "years.csv").write_text("2019,2020\n" + "".join(f"{i / 7},{i / 3}\n" for i in range(300)))
    (tmp_path / "t.tsv").write_text("a\tb\n" + "".join(f"1,{i:03d}\t{i}\n" for i in range(300)))
    seen: list[Any] = []
    returns(monkeypatch, fitted, seen)
    assert main(["estimate", str(tmp_path / "years.csv"), "--x", "2019", "--y", "2020", "--header", "--quiet"]) == 0
    assert main(["estimate", str(tmp_path / "years.csv"), "--x", "0", "--y", "1", "--no-header", "--quiet"]) == 0
    assert main(["estimate", str(tmp_path / "t.tsv"), "--x", "a", "--y", "b", "--thousands", ",", "--quiet"]) == 0
    assert [len(x) for x, _ in seen] == [300, 301, 300]
    assert seen[2][0][:3].ravel().tolist() == [1000.0, 1001.0, 1002.0]
    capsys.readouterr()


def test_outputs_are_written_whole_with_the_umask(pair: tuple[Path, Path], fitted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from neuralmi.io import load

    returns(monkeypatch, fitted)
    d = pair[0].parent
    before = os.umask(0o002)
    try:
        assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(d / "c.svg"), "--save", str(d / "m"), "--quiet"]) == 0
    finally:
        os.umask(before)
    assert (d / "c.svg").read_bytes().lstrip().startswith(b"<?xml") and (d / "c.svg").stat().st_mode & 0o777 == 0o664
    assert (d / "m").stat().st_mode & 0o777 == 0o775 and {p.stat().st_mode & 0o777 for p in (d / "m").iterdir()} == {0o664}
    assert load(d / "m").summary["x_shape"] == [2] and hidden(d) == []


def test_ctrl_c_during_training_is_130_and_one_line(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import neuralmi.estimate

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(neuralmi.estimate, "estimate_mi", interrupted)
    d = pair[0].parent
    assert main(["estimate", str(pair[0]), str(pair[1]), "--save", str(d / "m")]) == 130
    assert capsys.readouterr().err == "neuralmi: interrupted\n" and not (d / "m").exists()


@pytest.mark.parametrize("at", [1, 3, 4])
def test_ctrl_c_while_writing_outputs_leaves_none_of_them(
    pair: tuple[Path, Path], fitted: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], at: int
) -> None:
    """KeyboardInterrupt at the 1st or 3rd file of --save, or while the plot is drawn into its file (4th)."""
    pytest.importorskip("matplotlib")
    from neuralmi import _files

    real, calls = _files._write_new, []

    def write(path: Path, fn: Any) -> None:
        calls.append(path)
        if len(calls) == at:
            raise KeyboardInterrupt
        real(path, fn)

    returns(monkeypatch, fitted)
    monkeypatch.setattr(_files, "_write_new", write)
    d = pair[0].parent
    assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(d / "c.png"), "--save", str(d / "m"), "--quiet"]) == 130
    assert not (d / "c.png").exists() and not (d / "m").exists() and hidden(d) == []
    assert capsys.readouterr().err == "neuralmi: interrupted\n"


def test_ctrl_c_while_moving_outputs_into_place_leaves_all_of_them(
    pair: tuple[Path, Path], fitted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT after the save folder is staged and before the plot is moved: held back until both are in place."""
    pytest.importorskip("matplotlib")
    from neuralmi import _files
    from neuralmi.io import load

    real = _files._commit_folder

    def signalled(s: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        real(s)

    returns(monkeypatch, fitted)
    monkeypatch.setattr(_files, "_commit_folder", signalled)
    d = pair[0].parent
    assert main(["estimate", str(pair[0]), str(pair[1]), "--plot", str(d / "c.png"), "--save", str(d / "m"), "--quiet"]) == 130
    assert (d / "c.png").read_bytes()[:4] == b"\x89PNG" and load(d / "m").summary["x_shape"] == [2] and hidden(d) == []


def _interactive_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it (a CI job run in the background may inherit it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("launcher", ["module", "script"])
def test_ctrl_c_while_importing_is_one_line_and_130(pair: tuple[Path, Path], launcher: str) -> None:
    """SIGINT at several moments of start-up (inside torch's C++ import included, which aborted with -6): no traceback."""
    start = [sys.executable, "-m", "neuralmi"] if launcher == "module" else [str(Path(sys.executable).parent / "neuralmi")]
    if not Path(start[0]).exists():
        pytest.skip("the neuralmi console script is not installed beside this interpreter")
    codes = []
    for delay in (0.3, 0.8, 1.5, 3.0):
        cmd = [*start, "estimate", str(pair[0]), str(pair[1]), "--steps", "5", "--quiet"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_interactive_sigint)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err and "terminate" not in err, err
        # 130 with one line; or ended by the signal itself before Python's handler was up;
        # or 0: the short run ended before a late signal arrived
        assert proc.returncode in (130, -signal.SIGINT, 0) and err in ("neuralmi: interrupted\n", ""), (proc.returncode, err)
        codes.append(proc.returncode)
    assert 130 in codes


def test_a_ctrl_c_held_during_the_import_is_reported_after_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The import of the command line defers SIGINT: it is recorded, then raised once torch is loaded."""
    import neuralmi.__main__ as launch

    real_import = __import__

    raised_inside: list[bool] = []

    def importing(name: str, *args: object, **kwargs: object) -> object:
        if name == "neuralmi.cli":
            try:  # arrives while the import runs: must not raise inside it
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
            except KeyboardInterrupt:
                raised_inside.append(True)
                raise
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive shell
    try:
        monkeypatch.setattr("builtins.__import__", importing)
        assert launch.run(["bounds"]) == 130 and not raised_inside
        assert capsys.readouterr().err == "neuralmi: interrupted\n"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_ignored_sigint_stays_ignored_during_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under nohup or in a background job SIGINT is ignored: the launcher neither records it nor changes that."""
    import neuralmi.__main__ as launch

    real_import = __import__

    def importing(name: str, *args: object, **kwargs: object) -> object:
        if name == "neuralmi.cli":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        monkeypatch.setattr("builtins.__import__", importing)
        assert launch.run(["bounds"]) == 0 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
