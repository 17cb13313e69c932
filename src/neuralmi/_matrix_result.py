"""The result of :func:`neuralmi.mi_matrix` (private home of :class:`MIMatrix`): tables, ranking, JSON and a plot."""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from neuralmi.errors import NeuralMIError
from neuralmi.result import MIResult, json_safe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MIMatrix"]

NO_DEPENDENCE = "no candidate critic beat the untrained one"


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise NeuralMIError("tables of an MIMatrix need pandas: pip install 'neuralmi[dataframes]'") from None
    return pd


@dataclass
class MIMatrix:
    """Held-out MI (nats) of pairs of variables, with standard errors and 95% intervals.

    Without a target, ``rows`` and ``columns`` are the same variables and the tables are symmetric
    with an empty (NaN) diagonal. With a target, ``rows`` are the variables and ``columns`` is
    ``[target]``. ``results[(a, b)]`` is pair (a, b)'s full :class:`~neuralmi.MIResult` (its critic,
    candidates, curve and warnings). ``nats``, ``stderr``, ``ci_low`` and ``ci_high`` are pandas
    DataFrames when the data was one, else numpy arrays (``values``, ``errors``, ``low``, ``high``
    are always the arrays).
    """

    rows: list[Hashable]
    columns: list[Hashable]
    values: np.ndarray
    errors: np.ndarray
    low: np.ndarray
    high: np.ndarray
    results: dict[tuple[Hashable, Hashable], MIResult] = field(repr=False)
    target: Hashable | None = None
    frame: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_pairs(
        cls,
        names: Sequence[Hashable],
        pairs: Sequence[tuple[int, int]],
        results: Sequence[MIResult],
        *,
        target: Hashable | None,
        frame: bool,
        seconds: float,
        notes: Sequence[str] = (),
    ) -> MIMatrix:
        """Assemble the tables from each pair (indices into ``names``; with a target, it is the last name)."""
        rows, columns = (list(names[:-1]), [names[-1]]) if target is not None else (list(names), list(names))
        tables = [np.full((len(rows), len(columns)), math.nan) for _ in range(4)]
        found: dict[tuple[Hashable, Hashable], MIResult] = {}
        messages = list(notes)
        for (a, b), r in zip(pairs, results):
            found[(names[a], names[b])] = r
            cells = [(a, 0)] if target is not None else [(a, b), (b, a)]
            for table, value in zip(tables, (r.nats, r.stderr, *r.ci)):
                for i, j in cells:
                    table[i, j] = value
            messages += [f"{names[a]!r} / {names[b]!r}: {m}" for m in r.warnings if NO_DEPENDENCE not in m]
        values, errors, low, high = tables
        return cls(
            rows, columns, values, errors, low, high, found, target=target, frame=frame, seconds=seconds, warnings=messages
        )

    def _table(self, values: np.ndarray) -> Any:
        if not self.frame:
            return values
        return _pandas().DataFrame(values, index=list(self.rows), columns=list(self.columns))

    @property
    def nats(self) -> Any:
        """Estimates in nats: a DataFrame (for a DataFrame's columns) or an array (rows, columns)."""
        return self._table(self.values)

    @property
    def bits(self) -> Any:
        """Estimates in bits."""
        return self._table(self.values / math.log(2.0))

    @property
    def stderr(self) -> Any:
        """Standard errors in nats, in the layout of :attr:`nats`."""
        return self._table(self.errors)

    @property
    def ci_low(self) -> Any:
        """Lower ends of the 95% intervals."""
        return self._table(self.low)

    @property
    def ci_high(self) -> Any:
        """Upper ends of the 95% intervals."""
        return self._table(self.high)

    def records(self) -> list[dict[str, Any]]:
        """One JSON-safe dict per pair: names, nats, stderr, interval, the reported critic, whether dependence was detected."""
        out = []
        for (a, b), r in self.results.items():
            row = {"a": a, "b": b, "nats": r.nats, "stderr": r.stderr, "ci_low": r.ci[0], "ci_high": r.ci[1]}
            out.append(json_safe({**row, "critic": r.critic_kind, "detected": r.detected, "n_test": r.n_test}))
        return out

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per pair (columns a, b, nats, stderr, ci_low, ci_high, critic, detected)."""
        table = _pandas().DataFrame(
            self.records(), columns=["a", "b", "nats", "stderr", "ci_low", "ci_high", "critic", "detected"]
        )
        if self.target is not None:
            table = table.drop(columns="b").set_index("a")
            table.index.name = "feature"
        return table

    def ranking(self) -> Any:
        """:meth:`to_frame` sorted by MI, highest first: with a target, the features ranked by I(feature; target)."""
        return self.to_frame().sort_values("nats", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: names, the four tables as nested lists (NaN as null), each pair, warnings, seconds."""

        def names(values: Sequence[Hashable]) -> list[Any]:
            return [v if isinstance(v, (str, int, float)) else str(v) for v in values]

        tables = {key: json_safe(t.tolist()) for key, t in zip(("nats", "stderr", "ci_low", "ci_high"), self.tables())}
        pairs = [{**p, "a": names([p["a"]])[0], "b": names([p["b"]])[0]} for p in self.records()]
        target = None if self.target is None else names([self.target])[0]
        return {"rows": names(self.rows), "columns": names(self.columns), "target": target, **tables, "pairs": pairs,
                "warnings": list(self.warnings), "seconds": self.seconds}  # fmt: skip

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(nats, stderr, ci_low, ci_high) as arrays."""
        return self.values, self.errors, self.low, self.high

    def __str__(self) -> str:
        width = max(8, *(len(str(c)) for c in self.columns))
        label = max(4, *(len(str(r)) for r in self.rows))
        head = " " * label + "".join(f" {c!s:>{width}}" for c in self.columns)
        lines = [head]
        for name, row in zip(self.rows, self.values):
            lines.append(f"{name!s:<{label}}" + "".join(f" {'—' if math.isnan(v) else f'{v:.4f}':>{width}}" for v in row))
        return "\n".join(lines) + f"\n(nats, held-out; {len(self.results)} pairs, {self.seconds:.1f} s)"

    def plot(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """A heatmap of the matrix (or, with a target, the features' MI with 95% intervals, highest first); a Figure."""
        from neuralmi.plotting import require_matplotlib

        fig = require_matplotlib()(figsize=(7, max(3.0, 0.35 * len(self.rows) + 1.5)), dpi=120)
        ax = fig.subplots()
        if self.target is not None:
            order = np.argsort(-np.nan_to_num(self.values[:, 0], nan=-np.inf), kind="stable")[::-1]
            v, lo, hi = (t[order, 0] for t in (self.values, self.low, self.high))
            ax.barh(range(len(order)), v, xerr=np.stack([v - lo, hi - v]), color="tab:blue", capsize=3)
            ax.set_yticks(range(len(order)), [str(self.rows[i]) for i in order])
            ax.set_xlabel(f"I(feature; {self.target}) [nats], 95% CI")
        else:
            image = ax.imshow(self.values, cmap="viridis", vmin=0)
            fig.colorbar(image, ax=ax, label="MI [nats]")
            ticks = [str(r) for r in self.rows]
            ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right")
            ax.set_yticks(range(len(ticks)), ticks)
            if len(ticks) <= 12:
                for (i, j), v in np.ndenumerate(self.values):
                    if not math.isnan(v):
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_title("mutual information, held-out")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig
