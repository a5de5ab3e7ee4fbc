"""Label issues (finecl_hf.learning_order.label_issues, label_issue_report, `finecl label-issues`): a planted corpus
whose wrong labels and their true relations are known gives the expected suspects, suggestions and cleaned copies."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value, load_dataset

from finecl_hf.data.learning_order import (
    LearningOrderRunInfo,
    export_learning_order,
    load_learning_order_dataset,
    read_learning_order_metadata,
)
from finecl_hf.learning_order.evidence import CorpusEvidence, EvidenceSettings, OutOfSamplePredictions
from finecl_hf.learning_order.label_issues import (
    CLEANING_MODES,
    clean_instances,
    flag_label_issues,
    label_issue_columns,
    pair_ids,
    suggest_relations,
)
from finecl_hf.order_scores import cleanliness
from finecl_hf.learning_order.scores import ScoreInputs, compute_score_columns

RELATIONS = ["no_relation", "born_in", "works_for", "capital_of"]
# The (head type, tail type) each relation's clean labels have.
SIGNATURE = {1: ("PER", "LOC"), 2: ("PER", "ORG"), 3: ("LOC", "LOC")}


def finecl(argv, capsys):
    """`finecl <argv>`: (exit status, stdout, stderr)."""
    from finecl_hf.commands import main

    message = ""
    try:
        main(argv)
        status = 0
    except SystemExit as exit:  # the error paragraph is the exit's message, printed by the interpreter
        status, message = (exit.code, "") if isinstance(exit.code, int) else (1, str(exit.code))
    captured = capsys.readouterr()
    return status, captured.out, captured.err + message


# ------------------------------------------------------------------------------------------------- suggestions
def test_a_suggestion_skips_relations_another_instance_of_its_pair_carries():
    # Pair 0 carries relations 1 and 2 (two instances); pair 1 carries relation 1 only.
    labels, pairs = np.array([1, 2, 1]), np.array([0, 0, 1])
    predictions = OutOfSamplePredictions(
        label_probability=np.zeros(3),
        top_relations=np.array([[2, 1, 3], [2, 1, 3], [2, 3, 1]]),
        top_probabilities=np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2]], dtype=np.float32),
    )
    relation, probability = suggest_relations(predictions, labels, pairs)
    # Row 0 (label 1): 2 is carried by row 1, so 1 (its own label: the classifier agrees, second choice) is next.
    # Row 1 (label 2): its own label is allowed. Row 2: nothing else in its pair.
    assert relation.tolist() == [1, 2, 2]
    np.testing.assert_allclose(probability, [0.3, 0.6, 0.5], rtol=1e-6)


def test_issues_are_the_lowest_share_of_the_candidates():
    scores = np.array([0.9, 0.1, 0.5, 0.2, 0.05, 0.7])
    candidates = np.array([True, True, True, True, False, True])
    flagged = flag_label_issues(scores, 0.4, candidates)  # 40% of 5 candidates: the 2 lowest, row 4 is no candidate
    assert np.flatnonzero(flagged).tolist() == [1, 3]


def planted_evidence(per_class: int = 60, noise: float = 0.3, seed: int = 0):
    """Three relations in feature clusters with entity types that fit them; `noise` of the labels flipped."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(1, 4), per_class)
    centres = rng.normal(0, 4, (4, 12))
    features = (centres[true] + rng.normal(0, 0.6, (true.size, 12))).astype(np.float32)
    wrong = rng.random(true.size) < noise
    labels = np.where(wrong, (true - 1 + rng.integers(1, 3, true.size)) % 3 + 1, true)
    signatures = np.array([f"{SIGNATURE[r][0]}->{SIGNATURE[r][1]}" for r in true], dtype=object)
    evidence = CorpusEvidence(labels, np.arange(true.size) // 3, len(RELATIONS), signatures, features,
                              EvidenceSettings(num_neighbours=5, folds=3))  # fmt: skip
    return evidence, true, wrong


def test_stage_1s_columns_find_the_planted_wrong_labels_and_their_true_relations():
    evidence, true, wrong = planted_evidence()
    columns, _ = compute_score_columns(ScoreInputs(None, evidence))
    issues = label_issue_columns(evidence, np.arange(true.size), cleanliness("combined", columns),
                                 np.ones(true.size, dtype=bool))  # fmt: skip
    # The mixture's estimate lies near the planted rate; what it flags is mostly wrong.
    assert issues.share_source == "mixture" and abs(issues.issue_share - wrong.mean()) < 0.1
    assert wrong[issues.label_issue].mean() > 0.85
    assert issues.label_issue[wrong].mean() > 0.8
    # The suggestion is the true relation for nearly every wrong label, with a high probability.
    assert (issues.suggested_relation[wrong] == true[wrong]).mean() > 0.9
    assert np.nanmedian(issues.suggested_probability[wrong]) > 0.5
    fixed = label_issue_columns(evidence, np.arange(true.size), cleanliness("combined", columns),
                                np.ones(true.size, dtype=bool), issue_share=0.1)  # fmt: skip
    assert fixed.label_issue.sum() == round(0.1 * true.size) and fixed.share_source == "--issue_share"


# ---------------------------------------------------------------------------------------------------- cleaning
def cleaning_instances() -> Dataset:
    """Six instances of two documents with their label-issue columns (row 4 and 5 share a pair)."""
    rows = {
        "uid": [f"t{i}" for i in range(6)],
        "document_index": [0, 0, 0, 1, 1, 1],
        "head": [0, 1, 2, 0, 1, 1],
        "tail": [1, 2, 0, 1, 0, 0],
        "relation": [1, 2, 3, 1, 2, 3],
        "suggested_relation": [1, 3, 2, 2, 1, 1],
        "suggested_probability": [0.9, 0.8, 0.3, 0.7, 0.9, 0.95],
        "label_issue": [False, True, True, True, True, True],
    }
    features = Features({"uid": Value("string"), "document_index": Value("int64"), "head": Value("int32"),
                         "tail": Value("int32"), "relation": ClassLabel(names=RELATIONS),
                         "suggested_relation": ClassLabel(names=RELATIONS), "suggested_probability": Value("float32"),
                         "label_issue": Value("bool")})  # fmt: skip
    return Dataset.from_dict(rows, features=features)


def test_cleaning_drops_relabels_or_both_and_never_repeats_a_triple():
    instances = cleaning_instances()
    dropped, report = clean_instances(instances, "drop")
    assert dropped["uid"] == ["t0"] and report.dropped == 5 and report.relabelled == 0

    relabelled, report = clean_instances(instances, "relabel", min_probability=0.5)
    # t2 (p 0.3) keeps its label; t4 and t5 (one pair) both suggest born_in: the first gets it, the second would repeat
    # that triple and is dropped.
    assert relabelled["uid"] == ["t0", "t1", "t2", "t3", "t4"]
    assert relabelled["relation"] == [1, 3, 3, 2, 1] and relabelled["given_relation"] == [1, 2, 3, 1, 2]
    assert relabelled["cleaning"] == ["kept", "relabelled", "kept", "relabelled", "relabelled"]
    assert (report.relabelled, report.dropped, report.kept_as_is) == (3, 1, 1)
    assert report.changes == {"born_in -> works_for": 1, "works_for -> capital_of": 1, "works_for -> born_in": 1}

    both, report = clean_instances(instances, "relabel-or-drop", min_probability=0.5)
    assert both["uid"] == ["t0", "t1", "t3", "t4"] and (report.relabelled, report.dropped) == (3, 2)
    assert pair_ids(instances).tolist() == [0, 1, 2, 3, 4, 4]
    assert set(CLEANING_MODES) == {"drop", "relabel", "relabel-or-drop"}


# ------------------------------------------------------------------------------------------------- the command
def write_learning_order(folder, with_issues: bool = True):
    """A two-document learning-order folder whose instances carry every column `finecl label-issues` reads."""
    from finecl_hf.data.schema import document_features

    documents = Dataset.from_list([
        {"uid": "d0", "title": "Ada Lovelace", "sents": [["Ada", "Lovelace", "was", "born", "in", "London", "."],
                                                         ["She", "worked", "with", "Babbage", "."]],
         "entities": [{"type": "PER", "mentions": [{"name": "Ada Lovelace", "sent_id": 0, "start": 0, "end": 2}]},
                      {"type": "LOC", "mentions": [{"name": "London", "sent_id": 0, "start": 5, "end": 6}]},
                      {"type": "PER", "mentions": [{"name": "Babbage", "sent_id": 1, "start": 3, "end": 4}]}],
         "relations": []},
        {"uid": "d1", "title": "Paris", "sents": [["Paris", "is", "the", "capital", "of", "France", "."]],
         "entities": [{"type": "LOC", "mentions": [{"name": "Paris", "sent_id": 0, "start": 0, "end": 1}]},
                      {"type": "LOC", "mentions": [{"name": "France", "sent_id": 0, "start": 5, "end": 6}]}],
         "relations": []},
    ], features=document_features(RELATIONS))  # fmt: skip
    instances = cleaning_instances().select_columns(["uid", "document_index", "head", "tail", "relation"])
    instances = Dataset.from_dict({
        "uid": ["t0", "t1", "t2", "t3"], "document_index": [0, 0, 1, 1], "document_uid": ["d0", "d0", "d1", "d1"],
        "head": [0, 0, 0, 1], "tail": [1, 2, 1, 0], "relation": [1, 3, 2, 0],
    }, features=Features({**{name: instances.features[name] for name in ("uid", "document_index", "head", "tail")},
                          "document_uid": Value("string"), "relation": ClassLabel(names=RELATIONS)}))  # fmt: skip
    scores = {"combined": np.array([0.9, 0.1, 0.2, 0.5]), "type_agreement": np.array([1.0, -2.0, -1.5, 0.0]),
              "neighbour_agreement": np.array([1.0, 0.2, 0.8, 0.5]), "out_of_sample": np.array([0.9, 0.05, 0.3, 0.4])}
    issues = None
    if with_issues:
        issues = {"suggested_relation": np.array([1, 2, 3, 0]), "suggested_probability": np.array([0.9, 0.7, 0.4, 0.8]),
                  "label_issue": np.array([False, True, True, False])}
    run = LearningOrderRunInfo("tiny", 2, "batch", 0, [50.0, 50.0], label_issue_share=0.5 if with_issues else None,
                               label_issue_share_source="mixture" if with_issues else None)  # fmt: skip
    return export_learning_order(instances, np.zeros(4), np.zeros(4, dtype=bool), folder, run, documents=documents,
                                 scores=scores, label_issues=issues)  # fmt: skip


class _TableReader(HTMLParser):
    """Rows of the HTML page's table (cell texts) and the marked entities."""

    def __init__(self):
        super().__init__()
        self.headers, self.rows, self.marks, self.scripts_from = [], [], [], []
        self._cell, self._mark = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "link", "img") and (attrs.get("src") or attrs.get("href")):
            self.scripts_from.append(attrs.get("src") or attrs.get("href"))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = ""
        if tag == "mark":
            self._mark = [attrs.get("class"), ""]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
        if tag == "mark" and self._mark is not None:
            self.marks.append(tuple(self._mark))
            self._mark = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._mark is not None:
            self._mark[1] += data


def test_the_command_shows_the_suspects_with_text_evidence_and_suggestion(tmp_path, capsys):
    folder = write_learning_order(tmp_path / "order")
    html_page, table, lines = tmp_path / "issues.html", tmp_path / "issues.csv", tmp_path / "issues.jsonl"
    status, out, err = finecl(["label-issues", str(folder), "--top", "5", "--output", str(html_page), str(table),
                               str(lines)], capsys)  # fmt: skip
    assert status == 0, err
    assert "2 of 4 labels are flagged" in out
    # Most suspect first: t1 (combined 0.1) then t2.
    assert out.index("Ada Lovelace -> Babbage") < out.index("Paris -> France")
    assert "[[Ada Lovelace]]" in out and "<<Babbage>>" in out and " … " in out  # they meet in no sentence
    assert "label capital_of  |  suggested works_for (p 0.70)" in out
    assert "types PER->PER are rarer under capital_of" in out and "only 20% of its nearest neighbours" in out

    records = list(csv.DictReader(table.open()))
    assert [row["uid"] for row in records] == ["t1", "t2"] and records[0]["suggested"] == "works_for"
    assert [json.loads(line)["label"] for line in lines.read_text().splitlines()] == ["capital_of", "works_for"]

    page = _TableReader()
    page.feed(html_page.read_text())
    header, *rows = page.rows
    assert header[:3] == ["rank", "document", "head → tail"] and len(rows) == 2
    assert rows[1][1] == "Paris" and rows[1][4] == "works_for" and rows[1][5] == "capital_of"
    assert ("head", "Paris") in page.marks and ("tail", "France") in page.marks
    assert page.scripts_from == []  # self-contained: nothing fetched from anywhere


@pytest.mark.parametrize("mode, kept, relations", [
    ("drop", ["t0", "t3"], [1, 0]),
    ("relabel", ["t0", "t1", "t2", "t3"], [1, 2, 2, 0]),
    ("relabel-or-drop", ["t0", "t1", "t3"], [1, 2, 0]),
])  # fmt: skip
def test_the_cleaned_copy_is_a_learning_order_dataset_stage_2_reads(tmp_path, capsys, mode, kept, relations):
    folder = write_learning_order(tmp_path / "order")
    cleaned = tmp_path / "cleaned"
    status, out, err = finecl(["label-issues", str(folder), "--clean", mode, "--min_probability", "0.5",
                               "--output_dir", str(cleaned)], capsys)  # fmt: skip
    assert status == 0, err
    instances, documents = load_learning_order_dataset(str(cleaned))
    assert instances["uid"] == kept and instances["relation"] == relations and len(documents) == 2
    assert load_dataset(str(cleaned), split="train")["uid"] == kept
    cleaning = read_learning_order_metadata(cleaned)["cleaning"]
    assert cleaning["mode"] == mode and cleaning["issues"] == 2
    card = (cleaned / "README.md").read_text()
    assert "## Cleaned labels" in card and f"--clean {mode}" in card
    if mode == "relabel":
        assert "capital_of -> works_for" in card and "1 relabelled" in out


@pytest.mark.parametrize("arguments, message", [
    (["--top", "0"], "--top 0"),
    (["--min_probability", "1.5", "--clean", "relabel", "--output_dir", "OUT"], "--min_probability 1.5"),
    (["--clean", "relabel"], "--clean and --output_dir go together"),
    (["--output", "issues.txt"], "one of .csv, .jsonl, .html"),
])  # fmt: skip
def test_usage_mistakes_exit_2_with_one_line(tmp_path, capsys, arguments, message):
    folder = write_learning_order(tmp_path / "order")
    arguments = [str(tmp_path / a) if a == "OUT" else a for a in arguments]
    status, _, err = finecl(["label-issues", str(folder), *arguments], capsys)
    assert status == 2 and message in err, err


def test_existing_outputs_are_refused_unless_overwrite(tmp_path, capsys):
    folder = write_learning_order(tmp_path / "order")
    page = tmp_path / "issues.html"
    page.write_text("earlier")
    status, _, err = finecl(["label-issues", str(folder), "--output", str(page)], capsys)
    assert status == 2 and "exists; pass --overwrite" in err and page.read_text() == "earlier"
    cleaned = tmp_path / "cleaned"
    (cleaned / "keep.txt").parent.mkdir()
    (cleaned / "keep.txt").write_text("x")
    status, _, err = finecl(["label-issues", str(folder), "--clean", "drop", "--output_dir", str(cleaned)], capsys)
    assert status == 2 and "not empty" in err and (cleaned / "keep.txt").exists()
    status, _, err = finecl(["label-issues", str(folder), "--output", str(page), "--clean", "drop", "--output_dir",
                             str(cleaned), "--overwrite"], capsys)  # fmt: skip
    assert status == 0, err
    assert page.read_text().startswith("<!DOCTYPE html>") and not (cleaned / "keep.txt").exists()


def test_a_folder_without_the_columns_is_answered_with_the_command_that_adds_them(tmp_path, capsys):
    folder = write_learning_order(tmp_path / "order", with_issues=False)
    status, _, err = finecl(["label-issues", str(folder)], capsys)
    assert status == 1
    assert "`suggested_relation`, `suggested_probability`, `label_issue`" in err and "finecl learning-order" in err
    assert "Traceback" not in err


def test_the_commands_copies_of_the_choices_equal_the_librarys():
    """The command's parser imports nothing heavy, so it keeps its own copies of the choices."""
    from finecl_hf.commands import label_issues as command
    from finecl_hf.learning_order import label_issue_report, label_issues

    assert command.CLEANING_MODES == label_issues.CLEANING_MODES
    assert command.REPORT_FORMATS == label_issue_report.REPORT_FORMATS


def test_a_sentence_corpus_shows_the_sentence_with_its_entities(tmp_path, capsys):
    from finecl_hf.data.schema import sentence_features

    words = "The kitchen was the last renovated part of the house .".split()
    rows = [{"uid": f"s{i}", "id": str(i), "tokens": words, "relation": relation,
             "head": {"name": "kitchen", "start": 1, "end": 2, "type": None},
             "tail": {"name": "house", "start": 9, "end": 10, "type": None}} for i, relation in enumerate([1, 2])]  # fmt: skip
    instances = Dataset.from_list(rows, features=sentence_features(RELATIONS))
    run = LearningOrderRunInfo("tiny", 2, "batch", 0, [50.0, 50.0], label_issue_share=0.5, label_issue_share_source="mixture")
    folder = export_learning_order(
        instances, np.zeros(2), np.zeros(2, dtype=bool), tmp_path / "order", run,
        scores={"combined": np.array([0.2, 0.8]), "neighbour_agreement": np.array([0.1, 0.9])},
        label_issues={"suggested_relation": np.array([3, 2]), "suggested_probability": np.array([0.6, 0.9]),
                      "label_issue": np.array([True, False])},
    )  # fmt: skip
    status, out, err = finecl(["label-issues", str(folder)], capsys)
    assert status == 0, err
    assert "#1  0  |  kitchen -> house  |  label born_in  |  suggested capital_of (p 0.60)" in out
    assert "The [[kitchen]] was the last renovated part of the <<house>> ." in out
    assert "only 10% of its nearest neighbours carry born_in" in out and "#2" not in out
