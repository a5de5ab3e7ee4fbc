# Copyright 2024 The finecl-hf developers.
# Licensed under the Apache License, Version 2.0.
"""TACRED micro-F1 over all relations except the no-relation class (the official TACRED scorer's figure).

This file is a self-contained `evaluate` module (`evaluate.load` copies it into its cache), so it imports nothing
from `finecl_hf`; `finecl_hf.metrics` re-exports `compute_tacred_f1` from this very file.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Optional, Union

import datasets
import evaluate

DEFAULT_NO_RELATION = "no_relation"

Label = Union[str, int]

_DESCRIPTION = """\
Micro-averaged precision, recall and F1 of TACRED (Zhang et al., 2017), following its official scorer: a prediction
is correct when it equals the gold label and that label is not the no-relation class; the precision denominator is
the number of predictions other than no-relation and the recall denominator the number of gold labels other than
no-relation. Like the official scorer, precision is 1.0 when nothing but no-relation is predicted. The no-relation
label name is configurable, so the same score serves any sentence-level dataset with an explicit NA class.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str` or `int`): predicted relation labels or class ids.
    references (`list` of `str` or `int`): gold relation labels, same format and length as `predictions`.
    no_relation_label (`str`, defaults to "no_relation"): the name of the class that is left out of the average.
    label_names (`list` of `str`, *optional*): class names indexed by id; required for ids, and when given every
        string label must be one of them.
Returns:
    precision, recall, f1: fractions in [0, 1].
Examples:
    >>> metric = evaluate.load("finecl_hf/metrics/tacred_f1")
    >>> metric.compute(predictions=["per:title", "no_relation"], references=["per:title", "org:founded"])["f1"]
    0.6666666666666666
"""

_CITATION = """\
@inproceedings{zhang-etal-2017-position,
    title = "Position-aware Attention and Supervised Data Improve Slot Filling",
    author = "Zhang, Yuhao and Zhong, Victor and Chen, Danqi and Angeli, Gabor and Manning, Christopher D.",
    booktitle = "Proceedings of the 2017 Conference on Empirical Methods in Natural Language Processing",
    year = "2017",
    pages = "35--45",
}
"""


def _label_strings(values: Sequence[Label], label_names: Optional[Sequence[str]], field: str) -> list[str]:
    """Map ids to names through `label_names`; with `label_names`, reject strings that are not among them."""
    known = None if label_names is None else set(label_names)
    labels = []
    for index, value in enumerate(values):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            if label_names is None:
                raise ValueError(f"{field}[{index}] is the class id {value}: pass `label_names` to score ids")
            if not 0 <= value < len(label_names):
                raise ValueError(f"{field}[{index}]: class id {value} is outside label_names 0..{len(label_names) - 1}")
            value = label_names[value]
        if not isinstance(value, str) or (known is not None and value not in known):
            raise ValueError(f"{field}[{index}]: unknown relation label {value!r}; label_names are {label_names}")
        labels.append(value)
    return labels


def compute_tacred_f1(
    predictions: Sequence[Label],
    references: Sequence[Label],
    no_relation_label: str = DEFAULT_NO_RELATION,
    label_names: Optional[Sequence[str]] = None,
) -> dict[str, float]:
    """Micro P/R/F1 over every relation except `no_relation_label`, as the official TACRED scorer computes it.

    Args:
        predictions: predicted labels (strings) or class ids.
        references: gold labels in the same format, aligned with `predictions`.
        no_relation_label: the no-relation class name ("no_relation" for TACRED, "Other" for SemEval).
        label_names: class names indexed by id (e.g. a `ClassLabel`'s `names`); required for ids.

    Returns:
        `{"precision", "recall", "f1"}`; precision is 1.0 when no relation is predicted (official scorer),
        recall is 0.0 when the references hold none, and F1 is 0.0 when precision + recall is 0.

    Raises:
        ValueError: on empty or misaligned inputs, ids without `label_names`, a label outside `label_names`, or a
            `no_relation_label` missing from `label_names`.
    """
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} labels but references has {len(references)}")
    if len(references) == 0:
        raise ValueError("predictions and references are empty: nothing to score")
    if label_names is not None and no_relation_label not in label_names:
        raise ValueError(f"no_relation_label {no_relation_label!r} is not in label_names {list(label_names)}")
    predicted = _label_strings(predictions, label_names, "predictions")
    gold = _label_strings(references, label_names, "references")

    correct = sum(p == r != no_relation_label for p, r in zip(predicted, gold))
    guessed = sum(p != no_relation_label for p in predicted)
    relevant = sum(r != no_relation_label for r in gold)
    precision = correct / guessed if guessed else 1.0
    recall = correct / relevant if relevant else 0.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TacredF1(evaluate.Metric):
    """`evaluate` wrapper of `compute_tacred_f1`; accepts label strings or class ids (with `label_names`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
                datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
            ],
            reference_urls=["https://nlp.stanford.edu/projects/tacred/"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs) -> None:
        """Add a batch of predictions and references; an empty batch is refused."""
        # evaluate appends the inputs description to this docstring, so it must exist. It also picks the
        # feature format from the first example, which fails obscurely on an empty batch.
        if predictions is not None and len(predictions) == 0:
            raise ValueError("predictions and references are empty: nothing to score")
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, no_relation_label=DEFAULT_NO_RELATION, label_names=None) -> dict:
        return compute_tacred_f1(predictions, references, no_relation_label, label_names)
