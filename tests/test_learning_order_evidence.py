"""The evidence scores (finecl_hf.learning_order.evidence) on planted signals, against naive implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finecl_hf.learning_order.analysis import mann_whitney_auc
from finecl_hf.learning_order.evidence import (
    CorpusEvidence,
    EvidenceSettings,
    group_folds,
    neighbour_agreement,
    out_of_sample_probability,
    type_agreement,
    type_one_hots,
    type_signatures,
)
from finecl_hf.learning_order.scores import ScoreInputs, compute_score_columns
from finecl_hf.order_scores import COMBINED_COMPONENTS, rank_average

SCHEMA = {0: ("PER", "TIME"), 1: ("PER", "LOC"), 2: ("ORG", "LOC"), 3: ("LOC", "LOC")}


def schema_corpus(num_instances: int = 400, noise: float = 0.3, seed: int = 0):
    """Labels whose clean instances follow SCHEMA's type signature; wrong labels keep the true pair's types."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, len(SCHEMA), num_instances)
    wrong = rng.random(num_instances) < noise
    labels = np.where(wrong, (true + rng.integers(1, len(SCHEMA), num_instances)) % len(SCHEMA), true)
    signatures = type_signatures([SCHEMA[label][0] for label in true], [SCHEMA[label][1] for label in true])
    return labels, signatures, ~wrong


def naive_loo_pmi(labels, signatures, smoothing=1.0):
    kinds = sorted(set(signatures))
    scores = []
    for i in range(len(labels)):
        others = [j for j in range(len(labels)) if j != i]
        with_label = [j for j in others if labels[j] == labels[i]]
        pair = sum(signatures[j] == signatures[i] for j in with_label)
        marginal = (sum(signatures[j] == signatures[i] for j in others) + 1) / (len(others) + len(kinds))
        conditional = (pair + smoothing * marginal) / (len(with_label) + smoothing)
        scores.append(math.log(conditional) - math.log(marginal))
    return np.array(scores)


def test_type_agreement_is_leave_one_out_pmi_and_finds_labels_that_break_the_schema():
    labels, signatures, clean = schema_corpus(120)
    scores = type_agreement(labels, signatures)
    np.testing.assert_allclose(scores, naive_loo_pmi(labels, signatures), rtol=1e-10)
    assert mann_whitney_auc(scores, clean) > 0.9


def test_type_agreement_does_not_let_an_instance_vote_for_itself():
    # One instance of relation 5 with a signature seen nowhere else: without leave-one-out its PMI would be maximal.
    labels = np.array([0, 0, 0, 1, 1, 1, 5])
    signatures = np.array(["A->B"] * 3 + ["C->D"] * 3 + ["E->F"], dtype=object)
    scores = type_agreement(labels, signatures)
    assert scores[-1] == pytest.approx(0.0)  # a relation seen once: P̂(s | r) falls back to P̂(s), no evidence
    assert scores[0] > 0.0  # a signature backed by two other labels of its relation


def test_type_agreement_is_direction_aware():
    # Relation 0 is PER -> TIME, relation 1 TIME -> PER; relation 0 on a TIME -> PER pair is suspect.
    labels = np.array([0] * 20 + [1] * 20 + [0])
    signatures = type_signatures(["PER"] * 20 + ["TIME"] * 21, ["TIME"] * 20 + ["PER"] * 21)
    scores = type_agreement(labels, signatures)
    assert scores[-1] < 0 < scores[:40].min()


def planted_clusters(per_class: int = 40, classes: int = 4, dim: int = 16, noise: float = 0.25, seed: int = 0):
    """Features in one tight cluster per true class; `noise` of the labels flipped to another class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (classes, dim))
    true = np.repeat(np.arange(classes), per_class)
    features = (centres[true] + rng.normal(0, 0.5, (true.size, dim))).astype(np.float32)
    wrong = rng.random(true.size) < noise
    labels = np.where(wrong, (true + rng.integers(1, classes, true.size)) % classes, true)
    return features, labels, ~wrong


def test_neighbour_agreement_matches_a_naive_weighted_vote_and_finds_planted_flips():
    features, labels, clean = planted_clusters()
    scores = neighbour_agreement(features, labels, num_neighbours=7)
    standardised = (features - features.mean(0)) / features.std(0)
    unit = standardised / np.linalg.norm(standardised, axis=1, keepdims=True)
    for i in (0, 17, 101):
        similarity = unit @ unit[i]
        similarity[i] = -np.inf
        nearest = np.argsort(-similarity, kind="stable")[:7]
        weights = np.clip(similarity[nearest], 0, None)
        assert scores[i] == pytest.approx(float((weights * (labels[nearest] == labels[i])).sum() / weights.sum()), rel=1e-5)
    assert mann_whitney_auc(scores, clean) > 0.95


def test_neighbour_agreement_never_counts_the_instance_or_its_own_group():
    # Two instances of group 0 sit on top of each other with label 1; every other instance (group 1) has label 0.
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [0.0, 1.1]], dtype=np.float32)
    labels = np.array([1, 1, 0, 0, 0])
    grouped = neighbour_agreement(features, labels, groups=np.array([0, 0, 1, 1, 1]), num_neighbours=2)
    assert grouped[0] == 0.0 and grouped[1] == 0.0  # its twin is in its own document: no vote
    ungrouped = neighbour_agreement(features, labels, num_neighbours=1)
    assert ungrouped[0] == 1.0  # without groups the twin votes, but never the instance itself
    with pytest.raises(ValueError, match="num_neighbours=4 must lie between 1 and 2"):
        neighbour_agreement(features, labels, groups=np.array([0, 0, 1, 1, 1]), num_neighbours=4)


def test_group_folds_keep_groups_whole():
    groups = np.repeat(np.arange(10), 3)
    folds = group_folds(groups, 4, seed=1)
    for group in range(10):
        assert len(set(folds[groups == group])) == 1
    assert set(folds) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="folds=11"):
        group_folds(groups, 11)


def test_out_of_sample_finds_planted_flips_and_never_scores_with_a_model_that_saw_the_instance():
    features, labels, clean = planted_clusters(per_class=30)
    scores = out_of_sample_probability(features, labels, np.arange(labels.size), num_classes=4, folds=3)
    assert mann_whitney_auc(scores, clean) > 0.9
    # A document whose three instances form their own cluster and carry a label seen nowhere else: a model that saw
    # them would give that label a high probability; a cross-fitted one never saw the label at all.
    outliers = np.full((3, features.shape[1]), 40.0, dtype=np.float32)
    features = np.concatenate([features, outliers])
    labels = np.concatenate([labels, [4, 4, 4]])
    groups = np.concatenate([np.arange(120) % 20, [99, 99, 99]])
    scores = out_of_sample_probability(features, labels, groups, num_classes=5, folds=3)
    assert scores[-3:].max() < 0.05


def test_type_one_hots_encode_head_tail_and_signature():
    hots = type_one_hots(type_signatures(["PER", "ORG", "PER"], ["TIME", "LOC", "LOC"]))
    assert hots.shape == (3, 2 + 2 + 3)
    assert hots.sum(axis=1).tolist() == [3.0, 3.0, 3.0]


def test_rank_average_uses_mean_ranks_of_ties():
    combined = rank_average({"a": np.array([0.0, 1.0, 1.0, 3.0]), "b": np.array([4.0, 3.0, 2.0, 1.0])})
    # a: ranks 0, 1.5, 1.5, 3 -> /3; b: ranks 3, 2, 1, 0 -> /3
    np.testing.assert_allclose(combined, [(0 + 3) / 6, (1.5 + 2) / 6, (1.5 + 1) / 6, (3 + 0) / 6])
    weighted = rank_average({"a": np.array([0.0, 1.0, 1.0, 3.0]), "b": np.array([4.0, 3.0, 2.0, 1.0])}, {"b": 3.0})
    np.testing.assert_allclose(weighted, [(0 + 9) / 12, (1.5 + 6) / 12, (1.5 + 3) / 12, (3 + 0) / 12])
    with pytest.raises(ValueError, match="'b' has 1 NaN"):
        rank_average({"a": np.zeros(2), "b": np.array([0.0, np.nan])})


def test_the_registry_computes_every_evidence_score_and_their_combination():
    features, labels, clean = planted_clusters(per_class=30)
    true = np.where(clean, labels, -1)
    types = [SCHEMA.get(int(label), ("MISC", "MISC")) for label in true]
    evidence = CorpusEvidence(
        labels, np.arange(labels.size) // 2, 4, type_signatures(*zip(*types)), lambda: features,
        EvidenceSettings(num_neighbours=5, folds=3),
    )  # fmt: skip
    columns, seconds = compute_score_columns(ScoreInputs(None, evidence))
    assert set(columns) == {"type_agreement", "neighbour_agreement", "out_of_sample", "combined"}
    assert set(seconds) == set(columns)
    for name, values in columns.items():
        assert values.dtype == np.float32 and mann_whitney_auc(values, clean) > 0.8, name
    # Naive two rounds: rank average, then every evidence score recounted from the 70% the first round trusts.
    parts = {name: columns[name].astype(np.float64) for name in COMBINED_COMPONENTS if name in columns}
    first = rank_average(parts)
    trusted = first >= np.quantile(first, 0.3)
    recounted = {
        "type_agreement": type_agreement(labels, evidence.signatures, trusted=trusted),
        "neighbour_agreement": neighbour_agreement(features, labels, num_neighbours=5, trusted=trusted),
        "out_of_sample": out_of_sample_probability(
            np.concatenate([features, type_one_hots(evidence.signatures)], axis=1), labels, evidence.groups, 4, folds=3,
            trusted=trusted,
        ),
    }
    np.testing.assert_allclose(columns["combined"], rank_average(recounted), rtol=1e-5)
    assert mann_whitney_auc(columns["combined"], clean) >= mann_whitney_auc(first, clean) - 0.01

    one_round = CorpusEvidence(labels, evidence.groups, 4, evidence.signatures, features,
                               EvidenceSettings(num_neighbours=5, folds=3, refine_share=0.0))
    single, _ = compute_score_columns(ScoreInputs(None, one_round))
    np.testing.assert_allclose(single["combined"], first, rtol=1e-6)


def test_a_named_score_whose_input_is_missing_is_an_error_and_unnamed_ones_are_skipped():
    labels = np.array([0, 1, 0, 1])
    evidence = CorpusEvidence(labels, np.arange(4), 2)  # no types, no features
    columns, _ = compute_score_columns(ScoreInputs(None, evidence))
    assert columns == {}
    with pytest.raises(ValueError, match="'type_agreement' cannot be computed: the corpus has no entity types"):
        compute_score_columns(ScoreInputs(None, evidence), ["type_agreement"])
    with pytest.raises(ValueError, match="no encoder was given"):
        compute_score_columns(ScoreInputs(None, evidence), ["neighbour_agreement"])
