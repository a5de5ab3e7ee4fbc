# Copyright 2024 The finecl-hf developers.
# Licensed under the Apache License, Version 2.0.
"""DocRED document-level relation extraction scores: F1, Ign F1, F1-macro, F1-macro-weighted, threshold tuning.

This file is a self-contained `evaluate` module (`evaluate.load` copies it into its cache), so it imports nothing
from `finecl_hf`; `finecl_hf.metrics` re-exports its plain functions from this very file.
"""

from __future__ import annotations

import gzip
import json
import logging
import numbers
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Optional, Union

import datasets
import evaluate
import numpy as np

logger = logging.getLogger(__name__)

Fact = tuple[int, int, str]
TrainFacts = Union[str, os.PathLike, Iterable[Sequence[str]]]

_DESCRIPTION = """\
DocRED (Yao et al., 2019) relation extraction scores, following the official evaluation (`official_evaluate` in
the DocRED and ATLOP code). A fact is (document, head entity index, tail entity index, relation id); duplicates are
counted once. Precision = correct / predicted facts, recall = correct / gold facts.

Ign F1 ignores the correct facts already seen in training: a correct fact is "in train" when, for some mention name
n1 of its head entity and some mention name n2 of its tail entity, (n1, n2, relation) is a training fact. Those
facts are removed from both the correct and the predicted counts of the precision; recall is left unchanged, as in
the official code.

F1-macro is the mean of the per-relation F1 over the relations that occur in the references or the predictions;
F1-macro-weighted weights each relation's F1 by its number of gold facts (the paper's Table 4 metrics).

The decision threshold of a sigmoid model must be chosen on dev (`tune_threshold`) and then applied unchanged to
test; reporting the best F1 over thresholds on the evaluated split, as the original code does, is optimistic.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `dict`): per document, the predicted facts {"h": int, "t": int, "r": str}.
    references (`list` of `dict`): per document, {"title": str, "entity_names": list of list of str (the mention
        names of each entity, in vertexSet order), "labels": list of {"h", "t", "r"}}; `docred_reference` builds it
        from a DocRED JSON document.
    train_facts (`str`, path or iterable of [head name, tail name, relation], *optional*): the training facts for
        Ign F1, e.g. DocRED's train_annotated.fact.json.gz. Without them, Ign F1 is not reported.
Returns:
    precision, recall, f1, f1_macro, f1_macro_weighted, and ign_precision, ign_f1 with `train_facts` (fractions in
    [0, 1]); num_predicted, num_gold, num_correct, and num_correct_in_train with `train_facts`.
Examples:
    >>> metric = evaluate.load("finecl_hf/metrics/docred_f1")
    >>> reference = {"title": "d", "entity_names": [["Paris"], ["France"]], "labels": [{"h": 0, "t": 1, "r": "P17"}]}
    >>> metric.compute(predictions=[[{"h": 0, "t": 1, "r": "P17"}]], references=[reference])["f1"]
    1.0
"""

_CITATION = """\
@inproceedings{yao-etal-2019-docred,
    title = "{D}oc{RED}: A Large-Scale Document-Level Relation Extraction Dataset",
    author = "Yao, Yuan and Ye, Deming and Li, Peng and Han, Xu and Lin, Yankai and Liu, Zhenghao and others",
    booktitle = "Proceedings of the 57th Annual Meeting of the Association for Computational Linguistics",
    year = "2019",
    pages = "764--777",
}
"""

_FACT_FEATURE = {"h": datasets.Value("int64"), "t": datasets.Value("int64"), "r": datasets.Value("string")}


def load_train_facts(path: Union[str, os.PathLike]) -> frozenset[tuple[str, str, str]]:
    """Read a DocRED `*.fact.json[.gz]` file: a JSON list of [head mention name, tail mention name, relation]."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            records = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read the training facts ({error})") from error
    if not isinstance(records, list):
        kind = type(records).__name__
        raise ValueError(f"{path}: expected a JSON list of [head name, tail name, relation], got a {kind}")
    return _fact_set(records, source=path)


def _fact_set(records: Iterable[Sequence[str]], source: str) -> frozenset[tuple[str, str, str]]:
    facts = set()
    for index, record in enumerate(records):
        if isinstance(record, str) or len(record) != 3 or not all(isinstance(part, str) for part in record):
            raise ValueError(f"{source}: fact {index + 1} (index {index}) is {record!r}, expected [head name, tail name, relation]")
        facts.add(tuple(record))
    return frozenset(facts)


def _resolve_train_facts(train_facts: Optional[TrainFacts]) -> Optional[frozenset[tuple[str, str, str]]]:
    if train_facts is None or isinstance(train_facts, frozenset):
        return train_facts
    if isinstance(train_facts, (str, os.PathLike)):
        return load_train_facts(train_facts)
    return _fact_set(train_facts, source="train_facts")


def docred_reference(document: Mapping, index: Optional[int] = None) -> dict:
    """Turn a DocRED JSON document ({title, vertexSet, labels, ...}) into this metric's reference record.

    Args:
        document: a DocRED-format document; each vertexSet mention needs a "name", each label "h", "t" and "r".
        index: the document's position in its file, only used to name it in errors.
    """
    where = f"document {index + 1} (index {index})" if index is not None else f"document {document.get('title', '?')!r}"
    for field in ("title", "vertexSet", "labels"):
        if field not in document:
            raise ValueError(f"{where}: missing field {field!r}")
    try:
        names = [[mention["name"] for mention in entity] for entity in document["vertexSet"]]
        labels = [{"h": label["h"], "t": label["t"], "r": label["r"]} for label in document["labels"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{where}: malformed vertexSet or labels ({error!r} missing)") from error
    return {"title": document["title"], "entity_names": names, "labels": labels}


def _document_facts(facts: Sequence[Mapping], num_entities: int, where: str) -> set[Fact]:
    """Validate and de-duplicate one document's facts."""
    unique = set()
    for index, fact in enumerate(facts):
        try:
            head, tail, relation = fact["h"], fact["t"], fact["r"]
        except (KeyError, TypeError) as error:
            raise ValueError(f"{where}[{index}]: a fact needs 'h', 't' and 'r', got {fact!r}") from error
        for field, entity in (("h", head), ("t", tail)):
            if not isinstance(entity, numbers.Integral) or not 0 <= entity < num_entities:
                raise ValueError(
                    f"{where}[{index}]: field {field!r} = {entity!r} is not an entity index in 0..{num_entities - 1}"
                )
        if not isinstance(relation, str) or not relation:
            raise ValueError(f"{where}[{index}]: field 'r' must be a relation id such as 'P17', got {relation!r}")
        unique.add((int(head), int(tail), relation))
    return unique


def _in_train(fact: Fact, entity_names: Sequence[Sequence[str]], train_facts: frozenset) -> bool:
    """The official check: any (head mention name, tail mention name, relation) pair is a training fact."""
    head, tail, relation = fact
    return any(
        (head_name, tail_name, relation) in train_facts
        for head_name in entity_names[head]
        for tail_name in entity_names[tail]
    )


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _macro_f1(correct: Counter, predicted: Counter, gold: Counter) -> tuple[float, float]:
    """Mean per-relation F1 over relations seen in references or predictions, and its gold-support-weighted mean."""
    relations = set(predicted) | set(gold)
    if not relations:
        return 0.0, 0.0
    per_relation = {}
    for relation in relations:
        precision = correct[relation] / predicted[relation] if predicted[relation] else 0.0
        recall = correct[relation] / gold[relation] if gold[relation] else 0.0
        per_relation[relation] = _f1(precision, recall)
    total_gold = sum(gold.values())
    weighted = sum(per_relation[r] * gold[r] for r in gold) / total_gold if total_gold else 0.0
    return sum(per_relation.values()) / len(per_relation), weighted


def compute_docred_f1(
    predictions: Sequence[Sequence[Mapping]],
    references: Sequence[Mapping],
    train_facts: Optional[TrainFacts] = None,
) -> dict:
    """Score document-level relation extraction as the official DocRED evaluation does.

    Args:
        predictions: per document, its predicted facts `{"h": head entity index, "t": tail entity index, "r": "P17"}`.
        references: per document (aligned with `predictions`), `{"title", "entity_names", "labels"}` as built by
            `docred_reference`.
        train_facts: training facts for Ign F1: a path to a `*.fact.json[.gz]` file, an iterable of
            (head name, tail name, relation), or the frozenset `load_train_facts` returns (reuse it in loops).

    Returns:
        `precision`, `recall`, `f1`, `f1_macro`, `f1_macro_weighted` and, with `train_facts`, `ign_precision` and
        `ign_f1` (fractions in [0, 1]; a zero denominator gives 0.0), plus the counts `num_predicted`,
        `num_gold`, `num_correct` and, with `train_facts`, `num_correct_in_train`.

    Raises:
        ValueError: on empty or misaligned inputs, a malformed fact, or an entity index outside the document.
    """
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} documents but references has {len(references)}")
    if len(references) == 0:
        raise ValueError("predictions and references are empty: nothing to score")
    facts_in_train = _resolve_train_facts(train_facts)

    correct_by_relation, predicted_by_relation, gold_by_relation = Counter(), Counter(), Counter()
    correct_in_train = 0
    for index, (document_predictions, reference) in enumerate(zip(predictions, references)):
        entity_names = reference["entity_names"]
        where = f"document {index + 1} (index {index}, {reference.get('title', '')!r})"
        gold = _document_facts(reference["labels"], len(entity_names), f"references {where} labels")
        predicted = _document_facts(document_predictions, len(entity_names), f"predictions {where}")
        correct = predicted & gold
        gold_by_relation.update(relation for _, _, relation in gold)
        predicted_by_relation.update(relation for _, _, relation in predicted)
        correct_by_relation.update(relation for _, _, relation in correct)
        if facts_in_train is not None:
            correct_in_train += sum(_in_train(fact, entity_names, facts_in_train) for fact in correct)

    num_correct = sum(correct_by_relation.values())
    num_predicted = sum(predicted_by_relation.values())
    num_gold = sum(gold_by_relation.values())
    precision = num_correct / num_predicted if num_predicted else 0.0
    recall = num_correct / num_gold if num_gold else 0.0
    f1_macro, f1_macro_weighted = _macro_f1(correct_by_relation, predicted_by_relation, gold_by_relation)
    results = {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "f1_macro": f1_macro,
        "f1_macro_weighted": f1_macro_weighted,
        "num_predicted": num_predicted,
        "num_gold": num_gold,
        "num_correct": num_correct,
    }
    if facts_in_train is not None:
        # The official code adds 1e-5 to this denominator against division by zero; an explicit guard is exact.
        ign_denominator = num_predicted - correct_in_train
        ign_precision = (num_correct - correct_in_train) / ign_denominator if ign_denominator else 0.0
        results.update(
            ign_precision=ign_precision, ign_f1=_f1(ign_precision, recall), num_correct_in_train=correct_in_train
        )
    return results


def tune_threshold(scores: np.ndarray, labels: np.ndarray, num_gold: Optional[int] = None) -> float:
    """The global probability threshold that maximises micro-F1 on the given (dev) split.

    Predict a fact when `score > threshold`, on dev and then unchanged on test. The threshold lies halfway
    between the lowest kept score and the next one, so it reproduces the dev-optimal cut exactly; tied scores
    are never split.

    Args:
        scores: per-pair per-relation probabilities, any shape (e.g. [pairs, relations]); drop the no-relation
            column first, it is not a fact.
        labels: 0/1 array of the same shape, 1 where the (pair, relation) fact is gold.
        num_gold: the number of gold facts on the split when it exceeds `labels.sum()` (facts of pairs that were
            not scored, e.g. entities cut by the length limit, still count against recall as in the official code).

    Raises:
        ValueError: on empty or mismatched arrays, labels other than 0/1, non-finite scores, no gold fact, or a
            `num_gold` smaller than the gold facts in `labels`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores has shape {scores.shape} but labels has shape {labels.shape}")
    if scores.size == 0:
        raise ValueError("scores and labels are empty: nothing to tune on")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0/1 (multi-hot gold facts)")
    scores, labels = scores.ravel(), labels.ravel().astype(np.int64)
    labelled_gold = int(labels.sum())
    total_gold = labelled_gold if num_gold is None else num_gold
    if total_gold < labelled_gold:
        raise ValueError(f"num_gold={num_gold} is smaller than the {labelled_gold} gold facts in labels")
    if total_gold == 0:
        raise ValueError("labels hold no gold fact: F1 is 0 at every threshold")

    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    correct = np.cumsum(sorted_labels)
    precision = correct / np.arange(1, scores.size + 1)
    recall = correct / total_gold
    f1 = np.where(correct > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    # A cut inside a run of equal scores cannot be expressed by a threshold.
    f1[:-1][sorted_scores[1:] == sorted_scores[:-1]] = -1.0
    best = int(np.argmax(f1))
    if f1[best] <= 0:
        logger.warning("No threshold yields a correct fact; returning the top score, which predicts nothing.")
        return float(sorted_scores[0])
    if best + 1 == scores.size:
        return float(np.nextafter(sorted_scores[best], -np.inf))
    return float((sorted_scores[best] + sorted_scores[best + 1]) / 2)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DocredF1(evaluate.Metric):
    """`evaluate` wrapper of `compute_docred_f1`: one row per document."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    # Python lists (not `Sequence`) keep lists of dicts as such, in datasets 3 and later.
                    "predictions": [_FACT_FEATURE],
                    "references": {
                        "title": datasets.Value("string"),
                        "entity_names": [[datasets.Value("string")]],
                        "labels": [_FACT_FEATURE],
                    },
                }
            ),
            reference_urls=["https://github.com/thunlp/DocRED", "https://aclanthology.org/P19-1074/"],
        )

    def _compute(self, predictions, references, train_facts=None) -> dict:
        return compute_docred_f1(predictions, references, train_facts)
