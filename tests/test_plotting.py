"""Plots return Figures, write files only when given a path, and leave the user's matplotlib backend alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from neuralmi import estimate_mi  # noqa: E402
from neuralmi.plotting import plot_bench, plot_curve, plot_demo  # noqa: E402


@pytest.fixture(scope="module")
def result() -> Any:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    return estimate_mi(x, x + rng.normal(size=(300, 1)), max_steps=30, progress=False)


DEMO_ROWS = [
    {"name": "a", "mi_nats": 0.5, "ci_low": 0.4, "ci_high": 0.6, "truth_nats": 0.52},
    {"name": "b", "mi_nats": 0.0, "ci_low": -0.1, "ci_high": 0.1, "truth_nats": 0.0},
]
BENCH_ROWS = [
    {"task": "a", "method": "neuralmi[dv]", "mean": 0.5, "truth": 0.52, "spread": 0.02},
    {"task": "a", "method": "ksg", "mean": 0.45, "truth": 0.52, "spread": 0.0},
]


def plots(result: Any) -> dict[str, Callable[..., Figure]]:
    return {
        "curve": lambda path=None: plot_curve(result, path, truth=0.35),
        "demo": lambda path=None: plot_demo(DEMO_ROWS, path),
        "bench": lambda path=None: plot_bench(BENCH_ROWS, [], path),
    }


@pytest.fixture
def user_backend() -> Iterator[str]:
    """A backend other than Agg chosen by the user (svg renders headless too); the original is restored after."""
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    yield matplotlib.get_backend()
    matplotlib.use(before)


@pytest.mark.parametrize("name", ["curve", "demo", "bench"])
def test_returns_a_figure_and_writes_nothing_without_a_path(
    name: str, result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_backend: str
) -> None:
    monkeypatch.chdir(tmp_path)
    fig = plots(result)[name]()
    assert isinstance(fig, Figure) and fig.axes
    assert list(tmp_path.iterdir()) == []
    assert matplotlib.get_backend() == user_backend


@pytest.mark.parametrize("name", ["curve", "demo", "bench"])
def test_writes_the_figure_to_a_given_path(name: str, result: Any, tmp_path: Path) -> None:
    fig = plots(result)[name](tmp_path / "p.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_pyplot_keeps_no_figure_of_ours(result: Any) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_curve(result)
    assert plt.get_fignums() == before
