"""Bad input: a ValueError naming file, record and field; or, with skip_invalid, a skip counted in card and stderr."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
from reliability.bad_inputs.make_bad_inputs import wiki80_line as opennre_line  # one builder of good records

from finecl_hf.cards import read_dataset_card_metadata
from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.distant_supervision import FactIndex
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.invalid_records import InvalidRecordError
from finecl_hf.data.opennre import convert_opennre
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.data.tacred import convert_tacred

BAD_BYTES = b"Caf\xe9\xff"  # Latin-1, not UTF-8
PLACEHOLDER = "@@NOT_UTF8@@"


def document() -> dict:
    return {
        "title": "Paris",
        "sents": [["Paris", "is", "the", "capital", "of", "France", "."], ["It", "is", "big", "."]],
        "vertexSet": [
            [
                {"name": "Paris", "pos": [0, 1], "sent_id": 0, "type": "LOC"},
                {"name": "It", "pos": [0, 1], "sent_id": 1, "type": "LOC"},
            ],
            [{"name": "France", "pos": [5, 6], "sent_id": 0, "type": "LOC"}],
        ],
        "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}],
    }


def write_bytes_with_placeholder(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8").replace(PLACEHOLDER.encode(), BAD_BYTES))
    return path


@pytest.fixture
def rel_info(tmp_path) -> Path:
    path = tmp_path / "rel_info.json"
    path.write_text(json.dumps({"P17": "country", "P131": "located in the administrative territorial entity"}))
    return path


def convert_documents(tmp_path: Path, rel_info: Path, bad: dict | str, skip_invalid: bool = False):
    """Convert [valid document, `bad`, valid document]; `bad` may be a dict or raw JSON text."""
    good = json.dumps(document())
    bad_text = bad if isinstance(bad, str) else json.dumps(bad)
    source = write_bytes_with_placeholder(tmp_path / "train.json", f"[{good}, {bad_text}, {good}]")
    report = convert_docred(
        [SplitSource("train", source)], tmp_path / "out", rel_info_file=rel_info, skip_invalid=skip_invalid
    )
    return source, report


def mutated(change) -> dict:
    record = copy.deepcopy(document())
    change(record)
    return record


DOCUMENT_CASES = {
    "missing vertexSet": (lambda d: d.pop("vertexSet"), "vertexSet", "missing key"),
    "missing mention pos": (lambda d: d["vertexSet"][1][0].pop("pos"), "vertexSet[1][0].pos", "missing key"),
    "reversed mention span": (lambda d: d["vertexSet"][1][0].update(pos=[6, 5]), "vertexSet[1][0].pos", "reversed"),
    "mention span out of range": (lambda d: d["vertexSet"][1][0].update(pos=[5, 9]), "vertexSet[1][0].pos", "outside"),
    "sentence id out of range": (
        lambda d: d["vertexSet"][0][1].update(sent_id=2),
        "vertexSet[0][1].sent_id",
        "does not exist",
    ),
    "entity without mention": (lambda d: d["vertexSet"].append([]), "vertexSet[2]", "at least one mention"),
    "head outside vertexSet": (lambda d: d["labels"][0].update(h=7), "labels[0].h", "outside vertexSet"),
    "tail outside vertexSet": (lambda d: d["labels"][0].update(t=-1), "labels[0].t", "outside vertexSet"),
    "head equals tail": (lambda d: d["labels"][0].update(t=0), "labels[0].t", "same entity"),
    "unknown relation": (lambda d: d["labels"][0].update(r="P999"), "labels[0].r", "unknown relation label 'P999'"),
    "duplicate triple": (lambda d: d["labels"].append(dict(d["labels"][0])), "labels[1]", "duplicate triple"),
    "evidence out of range": (lambda d: d["labels"][0].update(evidence=[4]), "labels[0].evidence", "does not exist"),
    "empty document": (lambda d: d.update(sents=[]), "sents", "the document is empty"),
    "empty sentence": (lambda d: d["sents"].append([]), "sents[2]", "the sentence is empty"),
    "title not a string": (lambda d: d.update(title=3), "title", "expected a string"),
}


@pytest.mark.parametrize("case", list(DOCUMENT_CASES))
def test_invalid_document_names_file_record_and_field(case, tmp_path, rel_info):
    change, field, reason = DOCUMENT_CASES[case]
    with pytest.raises(InvalidRecordError) as caught:
        convert_documents(tmp_path, rel_info, mutated(change))
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.source, error.record, error.field) == (str(tmp_path / "train.json"), 1, field)
    assert reason in error.reason
    record_id = "" if case == "title not a string" else " (id 'Paris')"  # the title is the DocRED record id
    assert str(error).startswith(f"{tmp_path / 'train.json'}: record 2{record_id}, field '{field}': ")
    assert not (tmp_path / "out").exists()


def test_skip_invalid_counts_the_skip_in_card_and_stderr(tmp_path, rel_info, capfd):
    _, report = convert_documents(tmp_path, rel_info, mutated(DOCUMENT_CASES["unknown relation"][0]), skip_invalid=True)
    assert report.num_rows["default"] == {"train": 2}
    skipped = read_dataset_card_metadata(tmp_path / "out")["skipped"]
    assert skipped["total"] == 1 and skipped["by_field"] == {"labels[0].r": 1} and skipped["by_split"] == {"train": 1}
    assert "record 2" in skipped["examples"][0]  # messages count records from 1
    assert "skipped invalid record" in capfd.readouterr().err
    card = (tmp_path / "out" / "README.md").read_text()
    assert "**1 invalid source record(s) were skipped**" in card


def test_non_utf8_bytes_name_the_field_and_can_be_skipped(tmp_path, rel_info):
    bad = json.dumps(mutated(lambda d: d["sents"][1].__setitem__(2, PLACEHOLDER)))
    with pytest.raises(
        InvalidRecordError, match=r"record 2 \(id 'Paris'\), field 'sents\[1\]\[2\]': .*not valid UTF-8"
    ):
        convert_documents(tmp_path, rel_info, bad)
    _, report = convert_documents(tmp_path, rel_info, bad, skip_invalid=True)
    assert report.skipped.total == 1 and report.num_rows["default"]["train"] == 2


def test_truncated_json_array_is_fatal_even_when_skipping(tmp_path, rel_info):
    good = json.dumps(document())
    source = tmp_path / "train.json"
    source.write_text(f"[{good}, {good[:40]}")
    with pytest.raises(InvalidRecordError, match="truncated") as caught:
        convert_docred([SplitSource("train", source)], tmp_path / "out", rel_info_file=rel_info, skip_invalid=True)
    assert caught.value.record == 1 and caught.value.field == "<json>"


def test_truncated_gzip_is_fatal(tmp_path, rel_info):
    payload = gzip.compress(json.dumps([document()] * 200).encode())
    source = tmp_path / "train.json.gz"
    source.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(InvalidRecordError, match="gzip stream is truncated or corrupt") as caught:
        convert_docred([SplitSource("train", source)], tmp_path / "out", rel_info_file=rel_info, skip_invalid=True)
    assert caught.value.source == str(source) and caught.value.field == "<file>"
    assert not (tmp_path / "out").exists()


SEMEVAL_GOOD = '1\t"The <e1>child</e1> was wrapped into the <e2>cradle</e2>."\nOther\nComment:\n\n'
SEMEVAL_CASES = {
    "no markers": (
        '2\t"The child was wrapped into the cradle."\nOther\nComment:\n\n',
        "sentence",
        "found markers none",
    ),
    "only e1": ('2\t"The <e1>child</e1> was wrapped."\nOther\nComment:\n\n', "sentence", "exactly one"),
    "empty e2": ('2\t"The <e1>child</e1> in <e2></e2>."\nOther\nComment:\n\n', "sentence", "<e2> is empty"),
    "unknown label": (
        '2\t"The <e1>child</e1> in the <e2>cradle</e2>."\nCause-Effect\nComment:\n\n',
        "relation",
        "unknown",
    ),
    "non-UTF-8": (f'2\t"The <e1>{PLACEHOLDER}</e1> in <e2>x</e2>."\nOther\nComment:\n\n', "sentence", "UTF-8"),
    "missing label": ('2\t"The <e1>child</e1> in the <e2>cradle</e2>."\n\n', "relation", "missing label line"),
}


@pytest.mark.parametrize("case", list(SEMEVAL_CASES))
def test_invalid_semeval_record(case, tmp_path):
    bad, field, reason = SEMEVAL_CASES[case]
    source = write_bytes_with_placeholder(tmp_path / "TRAIN_FILE.TXT", SEMEVAL_GOOD + bad)
    with pytest.raises(InvalidRecordError) as caught:
        convert_semeval([SplitSource("train", source)], tmp_path / "out")
    assert (caught.value.record, caught.value.record_id, caught.value.field) == (1, "2", field)
    assert reason in caught.value.reason
    report = convert_semeval([SplitSource("train", source)], tmp_path / "out", skip_invalid=True)
    assert report.num_rows["default"]["train"] == 1 and report.skipped.by_field == {field: 1}


OPENNRE_CASES = {
    "missing token": (
        json.dumps({"h": {"pos": [0, 1]}, "t": {"pos": [1, 2]}, "relation": "located in"}),
        "token",
        "missing key",
    ),
    "missing pos": (opennre_line(t={"name": "madison"}), "t.pos", "missing key"),
    "empty sentence": (opennre_line(token=[]), "tokens", "the sentence is empty"),
    "head out of range": (opennre_line(h={"pos": [5, 9]}), "head", "outside the sentence"),
    "reversed tail": (opennre_line(t={"pos": [6, 5]}), "tail", "empty or reversed"),
    "overlapping head and tail": (opennre_line(t={"pos": [2, 4]}), "tail", "overlaps head"),
    "unknown relation": (opennre_line(relation="capital of"), "relation", "unknown relation label 'capital of'"),
    "non-UTF-8": (opennre_line(token=["Bud", "Frye", "Field", PLACEHOLDER, "in", "Madison", "."]), "token[3]", "UTF-8"),
    "truncated line": (opennre_line()[:30], "<json>", "not valid JSON"),
}


@pytest.mark.parametrize("case", list(OPENNRE_CASES))
def test_invalid_opennre_line(case, tmp_path):
    bad, field, reason = OPENNRE_CASES[case]
    source = write_bytes_with_placeholder(tmp_path / "train.txt", f"{opennre_line()}\n{bad}\n{opennre_line()}\n")
    labels = tmp_path / "rel2id.json"
    labels.write_text(json.dumps({"located in": 0, "country": 1}))
    with pytest.raises(InvalidRecordError) as caught:
        convert_opennre([SplitSource("train", source)], tmp_path / "out", relations_file=labels)
    assert (caught.value.source, caught.value.record, caught.value.field) == (str(source), 1, field)
    assert reason in caught.value.reason
    report = convert_opennre([SplitSource("train", source)], tmp_path / "out", relations_file=labels, skip_invalid=True)
    assert report.num_rows["default"]["train"] == 2 and report.skipped.total == 1


def test_tacred_duplicate_id_and_missing_key(tmp_path):
    record = {"id": "a1", "relation": "per:title", "token": ["Ann", "is", "CEO"], "subj_start": 0, "subj_end": 0,
              "obj_start": 2, "obj_end": 2, "subj_type": "PERSON", "obj_type": "TITLE"}  # fmt: skip
    source = tmp_path / "train.json"
    source.write_text(json.dumps([record, record]))
    with pytest.raises(InvalidRecordError, match=r"record 2 \(id 'a1'\), field 'id': duplicate id"):
        convert_tacred([SplitSource("train", source)], tmp_path / "out")
    source.write_text(json.dumps([{key: value for key, value in record.items() if key != "subj_start"}]))
    with pytest.raises(InvalidRecordError, match=r"record 1 \(id 'a1'\), field 'subj_start': missing key"):
        convert_tacred([SplitSource("train", source)], tmp_path / "out")


@pytest.mark.parametrize(
    ("facts", "field", "reason"),
    [([["Paris", "France", "P999"]], "[2]", "unknown relation label"), ([["Paris", "France"]], "<fact>", "expected")],
)
def test_invalid_fact(tmp_path, facts, field, reason):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps([["Paris", "France", "P17"], *facts]))
    with pytest.raises(InvalidRecordError) as caught:
        FactIndex.from_file(path, ["P17"])
    assert (caught.value.record, caught.value.field) == (1, field) and reason in caught.value.reason
