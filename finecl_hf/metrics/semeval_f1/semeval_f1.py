# Copyright 2024 The finecl-hf developers.
# Licensed under the Apache License, Version 2.0.
"""SemEval-2010 Task 8 scores: the official (9+1)-way direction-aware macro-F1 and the FineCL code's micro-F1.

This file is a self-contained `evaluate` module (`evaluate.load` copies it into its cache), so it imports nothing
from `finecl_hf`; `finecl_hf.metrics` re-exports `compute_semeval_f1` from this very file.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Sequence
from typing import Optional, Union

import datasets
import evaluate

OTHER_LABEL = "Other"
RELATION_TYPES = (
    "Cause-Effect",
    "Component-Whole",
    "Content-Container",
    "Entity-Destination",
    "Entity-Origin",
    "Instrument-Agency",
    "Member-Collection",
    "Message-Topic",
    "Product-Producer",
)
DIRECTIONS = ("(e1,e2)", "(e2,e1)")
LABELS = tuple(f"{relation}{direction}" for relation in RELATION_TYPES for direction in DIRECTIONS) + (OTHER_LABEL,)

Label = Union[str, int]

_DESCRIPTION = """\
SemEval-2010 Task 8 (Hendrickx et al., 2010) relation classification scores.

`macro_f1_official` reproduces the official scorer semeval2010_task8_scorer-v1.2.pl, "(9+1)-way evaluation with
directionality taken into account": per undirected relation type, a prediction is correct only when the type and
the direction both match; a prediction with the right type and the wrong direction counts against that type's
precision and recall (the scorer's xDIRx column); the macro average is the mean of the per-type F1 scores (not the
F1 of the mean precision and recall) over the relation types present in the references, Other excluded.

`micro_f1` is the score the FineCL/ERICA code reports: micro-F1 over the 18 directed labels, Other excluded.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str` or `int`): predicted labels, e.g. "Cause-Effect(e1,e2)" or "Other", or class ids.
    references (`list` of `str` or `int`): gold labels, same format and length as `predictions`.
    label_names (`list` of `str`, *optional*): the class names indexed by id; required when labels are ids.
    return_per_relation (`bool`, defaults to `False`): also return P/R/F1/support per relation type.
Returns:
    accuracy, macro_precision_official, macro_recall_official, macro_f1_official, micro_precision, micro_recall,
    micro_f1 (fractions in [0, 1]), and `per_relation` when asked.
Examples:
    >>> metric = evaluate.load("finecl_hf/metrics/semeval_f1")
    >>> results = metric.compute(predictions=["Cause-Effect(e2,e1)"], references=["Cause-Effect(e1,e2)"])
    >>> results["macro_f1_official"]  # right relation, wrong direction
    0.0
"""

_CITATION = """\
@inproceedings{hendrickx-etal-2010-semeval,
    title = "{S}em{E}val-2010 Task 8: Multi-Way Classification of Semantic Relations between Pairs of Nominals",
    author = "Hendrickx, Iris and Kim, Su Nam and Kozareva, Zornitsa and Nakov, Preslav and others",
    booktitle = "Proceedings of the 5th International Workshop on Semantic Evaluation",
    year = "2010",
    pages = "33--38",
}
"""


def _label_strings(values: Sequence[Label], label_names: Optional[Sequence[str]], field: str) -> list[str]:
    """Map ids to names through `label_names` and check every label is one of the 19 official SemEval labels."""
    labels = []
    for index, value in enumerate(values):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            if label_names is None:
                raise ValueError(f"{field}[{index}] is the class id {value}: pass `label_names` to score ids")
            if not 0 <= value < len(label_names):
                raise ValueError(f"{field}[{index}]: class id {value} is outside label_names 0..{len(label_names) - 1}")
            value = label_names[value]
        if value not in LABELS:
            raise ValueError(
                f"{field}[{index}]: unknown SemEval-2010 Task 8 label {value!r}; expected one of {', '.join(LABELS)}"
            )
        labels.append(value)
    return labels


def _relation_type(label: str) -> str:
    """'Cause-Effect(e1,e2)' -> 'Cause-Effect'; 'Other' stays 'Other'."""
    return label.split("(", 1)[0]


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _official_per_type(predictions: list[str], references: list[str]) -> dict[str, dict[str, float]]:
    """Per-type P/R/F1 of the scorer's (9+1)-way matrix with directionality (its steps 2.4 and 8)."""
    correct, proposed, wrong_direction, gold = Counter(), Counter(), Counter(), Counter()
    for predicted, reference in zip(predictions, references):
        predicted_type, reference_type = _relation_type(predicted), _relation_type(reference)
        gold[reference_type] += 1
        if predicted == reference:
            correct[reference_type] += 1
            proposed[predicted_type] += 1
        elif predicted_type == reference_type:
            # Right type, wrong direction: the scorer keeps it out of the type's column (so off the diagonal)
            # but adds it back to that type's precision denominator.
            wrong_direction[reference_type] += 1
        else:
            proposed[predicted_type] += 1
    scores = {}
    for relation_type in sorted(gold):
        precision_denominator = proposed[relation_type] + wrong_direction[relation_type]
        precision = correct[relation_type] / precision_denominator if precision_denominator else 0.0
        recall = correct[relation_type] / gold[relation_type]
        scores[relation_type] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": gold[relation_type],
        }
    return scores


def _directed_micro(predictions: list[str], references: list[str]) -> tuple[float, float, float]:
    """Micro P/R/F1 over the 18 directed labels with Other excluded (the FineCL code's `f1_score`)."""
    correct = sum(p == r != OTHER_LABEL for p, r in zip(predictions, references))
    guessed = sum(p != OTHER_LABEL for p in predictions)
    gold = sum(r != OTHER_LABEL for r in references)
    precision = correct / guessed if guessed else 0.0
    recall = correct / gold if gold else 0.0
    return precision, recall, _f1(precision, recall)


def compute_semeval_f1(
    predictions: Sequence[Label],
    references: Sequence[Label],
    label_names: Optional[Sequence[str]] = None,
    return_per_relation: bool = False,
) -> dict:
    """Score SemEval-2010 Task 8 predictions with the official scorer's rules and the paper code's micro-F1.

    Args:
        predictions: predicted labels as official label strings ("Cause-Effect(e1,e2)", "Other") or class ids.
        references: gold labels in the same format, aligned with `predictions`.
        label_names: class names indexed by id (e.g. a `ClassLabel`'s `names`); required for ids.
        return_per_relation: add `per_relation`: {type: {precision, recall, f1, support}} for the types in
            `references` (Other included, as the scorer prints it, though it never enters the averages).

    Returns:
        A dict of fractions in [0, 1]: `accuracy` (exact 19-way match), `macro_precision_official`,
        `macro_recall_official`, `macro_f1_official` (mean over the relation types that occur in `references`,
        Other excluded, like the scorer: all 9 on the official test set), `micro_precision`, `micro_recall`,
        `micro_f1` (18 directed labels, Other excluded). A zero denominator gives 0.0.

    Raises:
        ValueError: on empty or misaligned inputs, ids without `label_names`, or an unknown label.
    """
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} labels but references has {len(references)}")
    if len(references) == 0:
        raise ValueError("predictions and references are empty: nothing to score")
    predicted = _label_strings(predictions, label_names, "predictions")
    gold = _label_strings(references, label_names, "references")

    per_type = _official_per_type(predicted, gold)
    relation_scores = [scores for relation_type, scores in per_type.items() if relation_type != OTHER_LABEL]
    count = len(relation_scores)
    micro_precision, micro_recall, micro_f1 = _directed_micro(predicted, gold)
    results = {
        "accuracy": sum(p == r for p, r in zip(predicted, gold)) / len(gold),
        "macro_precision_official": sum(s["precision"] for s in relation_scores) / count if count else 0.0,
        "macro_recall_official": sum(s["recall"] for s in relation_scores) / count if count else 0.0,
        "macro_f1_official": sum(s["f1"] for s in relation_scores) / count if count else 0.0,
        "micro_precision": micro_precision,
        "micro_recall": micro_recall,
        "micro_f1": micro_f1,
    }
    if return_per_relation:
        results["per_relation"] = per_type
    return results


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SemevalF1(evaluate.Metric):
    """`evaluate` wrapper of `compute_semeval_f1`; accepts label strings or class ids (with `label_names`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
                datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            ],
            reference_urls=["https://aclanthology.org/S10-1006/"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs) -> None:
        """Add a batch of predictions and references; an empty batch is refused."""
        # evaluate appends the inputs description to this docstring, so it must exist. It also picks the
        # feature format from the first example, which fails obscurely on an empty batch.
        if predictions is not None and len(predictions) == 0:
            raise ValueError("predictions and references are empty: nothing to score")
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, label_names=None, return_per_relation=False) -> dict:
        return compute_semeval_f1(predictions, references, label_names, return_per_relation)
