"""The public API is small and pinned: a change to it is a deliberate act."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect

import pytest

import neuralmi

PUBLIC = {
    "BOUNDS", "CLUB", "MINE", "BilinearCritic", "CMIResult", "ConcatCritic", "EstimatorConfig", "MILoss", "MIMatrix", "MIResult",
    "MIWarning", "NeuralMIError", "SeparableCritic", "__version__", "donsker_varadhan", "estimate_cmi", "estimate_mi", "infonce",
    "js", "ksg", "load", "mi_matrix", "nwj", "save", "smile",
}  # fmt: skip


def test_top_level_exports_are_pinned() -> None:
    assert set(neuralmi.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(neuralmi, name)


@pytest.mark.parametrize(
    "module",
    [
        "bounds",
        "divergences",
        "critics",
        "conditionals",
        "losses",
        "estimate",
        "cmi",
        "conditional_ratio",
        "data",
        "io",
        "cli",
        "plotting",
        "benchmark",
        "errors",
        "tables",
        "knn",
        "matrix",
    ],
)
def test_every_module_declares_all_and_documents_its_names(module: str) -> None:
    mod = importlib.import_module(f"neuralmi.{module}")
    assert mod.__doc__
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert getattr(obj, "__doc__", None), f"{module}.{name} has no docstring"


def test_the_package_ships_a_py_typed_marker() -> None:
    """PEP 561: without the marker, users' type checkers skip neuralmi's annotations."""
    assert (importlib.resources.files("neuralmi") / "py.typed").is_file()
