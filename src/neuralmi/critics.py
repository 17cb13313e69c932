r"""Critics: networks T(x, y) that map a batch x (N, ...) and y (M, ...) to scores (N, M).

``critic(x, y)[i, j] = T(x_i, y_j)`` scores all pairs; ``critic.pairs(x, y)[i] = T(x_i, y_i)``
scores aligned pairs only (the joint term, or MINE's shuffled partners). Samples of any
shape are flattened, or mapped to vectors by the ``x_encoder`` / ``y_encoder`` you pass
(e.g. a CNN for images); ``x_dim`` and ``y_dim`` are then the encoders' output widths.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from neuralmi._math import chunked_moments
from neuralmi.errors import NeuralMIError

__all__ = [
    "ACTIVATIONS",
    "CRITICS",
    "FITTED_CRITICS",
    "NETWORK_OPTIONS",
    "Activation",
    "BilinearCritic",
    "ConcatCritic",
    "Critic",
    "CriticName",
    "GaussianCritic",
    "QuadraticCritic",
    "SeparableCritic",
    "make_critic",
    "mlp",
    "options_of",
]

Activation = Literal["relu", "elu", "gelu", "silu", "tanh", "softplus"]
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


def _activation(name: Activation) -> nn.Module:
    if name not in ACTIVATIONS:
        raise NeuralMIError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check_widths(hidden: Sequence[int]) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in hidden):
        raise NeuralMIError(f"hidden must be a sequence of positive int layer widths, got {hidden!r}")
    return tuple(hidden)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: Activation = "relu") -> nn.Sequential:
    """A multilayer perceptron ``in_dim -> hidden... -> out_dim`` with ``activation`` between layers."""
    widths = [in_dim, *_check_widths(hidden), out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        if i > 0:
            layers.append(_activation(activation))
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


def _zero_(layer: nn.Module, first_row: int = 0) -> None:
    """Zero a final linear layer's outputs from ``first_row`` on: an untrained critic then scores every pair 0."""
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"expected a final nn.Linear layer, got {type(layer).__name__}")
    with torch.no_grad():
        layer.weight[first_row:].zero_()
        layer.bias[first_row:].zero_()


def _check_dim(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise NeuralMIError(f"{name} must be a positive int (features per sample after encoding), got {value!r}")
    return value


class Critic(nn.Module):
    """Base of the critics: holds the encoders and checks batches; subclasses score them."""

    def __init__(self, x_dim: int, y_dim: int, x_encoder: nn.Module | None, y_encoder: nn.Module | None) -> None:
        super().__init__()
        self.x_dim = _check_dim("x_dim", x_dim)
        self.y_dim = _check_dim("y_dim", y_dim)
        self.x_encoder = x_encoder if x_encoder is not None else nn.Flatten()
        self.y_encoder = y_encoder if y_encoder is not None else nn.Flatten()

    def encode(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Map x (N, ...) and y (M, ...) to feature matrices (N, x_dim) and (M, y_dim)."""
        ex, ey = self.x_encoder(x), self.y_encoder(y)
        for name, e, dim in (("x", ex, self.x_dim), ("y", ey, self.y_dim)):
            if e.dim() != 2 or e.shape[1] != dim:
                raise NeuralMIError(
                    f"{type(self).__name__} expects {name} with {dim} features per sample after encoding, "
                    f"got encoded shape {tuple(e.shape)}"
                )
        return ex, ey

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Scores ``T(x_i, y_i)`` of aligned pairs, shape (N,)."""
        raise NotImplementedError


class ConcatCritic(Critic):
    r"""Joint MLP critic ``T(x, y) = MLP([x; y])`` (Belghazi et al. 2018).

    For all pairs the first layer is factorised, :math:`W[x; y] + b = W_x x + (W_y y + b)`, and
    broadcast-added into an (N, M, hidden) tensor; N*M concatenated inputs are never built.
    Rows are scored in chunks of at most ``max_elements`` hidden activations.

    >>> critic = ConcatCritic(3, 2, hidden=(8,))
    >>> critic(torch.randn(4, 3), torch.randn(5, 2)).shape
    torch.Size([4, 5])
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (256, 256),
        *,
        activation: Activation = "relu",
        x_encoder: nn.Module | None = None,
        y_encoder: nn.Module | None = None,
        max_elements: int = 2**25,
    ) -> None:
        super().__init__(x_dim, y_dim, x_encoder, y_encoder)
        if len(_check_widths(hidden)) < 1:
            raise NeuralMIError("ConcatCritic needs at least one hidden layer")
        self.first_x = nn.Linear(x_dim, hidden[0], bias=False)
        self.first_y = nn.Linear(y_dim, hidden[0])
        tail = mlp(hidden[0], hidden[1:], 1, activation)
        _zero_(tail[-1])
        self.head = nn.Sequential(_activation(activation), tail)
        self.max_elements = max_elements

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        ex, ey = self.encode(x, y)
        hx, hy = self.first_x(ex), self.first_y(ey)
        rows = max(1, self.max_elements // max(1, hy.shape[0] * hy.shape[1]))
        chunks = [self.head(h[:, None, :] + hy[None, :, :]).squeeze(-1) for h in hx.split(rows)]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        ex, ey = self.encode(x, y)
        return self.head(self.first_x(ex) + self.first_y(ey)).squeeze(-1)


class SeparableCritic(Critic):
    r"""Separable critic ``T(x, y) = g(x)^T h(y) + a(x) + b(y)`` (Poole et al. 2019): one matmul for all pairs.

    The per-sample terms a(x) and b(y) (one extra output of each network) let it represent log
    density ratios with terms in x or y alone, such as the quadratic terms of a Gaussian's,
    without spending embedding dimensions on constants. ``marginal_terms=False`` drops them.

    >>> critic = SeparableCritic(3, 2, hidden=(8,), embed_dim=4)
    >>> critic(torch.randn(4, 3), torch.randn(5, 2)).shape
    torch.Size([4, 5])
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (256,),
        embed_dim: int = 32,
        *,
        activation: Activation = "relu",
        marginal_terms: bool = True,
        x_encoder: nn.Module | None = None,
        y_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__(x_dim, y_dim, x_encoder, y_encoder)
        self.embed_dim, self.marginal_terms = _check_dim("embed_dim", embed_dim), marginal_terms
        self.g = mlp(x_dim, hidden, embed_dim + marginal_terms, activation)
        self.h = mlp(y_dim, hidden, embed_dim + marginal_terms, activation)
        _zero_(self.h[-1])  # g(x)^T h(y) + b(y) starts at 0; g gets gradients once h moves
        _zero_(self.g[-1], first_row=embed_dim)  # and so does a(x)

    def _embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        ex, ey = self.encode(x, y)
        return self.g(ex), self.h(ey)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        gx, hy = self._embed(x, y)
        if not self.marginal_terms:
            return gx @ hy.T
        # [g, a, 1] @ [h, 1, b]^T = g h^T + a + b^T in one matmul: no (N, M) broadcast passes
        e = self.embed_dim
        gx = torch.cat((gx, gx.new_ones(len(gx), 1)), 1)
        hy = torch.cat((hy[:, :e], hy.new_ones(len(hy), 1), hy[:, e:]), 1)
        return gx @ hy.T

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        gx, hy = self._embed(x, y)
        e = self.embed_dim
        scores = (gx[:, :e] * hy[:, :e]).sum(-1)
        return scores + gx[:, e] + hy[:, e] if self.marginal_terms else scores


class BilinearCritic(Critic):
    r"""Bilinear critic ``T(x, y) = e_x(x)^T W e_y(y)`` on (encoded) samples (Oord et al. 2018, CPC).

    >>> critic = BilinearCritic(3, 2)
    >>> critic(torch.randn(4, 3), torch.randn(5, 2)).shape
    torch.Size([4, 5])
    """

    def __init__(self, x_dim: int, y_dim: int, *, x_encoder: nn.Module | None = None, y_encoder: nn.Module | None = None) -> None:
        super().__init__(x_dim, y_dim, x_encoder, y_encoder)
        self.weight = nn.Parameter(torch.zeros(x_dim, y_dim))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        ex, ey = self.encode(x, y)
        return ex @ self.weight @ ey.T

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        ex, ey = self.encode(x, y)
        return ((ex @ self.weight) * ey).sum(-1)


class _QuadraticForm(Critic):
    r"""Scores of a quadratic form in centred features: ``T = x̃^T C ỹ + u(x) + v(y)``, x̃ = x - mean_x, ỹ = y - mean_y."""

    mean_x: Tensor
    mean_y: Tensor
    cross: Tensor

    def _centred(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(x̃, ỹ): the encoded features minus their fitted means."""
        ex, ey = self.encode(x, y)
        return ex - self.mean_x, ey - self.mean_y

    def _sides(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(x̃, ỹ, u(x), v(y)): the centred features and the terms in x or y alone."""
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        cx, cy, u, v = self._sides(x, y)
        return cx @ self.cross @ cy.T + u[:, None] + v[None, :]

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        cx, cy, u, v = self._sides(x, y)
        return ((cx @ self.cross) * cy).sum(-1) + u + v


def _quadratic(c: Tensor, matrix: Tensor) -> Tensor:
    """Row-wise ``c_i^T Q c_i``."""
    return ((c @ matrix) * c).sum(-1)


class GaussianCritic(_QuadraticForm):
    r"""The log density ratio of a Gaussian fitted to (x, y), in closed form: no training.

    With the joint precision :math:`\Sigma^{-1} = [[P_{xx}, P_{xy}], [P_{yx}, P_{yy}]]` of centred
    features,

    .. math:: T(x, y) = -x^T P_{xy} y - \tfrac12 x^T (P_{xx} - \Sigma_x^{-1}) x
              - \tfrac12 y^T (P_{yy} - \Sigma_y^{-1}) y + I_G,

    where :math:`I_G = \tfrac12 \log(|\Sigma_x||\Sigma_y| / |\Sigma|)` is the Gaussian MI. It is the
    optimal critic when (x, y) is jointly Gaussian — after normal scores, the Gaussian-copula
    critic (Ince et al. 2017, "A statistical framework for neuroimaging data analysis based on
    mutual information estimated via a Gaussian copula"). Unfitted, it scores every pair 0.

    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 2, generator=gen); y = x + torch.randn(2000, 2, generator=gen)
    >>> critic = GaussianCritic.fit(x, y)
    >>> round(float(critic.gaussian_mi), 1)  # truth: -ln(1 - 1/2) = 0.69
    0.7
    """

    quad_x: Tensor
    quad_y: Tensor
    gaussian_mi: Tensor

    def __init__(self, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim, None, None)
        for name, shape in (
            ("mean_x", (x_dim,)),
            ("mean_y", (y_dim,)),
            ("cross", (x_dim, y_dim)),
            ("quad_x", (x_dim, x_dim)),
            ("quad_y", (y_dim, y_dim)),
            ("gaussian_mi", ()),
        ):
            self.register_buffer(name, torch.zeros(shape))

    @classmethod
    def fit(cls, x: Tensor, y: Tensor, ridge: float = 1e-3) -> GaussianCritic:
        """Fit to samples x (n, ...) and y (n, ...) in float64; ``ridge`` is added to each feature's variance.

        The mean and covariance are accumulated in float64 over chunks of rows (no float64 copy of the samples).
        """
        if len(x) != len(y):
            raise NeuralMIError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
        if not (ridge >= 0 and math.isfinite(ridge)):
            raise NeuralMIError(f"ridge must be a non-negative finite number, got {ridge!r}")
        ex, ey = x.reshape(len(x), -1), y.reshape(len(y), -1)
        dx, dy = ex.shape[1], ey.shape[1]
        if len(ex) <= dx + dy:
            raise NeuralMIError(f"a Gaussian critic needs more samples than features: {len(ex)} samples, {dx + dy} features")
        mean, cov = chunked_moments(lambda a, b: torch.cat((ex[a:b].double(), ey[a:b].double()), 1), len(ex))
        cov = cov + ridge * torch.eye(dx + dy, dtype=cov.dtype, device=cov.device)
        precision = torch.linalg.inv(cov)
        inv_x, inv_y = torch.linalg.inv(cov[:dx, :dx]), torch.linalg.inv(cov[dx:, dx:])
        logdet = torch.linalg.slogdet
        critic = cls(dx, dy).to(x.device)
        values = {
            "mean_x": mean[:dx],
            "mean_y": mean[dx:],
            "cross": -precision[:dx, dx:],
            "quad_x": -0.5 * (precision[:dx, :dx] - inv_x),
            "quad_y": -0.5 * (precision[dx:, dx:] - inv_y),
            "gaussian_mi": 0.5 * (logdet(cov[:dx, :dx])[1] + logdet(cov[dx:, dx:])[1] - logdet(cov)[1]),
        }
        for name, value in values.items():
            getattr(critic, name).copy_(value.to(torch.float32))
        return critic

    def _sides(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        cx, cy = self._centred(x, y)
        return cx, cy, _quadratic(cx, self.quad_x) + self.gaussian_mi, _quadratic(cy, self.quad_y)


class QuadraticCritic(_QuadraticForm):
    r"""Trainable quadratic critic ``T = x̃^T C ỹ + x̃^T A x̃ + ỹ^T B ỹ + a^T x̃ + b^T ỹ + c`` on centred features.

    The family of every Gaussian log density ratio, and of exponential tilts with pairwise
    statistics: the DV bound is concave in its parameters, which enter T linearly. Started from
    :meth:`from_gaussian` and trained by a bound, it refines the closed-form fit where the data
    are not Gaussian (e.g. for x ∈ {±1}^d, y = x + s the optimal critic is quadratic but has
    unbounded coefficients). Unfitted, it scores every pair 0.

    >>> x = torch.randn(500, 2); y = x + torch.randn(500, 2)
    >>> critic = QuadraticCritic.from_gaussian(GaussianCritic.fit(x, y))
    >>> torch.allclose(critic(x, y), GaussianCritic.fit(x, y)(x, y))
    True
    """

    def __init__(self, x_dim: int, y_dim: int) -> None:
        super().__init__(x_dim, y_dim, None, None)
        self.register_buffer("mean_x", torch.zeros(x_dim))
        self.register_buffer("mean_y", torch.zeros(y_dim))
        self.cross = nn.Parameter(torch.zeros(x_dim, y_dim))
        self.quad_x = nn.Parameter(torch.zeros(x_dim, x_dim))
        self.quad_y = nn.Parameter(torch.zeros(y_dim, y_dim))
        self.lin_x = nn.Parameter(torch.zeros(x_dim))
        self.lin_y = nn.Parameter(torch.zeros(y_dim))
        self.offset = nn.Parameter(torch.zeros(()))

    @classmethod
    def from_gaussian(cls, gaussian: GaussianCritic) -> QuadraticCritic:
        """A quadratic critic that scores as the fitted ``gaussian`` does, ready to be trained further."""
        critic = cls(gaussian.x_dim, gaussian.y_dim).to(gaussian.cross.device)
        with torch.no_grad():
            for name in ("mean_x", "mean_y", "cross", "quad_x", "quad_y"):
                getattr(critic, name).copy_(getattr(gaussian, name))
            critic.offset.copy_(gaussian.gaussian_mi)
        return critic

    def _sides(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        cx, cy = self._centred(x, y)
        return cx, cy, _quadratic(cx, self.quad_x) + cx @ self.lin_x + self.offset, _quadratic(cy, self.quad_y) + cy @ self.lin_y


CriticName = Literal["concat", "separable", "bilinear", "gaussian", "quadratic"]
"""The critics :func:`make_critic` and ``estimate_mi(critic=...)`` build by name."""

CRITICS: dict[CriticName, Callable[..., Critic]] = {
    "concat": ConcatCritic,
    "separable": SeparableCritic,
    "bilinear": BilinearCritic,
    "gaussian": GaussianCritic,
    "quadratic": QuadraticCritic,
}
"""Critic classes by name: the keys are :data:`CriticName`'s values."""

FITTED_CRITICS: tuple[CriticName, ...] = ("gaussian", "quadratic")
"""Critics that start from a closed-form fit to data rather than a random initialisation."""

NETWORK_OPTIONS = ("hidden", "embed_dim", "activation")
"""The layout options ``estimate_mi`` hands to a named critic's constructor: each only where the constructor takes it."""


def _check_name(name: str) -> CriticName:
    if name not in get_args(CriticName):
        raise NeuralMIError(f"unknown critic {name!r}; choose one of {sorted(get_args(CriticName))}")
    return name  # type: ignore[return-value]


def options_of(name: str) -> tuple[str, ...]:
    """The :data:`NETWORK_OPTIONS` that critic ``name``'s constructor takes (read from its signature).

    >>> options_of("concat"), options_of("gaussian")
    (('hidden', 'activation'), ())
    """
    parameters = inspect.signature(CRITICS[_check_name(name)]).parameters
    return tuple(option for option in NETWORK_OPTIONS if option in parameters)


def make_critic(name: str, x_dim: int, y_dim: int, **kwargs: object) -> Critic:
    """Build a critic from :data:`CRITICS` by name, e.g. ``make_critic("concat", 5, 5)``."""
    return CRITICS[_check_name(name)](x_dim, y_dim, **kwargs)
