"""Imports among neuralmi's modules point one way: no module reaches itself again, even through a function-local import."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "neuralmi"


def module_name(path: Path) -> str:
    """``neuralmi.benchmark.tasks`` for ``src/neuralmi/benchmark/tasks.py``; a package is named by its folder."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The neuralmi modules one import statement loads, named as in :data:`MODULES`."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        assert node.level == 0, f"{MODULES[module]}:{node.lineno}: a relative import; write `from neuralmi.<module> import`"
        base = node.module or ""
        targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    return [t for t in targets if t in MODULES]


def import_graph() -> dict[str, dict[str, int]]:
    """For each module, the modules it imports anywhere in its source (top level or inside functions), with a line number."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in imported(module, node):
                    if target != module:
                        edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle through each module that lies on a cycle (deduplicated), found by breadth-first search."""
    found: dict[frozenset[str], list[str]] = {}
    for start in graph:
        parents: dict[str, str] = {}
        frontier, seen = [start], {start}
        while frontier and start not in parents:
            nxt = []
            for node in frontier:
                for target in graph[node]:
                    if target == start:
                        parents.setdefault(start, node)
                    elif target not in seen:
                        seen.add(target)
                        parents[target] = node
                        nxt.append(target)
            frontier = nxt
        if start in parents:
            chain, node = [], parents[start]
            while node != start:
                chain.append(node)
                node = parents[node]
            cycle = [start, *reversed(chain)]
            first = cycle.index(min(cycle))
            found.setdefault(frozenset(cycle), cycle[first:] + cycle[:first])
    return list(found.values())


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    """``a (line 3) -> b (line 9) -> a``: ``a (line 3) -> b`` says line 3 of module a imports b."""
    steps = [*cycle, cycle[0]]
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(steps, steps[1:])) + f" -> {cycle[0]}"


def test_the_graph_sees_function_local_imports() -> None:
    graph = import_graph()
    assert "neuralmi.estimate" in graph["neuralmi.cli"]  # cli imports estimate only inside functions
    assert "neuralmi.benchmark.distributions" in graph["neuralmi.benchmark.tasks"]


def test_cycles_finds_a_known_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert [sorted(c) for c in cycles(graph)] == [["a", "b", "c"]]
    assert describe(["a", "b", "c"], graph) == "a (line 1) -> b (line 2) -> c (line 3) -> a"


def test_no_import_cycles_among_neuralmi_modules() -> None:
    graph = import_graph()
    found = [describe(c, graph) for c in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)
