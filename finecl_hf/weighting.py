"""Learning-order weighting schemes of relation discrimination: the one place that defines them.

A scheme is one `WeightingScheme` entry of `WEIGHTING_SCHEMES`, of one of two kinds:

- an *epoch* scheme (`register_weighting`) weighs each instance by a function f(k) of its learning epoch k, computed
  batch by batch inside the model: `paper` (eq. 5), `reference` (the original code), `uniform` (ERICA);
- a *corpus* scheme (`register_corpus_weighting`) weighs each instance from where its cleanliness score falls in the
  whole corpus's distribution, so it is computed once, when stage 2 prepares its data, and handed to the model as
  `relation_weights`: `posterior` (the estimated probability that the label is clean, from a two-component mixture)
  and `truncate` (weight 0 for the lowest-scored share of the triples, 1 for the rest).

Every scheme also says whether the positive's own weight enters the partition function Z of L_RD, and has a one-line
description. `FineCLConfig.weighting`, the loss, the model, stage 2's data preparation and the command-line choices
all read this registry, so adding a scheme is one decorated function here (or in user code before the config is
built).

Where a weight acts. L_RD (`finecl_hf.losses.relation_discrimination_loss`) multiplies an anchor's term by the
anchor's weight and scales every other instance's term in the anchor's partition function Z (the positive's and the
negatives') by that instance's own weight, for every scheme. A weight of 0 therefore removes a triple from the loss
entirely: it is never an anchor that counts and never a competitor in another anchor's Z.

This module is copied next to saved checkpoints (``auto_map``) with `configuration.py`, `losses.py` and
`modeling.py`, so it imports only torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .errors import UsageError

WeightFunction = Callable[..., torch.Tensor]
"""`f(learned_epochs, *, alpha, min_epoch, max_epoch, is_no_relation, reference_epoch_cap,
reference_no_relation_weight) -> [instances] float32 weights`; a scheme ignores the settings it does not use."""

CorpusWeightFunction = Callable[..., "CorpusWeights"]
"""`f(cleanliness, *, truncation_share) -> CorpusWeights`: `cleanliness` is a float tensor `[instances]`, one score
per ranked triple (higher = cleaner), the whole corpus at once; a scheme ignores the settings it does not use."""

# Fewer ranked triples than this cannot support a two-component mixture.
MIN_MIXTURE_INSTANCES = 20


@dataclass(frozen=True)
class CorpusWeights:
    """The weights a corpus scheme gives a corpus, and what its fit found.

    Attributes:
        weights: `float32 [instances]` in [0, 1], in the order of the scores.
        estimated_noise_rate: the share of wrong labels the scheme's fit estimates (`None` when it estimates none).
        summary: one line for the log and the model card (the fitted components, the share dropped, ...).
    """

    weights: torch.Tensor
    estimated_noise_rate: float | None = None
    summary: str = ""


@dataclass(frozen=True)
class WeightingScheme:
    """One way of weighting relation instances: by their learning epoch k (`weight`) or by their cleanliness score
    within the corpus (`corpus_weights`); exactly one of the two is set.

    Attributes:
        name: the value of `FineCLConfig.weighting` / `--weighting`.
        weight: the epoch weight function (see `WeightFunction`), `None` for a corpus scheme.
        positive_weight_in_partition: whether the positive enters Z with its own weight f(k_B) (the paper) or with
            weight 1 (the original code).
        description: one line for help texts and the config docstring.
        corpus_weights: the corpus weight function (see `CorpusWeightFunction`), `None` for an epoch scheme.
    """

    name: str
    weight: WeightFunction | None
    positive_weight_in_partition: bool
    description: str
    corpus_weights: CorpusWeightFunction | None = field(default=None)

    @property
    def weighs_corpus(self) -> bool:
        """Whether the weights come from the whole corpus's scores (computed by stage 2's data preparation)."""
        return self.corpus_weights is not None


WEIGHTING_SCHEMES: dict[str, WeightingScheme] = {}
"""Every weighting scheme stage 2 knows, by name (`--weighting`); `register_weighting` adds one."""


def register_weighting(
    name: str, *, positive_weight_in_partition: bool, description: str
) -> Callable[[WeightFunction], WeightFunction]:
    """Decorator adding an epoch weight function to `WEIGHTING_SCHEMES` under `name` (replacing an entry of that
    name)."""

    def decorator(function: WeightFunction) -> WeightFunction:
        WEIGHTING_SCHEMES[name] = WeightingScheme(name, function, positive_weight_in_partition, description)
        return function

    return decorator


def register_corpus_weighting(name: str, *, description: str) -> Callable[[CorpusWeightFunction], CorpusWeightFunction]:
    """Decorator adding a corpus weight function to `WEIGHTING_SCHEMES` under `name`. Every instance, the positive
    included, enters Z with its own weight."""

    def decorator(function: CorpusWeightFunction) -> CorpusWeightFunction:
        WEIGHTING_SCHEMES[name] = WeightingScheme(name, None, True, description, corpus_weights=function)
        return function

    return decorator


def get_weighting(name: str) -> WeightingScheme:
    """The registered scheme `name`; a `ValueError` listing the registered ones otherwise."""
    try:
        return WEIGHTING_SCHEMES[name]
    except KeyError:
        raise UsageError(
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


# ---------------------------------------------------------------------------------------------------- corpus schemes
@dataclass(frozen=True)
class MixtureFit:
    """A two-component Gaussian mixture fitted to a corpus's cleanliness scores (in their own units).

    Attributes:
        clean_probability: `float64 [instances]` P(clean | score), made non-decreasing in the score.
        noise_rate: the mixing weight of the noisy (lower-mean) component.
        means, stds: `(noisy, clean)` component parameters.
        iterations: EM iterations run.
    """

    clean_probability: torch.Tensor
    noise_rate: float
    means: tuple[float, float]
    stds: tuple[float, float]
    iterations: int


def fit_score_mixture(cleanliness: torch.Tensor, max_iterations: int = 200, tolerance: float = 1e-8) -> MixtureFit:
    """Fit a two-component 1-D Gaussian mixture to `cleanliness` by EM; the component with the higher mean is clean.

    Why a Gaussian mixture: the registered scores live on different scales and shapes (epochs, probabilities, margins,
    rank averages), and a Gaussian mixture is what DivideMix (Li et al., ICLR 2020) fits to per-sample losses for the
    same purpose; with a variance floor its EM cannot collapse onto a point, and what we read of it — the mixing
    weight and which side of the crossing a triple falls — depends little on the components' exact shape. Its
    posterior is not monotone where the wider component's tail passes the narrower one; P(clean | score) is therefore
    made non-decreasing in the score (a running maximum from the lowest score up), since a weighting must never trust
    a lower score more.

    EM starts from the split at the median; the variance floor is 1e-4 of the scores' variance.

    Raises:
        ValueError: fewer than `MIN_MIXTURE_INSTANCES` scores, non-finite scores, a constant score, or a fit in which
            a component holds (almost) nothing.
    """
    scores = cleanliness.detach().to(torch.float64).reshape(-1).cpu()
    count = scores.numel()
    if count < MIN_MIXTURE_INSTANCES:
        raise ValueError(f"a two-component mixture needs at least {MIN_MIXTURE_INSTANCES} scored triples, got {count}")
    if not torch.isfinite(scores).all():
        raise ValueError("the scores hold NaN or infinite values")
    spread = scores.std()
    if not spread > 0:
        raise ValueError(f"the score is constant ({scores[0].item():g} for all {count} triples): it cannot separate "
                         "clean from wrong labels")
    z = (scores - scores.mean()) / spread
    variance_floor = 1e-4
    clean = (z > z.median()).to(torch.float64)
    if clean.sum() == 0:  # more than half the scores share the maximum
        clean = (z >= z.median()).to(torch.float64)
    responsibilities = torch.stack([1 - clean, clean], dim=1)
    previous = -math.inf
    for iteration in range(1, max_iterations + 1):
        mass = responsibilities.sum(0).clamp_min(1e-12)
        weights = mass / count
        means = (responsibilities * z[:, None]).sum(0) / mass
        variances = ((responsibilities * (z[:, None] - means) ** 2).sum(0) / mass).clamp_min(variance_floor)
        log_joint = (
            weights.log() - 0.5 * (variances * 2 * math.pi).log() - (z[:, None] - means) ** 2 / (2 * variances)
        )
        log_likelihood = torch.logsumexp(log_joint, dim=1)
        responsibilities = (log_joint - log_likelihood[:, None]).exp()
        total = log_likelihood.sum().item()
        if total - previous < tolerance * count:
            break
        previous = total
    noisy_index, clean_index = (0, 1) if means[0] <= means[1] else (1, 0)
    smallest_share = weights.min().item()
    if smallest_share < 1.0 / count:
        raise ValueError(f"the fit put {smallest_share:.2g} of the triples in one component: the score shows no two "
                         "groups to separate")
    posterior = responsibilities[:, clean_index]
    order = torch.argsort(scores)
    monotone = torch.empty_like(posterior)
    monotone[order] = torch.cummax(posterior[order], dim=0).values
    std = spread.item()
    centre = scores.mean().item()
    return MixtureFit(
        clean_probability=monotone,
        noise_rate=weights[noisy_index].item(),
        means=(centre + std * means[noisy_index].item(), centre + std * means[clean_index].item()),
        stds=(std * variances[noisy_index].sqrt().item(), std * variances[clean_index].sqrt().item()),
        iterations=iteration,
    )


def lowest_share_mask(cleanliness: torch.Tensor, share: float) -> torch.Tensor:
    """`bool [instances]`: the triples among the lowest-scored `share` of the corpus.

    A triple is in it when its mid-rank from the lowest score (0-based; tied triples share their average rank) is
    below `share × instances`, so tied triples are all in or all out.
    """
    scores = cleanliness.detach().reshape(-1)
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    mid_rank = starts.to(torch.float64) + (counts.to(torch.float64) - 1) / 2
    return mid_rank[inverse] < share * scores.numel()


@register_corpus_weighting(
    "posterior",
    description="weight = P(clean | score), from a two-component Gaussian mixture fitted to the corpus's --order_by "
    "score (DivideMix); the fitted noise rate goes to the log and the model card",
)
def posterior_weights(cleanliness: torch.Tensor, **_) -> CorpusWeights:
    fit = fit_score_mixture(cleanliness)
    return CorpusWeights(
        weights=fit.clean_probability.to(torch.float32),
        estimated_noise_rate=fit.noise_rate,
        summary=(
            f"two-component Gaussian mixture on the score: estimated noise rate {fit.noise_rate:.3f}; noisy component "
            f"mean {fit.means[0]:.4g} (sd {fit.stds[0]:.3g}), clean component mean {fit.means[1]:.4g} "
            f"(sd {fit.stds[1]:.3g}); {fit.iterations} EM iterations"
        ),
    )


@register_corpus_weighting(
    "truncate",
    description="weight 0 for the lowest-scored share q of the triples by --order_by, 1 for the rest (Co-teaching's "
    "drop); q = --truncation_share, or the noise rate that `posterior`'s mixture estimates",
)
def truncated_weights(cleanliness: torch.Tensor, *, truncation_share: float | None = None, **_) -> CorpusWeights:
    estimated = None
    if truncation_share is None:
        estimated = fit_score_mixture(cleanliness).noise_rate
        share = estimated
    else:
        share = truncation_share
    dropped = lowest_share_mask(cleanliness, share)
    origin = f"the mixture's estimated noise rate {estimated:.3f}" if estimated is not None else "--truncation_share"
    return CorpusWeights(
        weights=(~dropped).to(torch.float32),
        estimated_noise_rate=estimated,
        summary=f"dropped the lowest-scored {int(dropped.sum())} of {dropped.numel()} triples (q = {share:.3f}, {origin})",
    )


__all__ = [
    "MIN_MIXTURE_INSTANCES",
    "WEIGHTING_SCHEMES",
    "CorpusWeights",
    "MixtureFit",
    "WeightingScheme",
    "describe_weightings",
    "fit_score_mixture",
    "get_weighting",
    "lowest_share_mask",
    "register_corpus_weighting",
    "register_weighting",
]
