"""Analysis of learning orders: percent learned per epoch (paper Fig. 2) and per class, cumulative Jaccard similarity of
two orders (Fig. 3), and, when label correctness is known, the precision of each subset A_0..A_k and, for every
cleanliness score of `finecl_hf.order_scores` (`learned_epoch` = "learned earlier", §4.1), its ROC-AUC as a
clean-label detector and the label precision of its top-scored 25% and 50%.

Command line:

```bash
finecl analyse runs/order/learning_order --plot fig2.png
finecl analyse runs/a/learning_order --compare runs/b/learning_order
finecl analyse runs/order/learning_order --correct_column confirmed_by_gold
finecl analyse runs/order/learning_order --correct_column confirmed_by_gold --scores aum
```
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..constants import (
    LEARNED_EPOCH_COLUMN,
    UPSAMPLED_COLUMN,
)
from ..data.relation_instances import triple_values_by_uid
from ..errors import DataError, UsageError
from ..data.learning_order import load_learning_order_documents, load_learning_order_instances
from ..order_scores import SCORES, cleanliness
from .state import NOT_LEARNED, percent_learned_per_epoch

logger = logging.getLogger(__name__)

__all__ = [
    "clean_label_auc",
    "cumulative_jaccard",
    "format_table",
    "mann_whitney_auc",
    "percent_learned_per_class",
    "percent_learned_per_epoch",
    "plot_percent_learned",
    "auc_interval",
    "document_groups",
    "score_detection",
    "subset_precision",
    "top_fraction_precision",
]


def _as_epochs(learned_epoch: Any) -> np.ndarray:
    epochs = np.asarray(learned_epoch, dtype=np.int64).reshape(-1)
    if epochs.size and epochs.min() < NOT_LEARNED:
        raise DataError(f"learned_epoch holds {int(epochs.min())}: epochs are >= 0, or -1 for never learned.")
    return epochs


def num_epochs_of(learned_epoch: Any) -> int:
    """The number of epochs an order spans (1 + its latest learned epoch; 0 when nothing was learned)."""
    epochs = _as_epochs(learned_epoch)
    return int(epochs.max()) + 1 if epochs.size and epochs.max() >= 0 else 0


def percent_learned_per_class(
    learned_epoch: Any, labels: Any, num_epochs: int, label_names: Sequence[str] | None = None
) -> dict[str, list[float]]:
    """For each class: percent of its instances first learned in each epoch 0..num_epochs-1 (paper Fig. 4)."""
    epochs, labels = _as_epochs(learned_epoch), np.asarray(labels).reshape(-1)
    if epochs.shape != labels.shape:
        raise ValueError(f"learned_epoch has {epochs.size} entries but labels has {labels.size}.")
    table = {}
    for label in np.unique(labels):
        name = label_names[int(label)] if label_names is not None else str(label)
        table[name] = percent_learned_per_epoch(epochs[labels == label], num_epochs)
    return table


def cumulative_jaccard(order_a: Any, order_b: Any, num_epochs: int | None = None) -> list[float]:
    """Jaccard index of the sets learned *by* each epoch k by two runs over the same instances (paper Fig. 3).

    Entry k is |L_a(k) ∩ L_b(k)| / |L_a(k) ∪ L_b(k)| with L(k) = A_0 ∪ ... ∪ A_k (1.0 when both sets are empty).
    The last entry is the paper's "total cumulative JSI after k epochs".
    """
    a, b = _as_epochs(order_a), _as_epochs(order_b)
    if a.shape != b.shape:
        raise ValueError(f"the two orders cover different instances: {a.size} vs {b.size} entries.")
    if num_epochs is None:
        num_epochs = max(num_epochs_of(a), num_epochs_of(b))
    similarities = []
    for epoch in range(num_epochs):
        in_a, in_b = (a >= 0) & (a <= epoch), (b >= 0) & (b <= epoch)
        union = np.count_nonzero(in_a | in_b)
        similarities.append(float(np.count_nonzero(in_a & in_b)) / union if union else 1.0)
    return similarities


def subset_precision(learned_epoch: Any, is_correct: Any, num_epochs: int | None = None) -> dict[str, dict[str, float]]:
    """Label precision (fraction of correct labels) of each subset A_0..A_{k-1} and of the never-learned set.

    Returns:
        `{"A_0": {"size": n, "precision": p}, ..., "not_learned": {...}, "all": {...}}`; precision is NaN for an
        empty subset.
    """
    epochs, correct = _as_epochs(learned_epoch), np.asarray(is_correct, dtype=bool).reshape(-1)
    if epochs.shape != correct.shape:
        raise ValueError(f"learned_epoch has {epochs.size} entries but is_correct has {correct.size}.")
    if num_epochs is None:
        num_epochs = num_epochs_of(epochs)
    masks = {f"A_{epoch}": epochs == epoch for epoch in range(num_epochs)}
    masks["not_learned"] = epochs == NOT_LEARNED
    masks["all"] = np.ones_like(correct)
    return {
        name: {
            "size": int(mask.sum()),
            "precision": float(correct[mask].mean()) if mask.any() else float("nan"),
        }
        for name, mask in masks.items()
    }


def mann_whitney_auc(scores: Any, positive: Any) -> float:
    """ROC-AUC as the Mann–Whitney U statistic: P(score of a positive > score of a negative), ties counting 1/2.

    Uses mid-ranks over tied scores, so it equals the trapezoidal area under the ROC curve. NaN when either class is
    empty.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    if scores.shape != positive.shape:
        raise ValueError(f"scores has {scores.size} entries but positive has {positive.size}.")
    num_positive, num_negative = int(positive.sum()), int((~positive).sum())
    if num_positive == 0 or num_negative == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Mid-rank (1-based) of each distinct score: the ranks it occupies are first+1 .. first+count.
    first_rank = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mid_ranks = first_rank + (counts + 1) / 2.0
    positive_rank_sum = mid_ranks[inverse][positive].sum()
    u_statistic = positive_rank_sum - num_positive * (num_positive + 1) / 2.0
    return float(u_statistic / (num_positive * num_negative))


def auc_interval(
    scores: Any, positive: Any, groups: Any | None = None, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Bootstrap interval of `mann_whitney_auc(scores, positive)`, resampling `groups` (e.g. documents) with
    replacement: labels of one document share its text, entities and labeller errors, so resampling single labels
    gives intervals that are too narrow. `groups=None` resamples instances.

    Each resample weighs every instance by how often its group was drawn; the weighted Mann-Whitney statistic is then
    read off one sort of the scores (tie blocks count half), O(n) a resample. `(nan, nan)` when no resample has both
    classes.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    group_index = (np.arange(scores.size) if groups is None
                   else np.unique(np.asarray(groups).reshape(-1), return_inverse=True)[1])  # fmt: skip
    num_groups = int(group_index.max()) + 1 if scores.size else 0
    if num_groups == 0 or resamples <= 0:
        return float("nan"), float("nan")
    _, block = np.unique(scores, return_inverse=True)  # tie blocks, in ascending score order
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, num_groups, num_groups), minlength=num_groups)
        weights = counts[group_index].astype(np.float64)
        positives = np.bincount(block, weights=weights * positive)
        negatives = np.bincount(block, weights=weights * ~positive)
        pairs = positives.sum() * negatives.sum()
        if pairs > 0:
            below = np.cumsum(negatives) - negatives
            estimates.append(float((positives * (below + 0.5 * negatives)).sum() / pairs))
    if not estimates:
        return float("nan"), float("nan")
    low, high = np.percentile(estimates, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def document_groups(uids: Any) -> np.ndarray:
    """The document of each instance uid (`<split>/<document>/<head>-<tail>/<relation>` -> `<split>/<document>`); a
    sentence uid (`<split>/<id>`) is its own group."""
    return np.asarray(["/".join(str(uid).split("/")[:2]) for uid in uids], dtype=object)


def clean_label_auc(learned_epoch: Any, is_correct: Any) -> float:
    """ROC-AUC of "learned earlier" as a detector of correct labels.

    The score of an instance is `-learned_epoch`; never-learned instances get the lowest score of all (tied among
    themselves).
    """
    epochs = _as_epochs(learned_epoch)
    scores = np.where(epochs == NOT_LEARNED, -(epochs.max(initial=0) + 1), -epochs).astype(np.float64)
    return mann_whitney_auc(scores, is_correct)


def top_fraction_precision(scores: Any, is_correct: Any, fraction: float) -> float:
    """Label precision of the `fraction` of instances with the highest scores (ties broken by row order)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    correct = np.asarray(is_correct, dtype=bool).reshape(-1)
    count = int(round(fraction * scores.size))
    if count == 0:
        return float("nan")
    top = np.argsort(-scores, kind="stable")[:count]
    return float(correct[top].mean())


def score_detection(
    columns: Any, is_correct: Any, names: Sequence[str] | None = None, groups: Any | None = None, resamples: int = 0
) -> dict[str, dict[str, float]]:
    """For each cleanliness score: ROC-AUC of clean vs wrong labels (with a bootstrap interval over `groups`, e.g.
    documents, when `resamples` > 0) and label precision of the top 25% / 50%.

    Instances whose score is NaN or missing (an infinite score still ranks) are left out of that score's figures and
    counted in its `missing` entry, which `render_report` prints: a hole in a score column is never ranked silently.

    Args:
        columns: the instances (a 🤗 `Dataset` or dict of columns) restricted to rows of known correctness.
        is_correct: whether each row's label is correct.
        names: scores to evaluate (default: every registered score whose columns are present).
        groups: what the interval resamples (`document_groups` of the uids); `None`: single instances.
        resamples: bootstrap resamples of the interval (0: no interval).
    """
    available = set(getattr(columns, "column_names", None) or columns.keys())
    if names is None:
        names = [name for name, score in SCORES.items() if set(score.columns) <= available]
    is_correct = np.asarray(is_correct, dtype=bool)
    report = {}
    for name in names:
        scores = np.asarray(cleanliness(name, columns), dtype=np.float64)
        present = ~np.isnan(scores)
        scores, correct = scores[present], is_correct[present]
        interval = {}
        if resamples:
            low, high = auc_interval(scores, correct, None if groups is None else np.asarray(groups)[present],
                                     resamples)  # fmt: skip
            interval = {"roc_auc_low": low, "roc_auc_high": high}
        report[name] = {
            "roc_auc": mann_whitney_auc(scores, correct),
            **interval,
            "top_25_precision": top_fraction_precision(scores, correct, 0.25),
            "top_50_precision": top_fraction_precision(scores, correct, 0.50),
            "missing": int((~present).sum()),
        }
    return report


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (numbers with 2 decimals)."""

    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_percent_learned(
    per_epoch: Sequence[float],
    path: str | Path,
    per_class: dict[str, list[float]] | None = None,
    title: str = "Instances learned per epoch",
) -> Path:
    """Bar chart of percent learned per epoch (Fig. 2); with `per_class`, a second panel of cumulative curves per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if per_class else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    epochs = np.arange(len(per_epoch))
    axes[0, 0].bar(epochs, per_epoch, color="tab:blue")
    axes[0, 0].set(xlabel="epoch", ylabel="% of instances first learned", title=title)
    if per_class:
        for name, values in per_class.items():
            axes[0, 1].plot(epochs, np.cumsum(values), label=name, linewidth=1)
        axes[0, 1].set(xlabel="epoch", ylabel="% of class learned (cumulative)", title="Per class")
        if len(per_class) <= 20:
            axes[0, 1].legend(fontsize=6)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def instance_correctness(instances: Any, documents: Any | None, column: str) -> tuple[np.ndarray, np.ndarray]:
    """`(correct, known)` per instance from boolean `column`.

    The column is read from the instances, or, for relation instances of documents, from the documents' relation
    triples (e.g. the distant labeler's `confirmed_by_gold`), matched by triple `uid`. Instances with no value (sampled
    no-relation pairs, triples of documents without gold) are not known and left out of precision and AUC.
    """
    if column in instances.column_names:
        values = instances.with_format("arrow")[column]
    elif documents is not None and column in documents.features["relations"].feature:
        values = triple_values_by_uid(instances, documents, column)
    else:
        raise DataError(f"correct_column={column!r} is neither a column of the instances nor of the documents' relations.")
    known = np.asarray(pc.is_valid(values), dtype=bool)
    if not known.any():
        raise DataError(f"correct_column={column!r} is null for every instance: correctness is unknown.")
    correct = pc.fill_null(pc.cast(values, pa.bool_()), False)
    return np.asarray(correct, dtype=bool), known


def recorded_order(dataset: Any) -> tuple[np.ndarray, int]:
    """The order the classifier recorded, and how many instances class upsampling had moved.

    Upsampled instances were never predicted correctly; upsampling only moved them into A_{k-1} for pre-training, so
    the analyses count them as not learned.
    """
    epochs = np.asarray(dataset[LEARNED_EPOCH_COLUMN])
    if UPSAMPLED_COLUMN not in dataset.column_names:
        return epochs, 0
    upsampled = np.asarray(dataset[UPSAMPLED_COLUMN], dtype=bool)
    return np.where(upsampled, NOT_LEARNED, epochs), int(upsampled.sum())


def _label_column(dataset: Any) -> str | None:
    from datasets import ClassLabel

    for name, feature in dataset.features.items():
        if isinstance(feature, ClassLabel):
            return name
    return None


DEFAULT_BOOTSTRAP = 200  # resamples of `finecl analyse`'s ROC-AUC intervals: a few seconds a score at 60k instances


def analyse(
    path: str,
    compare: str | None = None,
    correct_column: str | None = None,
    plot: str | None = None,
    scores: Sequence[str] | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
) -> dict[str, Any]:
    """Everything the CLI prints, as a dict (also written as JSON with `--json`).

    `scores`: cleanliness scores to evaluate against `correct_column` (default: every one the dataset has).
    `bootstrap`: resamples of each score's ROC-AUC interval, which resamples documents where the instances have them
    (`document_groups` of their uids) and instances otherwise; 0 for none.
    """
    dataset = load_learning_order_instances(path)
    missing = [name for name in scores or () if not set(SCORES[name].columns) <= set(dataset.column_names)]
    if missing:
        raise UsageError(
            f"{path}: score(s) {missing} need column(s) the learning-order dataset lacks (it has "
            f"{dataset.column_names}); it was written before training-dynamics scores were recorded: re-run stage 1."
        )
    epochs, upsampled = recorded_order(dataset)
    num_epochs = num_epochs_of(dataset[LEARNED_EPOCH_COLUMN])
    report: dict[str, Any] = {"instances": len(dataset), "upsampled": upsampled}
    report["percent_learned_per_epoch"] = percent_learned_per_epoch(epochs, num_epochs)
    label_column = _label_column(dataset)
    if label_column is not None:
        names = dataset.features[label_column].names
        report["percent_learned_per_class"] = percent_learned_per_class(epochs, dataset[label_column], num_epochs, names)
    if compare is not None:
        report["cumulative_jaccard"] = cumulative_jaccard(epochs, recorded_order(load_learning_order_instances(compare))[0])
    if correct_column is not None:
        documents = load_learning_order_documents(path)
        try:
            correct, known = instance_correctness(dataset, documents, correct_column)
        except ValueError as error:
            raise DataError(f"{path}: {error} (instance columns: {dataset.column_names}).") from None
        # Precision is measured over the instances whose correctness is known (not the sampled no-relation pairs).
        report["subset_precision"] = subset_precision(epochs[known], correct[known], num_epochs)
        report["clean_label_auc"] = clean_label_auc(epochs[known], correct[known])
        rows = np.flatnonzero(known)
        groups = document_groups(np.asarray(dataset["uid"], dtype=object)[rows]) if "uid" in dataset.column_names else None
        report["scores"] = score_detection(dataset.select(rows), correct[known], scores, groups, bootstrap)
        report["interval_resamples"] = "documents" if groups is not None and len(set(groups)) < rows.size else "instances"
        report["scores_over"] = int(known.sum())
    if plot is not None:
        plot_percent_learned(report["percent_learned_per_epoch"], plot, report.get("percent_learned_per_class"))
    return report


def render_report(report: dict[str, Any]) -> str:
    """Human-readable tables of an `analyse` report."""
    per_epoch = report["percent_learned_per_epoch"]
    cumulative = np.cumsum(per_epoch).tolist() if per_epoch else []
    upsampled = f" ({report['upsampled']} upsampled into the last subset, counted here as not learned)" if report.get("upsampled") else ""
    parts = [
        f"{report['instances']} instances{upsampled}",
        format_table(["epoch", "% learned", "% learned (cumulative)"], [[k, p, c] for k, (p, c) in enumerate(zip(per_epoch, cumulative))]),
    ]
    if "percent_learned_per_class" in report:
        rows = [[name, float(np.sum(values))] + list(values) for name, values in report["percent_learned_per_class"].items()]
        parts.append(format_table(["class", "% learned"] + [f"A_{k}" for k in range(len(per_epoch))], rows))
    if "cumulative_jaccard" in report:
        parts.append(format_table(["epoch", "cumulative Jaccard"], list(enumerate(report["cumulative_jaccard"]))))
    if "subset_precision" in report:
        rows = [[name, value["size"], value["precision"]] for name, value in report["subset_precision"].items()]
        parts.append(format_table(["subset", "size", "label precision"], rows))
        parts.append(f"ROC-AUC of learning order as a clean-label detector: {report['clean_label_auc']:.4f}")
    if report.get("scores"):
        figures = ("roc_auc", "top_25_precision", "top_50_precision")
        rows = [[name, *(f"{values[key]:.4f}" for key in figures)] for name, values in report["scores"].items()]
        header = ["cleanliness score", "ROC-AUC", "precision of top 25%", "precision of top 50%"]
        if any("roc_auc_low" in values for values in report["scores"].values()):
            header.insert(2, f"95% CI (resampling {report.get('interval_resamples', 'instances')})")
            for row, values in zip(rows, report["scores"].values()):
                row.insert(2, f"[{values.get('roc_auc_low', float('nan')):.4f}, {values.get('roc_auc_high', float('nan')):.4f}]")
        parts.append(format_table(header, rows))
        known = report["scores_over"]
        parts += [f"{name}: {values['missing']} of {known} values are NaN or missing, left out of its ROC-AUC and "
                  "precisions." for name, values in report["scores"].items() if values.get("missing")]
    return "\n\n".join(parts)
