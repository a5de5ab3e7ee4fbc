"""Data reduction: seeded, class-stratified training subsets and held-out dev rows.

The paper compares models trained on 1%, 10% and 100% of the training data. For such a comparison to be fair,
every model must see the same rows, so the subset depends only on a `subset_seed` (never on the training seed).

Rows are ranked so that any prefix of the ranking is class-stratified: within each class the rows are shuffled, and
a row's key is its within-class quantile `(rank + 0.5) / class_size`; sorting all rows by that key interleaves the
classes in proportion to their sizes (each class gets its proportional share of a prefix, ±1 row). Taking a prefix
of this one ranking makes the subsets nested: the 1% rows are part of the 10% rows, which are part of the 100% rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
from datasets import Dataset

from ..errors import UsageError

logger = logging.getLogger(__name__)

# Distinct streams of the same subset seed, so the dev hold-out and the training subset are not correlated.
_VALIDATION_STREAM = 0
_TRAINING_STREAM = 1


def stratified_ranking(labels: Sequence[int], seed: int) -> np.ndarray:
    """Row indices ordered so that every prefix is class-stratified (see the module docstring).

    Args:
        labels: one stratification label per row.
        seed: the subset seed; the same labels and seed always give the same ranking.

    Returns:
        A permutation of `range(len(labels))`.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one label per row, got an array of shape {labels.shape}.")
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        ranks = rng.permutation(len(rows))
        keys[rows] = (ranks + 0.5) / len(rows)
    # Rows of different classes with the same quantile are ordered at random (not by class id).
    tie_breaks = rng.random(len(labels))
    return np.lexsort((tie_breaks, keys))


def stratified_sample(labels: Sequence[int], size: int, seed: int) -> np.ndarray:
    """The first `size` rows of `stratified_ranking(labels, seed)`, in ascending row order."""
    if not 0 <= size <= len(labels):
        raise UsageError(f"Cannot sample {size} rows out of {len(labels)}.")
    return np.sort(stratified_ranking(labels, seed)[:size])


def stratification_labels(dataset: Dataset) -> list[int]:
    """One label per row: the `relation` of a sentence-level row; for a document, its most frequent relation.

    Documents carry many relations; stratifying by the most frequent one (ties: the lowest id, no-relation = 0 for
    a document without relations) keeps the relation mix of the subset close to the full split's.
    """
    if "relation" in dataset.column_names:
        return list(dataset["relation"])
    if "relations" in dataset.column_names:
        labels = []
        for relations in dataset["relations"]:
            counts = Counter(relation["relation"] for relation in relations)
            labels.append(min(counts, key=lambda label: (-counts[label], label)) if counts else 0)
        return labels
    raise UsageError(
        f"Cannot stratify a dataset with columns {dataset.column_names}: expected `relation` (sentence level) or "
        "`relations` (documents)."
    )


def hold_out_validation(dataset: Dataset, validation_size: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split a training split into (training pool, dev) with a class-stratified, seeded dev.

    Args:
        dataset: the training split.
        validation_size: share of rows (< 1) or number of rows (>= 1) to hold out.
        seed: the subset seed.
    """
    size = round(validation_size * len(dataset)) if validation_size < 1 else int(validation_size)
    if not 0 < size < len(dataset):
        raise UsageError(f"validation_size={validation_size} leaves no dev or no training rows out of {len(dataset)}.")
    validation_rows = stratified_sample(stratification_labels(dataset), size, seed * 2 + _VALIDATION_STREAM)
    training_rows = np.setdiff1d(np.arange(len(dataset)), validation_rows)
    return dataset.select(training_rows), dataset.select(validation_rows)


def training_subset(pool: Dataset, train_fraction: float, seed: int, reference_size: int | None = None) -> Dataset:
    """The class-stratified training subset of `train_fraction` × `reference_size` rows drawn from `pool`.

    Args:
        pool: the rows that may be trained on (the training split minus any held-out dev rows).
        train_fraction: share in (0, 1].
        seed: the subset seed.
        reference_size: the size the fraction refers to: the full training split, so that "10% of SemEval" is 800
            sentences whether or not dev rows were held out of it. Defaults to `len(pool)`. When the requested size
            exceeds the pool (100% after a dev hold-out) the whole pool is used.
    """
    if not 0 < train_fraction <= 1:
        raise UsageError(f"train_fraction={train_fraction} must be in (0, 1].")
    reference_size = len(pool) if reference_size is None else reference_size
    size = max(1, round(train_fraction * reference_size))
    if size > len(pool):
        logger.info("train_fraction=%s asks for %d rows; the pool holds %d: using all of them.", train_fraction, size,
                    len(pool))
        size = len(pool)
    rows = stratified_sample(stratification_labels(pool), size, seed * 2 + _TRAINING_STREAM)
    return pool.select(rows)


__all__ = [
    "hold_out_validation",
    "stratification_labels",
    "stratified_ranking",
    "stratified_sample",
    "training_subset",
]
