"""Cleanliness scores: the registry of per-instance "how likely is this label correct" scores (the order scores).

Each score is one `CleanlinessScore` entry of `SCORES`: what it means (formula, description, reference), its column
in a learning-order dataset (name, dtype, direction) and how stage 1 computes it (`compute`, from the inputs its
`needs` names: `dynamics`, stage 1's recorded training statistics; `entity_types` and `features`, the corpus evidence
of `finecl_hf.learning_order.evidence`; `scores`, the scores computed before it, for `combined`). The registry sits
below the stages, beside the weighting registry: stage 1 computes the columns (`finecl_hf.learning_order.scores`),
the learning-order dataset card describes them, stage 2 orders by them (`--order_by`) and `finecl analyse` compares
them, each reading this one table.

One entry is all it takes to add a score: it then becomes a column of the exported learning-order dataset (documented
in its card), a choice of the stage-1 analysis (`finecl analyse --scores ...`) and of stage 2 (`--order_by`).

An *observation* is the first prediction of an instance in an epoch (batch mode: the training forward; epoch mode: the
epoch-end pass); n is the number of observations of the instance, y its assigned (possibly wrong) label, z_t its logits
at observation t and p_t = softmax(z_t).

```python
>>> from finecl_hf.order_scores import SCORES, cleanliness
>>> sorted(SCORES)
['aum', 'combined', 'confidence', 'correct_fraction', 'forgetting_events', 'learned_epoch', 'neighbour_agreement',
 'out_of_sample', 'type_agreement', 'variability']
>>> clean = cleanliness("aum", dataset)  # higher = cleaner, for any registered score; dataset: exported instances
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .constants import NOT_LEARNED
from .errors import DataError

__all__ = [
    "COMBINED_COMPONENTS",
    "COMBINED_WEIGHTS",
    "SCORES",
    "CleanlinessScore",
    "cleanliness",
    "combine_scores",
    "finite_or_median",
    "get_score",
    "rank_average",
    "score_names",
]

DYNAMICS, ENTITY_TYPES, FEATURES, SCORES_SO_FAR = "dynamics", "entity_types", "features", "scores"
# The scores the `combined` score averages (by rank) and their weights (1 where not listed), chosen on the tuning
# corpora (README, "Denoising benchmark"; benchmarks/tune_combined.py).
COMBINED_COMPONENTS = ("type_agreement", "neighbour_agreement", "out_of_sample", "variability")
COMBINED_WEIGHTS: dict[str, float] = {}


@dataclass(frozen=True)
class CleanlinessScore:
    """One cleanliness score.

    Attributes:
        name: column name in the exported dataset and choice name on the command lines.
        compute: the column's values from stage 1's `ScoreInputs` (an `[instances]` array); NaN where the instance was never
            observed or has no features.
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
    compute: Callable[[Any], np.ndarray]
    dtype: str
    higher_is_cleaner: bool
    formula: str
    description: str
    reference: str
    orient: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    needs: str = DYNAMICS

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the oriented score is computed from."""
        return (self.name, *self.requires)

    @property
    def direction(self) -> str:
        return "higher = cleaner" if self.higher_is_cleaner else "lower = cleaner"

    def oriented(self, columns: Any) -> np.ndarray:
        """This score oriented so that higher = cleaner (`float64 [instances]`), from `columns` (see `cleanliness`).

        Raises:
            KeyError: a column it needs is absent (the message names it and the score).
        """
        available = set(getattr(columns, "column_names", None) or columns.keys())
        missing = [column for column in self.columns if column not in available]
        if missing:
            raise KeyError(f"score {self.name!r} needs column(s) {missing}; the data has {sorted(available)}.")
        if self.orient is not None:
            present = [column for column in self.optional if column in available]
            needed = {column: _column(columns, column) for column in (*self.columns, *present)}
            return np.asarray(self.orient(needed), dtype=np.float64)
        values = _column(columns, self.name)
        return values if self.higher_is_cleaner else -values


def _dynamics(statistic: Callable[[Any], np.ndarray]) -> Callable[[Any], np.ndarray]:
    """A score computed from stage 1's recorded statistics (`ScoreInputs.dynamics`, a `LearningOrderState`)."""
    return lambda inputs: statistic(inputs.dynamics)


def _per_observation(total: np.ndarray, state: Any) -> np.ndarray:
    """`total / observations`, NaN for instances never observed."""
    observations = state.observations.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(observations > 0, total / observations, np.nan)


def _variability(state: Any) -> np.ndarray:
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
        compute=_dynamics(lambda state: state.learned_epoch),
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
        compute=_dynamics(lambda state: _per_observation(state.margin_sum, state)),
        dtype="float32",
        higher_is_cleaner=True,
        formula="AUM = (1/n) Σ_t (z_t[y] − max_{c≠y} z_t[c]), on logits",
        description="Area under the margin: a mislabelled instance keeps a negative margin while the other classes "
        "pull the classifier toward its true class.",
        reference="Pleiss et al., NeurIPS 2020, 'Identifying Mislabeled Data using the Area Under the Margin Ranking'",
    ),
    CleanlinessScore(
        name="confidence",
        compute=_dynamics(lambda state: _per_observation(state.probability_sum, state)),
        dtype="float32",
        higher_is_cleaner=True,
        formula="μ = (1/n) Σ_t p_t[y]",
        description="Mean probability of the assigned label (dataset cartography's confidence); hard-to-learn, "
        "often mislabelled instances have low confidence.",
        reference="Swayamdipta et al., EMNLP 2020, 'Dataset Cartography'",
    ),
    CleanlinessScore(
        name="variability",
        compute=_dynamics(_variability),
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
        compute=_dynamics(lambda state: state.forgetting_events),
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
        compute=_dynamics(lambda state: _per_observation(state.correct_count.astype(np.float64), state)),
        dtype="float32",
        higher_is_cleaner=True,
        formula="(1/n) #{t : argmax z_t = y} (no-relation instances included)",
        description="Fraction of observations whose prediction is the assigned label (cartography's correctness).",
        reference="Swayamdipta et al., EMNLP 2020, 'Dataset Cartography'",
    ),
    CleanlinessScore(
        name="type_agreement",
        compute=lambda inputs: inputs.evidence.type_agreement(),
        dtype="float32",
        higher_is_cleaner=True,
        formula="leave-one-out PMI log P̂(s | y) − log P̂(s) of the (head type → tail type) signature s with the label "
        "y, counts from the corpus's own (noisy) labels without the instance; P̂(s) add-one smoothed, P̂(s | y) "
        "smoothed toward P̂(s) with one pseudo-count (a relation seen once scores 0)",
        description="Does the relation schema admit the entity types? A relation constrains the types of its head and "
        "tail (date of birth: PER → TIME); a label that breaks the constraint its other labels follow is suspect. "
        "Needs no classifier; needs entity types (DocRED-format documents; sentence corpora with typed entities).",
        reference="finecl-hf (issue 18); type constraints as in distant-supervision denoising",
        needs=ENTITY_TYPES,
    ),
    CleanlinessScore(
        name="neighbour_agreement",
        compute=lambda inputs: inputs.evidence.neighbour_agreement(),
        dtype="float32",
        higher_is_cleaner=True,
        formula="Σ_j w_j [y_j = y] / Σ_j w_j over the k nearest neighbours j (cosine similarity w_j ≥ 0 of "
        "standardised frozen [e_head; e_tail] features; the instance itself excluded; k = 10; a faiss index: exact "
        "up to 60,000 instances, IVF above)",
        description="Share of the instance's nearest neighbours in a frozen encoder's feature space (the backbone by "
        "default) that carry its label. Needs no classifier trained on the noisy labels.",
        reference="Bahri et al., ICML 2020 (deep k-NN); Zhu et al., ICML 2022 (SimiFeat)",
        needs=FEATURES,
    ),
    CleanlinessScore(
        name="out_of_sample",
        compute=lambda inputs: inputs.evidence.out_of_sample(),
        dtype="float32",
        higher_is_cleaner=True,
        formula="p̂(y | x) of a multinomial logistic regression on frozen [e_head; e_tail] features (+ entity-type "
        "one-hots where known), fitted on the other folds of a 5-fold split by document (never on the instance)",
        description="Probability of the given label from a linear classifier that never saw the instance or its "
        "document: plain out-of-sample confidence.",
        reference="Chong, Hong & Manning, EMNLP 2022, 'Detecting Label Errors by Using Pre-Trained Language Models'",
        needs=FEATURES,
    ),
    CleanlinessScore(
        name="combined",
        compute=lambda inputs: _combined(inputs),  # late-bound: `_combined` is defined after the registry
        dtype="float32",
        higher_is_cleaner=True,
        formula="mean normalised rank (in [0, 1]) of the oriented scores of " + ", ".join(f"`{name}`" for name in COMBINED_COMPONENTS)
        + " that were computed; then a second round: the evidence scores recounted from the instances the first round "
        "ranks above its lowest 30% (type counts, neighbour votes and classifier fits from those only), rank-averaged "
        "again",
        description="Rank average of the schema, neighbourhood, out-of-sample and training-dynamics evidence, refined "
        "once on the labels it trusts; the components and the refinement were chosen on tuning corpora only (README, "
        "'Denoising benchmark'). Needs no gold labels.",
        reference="finecl-hf (issue 18)",
        needs=SCORES_SO_FAR,
    ),
)


# Evidence scores the combined score's second round recounts from the trusted instances (CorpusEvidence methods).
_RECOUNTED = ("type_agreement", "neighbour_agreement", "out_of_sample")


def _combined(inputs: Any) -> np.ndarray:
    present = {name: inputs.oriented[name] for name in COMBINED_COMPONENTS if name in inputs.oriented}
    share = inputs.evidence.settings.refine_share if inputs.evidence is not None else 0.0
    return combine_scores(present, inputs.evidence, COMBINED_WEIGHTS, share)


def combine_scores(
    first_round: Mapping[str, np.ndarray],
    evidence: Any,
    weights: Mapping[str, float] | None = None,
    refine_share: float = 0.0,
) -> np.ndarray:
    """The `combined` score of oriented `first_round` scores: their weighted rank average; with `refine_share` > 0,
    the evidence scores among them are recounted from the instances that average ranks above its lowest
    `refine_share`, and the ranks averaged again (`benchmarks/tune_combined.py` scores candidates with it)."""
    first = rank_average(first_round, weights)
    recounted = [name for name in first_round if name in _RECOUNTED]
    if not refine_share or evidence is None or not recounted:
        return first
    trusted = first >= np.quantile(first, refine_share)
    parts = dict(first_round)
    for name in recounted:
        parts[name] = finite_or_median(getattr(evidence, name)(trusted))
    return rank_average(parts, weights)


def score_names() -> list[str]:
    """Names of the registered scores (command-line choices)."""
    return list(SCORES)


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
    """Ranks in [0, 1], ties sharing their mean rank."""
    if values.size < 2:
        return np.full(values.size, 0.5)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse.reshape(-1)] / (values.size - 1)


def finite_or_median(values: np.ndarray) -> np.ndarray:
    """Instances a score could not judge (NaN: never observed, no features) sit at the median: no evidence."""
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return values
    return np.where(finite, values, np.median(values[finite]))


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
    return get_score(name).oriented(columns)


def get_score(name: str) -> CleanlinessScore:
    """The registered score `name` (`KeyError` listing the registered ones otherwise)."""
    if name not in SCORES:
        raise KeyError(f"unknown cleanliness score {name!r}; registered: {', '.join(SCORES)}.")
    return SCORES[name]
