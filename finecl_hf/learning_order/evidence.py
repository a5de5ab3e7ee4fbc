"""Evidence about a label that needs no stage-1 classifier: the relation schema, the neighbourhood, out-of-sample fits.

Stage 1's training-dynamics scores (`finecl_hf.order_scores`) inherit the weakness of a classifier trained for a few
epochs on the noisy labels themselves. The functions here read other evidence, each cheap on a CPU:

- `type_agreement`: does the (head type, tail type) signature fit the labelled relation? Leave-one-out pointwise
  mutual information estimated from the (noisy) labels themselves: a relation's type constraint is learned from the
  majority of its labels, and each label is judged without its own vote.
- `neighbour_agreement`: do the instance's nearest neighbours in a frozen encoder's [e_head; e_tail] space carry
  its label? (deep k-NN, Bahri et al. ICML 2020; SimiFeat, Zhu et al. ICML 2022.)
- `out_of_sample_probability`: the probability of the given label from a linear classifier fitted on frozen features
  of the *other* documents (cross-fitting by group; Chong, Hong & Manning, EMNLP 2022).

Every function returns a score oriented higher = cleaner, one value per instance, and is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from transformers.utils import logging

from ..errors import DataError, UsageError
from .neighbours import NeighbourCandidates, NeighbourIndexSettings, exhaustive_candidates, search_candidates

logger = logging.get_logger(__name__)

DEFAULT_TYPE_SMOOTHING = 1.0
DEFAULT_NEIGHBOURS = 10
DEFAULT_FOLDS = 5
DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY = 1e-2
DEFAULT_MAX_FIT_ROWS = 50_000
PREDICT_BATCH = 65_536
DEFAULT_TOP_RELATIONS = 4  # relations kept per instance for the suggested relation (a pair's own labels skipped)
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
        max_fit_rows: each `out_of_sample` fold's classifier is fitted on at most this many training instances, a
            seeded subsample above it (every instance is still scored): the fit's time and memory stop growing with
            the corpus. Above every corpus of the denoising benchmark's (at most 47k training instances a fold).
        neighbour_index: how `neighbour_agreement` searches (`finecl_hf.learning_order.neighbours`).
    """

    num_neighbours: int = DEFAULT_NEIGHBOURS
    folds: int = DEFAULT_FOLDS
    weight_decay: float = DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY
    max_iterations: int = 100
    type_smoothing: float = DEFAULT_TYPE_SMOOTHING
    neighbours_from_own_document: bool = True
    refine_share: float = 0.3
    seed: int = 0
    max_fit_rows: int = DEFAULT_MAX_FIT_ROWS
    neighbour_index: NeighbourIndexSettings = field(default_factory=NeighbourIndexSettings)


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
    # Computed once, read by every round of every score.
    _candidates: NeighbourCandidates | None = field(default=None, init=False, repr=False)
    _encoded_rows: np.ndarray | None = field(default=None, init=False, repr=False)
    # The out-of-sample predictions of the latest `out_of_sample` call, per instance with features (the label
    # suggestions read them: after `combined`, those of its second round, fitted on the labels it trusts).
    predictions: OutOfSamplePredictions | None = field(default=None, init=False, repr=False)

    def missing(self, need: str) -> str | None:
        """Why `need` (`entity_types` or `features`) is unavailable, `None` when it is there."""
        if need == "entity_types" and self.signatures is None:
            return "the corpus has no entity types"
        if need == "features" and self.features is None:
            return "no encoder was given for frozen features"
        return None

    def frozen_features(self) -> np.ndarray:
        if callable(self.features):
            self.features = self.features()
            if self.features.dtype != np.float32:
                self.features = self.features.astype(np.float32)
        if self.features.shape[0] != self.labels.size:
            raise DataError(
                f"the frozen features have {self.features.shape[0]} rows for {self.labels.size} instances (a stale "
                "features file? delete it and run again)."
            )
        return self.features

    def type_agreement(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`type_agreement` of every instance, counting only `trusted` instances when given."""
        return type_agreement(self.labels, self.signatures, self.settings.type_smoothing, trusted)

    @property
    def neighbour_groups(self) -> np.ndarray | None:
        """The groups whose members may not be each other's neighbours (`None`: only the instance itself)."""
        return None if self.settings.neighbours_from_own_document else self.groups

    def neighbour_agreement(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`neighbour_agreement` of every instance with features (NaN otherwise), voters `trusted` when given.

        The index is searched once (`search_candidates`); every round reads the same candidates."""
        groups = self.neighbour_groups

        def vote(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
            if self._candidates is None:
                index = self.settings.neighbour_index
                self._candidates = search_candidates(
                    features, index.num_candidates(self.settings.num_neighbours), index, "neighbours"
                )
            return neighbour_agreement(
                features, self.labels[rows], None if groups is None else groups[rows], self.settings.num_neighbours,
                None if trusted is None else trusted[rows], candidates=self._candidates,
            )  # fmt: skip

        return self._on_encoded_rows(vote)

    def out_of_sample(self, trusted: np.ndarray | None = None) -> np.ndarray:
        """`out_of_sample_probability` of every instance with features (NaN otherwise), fitted on `trusted` ones;
        the whole prediction is kept in `predictions` (rows of the instances with features: `encoded_rows`)."""
        def fit(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
            codes = None if self.signatures is None else type_one_hot_codes(self.signatures[rows])
            settings = self.settings
            self.predictions = out_of_sample_predictions(
                features, self.labels[rows], self.groups[rows], self.num_classes, settings.folds,
                settings.weight_decay, settings.max_iterations, settings.seed, None if trusted is None else trusted[rows],
                one_hot_codes=codes, max_fit_rows=settings.max_fit_rows,
            )  # fmt: skip
            return self.predictions.label_probability

        return self._on_encoded_rows(fit)

    @property
    def encoded(self) -> np.ndarray:
        """Indices of the instances that have features (the rows of `predictions`)."""
        if self._encoded_rows is None:
            self._encoded_rows = encoded_rows(self.frozen_features())
        return self._encoded_rows

    def _on_encoded_rows(self, score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """`score` on the instances that have features; NaN for the others (the features are copied only when some
        instance has none)."""
        features = self.frozen_features()
        rows = self.encoded
        values = np.full(self.labels.size, np.nan)
        values[rows] = score(rows, features if rows.size == len(features) else features[rows])
        return values


def encoded_rows(features: np.ndarray, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """Rows of `features` without NaN (checked in batches: no `[instances, dim]` mask)."""
    valid = np.empty(len(features), dtype=bool)
    for start in range(0, len(features), batch_size):
        valid[start : start + batch_size] = ~np.isnan(features[start : start + batch_size]).any(axis=1)
    return np.flatnonzero(valid)


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
    signature_ids = _category_ids(signatures)
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


def _category_ids(values: np.ndarray) -> np.ndarray:
    """Dense ids of string categories by hashing (Arrow's dictionary encoding): linear, where `np.unique` on Python
    strings sorts them."""
    encoded = pa.array(values, type=pa.string()).dictionary_encode()
    return np.asarray(encoded.indices, dtype=np.int64)


def neighbour_agreement(
    features: np.ndarray,
    labels: Sequence[int],
    groups: Sequence[int] | None = None,
    num_neighbours: int = DEFAULT_NEIGHBOURS,
    trusted: np.ndarray | None = None,
    *,
    candidates: NeighbourCandidates | None = None,
    index: NeighbourIndexSettings = NeighbourIndexSettings(),
    batch_size: int = PREDICT_BATCH,
) -> np.ndarray:
    """Similarity-weighted share of the instance's `num_neighbours` nearest neighbours that carry its label.

    Neighbours are found by cosine similarity of standardised features (`finecl_hf.learning_order.neighbours`: exact
    up to `index.exact_search_max` instances, an IVF index above). With `groups` (document per instance), instances
    of the instance's own group are never its neighbours: a document's other pairs share its context, and a label
    copied from another pair of the same document (distant supervision's commonest error) would otherwise vote for
    itself. Weights are the similarities clipped at 0 (all-zero weights: the plain share). `trusted` (bool per
    instance): only these instances can be neighbours. `candidates`: a search done before (`search_candidates` of
    these features), reused.
    """
    labels = np.asarray(labels, dtype=np.int64)
    count = labels.size
    if features.shape[0] != count:
        raise ValueError(f"features ({features.shape[0]} rows) and labels ({count}) must have one entry per instance.")
    group_of = np.asarray(groups, dtype=np.int64) if groups is not None else np.arange(count)
    voters = np.ones(count, dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    available = neighbour_candidates(voters, group_of)
    if not 1 <= num_neighbours <= available:
        raise UsageError(
            f"num_neighbours={num_neighbours} must lie between 1 and {available}, the (trusted) instances outside "
            "the largest group an instance can have as neighbours."
        )
    if candidates is None:
        candidates = search_candidates(features, index.num_candidates(num_neighbours), index)
    scores = np.empty(count, dtype=np.float64)
    for start in range(0, count, batch_size):
        rows = np.arange(start, min(start + batch_size, count))
        ids, similarities = _nearest_eligible(candidates, rows, group_of, voters, num_neighbours)
        weights = np.clip(similarities, 0.0, None).astype(np.float64)
        agree = (labels[ids] == labels[rows, None]).astype(np.float64)
        total = weights.sum(1)
        weighted = (weights * agree).sum(1) / np.maximum(total, 1e-12)
        scores[rows] = np.where(total > 0, weighted, agree.mean(1))
    return scores


def _nearest_eligible(
    candidates: NeighbourCandidates, rows: np.ndarray, group_of: np.ndarray, voters: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """`(ids, similarities)` `[rows, k]` of each row's k most similar voters outside its group: the first eligible
    candidates, and for rows with fewer than k eligible candidates an exhaustive search."""
    ids, similarities = candidates.ids[rows], candidates.similarities[rows]
    present = ids >= 0
    safe = np.where(present, ids, 0)
    eligible = present & voters[safe] & (group_of[safe] != group_of[rows, None])
    rank = np.cumsum(eligible, axis=1)
    chosen = eligible & (rank <= k)
    short = rank[:, -1] < k
    out_ids = np.empty((rows.size, k), dtype=np.int64)
    out_similarities = np.empty((rows.size, k), dtype=np.float32)
    full = np.flatnonzero(~short)
    # chosen holds exactly k True per full row, in candidate (= similarity) order
    out_ids[full] = ids[full][chosen[full]].reshape(-1, k)
    out_similarities[full] = similarities[full][chosen[full]].reshape(-1, k)
    if short.any():
        lacking = rows[short]
        own_group = np.bincount(group_of[voters], minlength=int(group_of.max()) + 1)[group_of[lacking]]
        wide_ids, wide_similarities = exhaustive_candidates(
            candidates.standardiser, lacking, k + int(own_group.max()), eligible=voters
        )
        keep = (wide_ids >= 0) & (group_of[np.maximum(wide_ids, 0)] != group_of[lacking, None])
        keep &= np.cumsum(keep, axis=1) <= k
        out_ids[short] = wide_ids[keep].reshape(-1, k)
        out_similarities[short] = wide_similarities[keep].reshape(-1, k)
    return out_ids, out_similarities


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


@dataclass
class OutOfSamplePredictions:
    """What the cross-fitted classifiers of `out_of_sample_predictions` say about every instance.

    Attributes:
        label_probability: `float64 [instances]` p̂(given label | x).
        top_relations: `int64 [instances, top_k]` the most probable relations, best first.
        top_probabilities: `float32 [instances, top_k]` their probabilities.
        probabilities: `float32 [instances, classes]` every class's probability, only when asked for
            (`keep_probabilities`: a benchmark's baseline reads it; 1.5M instances x 97 relations are 580 MB).
    """

    label_probability: np.ndarray
    top_relations: np.ndarray
    top_probabilities: np.ndarray
    probabilities: np.ndarray | None = None


def out_of_sample_probability(*arguments: Any, **options: Any) -> np.ndarray:
    """P(given label) of every instance from classifiers cross-fitted by group: the `label_probability` of
    `out_of_sample_predictions`, which takes the same arguments."""
    return out_of_sample_predictions(*arguments, **options).label_probability


def out_of_sample_predictions(
    features: np.ndarray,
    labels: Sequence[int],
    groups: Sequence[int],
    num_classes: int,
    folds: int = DEFAULT_FOLDS,
    weight_decay: float = DEFAULT_OUT_OF_SAMPLE_WEIGHT_DECAY,
    max_iterations: int = 100,
    seed: int = 0,
    trusted: np.ndarray | None = None,
    *,
    one_hot_codes: tuple[np.ndarray, int] | None = None,
    max_fit_rows: int | None = DEFAULT_MAX_FIT_ROWS,
    top_k: int = DEFAULT_TOP_RELATIONS,
    keep_probabilities: bool = False,
    batch_size: int = PREDICT_BATCH,
) -> OutOfSamplePredictions:
    """Every instance's out-of-sample prediction (`OutOfSamplePredictions`) from multinomial logistic regressions
    cross-fitted by group (folds of whole documents, seeded): no instance is predicted by a model that saw it, nor
    any instance of its group. `trusted` (bool per instance): fit only on these.

    `one_hot_codes` (`type_one_hot_codes`): categorical evidence appended to the features as one-hots, built per
    batch (never an `[instances, dim + width]` copy). Each fold's classifier is fitted on at most `max_fit_rows`
    of its training instances (a seeded subsample above it; `None`: all) and applied to the held-out fold in
    batches. The classifier is `finecl_hf.representations.classifier.fit_linear_probe` (standardised features, L-BFGS, L2
    penalty `weight_decay`).
    """
    from ..representations.classifier import fit_linear_probe

    labels = np.asarray(labels, dtype=np.int64)
    top_k = min(top_k, num_classes)
    fold_of = group_folds(groups, folds, seed)
    predictions = OutOfSamplePredictions(
        label_probability=np.empty(labels.size, dtype=np.float64),
        top_relations=np.empty((labels.size, top_k), dtype=np.int64),
        top_probabilities=np.empty((labels.size, top_k), dtype=np.float32),
        probabilities=np.empty((labels.size, num_classes), dtype=np.float32) if keep_probabilities else None,
    )
    fitted = np.ones(labels.size, dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    sampler = np.random.default_rng(seed)
    for fold in range(folds):
        held_out = fold_of == fold
        train = np.flatnonzero(~held_out & fitted)
        if max_fit_rows is not None and train.size > max_fit_rows:
            train = np.sort(sampler.choice(train, max_fit_rows, replace=False))
        inputs = torch.from_numpy(_design_rows(features, one_hot_codes, train))
        probe = fit_linear_probe(inputs, torch.from_numpy(labels[train]), num_classes, weight_decay, max_iterations, threads=None)
        del inputs
        held = np.flatnonzero(held_out)
        for start in range(0, held.size, batch_size):
            rows = held[start : start + batch_size]
            with torch.no_grad():
                logits = probe.logits(torch.from_numpy(_design_rows(features, one_hot_codes, rows)))
                log_probabilities = torch.log_softmax(logits, dim=-1)
                chosen = log_probabilities.gather(1, torch.from_numpy(labels[rows])[:, None])
                best = torch.topk(log_probabilities, top_k, dim=-1)
            predictions.label_probability[rows] = chosen.exp().squeeze(1).double().numpy()
            predictions.top_relations[rows] = best.indices.numpy()
            predictions.top_probabilities[rows] = best.values.exp().float().numpy()
            if keep_probabilities:
                predictions.probabilities[rows] = log_probabilities.exp().float().numpy()
    return predictions


def _design_rows(features: np.ndarray, one_hot_codes: tuple[np.ndarray, int] | None, rows: np.ndarray) -> np.ndarray:
    """`features[rows]`, with the rows' one-hots appended when `one_hot_codes` is given (float32)."""
    values = np.asarray(features[rows], dtype=np.float32)
    if one_hot_codes is None:
        return values
    codes, width = one_hot_codes
    hots = np.zeros((rows.size, width), dtype=np.float32)
    np.put_along_axis(hots, codes[rows], 1.0, axis=1)
    return np.concatenate([values, hots], axis=1)


def type_one_hot_codes(signatures: Sequence[str]) -> tuple[np.ndarray, int]:
    """`(codes [instances, 3], width)`: the column of head type, tail type and signature in the one-hot layout of
    `type_one_hots` (head types, then tail types, then signatures)."""
    signatures = np.asarray(signatures, dtype=object)
    distinct, signature_ids = np.unique(signatures, return_inverse=True)
    parts = [np.array([signature.split("->")[side] for signature in distinct], dtype=object) for side in (0, 1)]
    codes, offset = [], 0
    for values in (parts[0][signature_ids], parts[1][signature_ids], signatures):
        _, ids = np.unique(values, return_inverse=True)
        codes.append(ids.reshape(-1) + offset)
        offset += int(ids.max()) + 1 if ids.size else 0
    return np.stack(codes, axis=1).astype(np.int64), offset


def type_one_hots(signatures: Sequence[str]) -> np.ndarray:
    """One-hot of head type, of tail type and of the signature (`[instances, T_head + T_tail + S]`, float32)."""
    codes, width = type_one_hot_codes(signatures)
    return _design_rows(np.zeros((len(codes), 0), dtype=np.float32), (codes, width), np.arange(len(codes)))


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
    "OutOfSamplePredictions",
    "out_of_sample_predictions",
    "out_of_sample_probability",
    "type_agreement",
    "encoded_rows",
    "type_one_hot_codes",
    "type_one_hots",
    "type_signatures",
]
