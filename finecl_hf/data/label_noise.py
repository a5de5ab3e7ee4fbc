"""Seeded label-noise generators: corrupt a known-clean label column to benchmark denoising with known truth.

Two kinds of noise, each a pure function of `(labels, rate, seed)` that returns a `NoisyLabels`:

- `uniform_label_noise`: exactly `round(rate * n)` rows, drawn uniformly without replacement, each get a *different*
  label drawn uniformly from the other `num_labels - 1` labels (symmetric noise).
- `confusable_label_noise`: exactly `round(rate * n)` rows get the mistakes annotators make on a directed label set
  such as SemEval-2010 Task 8: the relation kept with its direction swapped (``Cause-Effect(e1,e2)`` ->
  ``Cause-Effect(e2,e1)``), the label replaced by the no-relation label (``Other``), or, for a minority, a random
  other label. See `CONFUSABLE_MIXTURE` for the shares.

Drawing an exact count (not a Bernoulli draw per row) makes the realised noise rate equal `round(rate * n) / n`, so a
benchmark at "30% noise" has exactly 30% (to the nearest row) wrong labels for every seed.

```python
>>> from finecl_hf.data.label_noise import confusable_label_noise
>>> noisy = confusable_label_noise(labels, label_names, rate=0.4, seed=0)
>>> noisy.labels, noisy.corrupted  # new label ids; True where the label was changed
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..errors import UsageError

__all__ = [
    "CONFUSABLE_MIXTURE",
    "NoisyLabels",
    "confusable_label_noise",
    "reversed_direction_label",
    "uniform_label_noise",
]

#: Shares of the three confusions among the corrupted rows of `confusable_label_noise` (they sum to 1). A row whose
#: drawn confusion does not apply (a no-relation row cannot be swapped nor become no-relation; a relation without its
#: reversed label in the label set cannot be swapped) gets a random other label instead, so the realised share of
#: `random` is somewhat higher than its nominal share: `NoisyLabels.kind` tells the confusion of every row.
CONFUSABLE_MIXTURE: dict[str, float] = {"direction_swap": 0.45, "to_no_relation": 0.40, "random": 0.15}

_DIRECTION = re.compile(r"^(?P<relation>.*)\((?P<first>e[12]),(?P<second>e[12])\)$")


class NoisyLabels(NamedTuple):
    """The output of a noise generator.

    Attributes:
        labels: `int64[n]` label ids after corruption.
        corrupted: `bool[n]`, `True` exactly where `labels` differs from the input labels.
        kind: `str[n]`, the corruption applied to each row (`""` for an untouched row; `"uniform"`, `"direction_swap"`,
            `"to_no_relation"` or `"random"` otherwise).
    """

    labels: np.ndarray
    corrupted: np.ndarray
    kind: np.ndarray

    @property
    def noise_rate(self) -> float:
        """The realised share of corrupted rows."""
        return float(self.corrupted.mean()) if self.corrupted.size else 0.0

    def kind_counts(self) -> dict[str, int]:
        """How many rows each corruption touched."""
        kinds, counts = np.unique(self.kind[self.corrupted], return_counts=True)
        return {str(kind): int(count) for kind, count in zip(kinds, counts)}


def _check_inputs(labels: Sequence[int], num_labels: int, rate: float) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-d sequence of integer label ids, got dtype {labels.dtype} and shape {labels.shape}.")
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"rate={rate} is invalid: the share of rows to corrupt must be in [0, 1].")
    if num_labels < 2:
        raise ValueError(f"num_labels={num_labels} is invalid: a label can only be changed when there are at least 2 labels.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_labels):
        bad = int(np.flatnonzero((labels < 0) | (labels >= num_labels))[0])
        raise ValueError(f"labels row {bad}: label id {int(labels[bad])} is outside [0, {num_labels}).")
    return labels.astype(np.int64)


def _rows_to_corrupt(num_rows: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly `round(rate * num_rows)` distinct rows, uniformly at random."""
    return rng.choice(num_rows, size=int(round(rate * num_rows)), replace=False)


def _random_other_labels(labels: np.ndarray, num_labels: int, rng: np.random.Generator) -> np.ndarray:
    """For each label, a different label drawn uniformly from the other `num_labels - 1` (shift by 1..num_labels-1)."""
    return (labels + rng.integers(1, num_labels, size=labels.size)) % num_labels


def uniform_label_noise(labels: Sequence[int], num_labels: int, rate: float, seed: int) -> NoisyLabels:
    """Symmetric noise: `round(rate * n)` random rows get a different label drawn uniformly from the others.

    Args:
        labels: clean label ids in `[0, num_labels)`.
        num_labels: size of the label set (labels absent from `labels` can still be drawn).
        rate: share of rows to corrupt, in `[0, 1]`.
        seed: seed of the generator; the same inputs and seed give the same output.
    """
    clean = _check_inputs(labels, num_labels, rate)
    rng = np.random.default_rng(seed)
    rows = _rows_to_corrupt(clean.size, rate, rng)
    noisy = clean.copy()
    noisy[rows] = _random_other_labels(clean[rows], num_labels, rng)
    kind = np.full(clean.size, "", dtype=object)
    kind[rows] = "uniform"
    return NoisyLabels(noisy, noisy != clean, kind)


def reversed_direction_label(name: str) -> str | None:
    """``Relation(e1,e2)`` -> ``Relation(e2,e1)`` (and back); `None` for a label without a direction suffix."""
    match = _DIRECTION.match(name)
    if match is None or match["first"] == match["second"]:
        return None
    return f"{match['relation']}({match['second']},{match['first']})"


def confusable_label_noise(
    labels: Sequence[int],
    label_names: Sequence[str],
    rate: float,
    seed: int,
    no_relation_label: str = "Other",
    mixture: dict[str, float] | None = None,
) -> NoisyLabels:
    """Noise as annotators make it on a directed label set: direction swaps, "no relation", and a few random labels.

    `round(rate * n)` random rows are corrupted. Each corrupted row draws one confusion from `mixture` (default
    `CONFUSABLE_MIXTURE`: 45% `direction_swap`, 40% `to_no_relation`, 15% `random`):

    - `direction_swap`: the relation is kept and its arguments swapped (``Cause-Effect(e1,e2)`` ->
      ``Cause-Effect(e2,e1)``);
    - `to_no_relation`: the label becomes `no_relation_label` (a relation the annotator missed);
    - `random`: a different label drawn uniformly from all others.

    A confusion that does not apply to the row (a `no_relation_label` row cannot be swapped nor become no-relation;
    a label whose reversed direction is not in `label_names` cannot be swapped) falls back to `random`, so every drawn
    row is corrupted and the realised rate is exact; the realised mix is in `NoisyLabels.kind`.

    Args:
        labels: clean label ids, indices into `label_names`.
        label_names: the label set, with directions written as ``Relation(e1,e2)`` / ``Relation(e2,e1)``.
        rate: share of rows to corrupt, in `[0, 1]`.
        seed: seed of the generator.
        no_relation_label: the no-relation label; must be one of `label_names`.
        mixture: shares of `direction_swap`, `to_no_relation` and `random` (non-negative, normalised here).
    """
    names = list(label_names)
    clean = _check_inputs(labels, len(names), rate)
    if no_relation_label not in names:
        raise UsageError(f"no_relation_label={no_relation_label!r} is not one of the labels ({names[:5]}...).")
    mixture = dict(CONFUSABLE_MIXTURE if mixture is None else mixture)
    unknown = set(mixture) - set(CONFUSABLE_MIXTURE)
    shares = np.array([mixture.get(kind, 0.0) for kind in CONFUSABLE_MIXTURE], dtype=np.float64)
    if unknown or (shares < 0).any() or shares.sum() <= 0:
        raise UsageError(
            f"mixture={mixture} is invalid: give non-negative shares of {list(CONFUSABLE_MIXTURE)} with a positive sum."
        )
    no_relation = names.index(no_relation_label)
    index = {name: position for position, name in enumerate(names)}
    # -1 where a label has no reversed counterpart in the label set.
    reversed_id = np.array([index.get(reversed_direction_label(name) or "", -1) for name in names], dtype=np.int64)

    rng = np.random.default_rng(seed)
    rows = _rows_to_corrupt(clean.size, rate, rng)
    drawn = rng.choice(list(CONFUSABLE_MIXTURE), size=rows.size, p=shares / shares.sum())
    original = clean[rows]
    random_labels = _random_other_labels(original, len(names), rng)  # drawn for every row: the stream stays fixed
    swap = (drawn == "direction_swap") & (reversed_id[original] >= 0)
    to_no_relation = (drawn == "to_no_relation") & (original != no_relation)
    new_labels = np.where(swap, reversed_id[original], np.where(to_no_relation, no_relation, random_labels))

    noisy = clean.copy()
    noisy[rows] = new_labels
    kind = np.full(clean.size, "", dtype=object)
    kind[rows] = np.where(swap, "direction_swap", np.where(to_no_relation, "to_no_relation", "random"))
    return NoisyLabels(noisy, noisy != clean, kind)
