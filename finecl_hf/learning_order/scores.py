"""Cleanliness scores: the one place where a per-instance "how likely is this label correct" score is defined.

Each score is one `CleanlinessScore` entry of `SCORES`, computed from the running statistics that
`LearningOrderTrainer` records (`LearningOrderState`: learned epoch, sums of the assigned-label margin and
probability, counts of observations, correct predictions and forgetting events). One entry is all it takes to add a
score: it then becomes a column of the exported learning-order dataset (documented in its card), a choice of the
stage-1 analysis (`python -m finecl_hf.learning_order.analysis --scores ...`) and of stage 2 (`--order_by`).

An *observation* is the first prediction of an instance in an epoch (batch mode: the training forward; epoch mode: the
epoch-end pass); n is the number of observations of the instance, y its assigned (possibly wrong) label, z_t its logits
at observation t and p_t = softmax(z_t).

```python
>>> from finecl_hf.learning_order.scores import SCORES, cleanliness
>>> sorted(SCORES)
['aum', 'confidence', 'correct_fraction', 'forgetting_events', 'learned_epoch', 'variability']
>>> clean = cleanliness("aum", dataset)  # higher = cleaner, for any registered score; dataset: exported instances
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .state import NOT_LEARNED, LearningOrderState

__all__ = [
    "SCORES",
    "CleanlinessScore",
    "cleanliness",
    "score_columns",
    "score_names",
]


@dataclass(frozen=True)
class CleanlinessScore:
    """One cleanliness score.

    Attributes:
        name: column name in the exported dataset and choice name on the command lines.
        compute: the column's values from the recorded statistics (`LearningOrderState` -> `[instances]` array);
            NaN where the instance was never observed.
        dtype: the column's `datasets.Value` dtype (`float32`, `int16`).
        higher_is_cleaner: direction of the raw column.
        formula: how it is computed, for the card (Markdown).
        description: what it says about an instance, for the card and `--help`.
        reference: where it comes from.
        orient: optional `(columns) -> scores` giving higher = cleaner when negating the column is not enough (e.g.
            never-learned instances ranked last); it may read the other columns listed in `requires`.
        requires: columns `orient` reads besides `name`.
        optional: columns `orient` reads when present.
    """

    name: str
    compute: Callable[[LearningOrderState], np.ndarray]
    dtype: str
    higher_is_cleaner: bool
    formula: str
    description: str
    reference: str
    orient: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the oriented score is computed from."""
        return (self.name, *self.requires)

    @property
    def direction(self) -> str:
        return "higher = cleaner" if self.higher_is_cleaner else "lower = cleaner"


def _per_observation(total: np.ndarray, state: LearningOrderState) -> np.ndarray:
    """`total / observations`, NaN for instances never observed."""
    observations = state.observations.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observations > 0, total / observations, np.nan)


def _variability(state: LearningOrderState) -> np.ndarray:
    mean = _per_observation(state.probability_sum, state)
    mean_square = _per_observation(state.probability_square_sum, state)
    return np.sqrt(np.clip(mean_square - mean * mean, 0.0, None))  # population std; rounding can dip below 0


def _learned_epoch_cleanliness(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """`-learned_epoch`, never-learned instances (and, when present, upsampled ones: they were not learned) last."""
    epochs = np.asarray(columns["learned_epoch"], dtype=np.float64)
    if "upsampled" in columns:
        epochs = np.where(np.asarray(columns["upsampled"], dtype=bool), NOT_LEARNED, epochs)
    never = epochs == NOT_LEARNED
    return np.where(never, -(epochs.max(initial=0.0) + 1.0), -epochs)


def _forgetting_cleanliness(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fewer forgetting events = cleaner; never-correct instances rank last (Toneva et al.: "infinitely forgotten")."""
    events = np.asarray(columns["forgetting_events"], dtype=np.float64)
    never_correct = np.asarray(columns["correct_fraction"], dtype=np.float64) == 0
    return np.where(never_correct, -(events.max(initial=0.0) + 1.0), -events)


def _entries(*scores: CleanlinessScore) -> dict[str, CleanlinessScore]:
    return {score.name: score for score in scores}


SCORES: dict[str, CleanlinessScore] = _entries(
    CleanlinessScore(
        name="learned_epoch",
        compute=lambda state: state.learned_epoch,
        dtype="int16",
        higher_is_cleaner=False,
        formula="first epoch k (0-based) whose observation predicts y over all classes (no-relation instances only "
        "with `record_no_relation`); -1 = never",
        description="FineCL's learning order: clean labels are learned early. Never learned (-1) ranks last.",
        reference="Hogan, Li & Shang, EMNLP 2022 (FineCL), §3.1",
        orient=_learned_epoch_cleanliness,
        optional=("upsampled",),
    ),
    CleanlinessScore(
        name="aum",
        compute=lambda state: _per_observation(state.margin_sum, state),
        dtype="float32",
        higher_is_cleaner=True,
        formula="AUM = (1/n) Σ_t (z_t[y] − max_{c≠y} z_t[c]), on logits",
        description="Area under the margin: a mislabelled instance keeps a negative margin while the other classes "
        "pull the classifier toward its true class.",
        reference="Pleiss et al., NeurIPS 2020, 'Identifying Mislabeled Data using the Area Under the Margin Ranking'",
    ),
    CleanlinessScore(
        name="confidence",
        compute=lambda state: _per_observation(state.probability_sum, state),
        dtype="float32",
        higher_is_cleaner=True,
        formula="μ = (1/n) Σ_t p_t[y]",
        description="Mean probability of the assigned label (dataset cartography's confidence); hard-to-learn, "
        "often mislabelled instances have low confidence.",
        reference="Swayamdipta et al., EMNLP 2020, 'Dataset Cartography'",
    ),
    CleanlinessScore(
        name="variability",
        compute=_variability,
        dtype="float32",
        higher_is_cleaner=True,
        formula="σ = sqrt((1/n) Σ_t p_t[y]² − μ²) (population standard deviation)",
        description="Spread of the assigned label's probability across observations (cartography's variability). Not "
        "monotone in label quality: mislabelled instances stay low-confidence *and* low-variability, but so do easy "
        "ones (high confidence); read it with `confidence`. As a ranking, higher = cleaner over a short run.",
        reference="Swayamdipta et al., EMNLP 2020, 'Dataset Cartography'",
    ),
    CleanlinessScore(
        name="forgetting_events",
        compute=lambda state: state.forgetting_events,
        dtype="int16",
        higher_is_cleaner=False,
        formula="#{t > 1 : argmax z_{t−1} = y and argmax z_t ≠ y}",
        description="Forgetting events (correct then incorrect at the next observation). As a ranking, instances "
        "never predicted correctly (`correct_fraction` = 0) rank last.",
        reference="Toneva et al., ICLR 2019, 'An Empirical Study of Example Forgetting during Deep Neural Network "
        "Learning'",
        orient=_forgetting_cleanliness,
        requires=("correct_fraction",),
    ),
    CleanlinessScore(
        name="correct_fraction",
        compute=lambda state: _per_observation(state.correct_count.astype(np.float64), state),
        dtype="float32",
        higher_is_cleaner=True,
        formula="(1/n) #{t : argmax z_t = y} (no-relation instances included)",
        description="Fraction of observations whose prediction is the assigned label (cartography's correctness).",
        reference="Swayamdipta et al., EMNLP 2020, 'Dataset Cartography'",
    ),
)


def score_names() -> list[str]:
    """Names of the registered scores (command-line choices)."""
    return list(SCORES)


def score_columns(state: LearningOrderState) -> dict[str, np.ndarray]:
    """Every registered score's column from the recorded statistics, in its export dtype.

    A state restored from a checkpoint that predates the training-dynamics statistics (`has_dynamics = False`) only
    yields `learned_epoch`: its statistics miss the first epochs.
    """
    columns = {}
    for name, score in SCORES.items():
        if name != "learned_epoch" and not state.has_dynamics:
            continue
        columns[name] = np.asarray(score.compute(state)).astype(score.dtype)
    return columns


def _column(columns: Any, name: str) -> np.ndarray:
    values = columns[name]
    return np.asarray(values, dtype=np.float64).reshape(-1)


def cleanliness(name: str, columns: Any) -> np.ndarray:
    """Score `name` oriented so that higher = cleaner (`float64 [instances]`), e.g. for a ROC-AUC of clean labels.

    Args:
        name: a registered score (`score_names()`).
        columns: the exported `instances` (a 🤗 `Dataset`), a dict of columns (e.g. `score_columns(state)`), or any
            mapping from the columns the score needs (`SCORES[name].columns`) to arrays.

    Raises:
        KeyError: `name` is not registered, or a column it needs is absent (the message names both).
    """
    if name not in SCORES:
        raise KeyError(f"unknown cleanliness score {name!r}; registered: {', '.join(SCORES)}.")
    score = SCORES[name]
    available = set(getattr(columns, "column_names", None) or columns.keys())
    missing = [column for column in score.columns if column not in available]
    if missing:
        raise KeyError(f"score {name!r} needs column(s) {missing}; the data has {sorted(available)}.")
    if score.orient is not None:
        present = [column for column in score.optional if column in available]
        needed = {column: _column(columns, column) for column in (*score.columns, *present)}
        return np.asarray(score.orient(needed), dtype=np.float64)
    values = _column(columns, name)
    return values if score.higher_is_cleaner else -values
