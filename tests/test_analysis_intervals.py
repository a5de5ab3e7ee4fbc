"""ROC-AUC intervals that resample documents (`finecl_hf.learning_order.analysis.auc_interval`): labels of one document
are not independent, so the interval must resample whole documents; with one label per group it is the ordinary
bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from finecl_hf.learning_order.analysis import auc_interval, document_groups, mann_whitney_auc


def corpus(num_documents: int = 200, per_document: int = 40, document_effect: float = 1.0, seed: int = 0):
    """Scores whose errors are shared within a document (a document's labels share its text and labeller)."""
    rng = np.random.default_rng(seed)
    documents = np.repeat(np.arange(num_documents), per_document)
    clean = rng.random(documents.size) < 0.6
    scores = clean * 0.7 + rng.normal(0, 1, documents.size) + rng.normal(0, document_effect, num_documents)[documents]
    return scores, clean, documents


def test_the_weighted_resample_equals_the_mann_whitney_auc_of_the_drawn_rows():
    """One resample by hand: the drawn documents' rows, repeated as drawn, give the AUC the weighted formula gives."""
    scores, clean, documents = corpus(num_documents=30, per_document=5)
    rng = np.random.default_rng(0)
    drawn = rng.integers(0, 30, 30)
    rows = np.concatenate([np.flatnonzero(documents == document) for document in drawn])
    expected = mann_whitney_auc(scores[rows], clean[rows])
    low, high = auc_interval(scores, clean, documents, resamples=1, seed=0, level=0.0)
    assert low == pytest.approx(expected) and high == pytest.approx(expected)


def test_resampling_documents_widens_the_interval_when_a_document_shares_its_errors():
    scores, clean, documents = corpus(document_effect=2.0)
    point = mann_whitney_auc(scores, clean)
    by_label = auc_interval(scores, clean, None, resamples=300)
    by_document = auc_interval(scores, clean, documents, resamples=300)
    assert by_label[0] < point < by_label[1] and by_document[0] < point < by_document[1]
    assert by_document[1] - by_document[0] > 1.3 * (by_label[1] - by_label[0])


def test_one_label_per_group_is_the_ordinary_bootstrap_and_ties_count_half():
    scores, clean, _ = corpus(num_documents=400, per_document=1, document_effect=0.0)
    assert auc_interval(scores, clean, np.arange(scores.size), 200, seed=3) == auc_interval(scores, clean, None, 200, seed=3)
    tied = np.zeros(50)
    assert auc_interval(tied, np.arange(50) % 2 == 0, None, 50) == (0.5, 0.5)
    assert all(np.isnan(auc_interval(np.ones(4), np.ones(4, dtype=bool), None, 20)))  # one class only


def test_document_groups_read_the_document_out_of_instance_uids():
    groups = document_groups(["train/3/0-1/P17", "train/3/2-0/P131", "train/12/1-0/no_relation", "dev/7"])
    assert list(groups) == ["train/3", "train/3", "train/12", "dev/7"]
