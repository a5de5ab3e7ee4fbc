"""The neighbour index of `neighbour_agreement` (finecl_hf.learning_order.neighbours) against exact k-NN by hand."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from finecl_hf.errors import DataError, UsageError
from finecl_hf.learning_order.analysis import mann_whitney_auc
from finecl_hf.learning_order.evidence import CorpusEvidence, EvidenceSettings, neighbour_agreement
from finecl_hf.learning_order.neighbours import NeighbourIndexSettings, search_candidates

pytest.importorskip("faiss")

EXACT = NeighbourIndexSettings()
APPROXIMATE = NeighbourIndexSettings(exact_search_max=0, list_size=200, probes=8)  # 30 lists, 8 visited


def planted(count: int = 3000, classes: int = 12, dim: int = 32, noise: float = 0.3, scale: float = 0.6, seed: int = 0):
    """Clusters (three per class) that overlap enough for neighbour_agreement to err; `noise` of the labels flipped."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 3 * classes, count)
    true = cluster % classes
    features = (rng.normal(0, scale, (3 * classes, dim))[cluster] + rng.normal(0, 1, (count, dim))).astype(np.float32)
    wrong = rng.random(count) < noise
    labels = np.where(wrong, (true + rng.integers(1, classes, count)) % classes, true)
    return features, labels, ~wrong


def naive_neighbours(features, k, groups, voters):
    """Exact k nearest voters outside the own group, by hand (cosine of standardised features)."""
    standardised = (features - features.mean(0)) / features.std(0)
    unit = standardised / np.linalg.norm(standardised, axis=1, keepdims=True)
    similarity = unit @ unit.T
    similarity[groups[:, None] == groups[None, :]] = -np.inf
    similarity[:, ~voters] = -np.inf
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def vote(features, labels, neighbours):
    standardised = (features - features.mean(0)) / features.std(0)
    unit = standardised / np.linalg.norm(standardised, axis=1, keepdims=True)
    weights = np.clip(np.einsum("id,ikd->ik", unit, unit[neighbours]), 0, None)
    return (weights * (labels[neighbours] == labels[:, None])).sum(1) / weights.sum(1)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("share_trusted", [1.0, 0.15])
def test_the_exact_index_finds_the_naive_neighbours_for_every_round(grouped, share_trusted):
    features, labels, _ = planted(count=800)
    rng = np.random.default_rng(1)
    groups = np.arange(800) // 8 if grouped else np.arange(800)
    voters = rng.random(800) < share_trusted
    expected = vote(features, labels, naive_neighbours(features, 7, groups, voters))
    # One factor-1 search (8 candidates) serves both rounds: rows short of eligible candidates are searched again.
    candidates = search_candidates(features, 8, NeighbourIndexSettings(candidate_factor=1))
    scores = neighbour_agreement(features, labels, groups if grouped else None, 7,
                                 None if share_trusted == 1.0 else voters, candidates=candidates)  # fmt: skip
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_the_approximate_index_scores_within_0005_roc_auc_of_the_exact_one():
    features, labels, clean = planted(count=6000)
    exact = neighbour_agreement(features, labels, num_neighbours=10, index=EXACT)
    approximate = neighbour_agreement(features, labels, num_neighbours=10, index=APPROXIMATE)
    exact_auc, approximate_auc = mann_whitney_auc(exact, clean), mann_whitney_auc(approximate, clean)
    assert 0.6 < exact_auc < 0.95  # a corpus where the score can be wrong, so the comparison means something
    assert abs(approximate_auc - exact_auc) <= 0.005
    assert not search_candidates(features, 11, APPROXIMATE).exact and search_candidates(features, 11, EXACT).exact


def test_combined_second_round_reuses_the_first_search_and_matches_naive_neighbours():
    features, labels, _ = planted(count=600)
    evidence = CorpusEvidence(labels, np.arange(600) // 6, 12, None, features, EvidenceSettings(num_neighbours=5))
    first = evidence.neighbour_agreement()
    searched = evidence._candidates
    trusted = first >= np.quantile(first, 0.3)
    second = evidence.neighbour_agreement(trusted)
    assert evidence._candidates is searched
    expected = vote(features, labels, naive_neighbours(features, 5, np.arange(600), trusted))
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-6)


def test_missing_faiss_is_a_usage_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` now raises ImportError
    features, labels, _ = planted(count=50)
    with pytest.raises(UsageError, match=r'pip install "finecl-hf\[evidence\]"'):
        neighbour_agreement(features, labels, num_neighbours=3)


def test_k_larger_than_the_corpus_and_stale_features_are_clear_errors():
    features, labels, _ = planted(count=20)
    with pytest.raises(UsageError, match="num_neighbours=20 must lie between 1 and 19"):
        neighbour_agreement(features, labels, num_neighbours=20)
    stale = CorpusEvidence(labels, np.arange(20), 12, None, lambda: features[:15])
    with pytest.raises(DataError, match="15 rows for 20 instances"):
        stale.neighbour_agreement()
