"""Distant supervision: the matching rule, gold confirmation, and the numbers on the shipped Re-DocRED documents."""

from __future__ import annotations

import gzip
import json

from datasets import load_dataset

from finecl_hf.cards import read_dataset_card_metadata
from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.distant_supervision import (
    CASE_INSENSITIVE_MATCH,
    EXACT_MATCH,
    CorpusNames,
    FactIndex,
    label_distantly,
    normalise_name,
)
from finecl_hf.data.relation_instances import RELATION_INSTANCES_CONFIG

RELATIONS = {"P17": "country", "P36": "capital", "P150": "contains administrative territorial entity"}


def test_normalise_name():
    assert normalise_name("  The\u00a0BEATLES  ") == "the beatles"
    assert normalise_name("Straße") == normalise_name("STRASSE")
    assert normalise_name("ﬁnland") == "finland"  # NFKC unfolds the ligature


def test_exact_match_first_then_case_insensitive():
    facts = FactIndex()
    facts.add("Paris", "France", "P17")
    facts.add("france", "paris", "P36")
    facts.add("Paris", "Paris", "P150")
    # Entity 0 = {Paris, the city}, entity 1 = {France}, entity 2 = {PARIS} (a second entity with the same name).
    labels = facts.match_pairs([{"Paris", "the city"}, {"France"}, {"PARIS"}])
    assert labels == {
        (0, 1, "P17"): EXACT_MATCH,
        (2, 1, "P17"): CASE_INSENSITIVE_MATCH,
        (1, 0, "P36"): CASE_INSENSITIVE_MATCH,
        (1, 2, "P36"): CASE_INSENSITIVE_MATCH,
        (0, 2, "P150"): CASE_INSENSITIVE_MATCH,
        (2, 0, "P150"): CASE_INSENSITIVE_MATCH,
    }, "never (h, h): an entity is not paired with itself even when a fact names it twice"


def write_documents(path, documents):
    path.write_bytes(gzip.compress(json.dumps(documents).encode()))
    return path


def test_gold_labels_are_kept_and_confirm_distant_ones(tmp_path):
    sents = [["Paris", "is", "in", "France", "."], ["France", "'s", "capital", "is", "Paris", "."]]
    vertex_set = [
        [
            {"name": "Paris", "pos": [0, 1], "sent_id": 0, "type": "LOC"},
            {"name": "Paris", "pos": [4, 5], "sent_id": 1, "type": "LOC"},
        ],
        [
            {"name": "France", "pos": [3, 4], "sent_id": 0, "type": "LOC"},
            {"name": "France", "pos": [0, 1], "sent_id": 1, "type": "LOC"},
        ],
    ]
    with_gold = {
        "title": "a",
        "sents": sents,
        "vertexSet": vertex_set,
        "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}],
    }
    without_gold = {"title": "b", "sents": sents, "vertexSet": vertex_set}
    source = write_documents(tmp_path / "docs.json.gz", [with_gold, without_gold])
    (tmp_path / "facts.json").write_text(json.dumps([["Paris", "France", "P17"], ["France", "Paris", "P36"]]))
    (tmp_path / "rel_info.json").write_text(json.dumps(RELATIONS))
    _, statistics = label_distantly(
        [SplitSource("train", source)],
        tmp_path / "facts.json",
        tmp_path / "out",
        rel_info_file=tmp_path / "rel_info.json",
    )
    dataset = load_dataset(str(tmp_path / "out"), split="train", cache_dir=str(tmp_path / "cache"))
    names = dataset.features["relations"].feature["relation"].names
    first, second = dataset[0], dataset[1]
    assert [(t["head"], t["tail"], names[t["relation"]], t["confirmed_by_gold"]) for t in first["relations"]] == [
        (0, 1, "P17", True),
        (1, 0, "P36", False),
    ]
    assert [(t["head"], t["tail"], names[t["relation"]]) for t in first["gold_relations"]] == [(0, 1, "P17")]
    assert [t["confirmed_by_gold"] for t in second["relations"]] == [None, None] and second["gold_relations"] == []
    assert first["relations"][1]["uid"] == "train/0/1-0/P36" and first["relations"][0]["match"] == EXACT_MATCH
    assert (statistics.distant_labels, statistics.labels_with_gold, statistics.confirmed_by_gold) == (4, 2, 1)
    assert statistics.confirmed_fraction == 0.5 and statistics.gold_recall == 1.0
    instances = load_dataset(
        str(tmp_path / "out"), RELATION_INSTANCES_CONFIG, split="train", cache_dir=str(tmp_path / "cache")
    )
    assert sorted(instances["uid"]) == sorted(t["uid"] for row in dataset for t in row["relations"]), (
        "built on distant labels"
    )


def test_numbers_on_the_shipped_redocred_documents(shared_data_dir, tmp_path):
    """The data README: 1,882 distant labels from the shipped facts over the 500 Re-DocRED test documents, 70.0% of
    them confirmed by gold. Our rule reproduces that exactly with exact matching and adds 6 case-insensitive ones."""
    _, statistics = label_distantly(
        [SplitSource("test", shared_data_dir / "redocred" / "test_revised.json.gz")],
        shared_data_dir / "docred" / "train_annotated.fact.json.gz",
        tmp_path / "out",
        rel_info_file=shared_data_dir / "docred" / "rel_info.json",
        relation_instances=False,
    )
    assert statistics.documents == 500 and statistics.gold_triples == 17448
    assert statistics.exact_matches == 1882
    assert round(statistics.exact_confirmed_by_gold / statistics.exact_matches, 3) == 0.700
    assert statistics.case_insensitive_matches == 6 and statistics.distant_labels == 1888
    assert statistics.confirmed_by_gold == 1323 and round(statistics.confirmed_fraction, 3) == 0.701
    card_statistics = read_dataset_card_metadata(tmp_path / "out")["statistics"]
    assert card_statistics["distant_labels"] == 1888 and card_statistics["facts"] == 52293
    # Only facts naming two names of the corpus are held (the 1888 labels above are what the full index gives).
    assert 0 < card_statistics["facts_matching_corpus_names"] < 52293 / 5
    documents = load_dataset(str(tmp_path / "out"), split="test", cache_dir=str(tmp_path / "cache"))
    assert sum(len(gold) for gold in documents["gold_relations"]) == 17448
    confirmed = sum(bool(t["confirmed_by_gold"]) for relations in documents["relations"] for t in relations)
    assert confirmed == 1323


def test_the_index_keeps_only_facts_the_corpus_can_match_and_matches_as_the_full_one(tmp_path):
    rows = [{"entities": [{"mentions": [{"name": "Paris"}, {"name": "the city"}]}, {"mentions": [{"name": "France"}]}]},
            {"entities": [{"mentions": [{"name": "BERLIN"}]}, {"mentions": [{"name": "Germany"}]}]}]  # fmt: skip
    facts = [["Paris", "France", "P17"], ["berlin", "germany", "P17"], ["Rome", "Italy", "P17"],
             ["Paris", "Italy", "P17"], ["France", "Paris", "P36"]]  # fmt: skip
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    names = CorpusNames.of_documents(iter(rows))
    full, kept = FactIndex.from_file(path, RELATIONS), FactIndex.from_file(path, RELATIONS, names)
    assert (full.num_facts, full.num_indexed) == (5, 5) and (kept.num_facts, kept.num_indexed) == (5, 3)
    assert ("Rome", "Italy") not in kept.exact and ("paris", "italy") not in kept.normalised
    for row in rows:
        entity_names = [{mention["name"] for mention in entity["mentions"]} for entity in row["entities"]]
        assert kept.match_pairs(entity_names) == full.match_pairs(entity_names)
