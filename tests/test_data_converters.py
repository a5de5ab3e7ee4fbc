"""Converters: real corpora -> Hub-ready folders that `load_dataset(folder)` loads offline with their ClassLabels."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, load_dataset

from finecl_hf.cards import read_dataset_card_metadata
from finecl_hf.data.conversion import SplitSource, infer_split_name, parse_sources
from finecl_hf.data.docred import convert_docred, read_rel_info
from finecl_hf.data.opennre import WIKI80_FILES, convert_opennre
from finecl_hf.data.readers import file_sha256
from finecl_hf.data.relation_instances import RELATION_INSTANCES_CONFIG, build_relation_instances
from finecl_hf.data.schema import NO_RELATION, TACRED_RELATIONS, semeval_label_names
from finecl_hf.data.semeval import SEMEVAL_FILES, convert_semeval
from finecl_hf.data.tacred import convert_tacred

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


@pytest.fixture(scope="module")
def semeval_dir(shared_data_dir, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("converted") / "semeval"
    convert_semeval(parse_sources([str(shared_data_dir / "semeval2010_task8")], SEMEVAL_FILES), output)
    return output


@pytest.fixture(scope="module")
def redocred_dir(shared_data_dir, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("converted") / "redocred"
    sources = [SplitSource("test", shared_data_dir / "redocred" / "test_revised.json.gz")]
    convert_docred(sources, output, rel_info_file=shared_data_dir / "docred" / "rel_info.json")
    return output


def parse_official_distribution(path: Path) -> dict[str, Counter]:
    """Per-relation counts (direction merged) of the TRAINING and TEST sections of TRAIN_TEST_DISTRIB.TXT."""
    sections: dict[str, Counter] = {}
    current = None
    for line in path.read_text().splitlines():
        header = re.match(r"<<<Distribution for (\w+) examples>>>", line)
        if header:
            current = sections.setdefault(header.group(1), Counter())
            continue
        count = re.match(r"\s*([\w-]+)\s*:\s*(\d+)", line)
        if current is not None and count and count.group(1) != "TOTAL":
            current[count.group(1)] = int(count.group(2))
    return {"train": sections["TRAINING"], "test": sections["TEST"]}


def test_semeval_counts_per_class_match_official_distribution(semeval_dir, shared_data_dir, hf_cache):
    official = parse_official_distribution(shared_data_dir / "semeval2010_task8" / "TRAIN_TEST_DISTRIB.TXT")
    dataset = load_dataset(str(semeval_dir), cache_dir=hf_cache)
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"
    names = dataset["train"].features["relation"].names
    for split in ("train", "test"):
        merged = Counter(re.sub(r"\(e[12],e[12]\)$", "", names[label]) for label in dataset[split]["relation"])
        assert merged == official[split]
    assert len(dataset["train"]) == 8000 and len(dataset["test"]) == 2717


def test_semeval_classlabel_and_card(semeval_dir, shared_data_dir, hf_cache):
    train = load_dataset(str(semeval_dir), split="train", cache_dir=hf_cache)
    relation = train.features["relation"]
    assert isinstance(relation, ClassLabel) and relation.names == semeval_label_names()
    assert relation.names[0] == "Other" and len(relation.names) == 19
    first = train[0]
    assert first["uid"] == "train/1" and first["id"] == "1"
    assert first["tokens"][first["head"]["start"] : first["head"]["end"]] == ["configuration"]
    assert first["tokens"][first["tail"]["start"] : first["tail"]["end"]] == ["elements"]
    assert relation.int2str(first["relation"]) == "Component-Whole(e2,e1)"
    metadata = read_dataset_card_metadata(semeval_dir)
    sources = {source["split"]: source for source in metadata["sources"]}
    assert sources["train"]["sha256"] == file_sha256(shared_data_dir / "semeval2010_task8" / "TRAIN_FILE.TXT")
    assert metadata["no_relation_label"] == "Other" and metadata["skipped"]["total"] == 0
    card = (semeval_dir / "README.md").read_text()
    assert "| 0 | `Other` | 1410 | 454 | 1864 |" in card
    assert not list(semeval_dir.rglob("*.py")), "datasets 5 does not run loading scripts"


def test_semeval_entities_are_exactly_the_marked_words(semeval_dir, shared_data_dir, hf_cache):
    """Independent check against the raw file: head/tail words == the text inside <e1>/<e2> (spaces aside)."""
    raw = (shared_data_dir / "semeval2010_task8" / "TEST_FILE_FULL.TXT").read_text()
    marked = {
        sentence_id: (e1, e2)
        for sentence_id, e1, e2 in re.findall(r"^(\d+)\t\".*?<e1>(.*?)</e1>.*?<e2>(.*?)</e2>", raw, flags=re.M)
    }
    test = load_dataset(str(semeval_dir), split="test", cache_dir=hf_cache)
    assert len(marked) == len(test)
    for row in test:
        for role, text in zip(("head", "tail"), marked[row["id"]]):
            words = row["tokens"][row[role]["start"] : row[role]["end"]]
            assert "".join(words) == text.replace(" ", ""), row["uid"]
            assert row[role]["name"] == text.strip()


def test_wiki80_labels_follow_rel2id_and_load_offline(shared_data_dir, tmp_path, hf_cache):
    folder = shared_data_dir / "wiki80"
    sources = parse_sources([str(folder)], WIKI80_FILES)
    assert {source.split: source.path.name for source in sources} == {
        "train": "train_0.1.txt.gz",
        "validation": "dev.txt.gz",
    }
    convert_opennre(sources, tmp_path / "wiki80", relations_file=folder / "rel2id.json")
    dataset = load_dataset(str(tmp_path / "wiki80"), cache_dir=hf_cache)
    rel2id = json.loads((folder / "rel2id.json").read_text())
    names = dataset["validation"].features["relation"].names
    assert names == sorted(rel2id, key=rel2id.get)
    assert set(Counter(dataset["validation"]["relation"]).values()) == {70}
    assert len(dataset["train"]) == 3920
    row = dataset["validation"][0]
    assert row["tokens"][row["head"]["start"] : row["head"]["end"]] == ["Bud", "Frye", "Field"]
    assert row["head"]["type"] == "ORG" and row["uid"] == "validation/0"
    assert read_dataset_card_metadata(tmp_path / "wiki80")["no_relation_label"] is None


TACRED_RECORDS = [
    {
        "id": "e7798fb926b9403cfcd2",
        "docid": "APW_ENG_20101103.0539",
        "relation": "per:title",
        "token": [
            "At",
            "the",
            "same",
            "time",
            ",",
            "Chief",
            "Financial",
            "Officer",
            "Douglas",
            "Flint",
            "-LRB-",
            "UK",
            "-RRB-",
        ],
        "subj_start": 8,
        "subj_end": 9,
        "obj_start": 5,
        "obj_end": 7,
        "subj_type": "PERSON",
        "obj_type": "TITLE",
    },
    {
        "id": "e779865fb91dd4c4d1a3",
        "relation": "no_relation",
        "token": ["Tom", "Thabane", "resigned", "in", "October", "last", "year"],
        "subj_start": 0,
        "subj_end": 1,
        "obj_start": 4,
        "obj_end": 4,
        "subj_type": "PERSON",
        "obj_type": "DATE",
    },
]


def test_tacred_json_converts_inclusive_spans_and_brackets(tmp_path, hf_cache):
    (tmp_path / "train.json").write_text(json.dumps(TACRED_RECORDS))
    (tmp_path / "dev.json").write_text(json.dumps(TACRED_RECORDS[1:]))
    report = convert_tacred(
        parse_sources([str(tmp_path)], {"train.json": "train", "dev.json": "validation"}), tmp_path / "out"
    )
    assert report.num_rows == {"default": {"train": 2, "validation": 1}}
    dataset = load_dataset(str(tmp_path / "out"), cache_dir=hf_cache)
    names = dataset["train"].features["relation"].names
    assert names[0] == NO_RELATION and names[1:] == list(TACRED_RELATIONS) and len(names) == 42
    row = dataset["train"][0]
    assert row["tokens"][row["head"]["start"] : row["head"]["end"]] == ["Douglas", "Flint"]
    assert row["tokens"][row["tail"]["start"] : row["tail"]["end"]] == ["Chief", "Financial", "Officer"]
    assert row["tokens"][-3:] == ["(", "UK", ")"]
    assert (row["head"]["type"], row["tail"]["type"]) == ("PERSON", "TITLE")
    assert names[row["relation"]] == "per:title" and dataset["validation"][0]["relation"] == 0


def test_docred_conversion_counts_labels_and_instances(redocred_dir, shared_data_dir, hf_cache):
    documents = load_dataset(str(redocred_dir), split="test", cache_dir=hf_cache)
    rel_info = read_rel_info(shared_data_dir / "docred" / "rel_info.json")
    relation = documents.features["relations"].feature["relation"]
    assert relation.names == [NO_RELATION, *rel_info] and relation.num_classes == 97
    assert len(documents) == 500
    assert sum(len(entities) for entities in documents["entities"]) == 9779
    triples = [triple for relations in documents["relations"] for triple in relations]
    assert len(triples) == 17448 and all(triple["relation"] != 0 for triple in triples)
    first = documents[0]
    assert first["uid"] == "test/0" and first["title"] == "Loud Tour"
    mention = first["entities"][0]["mentions"][1]
    assert first["sents"][mention["sent_id"]][mention["start"] : mention["end"]] == ["Loud", "Tour"]

    instances = load_dataset(str(redocred_dir), RELATION_INSTANCES_CONFIG, split="test", cache_dir=hf_cache)
    labels, document_index = instances["relation"], instances["document_index"]
    assert sum(label != 0 for label in labels) == 17448
    per_document = Counter(index for index, label in zip(document_index, labels) if label == 0)
    for index in (0, 1, 250, 499):
        entities = len(documents[index]["entities"])
        positive_pairs = {(t["head"], t["tail"]) for t in documents[index]["relations"]}
        no_relation_pairs = entities * (entities - 1) - len(positive_pairs)
        assert per_document[index] == min(no_relation_pairs, 3 * len(positive_pairs))


def test_docred_uids_are_stable_across_runs(redocred_dir, shared_data_dir, tmp_path, hf_cache):
    sources = [SplitSource("test", shared_data_dir / "redocred" / "test_revised.json.gz")]
    convert_docred(sources, tmp_path / "again", rel_info_file=shared_data_dir / "docred" / "rel_info.json")
    for config in ("default", RELATION_INSTANCES_CONFIG):
        first = load_dataset(str(redocred_dir), config, split="test", cache_dir=hf_cache)
        second = load_dataset(str(tmp_path / "again"), config, split="test", cache_dir=hf_cache)
        assert first.data.column("uid").equals(second.data.column("uid"))
    documents = load_dataset(str(redocred_dir), split="test", cache_dir=hf_cache)
    triple = documents[3]["relations"][0]
    names = documents.features["relations"].feature["relation"].names
    assert triple["uid"] == f"test/3/{triple['head']}-{triple['tail']}/{names[triple['relation']]}"


def test_build_relation_instances_matches_the_written_config(redocred_dir, hf_cache):
    documents = load_dataset(str(redocred_dir), split="test", cache_dir=hf_cache).select(range(40))
    written = load_dataset(str(redocred_dir), RELATION_INSTANCES_CONFIG, split="test", cache_dir=hf_cache)
    written = written.filter(lambda index: index < 40, input_columns="document_index")
    rebuilt = build_relation_instances(documents)
    assert rebuilt.features == written.features
    assert rebuilt.to_dict() == written.to_dict()
    other_seed = build_relation_instances(documents, seed=1)
    assert other_seed["uid"] != rebuilt["uid"] and len(other_seed) == len(rebuilt)


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("TRAIN_FILE.TXT", "train"),
        ("dev.json", "validation"),
        ("test_revised.json.gz", "test"),
        ("wiki v2.txt", "wiki_v2"),
    ],
)
def test_infer_split_name(name, split):
    assert infer_split_name(name) == split


def test_parse_sources_rejects_two_files_for_one_split(tmp_path):
    for name in ("train_a.json", "train_b.json"):
        (tmp_path / name).write_text("[]")
    with pytest.raises(ValueError, match="train"):
        parse_sources([str(tmp_path / "train_a.json"), str(tmp_path / "train_b.json")])


def test_cli_reports_invalid_input_on_one_line_without_traceback(tmp_path):
    source = tmp_path / "train.json"
    records = [dict(TACRED_RECORDS[0]), dict(TACRED_RECORDS[1], relation="per:unknown")]
    source.write_text(json.dumps(records))
    script = str(REPO / "dataset_scripts" / "tacred.py")
    failed = subprocess.run(
        [sys.executable, script, "--source", str(source), "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        f"error: {source}: record 2 (id 'e779865fb91dd4c4d1a3'), field 'relation': unknown relation label 'per:unknown'"
    )
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*")), "no half-written folder is left"
