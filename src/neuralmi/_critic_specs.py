"""Critics described as plain JSON and rebuilt from it: what :mod:`neuralmi.io` saves beside the weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuralmi.candidates import Ensemble, FromOneHot
from neuralmi.conditional_ratio import ConditionalLogRatio
from neuralmi.critics import (
    ACTIVATIONS,
    BilinearCritic,
    ConcatCritic,
    GaussianCritic,
    QuadraticCritic,
    SeparableCritic,
    make_critic,
)
from neuralmi.density_ratio import DensityRatioCritic, MixtureDensityNetwork
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig, build_critic
from neuralmi.labels import ClassifierCritic, ContingencyCritic, Swapped

__all__ = ["build_critic_from", "describe_critic"]


def _mlp_layout(net: nn.Module) -> tuple[list[int], str]:
    """(hidden widths, activation name) of an :func:`~neuralmi.critics.mlp`."""
    layers = list(net.children())
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    acts = [m for m in layers if not isinstance(m, nn.Linear)]
    name = next((k for k, cls in ACTIVATIONS.items() if acts and type(acts[0]) is cls), "relu")
    return [m.out_features for m in linears[:-1]], name


def _describe_mixture(q: MixtureDensityNetwork) -> dict[str, Any]:
    """A mixture density network's constructor arguments."""
    hidden, activation = _mlp_layout(q.net)
    return {
        "context_dim": q.context_dim,
        "features": q.features,
        "components": q.components,
        "hidden": hidden,
        "activation": activation,
        "scales": "tied" if q.tied else "free",
    }


def _build_mixture(spec: dict[str, Any]) -> MixtureDensityNetwork:
    """The unfitted mixture density network :func:`_describe_mixture` described."""
    return MixtureDensityNetwork(
        spec["context_dim"],
        spec["features"],
        spec["components"],
        tuple(spec["hidden"]),
        activation=spec["activation"],
        scales=spec.get("scales", "free"),
    )


def describe_critic(critic: nn.Module) -> dict[str, Any]:
    """The critic's class and constructor arguments as plain JSON: what :func:`build_critic_from` rebuilds before the weights load.

    A network the config names is ``{"type": "network"}`` (rebuilt from the config); a module of
    your own is ``{"type": "custom"}``, which cannot be rebuilt.
    """
    if isinstance(critic, (GaussianCritic, QuadraticCritic)):
        return {"type": "gaussian" if isinstance(critic, GaussianCritic) else "quadratic", "dims": [critic.x_dim, critic.y_dim]}
    if isinstance(critic, DensityRatioCritic):
        return {
            "type": "density_ratio",
            **_describe_mixture(critic.conditional),
            "side": critic.side,
            "floor": critic.floor,
            "reference_rows": len(critic.reference),
        }
    if isinstance(critic, ConditionalLogRatio):
        full, reduced = (_describe_mixture(q) for q in (critic.full, critic.reduced))
        return {"type": "conditional_ratio", "modelled": critic.modelled, "full": full, "reduced": reduced}
    if isinstance(critic, ClassifierCritic):
        hidden, activation = _mlp_layout(critic.network)
        return {
            "type": "classifier",
            "x_dim": critic.x_dim,
            "n_classes": critic.n_classes,
            "hidden": hidden,
            "activation": activation,
        }
    if isinstance(critic, ContingencyCritic):
        return {"type": "contingency", "shape": list(critic.table.shape)}
    if isinstance(critic, FromOneHot):
        return {"type": "one_hot", "coded": list(critic.coded), "inner": describe_critic(critic.critic)}
    if isinstance(critic, Swapped):
        return {"type": "swapped", "inner": describe_critic(critic.critic)}
    if isinstance(critic, Ensemble):
        return {"type": "ensemble", "members": [describe_critic(m) for m in critic.members]}
    if type(critic) in (SeparableCritic, ConcatCritic, BilinearCritic):
        return {"type": "network"}
    return {"type": "custom"}


def build_critic_from(spec: dict[str, Any], config: EstimatorConfig, dims: tuple[int, int]) -> nn.Module:
    """An unfitted critic of the layout :func:`describe_critic` wrote, ready for ``load_state_dict``."""
    kind = spec.get("type")
    if kind in ("gaussian", "quadratic"):
        return make_critic(kind, *spec["dims"])
    if kind == "density_ratio":
        reference = torch.zeros(spec["reference_rows"], spec["context_dim"])
        return DensityRatioCritic(_build_mixture(spec), reference, side=spec["side"], floor=spec["floor"])
    if kind == "conditional_ratio":
        return ConditionalLogRatio(_build_mixture(spec["full"]), _build_mixture(spec["reduced"]), spec["modelled"])
    if kind == "classifier":
        return ClassifierCritic(spec["x_dim"], spec["n_classes"], tuple(spec["hidden"]), activation=spec["activation"])
    if kind == "contingency":
        return ContingencyCritic(*spec["shape"])
    if kind == "one_hot":
        return FromOneHot(build_critic_from(spec["inner"], config, dims), (bool(spec["coded"][0]), bool(spec["coded"][1])))
    if kind == "swapped":
        return Swapped(build_critic_from(spec["inner"], config, dims))
    if kind == "ensemble":
        return Ensemble([build_critic_from(m, config, dims) for m in spec["members"]])
    if kind == "network":
        return build_critic(config, *dims)
    raise NeuralMIError(f"cannot rebuild a critic described as {spec!r}")
