"""neuralmi: neural estimation of mutual information in PyTorch.

Measure I(X;Y) with :func:`estimate_mi` (I(X;Y|Z) with :func:`estimate_cmi`, many pairs with :func:`mi_matrix`, or the classical
:func:`ksg`), or train with it as a loss through :class:`MILoss`.
"""

from neuralmi._version import __version__
from neuralmi.bounds import BOUNDS, donsker_varadhan, infonce, js, nwj, smile
from neuralmi.cmi import CMIResult, estimate_cmi
from neuralmi.critics import BilinearCritic, ConcatCritic, SeparableCritic
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig, MIResult, MIWarning, estimate_mi
from neuralmi.io import load, save
from neuralmi.ksg import ksg
from neuralmi.losses import CLUB, MINE, MILoss
from neuralmi.matrix import MIMatrix, mi_matrix

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
