"""Evidence about a label that needs no stage-1 classifier: the relation schema, the neighbourhood, out-of-sample fits.

Stage 1's training-dynamics scores (`scores.py`) inherit the weakness of a classifier trained for a few epochs on the
noisy labels themselves. The functions here read other evidence, each cheap on a CPU:

- `type_agreement`: does the (head type, tail type) signature fit the labelled relation? Leave-one-out pointwise
  mutual information estimated from the (noisy) labels themselves: a relation's type constraint is learned from the
  majority of its labels, and each label is judged without its own vote.
- `neighbour_agreement`: do the instance's nearest neighbours in a frozen encoder's [e_head; e_tail] space carry
  its label? (deep k-NN, Bahri et al. ICML 2020; SimiFeat, Zhu et al. ICML 2022.)
- `out_of_sample_probability`: the probability of the given label from a linear classifier fitted on frozen features
  of the *other* documents (cross-fitting by group; Chong, Hong & Manning, EMNLP 2022).
- `rank_average`: a combination of oriented scores that needs no gold labels.

Every function returns a score oriented higher = cleaner, one value per instance, and is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers.utils import logging

from ..errors import DataError, UsageError

logger = logging.get_logger(__name__)

DEFAULT_TYPE_SMOOTHING = 1.0
DEFAULT_NEIGHBOURS = 10
DEFAULT_FOLDS = 5
DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY = 1e-2
UNKNOWN_TYPE = "?"


@dataclass
class EvidenceSettings:
    """Hyper-parameters of the evidence scores (defaults chosen on the tuning corpora: README, "Denoising benchmark").

    Attributes:
        num_neighbours: k of `neighbour_agreement`.
        folds: folds (by document) of `out_of_sample`.
        weight_decay: L2 penalty of the `out_of_sample` classifiers.
        max_iterations: L-BFGS iterations per `out_of_sample` fit.
        type_smoothing: m of `type_agreement`.
        neighbours_from_own_document: whether an instance's own document may supply its neighbours (it is its own
            neighbour never). Allowed by default: on the tuning corpora excluding the document lost 0.04-0.05 ROC-AUC.
        refine_share: the `combined` score's second round recounts the evidence from the instances its first round
            ranks above this share (0: one round).
        seed: of the folds.
    """

    num_neighbours: int = DEFAULT_NEIGHBOURS
    folds: int = DEFAULT_FOLDS
    weight_decay: float = DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY
    max_iterations: int = 100
    type_smoothing: float = DEFAULT_TYPE_SMOOTHING
    neighbours_from_own_document: bool = True
    refine_share: float = 0.3
    seed: int = 0


@dataclass
class CorpusEvidence:
    """What the evidence scores read about a corpus, one entry per instance.

    Attributes:
        labels: the (possibly noisy) class ids.
        groups: the document of each instance (a sentence corpus: each sentence its own); cross-fitting and the
            neighbourhood never mix an instance with its own document.
        num_classes: size of the label set.
        signatures: `"HEAD->TAIL"` entity types (`type_signatures`), or `None` when the corpus has no entity types.
        features: frozen [e_head; e_tail] features `[instances, dim]` (NaN rows: not representable), or a callable
            that encodes them on first use, or `None` when no encoder is given.
        settings: the scores' hyper-parameters.
    """

    labels: np.ndarray
    groups: np.ndarray
    num_classes: int
    signatures: np.ndarray | None = None
    features: np.ndarray | Callable[[], np.ndarray] | None = None
    settings: EvidenceSettings = field(default_factory=EvidenceSettings)

    def missing(self, need: str) -> str | None:
        """Why `need` (`entity_types` or `features`) is unavailable, `None` when it is there."""
        if need == "entity_types" and self.signatures is None:
            return "the corpus has no entity types"
        if need == "features" and self.features is None:
            return "no encoder was given for frozen features"
        return None

    def frozen_features(self) -> np.ndarray:
        if callable(self.features):
            self.features = np.asarray(self.features(), dtype=np.float32)
        return self.features

    def type_agreement(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`type_agreement` of every instance, counting only `trusted` instances when given."""
        return type_agreement(self.labels, self.signatures, self.settings.type_smoothing, trusted)

    @property
    def neighbour_groups(self) -> np.ndarray | None:
        """The groups whose members may not be each other's neighbours (`None`: only the instance itself)."""
        return None if self.settings.neighbours_from_own_document else self.groups

    def neighbour_agreement(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`neighbour_agreement` of every instance with features (NaN otherwise), voters `trusted` when given."""
        groups = self.neighbour_groups

        def vote(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
            return neighbour_agreement(
                features, self.labels[rows], None if groups is None else groups[rows], self.settings.num_neighbours,
                None if trusted is None else trusted[rows],
            )  # fmt: skip

        return self._on_encoded_rows(vote)

    def out_of_sample(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`out_of_sample_probability` of every instance with features (NaN otherwise), fitted on `trusted` ones."""
        def fit(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
            if self.signatures is not None:
                features = np.concatenate([features, type_one_hots(self.signatures)[rows]], axis=1)
            settings = self.settings
            return out_of_sample_probability(
                features, self.labels[rows], self.groups[rows], self.num_classes, settings.folds,
                settings.weight_decay, settings.max_iterations, settings.seed, None if trusted is None else trusted[rows],
            )  # fmt: skip

        return self._on_encoded_rows(fit)

    def _on_encoded_rows(self, score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """`score` on the instances that have features; NaN for the others."""
        features = self.frozen_features()
        rows = np.flatnonzero(~np.isnan(features).any(axis=1))
        values = np.full(self.labels.size, np.nan)
        values[rows] = score(rows, features[rows])
        return values


def type_signatures(head_types: Sequence[str | None], tail_types: Sequence[str | None]) -> np.ndarray:
    """`"HEAD->TAIL"` per instance (direction-aware); a missing type is `?`."""
    return np.array(
        [f"{head or UNKNOWN_TYPE}->{tail or UNKNOWN_TYPE}" for head, tail in zip(head_types, tail_types)], dtype=object
    )


def type_agreement(
    labels: Sequence[int],
    signatures: Sequence[str],
    smoothing: float = DEFAULT_TYPE_SMOOTHING,
    trusted: np.ndarray | None = None,
) -> np.ndarray:
    """Leave-one-out PMI of the instance's type signature with its label (higher = the types fit the relation).

    With counts n(r, s) of label r and signature s over all instances, each instance i = (r, s) is scored without
    itself: ``log P̂(s | r) − log P̂(s)``, where ``P̂(s) = (n(s) − 1 + 1) / (N − 1 + S)`` (add-one, S = number of
    distinct signatures) and ``P̂(s | r) = (n(r, s) − 1 + m · P̂(s)) / (n(r) − 1 + m)``: m = `smoothing`
    pseudo-counts spread as the signatures' corpus frequencies. A relation seen only once thus scores 0 (no evidence
    either way), and a few labels move the estimate only as far as they can.

    `trusted` (bool per instance): count only these instances (a second round, once the likely wrong labels are
    known); every instance is still scored, without itself where it is counted.
    """
    labels = np.asarray(labels, dtype=np.int64)
    signatures = np.asarray(signatures, dtype=object)
    if labels.shape != signatures.shape:
        raise ValueError(f"labels {labels.shape} and signatures {signatures.shape} must have one entry per instance.")
    if smoothing <= 0:
        raise ValueError(f"smoothing={smoothing} must be > 0 (a leave-one-out estimate can otherwise be log 0).")
    if labels.size < 2:
        raise DataError(f"type_agreement needs at least 2 instances, got {labels.size}.")
    _, signature_ids = np.unique(signatures, return_inverse=True)
    _, label_ids = np.unique(labels, return_inverse=True)
    num_signatures = int(signature_ids.max()) + 1
    counted = np.ones(labels.size, dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    joint = np.zeros((int(label_ids.max()) + 1, num_signatures))
    np.add.at(joint, (label_ids[counted], signature_ids[counted]), 1.0)
    itself = counted.astype(np.float64)
    pair = joint[label_ids, signature_ids] - itself
    per_label = joint.sum(axis=1)[label_ids] - itself
    per_signature = joint.sum(axis=0)[signature_ids] - itself
    marginal = (per_signature + 1.0) / (counted.sum() - itself + num_signatures)
    conditional = (pair + smoothing * marginal) / (per_label + smoothing)
    return np.log(conditional) - np.log(marginal)


def _unit_rows(features: np.ndarray) -> torch.Tensor:
    """Standardised (per dimension) then L2-normalised rows: cosine similarity after removing the common offset."""
    values = torch.as_tensor(np.asarray(features, dtype=np.float32))
    values = (values - values.mean(0)) / values.std(0, unbiased=False).clamp_min(1e-6)
    return torch.nn.functional.normalize(values, dim=1)


def neighbour_agreement(
    features: np.ndarray,
    labels: Sequence[int],
    groups: Sequence[int] | None = None,
    num_neighbours: int = DEFAULT_NEIGHBOURS,
    trusted: np.ndarray | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """Similarity-weighted share of the instance's `num_neighbours` nearest neighbours that carry its label.

    Neighbours are found by cosine similarity of standardised features. With `groups` (document per instance),
    instances of the instance's own group are never its neighbours: a document's other pairs share its context, and
    a label copied from another pair of the same document (distant supervision's commonest error) would otherwise
    vote for itself. Weights are the similarities clipped at 0 (all-zero weights: the plain share). `trusted` (bool
    per instance): only these instances can be neighbours.
    """
    labels_tensor = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    count = labels_tensor.numel()
    if features.shape[0] != count:
        raise ValueError(f"features ({features.shape[0]} rows) and labels ({count}) must have one entry per instance.")
    group_tensor = torch.as_tensor(np.asarray(groups, dtype=np.int64)) if groups is not None else torch.arange(count)
    voters = torch.ones(count, dtype=torch.bool) if trusted is None else torch.as_tensor(np.asarray(trusted, dtype=bool))
    candidates = neighbour_candidates(voters.numpy(), group_tensor.numpy())
    if not 1 <= num_neighbours <= candidates:
        raise UsageError(
            f"num_neighbours={num_neighbours} must lie between 1 and {candidates}, the (trusted) instances outside "
            "the largest group an instance can have as neighbours."
        )
    unit = _unit_rows(features)
    scores = torch.empty(count, dtype=torch.float64)
    for start in range(0, count, batch_size):
        rows = slice(start, min(start + batch_size, count))
        similarity = unit[rows] @ unit.T
        similarity[group_tensor[rows, None] == group_tensor[None, :]] = -float("inf")  # itself, its own group
        similarity[:, ~voters] = -float("inf")
        top, neighbours = similarity.topk(num_neighbours, dim=1)
        weights = top.clamp_min(0).double()
        agree = (labels_tensor[neighbours] == labels_tensor[rows, None]).double()
        plain = agree.mean(1)
        total = weights.sum(1)
        weighted = (weights * agree).sum(1) / total.clamp_min(1e-12)
        scores[rows] = torch.where(total > 0, weighted, plain)
    return scores.numpy()


def neighbour_candidates(voters: np.ndarray, groups: np.ndarray | None = None) -> int:
    """The most neighbours every instance can have: the voters (bool per instance) outside the largest group (no
    groups: each instance is its own group)."""
    voters = np.asarray(voters, dtype=bool)
    count = int(voters.sum())
    if groups is None or count == 0:
        return max(count - 1, 0)
    return count - int(np.bincount(np.asarray(groups, dtype=np.int64)[voters]).max())


def group_folds(groups: Sequence[int], folds: int, seed: int = 0) -> np.ndarray:
    """Fold id per instance, whole groups (documents) per fold, seeded."""
    groups = np.asarray(groups, dtype=np.int64)
    unique, inverse = np.unique(groups, return_inverse=True)
    if not 2 <= folds <= unique.size:
        raise UsageError(f"folds={folds} must lie between 2 and the number of groups ({unique.size}).")
    return (np.random.default_rng(seed).permutation(unique.size) % folds)[inverse]


def out_of_sample_probability(
    features: np.ndarray,
    labels: Sequence[int],
    groups: Sequence[int],
    num_classes: int,
    folds: int = DEFAULT_FOLDS,
    weight_decay: float = DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY,
    max_iterations: int = 100,
    seed: int = 0,
    trusted: np.ndarray | None = None,
) -> np.ndarray:
    """P(given label) from multinomial logistic regressions cross-fitted by group: no instance is scored by a model
    that saw it, nor any instance of its group. `trusted` (bool per instance): fit only on these.

    `features` may already hold extra evidence (e.g. type one-hots, `type_one_hots`); the classifier is
    `finecl_hf.probing.classifier.fit_linear_probe` (standardised features, L-BFGS, L2 penalty `weight_decay`).
    """
    from finecl_hf.probing.classifier import fit_linear_probe

    labels = np.asarray(labels, dtype=np.int64)
    fold_of = group_folds(groups, folds, seed)
    inputs = torch.as_tensor(np.asarray(features, dtype=np.float32))
    targets = torch.as_tensor(labels)
    probability = np.empty(labels.size, dtype=np.float64)
    fitted = np.ones(labels.size, dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    for fold in range(folds):
        held_out = fold_of == fold
        train = torch.as_tensor(~held_out & fitted)
        probe = fit_linear_probe(inputs[train], targets[train], num_classes, weight_decay, max_iterations, threads=None)
        with torch.no_grad():
            held_probabilities = torch.softmax(probe.logits(inputs[held_out]), dim=-1)
        probability[held_out] = held_probabilities[torch.arange(int(held_out.sum())), targets[held_out]].double().numpy()
    return probability


def type_one_hots(signatures: Sequence[str]) -> np.ndarray:
    """One-hot of head type, of tail type and of the signature (`[instances, T_head + T_tail + S]`, float32)."""
    signatures = np.asarray(signatures, dtype=object)
    heads = np.array([signature.split("->")[0] for signature in signatures], dtype=object)
    tails = np.array([signature.split("->")[1] for signature in signatures], dtype=object)
    blocks = []
    for values in (heads, tails, signatures):
        _, ids = np.unique(values, return_inverse=True)
        blocks.append(np.eye(int(ids.max()) + 1, dtype=np.float32)[ids])
    return np.concatenate(blocks, axis=1)


def rank_average(scores: Mapping[str, np.ndarray], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Weighted mean of the scores' normalised ranks in [0, 1] (ties share their mean rank): a combination of scores
    on different scales that needs no gold labels. Every score must be oriented higher = cleaner; `weights` (default
    1 each) need not sum to 1."""
    if not scores:
        raise ValueError("rank_average needs at least one score.")
    ranks, weight_of = [], []
    for name, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"score {name!r} has {int((~np.isfinite(values)).sum())} NaN or infinite values.")
        ranks.append(_normalised_ranks(values))
        weight_of.append(1.0 if weights is None else float(weights.get(name, 1.0)))
    return np.average(ranks, axis=0, weights=weight_of)


def _normalised_ranks(values: np.ndarray) -> np.ndarray:
    if values.size < 2:
        return np.full(values.size, 0.5)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # mean rank of each tie group
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [values.size]])
    ranks = np.empty(values.size)
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end - 1) / 2.0
    return ranks / (values.size - 1)


__all__ = [
    "CorpusEvidence",
    "EvidenceSettings",
    "DEFAULT_FOLDS",
    "DEFAULT_NEIGHBOURS",
    "DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY",
    "DEFAULT_TYPE_SMOOTHING",
    "group_folds",
    "neighbour_candidates",
    "neighbour_agreement",
    "out_of_sample_probability",
    "rank_average",
    "type_agreement",
    "type_one_hots",
    "type_signatures",
]
