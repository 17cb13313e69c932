r"""The KSG k-nearest-neighbour estimator of I(X;Y): the classical baseline, on KD-trees in O(n) memory.

Algorithm 1 of Kraskov, Stögbauer & Grassberger (2004), "Estimating mutual information", Phys. Rev.
E 69, 066138. In the joint space with the max-norm, :math:`\varepsilon_i` is the distance from
sample i to its k-th nearest neighbour; :math:`n_x(i)` and :math:`n_y(i)` count the other samples
strictly closer than :math:`\varepsilon_i` in x alone and in y alone. Then

.. math:: \hat I = \psi(k) + \psi(n) - \langle \psi(n_x + 1) + \psi(n_y + 1) \rangle .

Ties. Equal distances (duplicate points, values on a lattice, class labels) make the counts
depend on how ties are broken, and duplicates give :math:`\varepsilon_i = 0`. As Kraskov et al.
recommend, each feature gets seeded Gaussian noise of ``jitter`` (1e-10) times its standard
deviation, independent between x and y, before anything is measured. On data without ties it
changes no count (unless two distances agree to about 1e-10 of the scale); on tied data it
breaks each tie at random, and the estimate is that of the data plus vanishing noise: for
``y = x`` with x uniform on m values it is close to ln m. With ``jitter=0`` the counts are strict
at :math:`\varepsilon_i` as written, and a tie is never counted.

The standard error is the subsampling one of Holmes & Nemenman (2019, Phys. Rev. E 100, 022404):
the estimator's variance falls as 1/n, so the spread of the estimates on ``blocks`` disjoint
random parts of the data, divided by √blocks, estimates the spread of the estimate on all of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neuralmi.data import as_samples, check_pair
from neuralmi.errors import NeuralMIError

__all__ = ["KSGEstimate", "ksg"]

LN2 = math.log(2.0)


class KSGEstimate(float):
    """A KSG estimate: a float in nats, carrying its standard error, ``k`` and the sample count.

    >>> r = KSGEstimate(0.5, 0.02, k=3, n=1000)
    >>> r + 1.0, r.stderr, round(r.bits, 4)
    (1.5, 0.02, 0.7213)
    """

    stderr: float
    k: int
    n: int

    def __new__(cls, nats: float, stderr: float = math.nan, k: int = 3, n: int = 0) -> KSGEstimate:
        obj = super().__new__(cls, nats)
        obj.stderr, obj.k, obj.n = float(stderr), int(k), int(n)
        return obj

    @property
    def nats(self) -> float:
        """The estimate in nats, as a plain float."""
        return float(self)

    @property
    def bits(self) -> float:
        """The estimate in bits."""
        return float(self) / LN2

    @property
    def ci(self) -> tuple[float, float]:
        """The 95% normal interval ``nats ± 1.96 stderr``."""
        half = 1.959963984540054 * self.stderr
        return (float(self) - half, float(self) + half)

    def __repr__(self) -> str:
        return f"KSGEstimate(nats={float(self)!r}, stderr={self.stderr!r}, k={self.k}, n={self.n})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a non-finite standard error becomes None)."""
        stderr = self.stderr if math.isfinite(self.stderr) else None
        return {"mi_nats": float(self), "mi_bits": self.bits, "stderr": stderr, "k": self.k, "n": self.n}


def _jittered(x: np.ndarray, y: np.ndarray, jitter: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float64 copies of x and y, each feature plus independent noise of ``jitter`` times its std."""
    rng = np.random.default_rng(seed)
    out = []
    for a in (x, y):
        flat = np.array(a.reshape(len(a), -1), dtype=np.float64)
        if jitter > 0:
            std = flat.std(axis=0)
            flat += jitter * np.where(std > 0, std, 1.0) * rng.standard_normal(flat.shape)
        out.append(flat)
    return out[0], out[1]


def _digamma(values: np.ndarray) -> np.ndarray:
    """The digamma function ψ in float64 (torch's: no scipy needed)."""
    import torch

    return torch.special.digamma(torch.as_tensor(np.asarray(values, dtype=np.float64))).numpy()


def _has_scipy() -> bool:
    """scipy (for its KD-trees) is installed."""
    import importlib.util

    return importlib.util.find_spec("scipy") is not None


KD_TREE_MAX_DIMS = 12
"""Joint dimensions up to which the KD-tree serves; above, KD-trees search slower than blocks of all distances."""

BLOCK_ROWS = 512
"""Rows per block of the all-distances path: its memory is ``BLOCK_ROWS * n`` distances per side."""


def _counts_kdtree(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_x, n_y) by KD-trees: the k-th neighbour in the joint space, then strict counts within its distance."""
    try:
        from scipy.spatial import cKDTree
    except ImportError:
        raise ImportError("ksg needs scipy: pip install 'neuralmi[ksg]'") from None
    joint = np.concatenate((x, y), axis=1)
    distances, _ = cKDTree(joint).query(joint, k=[k + 1], p=np.inf)  # the 0th neighbour is the point itself
    radius = np.nextafter(distances[:, 0], 0.0)  # counting d <= the float below eps is counting d < eps
    nx, ny = (cKDTree(side).query_ball_point(side, radius, p=np.inf, return_length=True) - 1 for side in (x, y))
    return nx, ny


def _counts_blocks(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_x, n_y) from all max-norm distances (``torch.cdist``, float64), :data:`BLOCK_ROWS` rows at a time."""
    import torch

    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    counts = []
    for start in range(0, len(x), BLOCK_ROWS):
        dx, dy = (torch.cdist(t[start : start + BLOCK_ROWS], t, p=float("inf")) for t in (tx, ty))
        eps = torch.maximum(dx, dy).kthvalue(k + 1, dim=1).values[:, None]  # the 0th neighbour is the point itself
        counts.append((((dx < eps).sum(1) - 1).numpy(), ((dy < eps).sum(1) - 1).numpy()))
    return np.concatenate([c[0] for c in counts]), np.concatenate([c[1] for c in counts])


def _ksg_value(x: np.ndarray, y: np.ndarray, k: int, method: str = "auto") -> float:
    """The estimate on flattened float64 samples; ``method`` 'kdtree', 'blocks' or 'auto' (by the joint width)."""
    if method == "auto":
        method = "kdtree" if x.shape[1] + y.shape[1] <= KD_TREE_MAX_DIMS and _has_scipy() else "blocks"
    nx, ny = (_counts_kdtree if method == "kdtree" else _counts_blocks)(x, y, k)
    terms = _digamma(nx + 1.0) + _digamma(ny + 1.0)
    return float(_digamma(np.array([float(k), float(len(x))])).sum() - terms.mean())


def _check(k: int, jitter: float, blocks: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise NeuralMIError(f"k (the neighbour count) must be a positive integer, got {k!r}")
    if not (isinstance(jitter, (int, float)) and math.isfinite(jitter) and jitter >= 0):
        raise NeuralMIError(f"jitter must be a non-negative finite number, got {jitter!r}")
    if not isinstance(blocks, (int, np.integer)) or isinstance(blocks, bool) or blocks < 0 or blocks == 1:
        raise NeuralMIError(f"blocks must be 0 (no standard error) or an integer of at least 2, got {blocks!r}")


def ksg(x: Any, y: Any, k: int = 3, *, jitter: float = 1e-10, seed: int = 0, blocks: int = 10) -> KSGEstimate:
    r"""KSG estimate of I(X;Y) in nats: ψ(k) + ψ(n) − ⟨ψ(n_x+1) + ψ(n_y+1)⟩ (Kraskov et al. 2004, algorithm 1).

    ``x`` (n, ...) and ``y`` (n, ...) are paired samples (numpy, torch, pandas or lists; a 1-D input
    is one feature; samples of any shape are flattened). Max-norm distances, searched with KD-trees
    (scipy's ``cKDTree``) up to 12 joint dimensions, in blocks of 512 rows of all distances above
    (where a KD-tree searches slower); both give the same counts, in O(n) memory. Every sample is used for the estimate: there is no held-out
    split, and the estimate is biased (low for strong dependence in many dimensions).

    Args:
        x: samples of X, at least ``k + 2`` rows.
        y: the paired samples of Y, as many rows.
        k: the neighbour count (3 is Kraskov et al.'s choice: small bias, more variance).
        jitter: noise per feature, times its standard deviation, that breaks ties (see the module
            docstring); 0 to leave the data exact.
        seed: seeds the jitter and the parts of the standard error.
        blocks: disjoint random parts for the standard error (Holmes & Nemenman 2019); 0 skips it.
            The standard error is NaN where a part would hold fewer than ``2 (k + 1)`` rows.

    Returns:
        a :class:`KSGEstimate`, a float in nats with ``.stderr``, ``.ci``, ``.bits``.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = x + rng.normal(size=2000)
    >>> r = ksg(x, y)
    >>> abs(r - 0.5 * math.log(2)) < 4 * r.stderr + 0.02, 0 < r.stderr < 0.05
    (True, True)
    """
    _check(k, jitter, blocks)
    xs, ys = as_samples(x, "x"), as_samples(y, "y")
    check_pair(xs, ys, k + 2)
    fx, fy = _jittered(xs, ys, float(jitter), seed)
    value = _ksg_value(fx, fy, int(k))
    stderr = math.nan
    if blocks and len(fx) // blocks >= 2 * (k + 1):
        parts = np.array_split(np.random.default_rng(seed).permutation(len(fx)), blocks)
        spread = np.std([_ksg_value(fx[p], fy[p], int(k)) for p in parts], ddof=1)
        stderr = float(spread / math.sqrt(blocks))
    return KSGEstimate(value, stderr, int(k), len(fx))
