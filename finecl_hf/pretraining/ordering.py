"""Which learning epoch k each relation instance gets in eq. 5: stage 1's `learned_epoch`, or the rank of another
cleanliness score mapped to a pseudo-epoch (`--order_by`).

Eq. 5 weighs an instance by f(k) = α^((k_max−k)/(k_max−k_min)). `--order_by learned_epoch` (default) uses the column
as written by stage 1: the paper, unchanged. Any other score of `finecl_hf.order_scores` is mapped onto eq. 5
through its rank:

1. the relation instances (label ≠ no-relation; no-relation pairs keep k = −1, weight 1, as never-learned instances
   do under the paper's order) are ranked by the score oriented higher = cleaner
   (`finecl_hf.order_scores.cleanliness`), over all of them or, with `--order_by_within_relation`, within
   each relation class;
2. instance i gets its 0-based mid-rank c_i from the cleanest (ties share the average rank) among the n instances of
   its group;
3. its pseudo-epoch is k_i = k_min + ⌊c_i · B / n⌋ with B = k_max − k_min + 1: the cleanest 1/B of each group gets
   k_min (the highest weight, α), the noisiest 1/B gets k_max (weight 1), as if every epoch had learned an equal share.

k_min = 0 and k_max = stage-1 epochs − 1, read from the dataset card (`finecl.num_epochs`); without it, the largest
`learned_epoch` of the column (at least 1).

A corpus weighting scheme (`posterior`, `truncate`; `finecl_hf.weighting`) needs no pseudo-epochs: `corpus_weights`
hands it the `--order_by` score of every relation instance (oriented higher = cleaner) and keeps its weights; no-relation
pairs, which are never anchors, keep weight 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, Value

from ..errors import DataError, UsageError
from ..order_scores import SCORES, CleanlinessScore
from ..weighting import CorpusWeights, WeightingScheme

PAPER_ORDER = "learned_epoch"
NOT_RANKED = -1

__all__ = [
    "PAPER_ORDER",
    "corpus_weights",
    "eq5_epoch_bounds",
    "eq5_epochs",
    "pseudo_epoch_range",
    "pseudo_epochs",
    "read_score_columns",
    "score_pseudo_epochs",
]


def pseudo_epochs(
    cleanliness_scores: np.ndarray,
    ranked: np.ndarray,
    k_min: int,
    k_max: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Pseudo-epochs in [k_min, k_max] from the rank of `cleanliness_scores` (higher = cleaner); see the module docstring.

    Args:
        cleanliness_scores: `[instances]`, finite.
        ranked: `bool [instances]`, instances to rank; the others get `-1`.
        k_min, k_max: the epoch range (k_max >= k_min >= 0).
        groups: `[instances]` group of each instance (e.g. its relation): ranks are taken within groups.

    Returns:
        `int16 [instances]`.
    """
    scores = np.asarray(cleanliness_scores, dtype=np.float64).reshape(-1)
    ranked = np.asarray(ranked, dtype=bool).reshape(-1)
    if not 0 <= k_min <= k_max:
        raise ValueError(f"k_min={k_min}, k_max={k_max}: need 0 <= k_min <= k_max.")
    groups = np.zeros(scores.shape, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64).reshape(-1)
    result = np.full(scores.shape, NOT_RANKED, dtype=np.int16)
    rows = np.flatnonzero(ranked)
    if not rows.size:
        return result
    group, value = groups[rows], -scores[rows]  # ascending value = cleanest first
    order = np.lexsort((value, group))
    group, value = group[order], value[order]
    group_start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    group_size = np.diff(np.r_[group_start, order.size])
    group_of = np.repeat(np.arange(group_start.size), group_size)
    # Runs of equal (group, value): every member gets the run's mid-rank; twice the mid-rank is an integer.
    run_start = np.flatnonzero(np.r_[True, (group[1:] != group[:-1]) | (value[1:] != value[:-1])])
    run_size = np.diff(np.r_[run_start, order.size])
    twice_mid_rank = np.repeat(2 * (run_start - group_start[group_of[run_start]]) + run_size - 1, run_size)
    bins = k_max - k_min + 1
    epochs = k_min + (twice_mid_rank * bins) // (2 * group_size[group_of])
    result[rows[order]] = epochs.astype(np.int16)
    return result


def pseudo_epoch_range(card_metadata: dict[str, Any], learned_epoch: np.ndarray) -> tuple[int, int]:
    """(k_min, k_max) for pseudo-epochs: (0, stage-1 epochs − 1) from the card, else (0, max(largest learned epoch, 1))."""
    num_epochs = card_metadata.get("num_epochs")
    if isinstance(num_epochs, int) and num_epochs >= 2:
        return 0, num_epochs - 1
    return 0, max(int(np.max(learned_epoch, initial=0)), 1)


def read_score_columns(instances: Dataset, score: CleanlinessScore, source: str) -> dict[str, np.ndarray]:
    """The columns `score` (the `--order_by` registry entry) is computed from, checked: present, numeric, finite.

    Raises:
        ValueError: naming `source`, the column and what was expected.
    """
    order_by = score.name
    available = instances.column_names
    missing = [name for name in score.columns if name not in available]
    if missing:
        # The folder is not what the argument reads (an exit-2 usage error), not a malformed file.
        raise UsageError(
            f"{source}: --order_by {order_by} needs the column(s) {missing}, which this learning-order dataset lacks "
            f"(its columns: {available}). It was written by a stage 1 that did not record training-dynamics scores "
            "(an older finecl-hf, or a run resumed from such a checkpoint): re-run stage 1 "
            f"(trainers/learning_order.py) to get them, or use --order_by {PAPER_ORDER}."
        )
    optional = [name for name in score.optional if name in available]
    columns = {}
    for name in (*score.columns, *optional):
        expected = SCORES[name].dtype if name in SCORES else "bool"
        feature = instances.features[name]
        if not _is_numeric(feature, allow_bool=expected == "bool"):
            raise DataError(
                f"{source}: column {name!r} (read for --order_by {order_by}) is {feature}, but a numeric column "
                f"({expected}, one value per instance) was expected; the learning-order dataset was not written by "
                "stage 1 or was edited."
            )
        column = instances.data.column(name)
        if column.null_count:
            row = pc.index(pc.is_null(column), True).as_py()
            raise DataError(
                f"{source}: record {row + 1} (index {row}), column {name!r} is missing (null) there and in "
                f"{column.null_count} of {len(column)} records; --order_by {order_by} needs a value for every instance, "
                "so nothing was trained."
            )
        values = column.to_numpy(zero_copy_only=False)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            holes = np.flatnonzero(~np.isfinite(values))
            row = int(holes[0])
            raise DataError(
                f"{source}: record {row + 1} (index {row}), column {name!r} = {values[row]} ({holes.size} of "
                f"{values.size} values are NaN or infinite): --order_by {order_by} needs finite values "
                f"(expected {expected}), so nothing was trained. NaN means stage 1 never observed the instance (a run stopped by max_steps "
                "before a whole epoch?); re-run stage 1 for whole epochs."
            )
        columns[name] = values
    return columns


def score_pseudo_epochs(
    instances: Dataset,
    score: CleanlinessScore,
    relation: np.ndarray,
    no_relation_id: int | None,
    epoch_range: tuple[int, int],
    within_relation: bool,
    source: str,
) -> np.ndarray:
    """`int16` pseudo-epoch of every instance for the `--order_by` score `score` (see the module docstring)."""
    scores = score.oriented(read_score_columns(instances, score, source))
    ranked = np.ones(scores.shape, dtype=bool) if no_relation_id is None else relation != no_relation_id
    return pseudo_epochs(scores, ranked, *epoch_range, groups=relation if within_relation else None)


def eq5_epochs(
    instances: Dataset,
    score: CleanlinessScore,
    learned_epoch: np.ndarray,
    relation: np.ndarray,
    no_relation_id: int | None,
    card_metadata: dict[str, Any],
    within_relation: bool,
    source: str,
) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The k of eq. 5 of every instance, and the pseudo-epochs' range.

    The paper's order (`learned_epoch`) is the column itself, with range `None`: eq. 5 then spans the learned instances
    (`eq5_epoch_bounds`). Any other score gives pseudo-epochs in `pseudo_epoch_range` (module docstring).
    """
    if score.name == PAPER_ORDER:
        return learned_epoch, None
    epoch_range = pseudo_epoch_range(card_metadata, learned_epoch)
    epochs = score_pseudo_epochs(instances, score, relation, no_relation_id, epoch_range, within_relation, source)
    return epochs, epoch_range


def eq5_epoch_bounds(learned_epoch: np.ndarray, pseudo_range: tuple[int, int] | None) -> tuple[int, int]:
    """(k_min, k_max) of eq. 5: the pseudo-epochs' range when given, else the range of the learned instances
    (`learned_epoch` >= 0), else (0, 0) — stage 1 learned nothing, and every weight is 1."""
    if pseudo_range is not None:
        return pseudo_range
    learned = learned_epoch[learned_epoch >= 0]
    return (int(learned.min()), int(learned.max())) if learned.size else (0, 0)


def corpus_weights(
    instances: Dataset,
    scheme: WeightingScheme,
    score: CleanlinessScore,
    relation: np.ndarray,
    no_relation_id: int | None,
    truncation_share: float | None,
    source: str,
) -> tuple[np.ndarray, CorpusWeights]:
    """`float32` weight of every instance under the corpus scheme `scheme`, from the `--order_by` score `score`, and
    the fit (both registry entries, resolved where the arguments were checked).

    Raises:
        UsageError: naming `--weighting`, `--order_by` and `source` when the scheme cannot weigh this score (a
            constant score, too few relation instances, no two groups to separate).
    """
    import torch

    scores = score.oriented(read_score_columns(instances, score, source))
    ranked = np.ones(scores.shape, dtype=bool) if no_relation_id is None else relation != no_relation_id
    try:
        fitted = scheme.corpus_weights(
            torch.from_numpy(np.asarray(scores[ranked], dtype=np.float64)), truncation_share=truncation_share
        )
    except ValueError as error:
        raise UsageError(
            f"--weighting {scheme.name} --order_by {score.name}: cannot weigh the {int(ranked.sum())} relation instances "
            f"of {source}: {error}. Choose another --order_by score (or --weighting paper / uniform)."
        ) from None
    weights = np.ones(scores.shape, dtype=np.float32)
    weights[ranked] = fitted.weights.numpy()
    return weights, fitted


def _is_numeric(feature: Any, allow_bool: bool) -> bool:
    if not isinstance(feature, Value):
        return False
    arrow_type = feature.pa_type
    if pa.types.is_boolean(arrow_type):
        return allow_bool
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
