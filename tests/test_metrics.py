"""Metrics of stage 3 on hand-computed cases: SemEval official/micro F1, TACRED F1, DocRED F1/Ign F1, threshold."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from finecl_hf.metrics import (
    METRIC_NAMES,
    SEMEVAL_LABELS,
    compute_docred_f1,
    compute_semeval_f1,
    compute_tacred_f1,
    docred_reference,
    docred_train_facts_path,
    load_metric,
    load_train_facts,
    metric_path,
    tune_threshold,
)

CE12, CE21 = "Cause-Effect(e1,e2)", "Cause-Effect(e2,e1)"
CW12 = "Component-Whole(e1,e2)"
MT12 = "Message-Topic(e1,e2)"
PP12 = "Product-Producer(e1,e2)"
EO12, EO21 = "Entity-Origin(e1,e2)", "Entity-Origin(e2,e1)"
OTHER = "Other"


# --- SemEval-2010 Task 8 ---------------------------------------------------------------------------------------


def test_semeval_wrong_direction_counts_against_precision_and_recall():
    references = [CE12, CE12, CE21, CW12, OTHER, OTHER]
    predictions = [CE12, CE21, CE21, OTHER, CW12, OTHER]
    results = compute_semeval_f1(predictions, references, return_per_relation=True)
    # Cause-Effect: 2 correct; the reversed one is xDIRx: precision 2/(2+1), recall 2/3.
    cause_effect = results["per_relation"]["Cause-Effect"]
    assert cause_effect["precision"] == pytest.approx(2 / 3)
    assert cause_effect["recall"] == pytest.approx(2 / 3)
    # Component-Whole: predicted once on an Other sentence, its one gold sentence predicted Other.
    assert results["per_relation"]["Component-Whole"]["f1"] == 0.0
    assert results["macro_f1_official"] == pytest.approx((2 / 3 + 0.0) / 2)
    assert results["macro_precision_official"] == pytest.approx(1 / 3)
    # Directed micro: correct {0, 2}; 4 non-Other predictions; 4 non-Other gold labels.
    assert results["micro_precision"] == pytest.approx(0.5)
    assert results["micro_recall"] == pytest.approx(0.5)
    assert results["micro_f1"] == pytest.approx(0.5)
    assert results["accuracy"] == pytest.approx(3 / 6)


def test_semeval_reversed_direction_everywhere_scores_zero():
    results = compute_semeval_f1([CE21, EO21], [CE12, EO12], return_per_relation=True)
    assert results["macro_f1_official"] == 0.0
    assert results["micro_f1"] == 0.0
    assert results["per_relation"]["Entity-Origin"]["precision"] == 0.0


def test_semeval_macro_f1_is_mean_of_per_type_f1_not_f1_of_means():
    # Cause-Effect P=1, R=1/2; Component-Whole P=1/2, R=1: both F1=2/3, while the mean P and mean R are 3/4.
    results = compute_semeval_f1([CE12, OTHER, CW12, CW12], [CE12, CE12, CW12, OTHER])
    assert results["macro_precision_official"] == pytest.approx(0.75)
    assert results["macro_recall_official"] == pytest.approx(0.75)
    assert results["macro_f1_official"] == pytest.approx(2 / 3)


def test_semeval_other_only_predictions():
    references = [CE12, MT12, OTHER, OTHER]
    results = compute_semeval_f1([OTHER] * 4, references)
    assert results["macro_f1_official"] == 0.0
    assert results["micro_precision"] == 0.0
    assert results["micro_f1"] == 0.0
    assert results["accuracy"] == pytest.approx(0.5)


def test_semeval_relation_never_predicted_and_relation_absent_from_references():
    never_predicted = compute_semeval_f1([CE12, OTHER], [CE12, MT12])
    assert never_predicted["macro_f1_official"] == pytest.approx(0.5)  # Message-Topic F1 = 0 enters the mean
    assert never_predicted["micro_f1"] == pytest.approx(2 / 3)  # P = 1/1, R = 1/2
    # Like the scorer, a type absent from the references is not averaged; its false positive still costs micro.
    absent = compute_semeval_f1([CE12, PP12], [CE12, OTHER])
    assert absent["macro_f1_official"] == pytest.approx(1.0)
    assert absent["micro_f1"] == pytest.approx(2 / 3)


def test_semeval_class_ids_with_label_names_match_strings():
    predictions = [CE12, CE21, CW12, OTHER, MT12]
    references = [CE12, CE12, CW12, MT12, OTHER]
    as_ids = compute_semeval_f1(
        [SEMEVAL_LABELS.index(p) for p in predictions],
        np.array([SEMEVAL_LABELS.index(r) for r in references]),
        label_names=SEMEVAL_LABELS,
    )
    assert as_ids == compute_semeval_f1(predictions, references)


@pytest.mark.parametrize(
    ("predictions", "references", "label_names", "message"),
    [
        ([], [], None, "empty"),
        ([OTHER], [OTHER, OTHER], None, "1 labels but references has 2"),
        (["Cause-Effect"], [OTHER], None, "'Cause-Effect'"),
        ([OTHER], ["cause-effect(e1,e2)"], None, "references\\[0\\].*'cause-effect\\(e1,e2\\)'"),
        ([3], [OTHER], None, "pass `label_names`"),
        ([0], [19], SEMEVAL_LABELS, "references\\[0\\]: class id 19"),
        ([0], [1], ["Other", "no_relation"], "'no_relation'"),
    ],
)
def test_semeval_bad_input_raises(predictions, references, label_names, message):
    with pytest.raises(ValueError, match=message):
        compute_semeval_f1(predictions, references, label_names=label_names)


def _reverse_direction(label: str) -> str:
    """'Cause-Effect(e1,e2)' <-> 'Cause-Effect(e2,e1)'; Other is unchanged."""
    if label == OTHER:
        return label
    relation_type, direction = label.split("(")
    return f"{relation_type}({'e2,e1)' if direction == 'e1,e2)' else 'e1,e2)'}"


def test_semeval_official_test_set_key(shared_data_dir):
    lines = (shared_data_dir / "semeval2010_task8" / "TEST_FILE_FULL.TXT").read_text(encoding="utf-8").splitlines()
    key = [line.strip() for line in lines[1::4]]
    assert len(key) == 2717
    assert compute_semeval_f1(key, key)["macro_f1_official"] == 1.0
    assert key.count(OTHER) == 454
    reversed_results = compute_semeval_f1([_reverse_direction(label) for label in key], key)
    assert reversed_results["macro_f1_official"] == 0.0 and reversed_results["micro_f1"] == 0.0
    assert reversed_results["accuracy"] == pytest.approx(454 / 2717)  # only the Other sentences stay right
    majority = compute_semeval_f1([OTHER] * len(key), key)
    assert majority["macro_f1_official"] == 0.0 and majority["accuracy"] == pytest.approx(454 / 2717)


# --- TACRED ------------------------------------------------------------------------------------------------------


def test_tacred_micro_f1_excludes_no_relation():
    references = ["per:title", "per:title", "org:founded", "no_relation", "no_relation", "per:age"]
    predictions = ["per:title", "org:founded", "org:founded", "per:title", "no_relation", "no_relation"]
    # correct {0, 2}; 4 predictions other than NA; 4 gold labels other than NA (per:age never predicted).
    assert compute_tacred_f1(predictions, references) == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    renamed = compute_tacred_f1(
        [p.replace("no_relation", "NA") for p in predictions],
        [r.replace("no_relation", "NA") for r in references],
        no_relation_label="NA",
    )
    assert renamed == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_tacred_no_relation_only_predictions_follow_official_scorer():
    results = compute_tacred_f1(["no_relation"] * 3, ["per:title", "no_relation", "org:founded"])
    assert results == {"precision": 1.0, "recall": 0.0, "f1": 0.0}


def test_tacred_class_ids_with_label_names():
    names = ["no_relation", "per:title", "org:founded"]
    results = compute_tacred_f1([1, 0, 2], np.array([1, 2, 2]), label_names=names)
    assert results == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8})


@pytest.mark.parametrize(
    ("predictions", "references", "kwargs", "message"),
    [
        ([], [], {}, "empty"),
        ([1], [0], {}, "pass `label_names`"),
        ([-100], [0], {"label_names": ["no_relation", "per:title"]}, "predictions\\[0\\]: class id -100"),
        (["per:title"], ["per:tittle"], {"label_names": ["no_relation", "per:title"]}, "'per:tittle'"),
        (["Other"], ["Other"], {"label_names": ["Other", "per:title"]}, "no_relation_label 'no_relation'"),
    ],
)
def test_tacred_bad_input_raises(predictions, references, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_tacred_f1(predictions, references, **kwargs)


# --- DocRED ------------------------------------------------------------------------------------------------------

# Entity 0 has two mention names; only its second one forms a training fact with entity 1.
DOCRED_REFERENCES = [
    {
        "title": "doc-a",
        "entity_names": [["Alpha Corp", "Alpha"], ["Beta Land"], ["Gamma Town"]],
        "labels": [{"h": 0, "t": 1, "r": "P17"}, {"h": 2, "t": 1, "r": "P17"}, {"h": 0, "t": 2, "r": "P159"}],
    },
    {"title": "doc-b", "entity_names": [["X"], ["Y"]], "labels": [{"h": 0, "t": 1, "r": "P27"}]},
]
DOCRED_PREDICTIONS = [
    [
        {"h": 0, "t": 1, "r": "P17"},  # correct, in train through the mention name "Alpha"
        {"h": 0, "t": 1, "r": "P17"},  # duplicate: counted once
        {"h": 2, "t": 1, "r": "P17"},  # correct, not in train (the train fact has another relation)
        {"h": 1, "t": 0, "r": "P17"},  # wrong (reversed); matches a train fact, but only correct facts are ignored
        {"h": 0, "t": 2, "r": "P131"},  # wrong relation; P159 is missed
    ],
    [],  # P27 never predicted
]
TRAIN_FACTS = [["Alpha", "Beta Land", "P17"], ["Gamma Town", "Beta Land", "P131"], ["Beta Land", "Alpha", "P17"]]


def test_docred_f1_and_ign_f1_hand_computed():
    results = compute_docred_f1(DOCRED_PREDICTIONS, DOCRED_REFERENCES, TRAIN_FACTS)
    assert (results["num_predicted"], results["num_gold"], results["num_correct"]) == (4, 4, 2)
    assert results["precision"] == pytest.approx(0.5)
    assert results["recall"] == pytest.approx(0.5)
    assert results["f1"] == pytest.approx(0.5)
    # One correct fact is in train: precision (2 - 1) / (4 - 1); recall stays 2/4.
    assert results["num_correct_in_train"] == 1
    assert results["ign_precision"] == pytest.approx(1 / 3)
    assert results["ign_f1"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    # Per relation: P17 P=2/3 R=1 F1=0.8; P159, P131 (predicted only) and P27 score 0.
    assert results["f1_macro"] == pytest.approx(0.8 / 4)
    assert results["f1_macro_weighted"] == pytest.approx(0.8 * 2 / 4)


def test_docred_without_train_facts_reports_no_ign(tmp_path):
    results = compute_docred_f1(DOCRED_PREDICTIONS, DOCRED_REFERENCES)
    assert "ign_f1" not in results and results["f1"] == pytest.approx(0.5)
    fact_file = tmp_path / "train_annotated.fact.json.gz"
    with gzip.open(fact_file, "wt", encoding="utf-8") as handle:
        json.dump(TRAIN_FACTS, handle)
    from_file = compute_docred_f1(DOCRED_PREDICTIONS, DOCRED_REFERENCES, fact_file)
    assert from_file == compute_docred_f1(DOCRED_PREDICTIONS, DOCRED_REFERENCES, load_train_facts(fact_file))
    assert from_file["ign_f1"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        ([], [], "empty"),
        ([[]], DOCRED_REFERENCES, "1 documents but references has 2"),
        ([[{"h": 0, "t": 3, "r": "P17"}], []], DOCRED_REFERENCES, r"predictions document 1 \(index 0, 'doc-a'\)\[0\].*'t' = 3"),
        ([[{"h": 0, "t": 1}], []], DOCRED_REFERENCES, "predictions document 1 .*needs 'h', 't' and 'r'"),
        ([[], [{"h": 0, "t": 1, "r": ""}]], DOCRED_REFERENCES, r"predictions document 2 \(index 1, 'doc-b'\)\[0\]: field 'r'"),
    ],
)
def test_docred_bad_input_raises(predictions, references, message):
    with pytest.raises(ValueError, match=message):
        compute_docred_f1(predictions, references)


def test_docred_bad_train_facts_and_documents_raise(tmp_path):
    bad_file = tmp_path / "bad.fact.json"
    bad_file.write_text(json.dumps([["a", "b", "P1"], ["a", "b"]]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.fact.json: fact 2 \(index 1\)"):
        load_train_facts(bad_file)
    with pytest.raises(ValueError, match=r"document 8 \(index 7\): missing field 'vertexSet'"):
        docred_reference({"title": "t", "labels": []}, index=7)


def test_docred_shipped_train_facts_on_redocred(shared_data_dir):
    facts = load_train_facts(docred_train_facts_path())
    assert len(facts) == 52293
    with gzip.open(shared_data_dir / "redocred" / "test_revised.json.gz", "rt", encoding="utf-8") as handle:
        documents = json.load(handle)[:100]
    references = [docred_reference(document, index) for index, document in enumerate(documents)]
    half = [reference["labels"][::2] for reference in references]
    results = compute_docred_f1(half, references, facts)
    assert results["precision"] == 1.0 and results["ign_precision"] == 1.0
    assert 0.45 < results["recall"] < 0.55
    assert 0 < results["num_correct_in_train"] < results["num_correct"]


# --- Threshold tuning --------------------------------------------------------------------------------------------


def _micro_f1(scores: np.ndarray, labels: np.ndarray, threshold: float, total_gold: int) -> float:
    predicted = scores > threshold
    correct = int((predicted & (labels == 1)).sum())
    if correct == 0:
        return 0.0
    precision, recall = correct / predicted.sum(), correct / total_gold
    return 2 * precision * recall / (precision + recall)


def test_tune_threshold_hand_computed():
    scores = np.array([[0.9, 0.2], [0.8, 0.6], [0.4, 0.3], [0.1, 0.05]])
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    # Sorted: .9+ .8- .6+ .4+ .3- ...: keeping the top four gives P=3/4, R=1, the best F1 (6/7).
    threshold = tune_threshold(scores, labels)
    assert threshold == pytest.approx(0.35)
    assert _micro_f1(scores, labels, threshold, 3) == pytest.approx(6 / 7)


def test_tune_threshold_is_dev_optimal_and_never_splits_ties():
    generator = np.random.default_rng(0)
    labels = (generator.random((60, 5)) < 0.15).astype(int)
    scores = np.clip(labels * 0.3 + generator.random((60, 5)) * 0.7, 0, 1).round(2)  # rounding creates ties
    threshold = tune_threshold(scores, labels)
    candidates = np.concatenate([np.unique(scores), [-1.0]])
    best = max(_micro_f1(scores, labels, c, labels.sum()) for c in candidates)
    assert _micro_f1(scores, labels, threshold, labels.sum()) == pytest.approx(best)
    # Two tied top scores, only one gold: the threshold must keep both or neither.
    assert tune_threshold(np.array([0.5, 0.5, 0.1]), np.array([1, 0, 0])) == pytest.approx(0.3)


def test_tune_threshold_counts_unscored_gold_facts():
    scores, labels = np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([1, 0, 0, 0, 1])
    assert tune_threshold(scores, labels) == pytest.approx(0.85)
    # With 4 more gold facts that were never scored, recall matters more: keep everything.
    assert tune_threshold(scores, labels, num_gold=6) < 0.5


@pytest.mark.parametrize(
    ("scores", "labels", "kwargs", "message"),
    [
        (np.zeros((2, 3)), np.zeros((3, 2)), {}, "shape"),
        (np.zeros(0), np.zeros(0), {}, "empty"),
        (np.array([0.5, np.nan]), np.array([1, 0]), {}, "NaN"),
        (np.array([0.5, 0.4]), np.array([2, 0]), {}, "0/1"),
        (np.array([0.5, 0.4]), np.array([0, 0]), {}, "no gold fact"),
        (np.array([0.5, 0.4]), np.array([1, 1]), {"num_gold": 1}, "num_gold=1"),
    ],
)
def test_tune_threshold_bad_input_raises(scores, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tune_threshold(scores, labels, **kwargs)


# --- evaluate modules --------------------------------------------------------------------------------------------

EVALUATE_CASES = {
    "semeval_f1": (
        {"predictions": [CE12, CE21, OTHER, CW12], "references": [CE12, CE12, CW12, OTHER]},
        lambda inputs: compute_semeval_f1(**inputs),
    ),
    "tacred_f1": (
        {"predictions": [1, 0, 2, 2], "references": [1, 2, 2, 0], "label_names": ["no_relation", "a", "b"]},
        lambda inputs: compute_tacred_f1(**inputs),
    ),
    "docred_f1": (
        {"predictions": DOCRED_PREDICTIONS, "references": DOCRED_REFERENCES, "train_facts": TRAIN_FACTS},
        lambda inputs: compute_docred_f1(**inputs),
    ),
}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_evaluate_load_offline_matches_plain_function(name, monkeypatch):
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    assert (metric_path(name) / f"{name}.py").is_file() and (metric_path(name) / "README.md").is_file()
    inputs, plain = EVALUATE_CASES[name]
    metric = load_metric(name, keep_in_memory=True)
    assert metric.compute(**inputs) == pytest.approx(plain(inputs))
    with pytest.raises(ValueError, match="empty"):
        metric.compute(predictions=[], references=[])


def test_load_metric_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        load_metric("bleu")
