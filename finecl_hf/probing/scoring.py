"""Scores of probe predictions over many draws, and bootstrap confidence intervals over draws and test examples.

Every metric is computed from (optionally weighted) counts, so a thousand bootstrap resamples are scored with one
matrix product (accuracy) or one `index_add` per draw (F1 counts):

- `accuracy`: share of test examples predicted correctly.
- `macro_f1`: mean over the classes present in the references of each class's F1 (a class never predicted has F1 0).
- `macro_f1_official` (SemEval-2010 Task 8 only): the official (9+1)-way direction-aware score of
  `finecl_hf.metrics.compute_semeval_f1`: per relation type, a prediction is correct only with the right direction,
  and any prediction of the type counts against its precision; mean over the 9 types, `Other` excluded.

A bootstrap resample draws the probe's draws with replacement and, independently, the test examples with
replacement; the statistic is the mean over the resampled draws of the metric on the resampled test set. The 95%
interval is the 2.5-97.5 percentile range of that statistic: it carries the variation of the k-shot draws and of the
finite test set. A paired comparison resamples both encoders with the same draws and the same test examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

ACCURACY = "accuracy"
MACRO_F1 = "macro_f1"
SEMEVAL_MACRO_F1 = "macro_f1_official"
DEFAULT_NUM_RESAMPLES = 1000
_SEMEVAL_LABEL = re.compile(r"^(.+)\((e1,e2|e2,e1)\)$")


@dataclass(frozen=True)
class MacroF1Groups:
    """Which F1 groups a macro-F1 averages: `group[label]` is the label's group, -1 for labels left out."""

    group: np.ndarray
    num_groups: int

    @classmethod
    def per_class(cls, num_labels: int) -> MacroF1Groups:
        return cls(np.arange(num_labels), num_labels)

    @classmethod
    def semeval_official(cls, label_names: Sequence[str]) -> MacroF1Groups:
        """Directed SemEval labels grouped by relation type; `Other` left out."""
        types: dict[str, int] = {}
        group = []
        for name in label_names:
            match = _SEMEVAL_LABEL.match(name)
            group.append(types.setdefault(match.group(1), len(types)) if match else -1)
        return cls(np.asarray(group), len(types))


def is_semeval_label_set(label_names: Sequence[str]) -> bool:
    from ..data.schema import semeval_label_names

    return sorted(label_names) == sorted(semeval_label_names())


def metric_groups(label_names: Sequence[str]) -> dict[str, MacroF1Groups | None]:
    """The metrics of a label set: accuracy and macro-F1, plus the official score for SemEval's labels."""
    metrics: dict[str, MacroF1Groups | None] = {
        ACCURACY: None,
        MACRO_F1: MacroF1Groups.per_class(len(label_names)),
    }
    if is_semeval_label_set(label_names):
        metrics[SEMEVAL_MACRO_F1] = MacroF1Groups.semeval_official(label_names)
    return metrics


def _group_sums(weights: torch.Tensor, groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """`[resamples, num_groups]`: the summed example weights of each group (examples in group -1 left out)."""
    kept = groups >= 0
    return weights.new_zeros(weights.shape[0], num_groups).index_add_(1, groups[kept], weights[:, kept])


def score_draws(
    predictions: np.ndarray,
    references: np.ndarray,
    metric: str,
    groups: MacroF1Groups | None,
    example_weights: np.ndarray | None = None,
) -> np.ndarray:
    """`metric` of each draw: `[draws]`, or `[resamples, draws]` with `example_weights` `[resamples, examples]`.

    `predictions` `[draws, examples]` holds class ids (-1: no prediction, always wrong); `references` `[examples]`.
    """
    predictions = torch.as_tensor(np.asarray(predictions), dtype=torch.long)
    references = torch.as_tensor(np.asarray(references), dtype=torch.long)
    single = example_weights is None
    weights = torch.ones(1, references.shape[0]) if single else torch.as_tensor(example_weights, dtype=torch.float32)
    correct = predictions == references
    if metric == ACCURACY:
        values = (weights @ correct.float().T) / weights.sum(1, keepdim=True)
        return (values[0] if single else values).numpy()
    group = torch.as_tensor(groups.group, dtype=torch.long)
    gold_group = group[references]
    gold = _group_sums(weights, gold_group, groups.num_groups)
    present = gold > 0
    scores = []
    for draw in range(predictions.shape[0]):
        predicted_group = torch.where(predictions[draw] >= 0, group[predictions[draw].clamp(min=0)], -1)
        predicted = _group_sums(weights, predicted_group, groups.num_groups)
        hits = _group_sums(weights, torch.where(correct[draw], gold_group, -1), groups.num_groups)
        denominator = predicted + gold
        f1 = torch.where(denominator > 0, 2 * hits / denominator.clamp(min=1e-12), torch.zeros_like(hits))
        scores.append((f1 * present).sum(1) / present.sum(1).clamp(min=1))
    values = torch.stack(scores, 1)
    return (values[0] if single else values).numpy()


def bootstrap_weights(
    num_draws: int, num_examples: int, num_resamples: int, seed: int | list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resampling counts: `draw_weights` `[resamples, draws]` and `example_weights` `[resamples, examples]`."""
    rng = np.random.default_rng(seed)
    draw_weights = rng.multinomial(num_draws, np.full(num_draws, 1.0 / num_draws), size=num_resamples)
    example_weights = rng.multinomial(num_examples, np.full(num_examples, 1.0 / num_examples), size=num_resamples)
    return draw_weights.astype(np.float32), example_weights.astype(np.float32)


def resampled_means(
    predictions: np.ndarray,
    references: np.ndarray,
    metric: str,
    groups: MacroF1Groups | None,
    draw_weights: np.ndarray,
    example_weights: np.ndarray,
) -> np.ndarray:
    """The bootstrap statistic `[resamples]`: mean over resampled draws of the metric on resampled examples."""
    per_draw = score_draws(predictions, references, metric, groups, example_weights)
    return (per_draw * draw_weights).sum(1) / draw_weights.sum(1)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval (same unit as the estimate)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    @classmethod
    def from_resamples(cls, estimate: float, resamples: np.ndarray, level: float = 0.95) -> Interval:
        tail = 100 * (1 - level) / 2
        low, high = np.percentile(resamples, [tail, 100 - tail])
        return cls(float(estimate), float(low), float(high), level)

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.level)

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


__all__ = [
    "ACCURACY",
    "DEFAULT_NUM_RESAMPLES",
    "MACRO_F1",
    "SEMEVAL_MACRO_F1",
    "Interval",
    "MacroF1Groups",
    "bootstrap_weights",
    "is_semeval_label_set",
    "metric_groups",
    "resampled_means",
    "score_draws",
]
