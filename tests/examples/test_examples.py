"""Smoke tests: every script under examples/ runs in --quick mode, prints its table and writes its plot."""

from __future__ import annotations

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
def test_example_runs_quick(script: str, tmp_path: Path) -> None:
    plot, header = SCRIPTS[script]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith(header) for line in lines), proc.stdout
    assert any(line.startswith("|--") for line in lines), proc.stdout
    assert (tmp_path / plot).is_file() and (tmp_path / plot).stat().st_size > 0
