"""neuralmi: neural estimation of mutual information in PyTorch.

Measure I(X;Y) with :func:`estimate_mi` (I(X;Y|Z) with :func:`estimate_cmi`, many pairs with :func:`mi_matrix`, or the classical
:func:`ksg`), or train with it as a loss through :class:`MILoss`.
The public names are imported on first use, so ``import neuralmi`` and the command line start
without loading torch (and a Ctrl-C while torch loads is the command line's to report).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from neuralmi._version import __version__
from neuralmi.errors import NeuralMIError

if TYPE_CHECKING:
    from neuralmi.bounds import BOUNDS, donsker_varadhan, infonce, js, nwj, smile
    from neuralmi.cmi import CMIResult, estimate_cmi
    from neuralmi.critics import BilinearCritic, ConcatCritic, SeparableCritic
    from neuralmi.estimate import EstimatorConfig, estimate_mi
    from neuralmi.io import load, save
    from neuralmi.knn import ksg
    from neuralmi.losses import CLUB, MINE, MILoss
    from neuralmi.matrix import MIMatrix, mi_matrix
    from neuralmi.result import MIResult, MIWarning

__all__ = [
    "BOUNDS",
    "CLUB",
    "MINE",
    "BilinearCritic",
    "CMIResult",
    "ConcatCritic",
    "EstimatorConfig",
    "MILoss",
    "MIMatrix",
    "MIResult",
    "MIWarning",
    "NeuralMIError",
    "SeparableCritic",
    "__version__",
    "donsker_varadhan",
    "estimate_cmi",
    "estimate_mi",
    "infonce",
    "js",
    "ksg",
    "load",
    "mi_matrix",
    "nwj",
    "save",
    "smile",
]

_HOMES = {
    **dict.fromkeys(["BOUNDS", "donsker_varadhan", "infonce", "js", "nwj", "smile"], "neuralmi.bounds"),
    **dict.fromkeys(["CMIResult", "estimate_cmi"], "neuralmi.cmi"),
    **dict.fromkeys(["BilinearCritic", "ConcatCritic", "SeparableCritic"], "neuralmi.critics"),
    **dict.fromkeys(["EstimatorConfig", "estimate_mi"], "neuralmi.estimate"),
    **dict.fromkeys(["MIResult", "MIWarning"], "neuralmi.result"),
    **dict.fromkeys(["load", "save"], "neuralmi.io"),
    **dict.fromkeys(["ksg"], "neuralmi.knn"),
    **dict.fromkeys(["CLUB", "MINE", "MILoss"], "neuralmi.losses"),
    **dict.fromkeys(["MIMatrix", "mi_matrix"], "neuralmi.matrix"),
}
"""The module each public name lives in, imported when the name is first used."""


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'neuralmi' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones not yet imported included."""
    return sorted({*globals(), *__all__})
