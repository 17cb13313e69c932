"""Smoke tests: every script under examples/ runs in --quick mode, prints its table and writes its plot, never into docs/img."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {
    "gan_mode_collapse.py": ("gan_mode_collapse.png", "| model"),
    "information_bottleneck.py": ("information_bottleneck.png", "| model"),
    "representation_learning.py": ("representation_learning.png", "| representation (width)"),
    "everyday_recipe.py": ("everyday_recipe.png", "| sampler"),
}


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_example_runs_quick_and_writes_its_plot_to_a_temporary_folder(script: str, tmp_path: Path) -> None:
    plot, header = SCRIPTS[script]
    committed = ROOT / "docs" / "img" / plot
    before = committed.stat().st_mtime_ns if committed.exists() else None
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where tempfile makes the --quick output folder
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith(header) for line in lines), proc.stdout
    assert any(line.startswith("|--") for line in lines), proc.stdout
    written = [Path(line.removeprefix("plot written to ")) for line in lines if line.startswith("plot written to ")]
    assert len(written) == 1 and written[0].name == plot and written[0].parent.parent == tmp_path, proc.stdout
    assert written[0].stat().st_size > 0
    assert (committed.stat().st_mtime_ns if committed.exists() else None) == before


def test_out_names_the_plot_folder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "everyday_recipe.py"), "--quick", "--out", str(tmp_path / "figs")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "figs" / "everyday_recipe.png").stat().st_size > 0
