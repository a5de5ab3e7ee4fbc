"""Label issues: which labels stage 1 suspects, what they should probably be, and a corpus cleaned of them.

Stage 1 writes three columns beside the cleanliness scores (`label_issue_columns`):

- `suggested_relation`: the relation the out-of-sample classifiers of the `out_of_sample` evidence predict for the
  instance (`evidence.out_of_sample_predictions`: linear classifiers on frozen [e_head; e_tail] features and entity
  types, never fitted on the instance's own document). When `combined` is computed they are those of its second
  round, fitted only on the labels its first round trusts. A relation that another instance of the same entity pair
  already carries is skipped (it would duplicate that triple); the instance's own label may be suggested (the
  classifier agrees with it).
- `suggested_probability`: the classifiers' probability of that relation.
- `label_issue`: the instance is among the `issue_share` lowest-ranked labels by `combined` (`ISSUE_SCORE`). The
  default share is the noise rate that the two-component mixture of `finecl_hf.weighting.fit_score_mixture` estimates
  from `combined` itself; no-relation instances that nobody labelled (sampled pairs of a document corpus) are never
  issues.

`clean_instances` turns the columns into a cleaned corpus (`drop`, `relabel`, `relabel-or-drop`); `finecl label-issues`
shows the suspects to a person and writes the cleaned learning-order dataset.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from transformers.utils import logging

from ..data.learning_order import (
    LABEL_ISSUE_COLUMN,
    LABEL_ISSUE_COLUMNS,
    SUGGESTED_PROBABILITY_COLUMN,
    SUGGESTED_RELATION_COLUMN,
    relabelled_copy,
)
from ..errors import UsageError
from .evidence import CorpusEvidence, OutOfSamplePredictions

ISSUE_SCORE = "combined"  # the ranking whose lowest share are the label issues
CLEANING_MODES = ("drop", "relabel", "relabel-or-drop")
logger = logging.get_logger(__name__)


@dataclass
class LabelIssueColumns:
    """Stage 1's label-issue columns (one entry per instance) and how the issues were chosen.

    Attributes:
        suggested_relation: class id per instance (the label itself where the instance has no features).
        suggested_probability: its probability (NaN where the instance has no features).
        label_issue: whether the instance is among the `issue_share` lowest-ranked labels.
        issue_share: the share of the labelled instances flagged.
        share_source: where the share comes from (`mixture` estimate or the user's `--issue_share`).
    """

    suggested_relation: np.ndarray
    suggested_probability: np.ndarray
    label_issue: np.ndarray
    issue_share: float
    share_source: str

    def columns(self) -> dict[str, np.ndarray]:
        return {
            SUGGESTED_RELATION_COLUMN: self.suggested_relation,
            SUGGESTED_PROBABILITY_COLUMN: self.suggested_probability,
            LABEL_ISSUE_COLUMN: self.label_issue,
        }


def pair_ids(instances: Any) -> np.ndarray:
    """One id per entity pair: instances of one (document, head, tail) share it; in a sentence corpus every instance
    is its own pair."""
    if "document_index" not in instances.column_names:
        return np.arange(len(instances), dtype=np.int64)
    keys = np.stack([np.asarray(instances[name], dtype=np.int64) for name in ("document_index", "head", "tail")], axis=1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def suggest_relations(
    predictions: OutOfSamplePredictions, labels: np.ndarray, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`(relation, probability)` per instance: the most probable of its top relations that no *other* instance of
    its pair carries (the top one when all are carried)."""
    labels, pairs = np.asarray(labels, dtype=np.int64), np.asarray(pairs, dtype=np.int64)
    top = predictions.top_relations
    width = int(max(labels.max(initial=0), top.max(initial=0))) + 1
    carried = np.unique(pairs * width + labels)  # (pair, relation) of every instance
    candidate_keys = pairs[:, None] * width + top
    position = np.clip(np.searchsorted(carried, candidate_keys), 0, carried.size - 1)
    taken = (carried[position] == candidate_keys) & (top != labels[:, None])
    first_free = np.where(taken.all(axis=1), 0, np.argmax(~taken, axis=1))
    rows = np.arange(labels.size)
    return top[rows, first_free], predictions.top_probabilities[rows, first_free].astype(np.float64)


def estimate_issue_share(issue_scores: np.ndarray) -> float:
    """The noise rate a two-component mixture fitted to the oriented `issue_scores` estimates (DivideMix-style)."""
    import torch

    from finecl_hf.weighting import fit_score_mixture

    return float(fit_score_mixture(torch.as_tensor(np.asarray(issue_scores, dtype=np.float64))).noise_rate)


def flag_label_issues(issue_scores: np.ndarray, share: float, candidates: np.ndarray | None = None) -> np.ndarray:
    """The `share` of the `candidates` (bool per instance; default all) with the lowest oriented scores (higher =
    cleaner); ties at the cut are broken by row order (stable)."""
    scores = np.asarray(issue_scores, dtype=np.float64)
    candidates = np.ones(scores.size, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    rows = np.flatnonzero(candidates)
    count = int(round(share * rows.size))
    flagged = np.zeros(scores.size, dtype=bool)
    flagged[rows[np.argsort(scores[rows], kind="stable")[:count]]] = True
    return flagged


def label_issue_columns(
    evidence: CorpusEvidence,
    pairs: np.ndarray,
    issue_scores: np.ndarray,
    candidates: np.ndarray,
    issue_share: float | None = None,
) -> LabelIssueColumns:
    """The label-issue columns of a stage-1 run whose `out_of_sample` evidence was computed.

    Args:
        evidence: the run's corpus evidence, after its scores (its latest `predictions` are used).
        pairs: `pair_ids` of the instances.
        issue_scores: the oriented `ISSUE_SCORE` (higher = cleaner).
        candidates: the instances that can be issues (bool; labelled ones).
        issue_share: share of the candidates to flag (default: the mixture's noise-rate estimate).
    """
    labels = evidence.labels
    relation, probability = labels.copy(), np.full(labels.size, np.nan)
    rows = evidence.encoded
    suggested, suggested_probability = suggest_relations(evidence.predictions, labels[rows], pairs[rows])
    relation[rows], probability[rows] = suggested, suggested_probability
    source = "--issue_share"
    if issue_share is None:
        try:
            issue_share, source = estimate_issue_share(issue_scores[candidates]), "mixture"
        except ValueError as error:  # too few labels, a constant score: no estimate, so nothing is flagged
            logger.warning(f"label issues: no noise-rate estimate ({error}); no label flagged (set --issue_share).")
            issue_share, source = 0.0, f"none ({error})"
    return LabelIssueColumns(
        relation, probability, flag_label_issues(issue_scores, issue_share, candidates), float(issue_share), source
    )


# ------------------------------------------------------------------------------------------------------- cleaning
@dataclass
class CleaningReport:
    """What `clean_instances` did.

    Attributes:
        mode: `drop`, `relabel` or `relabel-or-drop`.
        min_probability: τ, the least `suggested_probability` a relabel needs.
        issues: instances flagged `label_issue`.
        relabelled: issues given their suggested relation.
        dropped: issues removed (and relabels that would have duplicated a triple of their pair).
        kept_as_is: issues left with their label.
        changes: `"from -> to"` relation names of the relabels, most frequent first.
    """

    mode: str
    min_probability: float
    instances: int
    issues: int
    relabelled: int = 0
    dropped: int = 0
    kept_as_is: int = 0
    changes: dict[str, int] = field(default_factory=dict)


def check_cleaning(mode: str, min_probability: float) -> None:
    """A cleaning mode of `CLEANING_MODES` and a τ in [0, 1], else `UsageError`."""
    if mode not in CLEANING_MODES:
        raise UsageError(f"--clean {mode}: choose among {', '.join(CLEANING_MODES)}.")
    if not 0.0 <= min_probability <= 1.0:
        raise UsageError(f"--min_probability {min_probability}: a probability lies between 0 and 1.")


def clean_instances(instances: Any, mode: str, min_probability: float = 0.0) -> tuple[Any, CleaningReport]:
    """`instances` (a learning-order `Dataset` with the label-issue columns) cleaned, and the report.

    - `drop`: every label issue is removed;
    - `relabel`: an issue whose suggested relation differs from its label and reaches `min_probability` gets it;
      the other issues keep their label;
    - `relabel-or-drop`: as `relabel`, and the other issues are removed.

    The new labels go into `relation`; `given_relation` keeps the label as it was and `cleaning` says `kept` or
    `relabelled`. A relabel that would repeat a triple its pair already carries (two wrong labels of one pair given the
    same suggestion) is dropped instead, counted in `dropped`.
    """
    check_cleaning(mode, min_probability)
    labels = np.asarray(instances["relation"], dtype=np.int64)
    issue = np.asarray(instances[LABEL_ISSUE_COLUMN], dtype=bool)
    suggested = np.asarray(instances[SUGGESTED_RELATION_COLUMN], dtype=np.int64)
    probability = np.nan_to_num(np.asarray(instances[SUGGESTED_PROBABILITY_COLUMN], dtype=np.float64), nan=-1.0)
    relabel = issue & (suggested != labels) & (probability >= min_probability) & (mode != "drop")
    drop = issue & ~relabel if mode != "relabel" else np.zeros_like(issue)
    new_labels = np.where(relabel, suggested, labels)
    duplicate = _repeated_triples(pair_ids(instances), new_labels, relabel)
    relabel &= ~duplicate
    drop |= duplicate
    names = instances.features["relation"].names
    report = CleaningReport(
        mode, min_probability, len(instances), int(issue.sum()), int(relabel.sum()), int(drop.sum()),
        int((issue & ~relabel & ~drop).sum()),
        dict(Counter(f"{names[a]} -> {names[b]}" for a, b in zip(labels[relabel], new_labels[relabel])).most_common()),
    )  # fmt: skip
    # A repeat keeps its suggestion in `new_labels`, but it is dropped with its row.
    return relabelled_copy(instances, new_labels, relabel).select(np.flatnonzero(~drop)), report


def _repeated_triples(pairs: np.ndarray, labels: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Changed instances whose (pair, label) another instance already holds (an unchanged one, or an earlier row)."""
    keys = pairs * (int(labels.max(initial=0)) + 1) + labels
    order = np.lexsort((np.arange(keys.size), changed, keys))  # per key: unchanged first, then by row
    repeated = np.zeros(keys.size, dtype=bool)
    sorted_keys = keys[order]
    repeated[order[1:]] = sorted_keys[1:] == sorted_keys[:-1]
    return repeated & changed


def summarise_cleaning(report: CleaningReport, top: int = 10) -> str:
    """One paragraph and the most frequent relabels, for the terminal and the card."""
    lines = [
        f"{report.issues} of {report.instances} labels are issues: {report.relabelled} relabelled "
        f"(suggested probability >= {report.min_probability:g}), {report.dropped} dropped, {report.kept_as_is} kept "
        f"as they were ({report.mode})."
    ]
    for change, count in list(report.changes.items())[:top]:
        lines.append(f"  {change}: {count}")
    return "\n".join(lines)


__all__ = [
    "CLEANING_MODES",
    "ISSUE_SCORE",
    "LABEL_ISSUE_COLUMN",
    "LABEL_ISSUE_COLUMNS",
    "SUGGESTED_PROBABILITY_COLUMN",
    "SUGGESTED_RELATION_COLUMN",
    "CleaningReport",
    "LabelIssueColumns",
    "check_cleaning",
    "clean_instances",
    "estimate_issue_share",
    "flag_label_issues",
    "label_issue_columns",
    "pair_ids",
    "relabelled_copy",
    "suggest_relations",
    "summarise_cleaning",
]
