"""Small helpers shared by the example scripts: command line, results table, saving a plot.

Only the examples import this module; it is not part of the ``neuralmi`` package.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")  # no display needed; must precede pyplot imports in the scripts
import matplotlib.pyplot as plt

_LIMITS: list[object] = []  # keeps the thread limits alive for the whole run
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "img"


def parser(description: str, *, seeds: int | None = 3) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with ``--quick``, ``--seed``, ``--out`` and (if ``seeds``) ``--seeds N``."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny run (seconds) for smoke tests; numbers are meaningless")
    p.add_argument("--seed", type=int, default=0, help="first seed; runs use seed, seed+1, ...")
    if seeds is not None:
        p.add_argument("--seeds", type=int, default=seeds, help="number of seeds (repetitions) to average over")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder for the plot, created if missing (default {DEFAULT_OUT}; with --quick, a new temporary folder)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch and BLAS (1 is fastest for these small networks on a busy machine)",
    )
    return p


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line, choose the output folder and apply ``--threads``.

    A ``--quick`` run's numbers are meaningless, so its plot goes to a new temporary folder unless
    ``--out`` names one: it never replaces the committed figures in docs/img.
    """
    args = p.parse_args()
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="neuralmi-example-")) if args.quick else DEFAULT_OUT
    torch.set_num_threads(args.threads)
    try:  # numpy / scikit-learn BLAS and OpenMP pools too (threadpoolctl comes with scikit-learn)
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        _LIMITS.append(threadpool_limits(limits=args.threads))
    return args


def mean_spread(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """``"mean ± sd"`` over seeds (sample standard deviation; just the value for one seed)."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.fmean(values))} ± {fmt.format(statistics.stdev(values))}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table (it pastes straight into docs/applications.md)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    print(f"\n{title}\n")
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def machine() -> str:
    """One line naming the machine the numbers were measured on."""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores visible, {platform.python_implementation()} {platform.python_version()}"


def save(fig: plt.Figure, out: Path, name: str) -> Path:
    """Save ``fig`` as ``out/name`` (PNG, modest DPI to keep files small) and close it."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print(f"plot written to {path}")
    return path


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
