"""The ``neuralmi bench`` subcommand's families: ``--family`` and ``--list`` (tiny runs: seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuralmi.benchmark import FAMILIES
from neuralmi.cli import main


def test_list_shows_every_family_and_monte_carlo_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert "family classic (18 tasks):" in out and "family nongaussian (20 tasks):" in out
    assert "gaussian_5d_1nat" in out and "spiral_8x8_3nat" in out
    assert "x_shape" in out and "truth=0.4087 ± 0.0017 nats" in out
    assert "family holdout (5 tasks):" in out and "shear_5x5_2nat" in out and "truth=0.4326 ± 0.0009 nats" in out


def test_list_one_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list", "--family", "classic"]) == 0
    out = capsys.readouterr().out
    assert "family classic" in out and "nongaussian" not in out and "parabola" not in out


def test_unknown_family_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--family", "nope"]) == 2
    assert "unknown family 'nope'; choose from classic, nongaussian" in capsys.readouterr().err


def test_family_and_tasks_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--family", "nongaussian", "--tasks", "x_shape"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_runs_a_family_with_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(FAMILIES, "tiny", ("class_labels_5f_10c",))
    out = tmp_path / "bench.json"
    assert main(["bench", "--family", "tiny", "--quick", "--peers", "ksg", "--json", str(out)]) == 0
    assert "class_labels_5f_10c" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert {(r["task"], r["method"]) for r in data["records"]} == {
        ("class_labels_5f_10c", "neuralmi[dv]"),
        ("class_labels_5f_10c", "ksg"),
    }
    assert all(r["truth_stderr"] > 0 and r["n"] == 2000 for r in data["records"])
