"""Learning-order weighting schemes of relation discrimination: the one place that defines them.

A scheme is one `WeightingScheme` entry of `WEIGHTING_SCHEMES`: its weight function f(k), whether the positive's own
weight enters the partition function Z of L_RD, and a one-line description. `FineCLConfig.weighting`, the loss, the
model and the command-line choices all read this registry, so adding a scheme is one `register_weighting` call here
(or in user code before the config is built).

This module is copied next to saved checkpoints (``auto_map``) with `configuration.py`, `losses.py` and
`modeling.py`, so it imports only torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

WeightFunction = Callable[..., torch.Tensor]
"""`f(learned_epochs, *, alpha, min_epoch, max_epoch, is_no_relation, reference_epoch_cap,
reference_no_relation_weight) -> [instances] float32 weights`; a scheme ignores the settings it does not use."""


@dataclass(frozen=True)
class WeightingScheme:
    """One way of weighting relation instances by the epoch k in which stage 1 first learned them.

    Attributes:
        name: the value of `FineCLConfig.weighting` / `--weighting`.
        weight: the weight function (see `WeightFunction`).
        positive_weight_in_partition: whether the positive enters Z with its own weight f(k_B) (the paper) or with
            weight 1 (the original code).
        description: one line for help texts and the config docstring.
    """

    name: str
    weight: WeightFunction
    positive_weight_in_partition: bool
    description: str


WEIGHTING_SCHEMES: dict[str, WeightingScheme] = {}


def register_weighting(
    name: str, *, positive_weight_in_partition: bool, description: str
) -> Callable[[WeightFunction], WeightFunction]:
    """Decorator adding a weight function to `WEIGHTING_SCHEMES` under `name` (replacing an entry of that name)."""

    def decorator(function: WeightFunction) -> WeightFunction:
        WEIGHTING_SCHEMES[name] = WeightingScheme(name, function, positive_weight_in_partition, description)
        return function

    return decorator


def get_weighting(name: str) -> WeightingScheme:
    """The registered scheme `name`; a `ValueError` listing the registered ones otherwise."""
    try:
        return WEIGHTING_SCHEMES[name]
    except KeyError:
        raise ValueError(
            f"weighting={name!r} is invalid: it must be one of {', '.join(map(repr, WEIGHTING_SCHEMES))} "
            "(add one with finecl_hf.weighting.register_weighting)."
        ) from None


def describe_weightings() -> str:
    """`name` (description) of every registered scheme, for help texts."""
    return "; ".join(f"`{scheme.name}`: {scheme.description}" for scheme in WEIGHTING_SCHEMES.values())


def _epochs_in_range(learned_epochs: torch.Tensor, min_epoch: int, max_epoch: int) -> torch.Tensor:
    """Never-learned instances (k = -1) count as learned at k_max; other epochs are clamped into [k_min, k_max]."""
    epochs = learned_epochs.to(torch.float32)
    never_learned = torch.full_like(epochs, max_epoch)
    return torch.where(learned_epochs < 0, never_learned, epochs).clamp(min_epoch, max_epoch)


def _eq5(epochs: torch.Tensor, alpha: float, min_epoch: int, max_epoch: int) -> torch.Tensor:
    """alpha ** ((k_max - k) / (k_max - k_min)); all ones when k_max == k_min (eq. 5 is undefined there)."""
    span = max_epoch - min_epoch
    exponent = (max_epoch - epochs) / span if span > 0 else torch.zeros_like(epochs)
    return torch.pow(torch.tensor(alpha, dtype=epochs.dtype, device=epochs.device), exponent)


@register_weighting(
    "paper",
    positive_weight_in_partition=True,
    description="eq. 5 exactly, f(k) = alpha^((k_max-k)/(k_max-k_min)); every instance in Z, the positive "
    "included, is weighted by its own f(k)",
)
def paper_weights(learned_epochs: torch.Tensor, *, alpha: float, min_epoch: int, max_epoch: int, **_) -> torch.Tensor:
    return _eq5(_epochs_in_range(learned_epochs, min_epoch, max_epoch), alpha, min_epoch, max_epoch)


@register_weighting(
    "reference",
    positive_weight_in_partition=False,
    description="the original code: epochs >= reference_epoch_cap weigh 1, no-relation instances weigh "
    "reference_no_relation_weight (e^0.5), the positive enters Z unweighted",
)
def reference_weights(
    learned_epochs: torch.Tensor,
    *,
    alpha: float,
    min_epoch: int,
    max_epoch: int,
    is_no_relation: torch.Tensor | None = None,
    reference_epoch_cap: int = 5,
    reference_no_relation_weight: float = math.exp(0.5),
    **_,
) -> torch.Tensor:
    epochs = _epochs_in_range(learned_epochs, min_epoch, max_epoch)
    epochs = torch.where(epochs >= reference_epoch_cap, torch.full_like(epochs, max_epoch), epochs)
    weights = _eq5(epochs, alpha, min_epoch, max_epoch)
    if is_no_relation is not None:
        weights = torch.where(is_no_relation, torch.full_like(weights, reference_no_relation_weight), weights)
    return weights


@register_weighting(
    "uniform",
    positive_weight_in_partition=True,
    description="all weights 1, i.e. ERICA's RD loss (the paper's baseline)",
)
def uniform_weights(learned_epochs: torch.Tensor, **_) -> torch.Tensor:
    return torch.ones(learned_epochs.shape, dtype=torch.float32, device=learned_epochs.device)


__all__ = [
    "WEIGHTING_SCHEMES",
    "WeightingScheme",
    "describe_weightings",
    "get_weighting",
    "register_weighting",
]
