"""Property tests where the data helper's `tests/test_data_properties.py` has none: the stage-2 pre-training
collator (random valid documents never crash it nor the model, mention spans round-trip to the mention text, every
index it emits points inside the batch) and the sentence-level converters (OpenNRE and TACRED records round-trip
through the CLI code path: words, entity spans and labels come out as they went in)."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import pytest
import torch
import yaml
from datasets import Dataset, Features, Value
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reliability_helpers import read_config
from transformers import AutoTokenizer

from finecl_hf import FineCLForPreTraining
from finecl_hf.data import schema
from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.opennre import convert_opennre
from finecl_hf.data.tacred import PTB_BRACKETS, convert_tacred
from finecl_hf.pretraining.data import prepare_pretraining_data
from finecl_hf.pretraining.data_collator import FineCLPreTrainingCollator

RELATION_LABELS = ["no_relation", "P17", "P1376", "P361"]
RELATION_NAMES = {"P17": "country", "P1376": "capital of", "P361": "part of"}
WORDS = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-éü"),
                min_size=1, max_size=9)  # fmt: skip
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])  # fmt: skip


@st.composite
def learning_order_rows(draw) -> tuple[list[dict], list[dict]]:
    """2-4 documents (1-3 sentences, 1-4 entities with 1-2 non-overlapping one- or two-word mentions, in the data
    layer's documents schema) and their relation instances with a learned epoch, as stage 1 exports them."""
    documents, instances = [], []
    for position in range(draw(st.integers(2, 4))):
        uid = f"train/{position}"
        sents = draw(st.lists(st.lists(WORDS, min_size=3, max_size=10), min_size=1, max_size=3))
        free = [(sent_id, start) for sent_id, sentence in enumerate(sents) for start in range(0, len(sentence) - 1, 2)]
        slots = draw(st.permutations(free))
        entities = []
        for entity in range(min(draw(st.integers(1, 4)), len(slots))):
            mentions = []
            for sent_id, start in slots[entity :: 4][: draw(st.integers(1, 2))]:
                end = start + draw(st.integers(1, 2))
                mentions.append({"name": " ".join(sents[sent_id][start:end]), "sent_id": sent_id, "start": start,
                                 "end": end})  # fmt: skip
            entities.append({"type": "MISC", "mentions": mentions})
        pairs = [(head, tail) for head in range(len(entities)) for tail in range(len(entities)) if head != tail]
        relations = []
        for head, tail in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)) if pairs else []:
            relation = draw(st.integers(0, len(RELATION_LABELS) - 1))
            triple_uid = f"{uid}/{head}-{tail}/{RELATION_LABELS[relation]}"
            if relation:
                relations.append({"uid": triple_uid, "head": head, "tail": tail, "relation": relation, "evidence": []})
            epoch = draw(st.integers(-1, 14))
            instances.append({"uid": triple_uid, "document_index": position, "document_uid": uid, "head": head,
                              "tail": tail, "relation": relation, "learned_epoch": epoch, "learned": epoch >= 0,
                              "upsampled": False})  # fmt: skip
        documents.append({"uid": uid, "title": uid, "sents": sents, "entities": entities, "relations": relations})
    return documents, instances


def write_learning_order_folder(folder: Path, documents: list[dict], instances: list[dict]) -> Path:
    """A learning-order dataset folder in stage 1's layout (Parquet per config + README `configs:`)."""
    document_features = schema.document_features(RELATION_LABELS)
    instance_features = Features({**schema.relation_instance_features(RELATION_LABELS),
                                  "learned_epoch": Value("int16"), "learned": Value("bool"),
                                  "upsampled": Value("bool")})  # fmt: skip
    for config, rows, features in (("instances", instances, instance_features),
                                   ("documents", documents, document_features)):  # fmt: skip
        (folder / config).mkdir(parents=True)
        Dataset.from_list(rows, features=features).to_parquet(str(folder / config / "train.parquet"))
    card = {
        "configs": [
            {"config_name": config, "default": config == "instances",
             "data_files": [{"split": "train", "path": f"{config}/train.parquet"}]}
            for config in ("instances", "documents")
        ],
        "finecl": {"relation_names": RELATION_NAMES},
    }  # fmt: skip
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n")
    return folder


@pytest.fixture(scope="module")
def tokenizer(tiny_backbone):
    return AutoTokenizer.from_pretrained(tiny_backbone)


@pytest.fixture(scope="module")
def model(tiny_backbone):
    torch.manual_seed(0)
    return FineCLForPreTraining.from_backbone(str(tiny_backbone), max_learned_epoch=14)


@SETTINGS
@given(corpus=learning_order_rows(), max_length=st.integers(16, 96), seed=st.integers(0, 2**16))
def test_random_documents_never_crash_the_pretraining_collator_nor_the_model(corpus, max_length, seed, tokenizer,
                                                                             model):  # fmt: skip
    documents, instances = corpus
    assume(instances)  # stage 1 never exports an empty order
    with tempfile.TemporaryDirectory() as directory:
        # A fresh folder name per example: datasets 5.2 serves same-named folders from its cache (test_cross_stage).
        folder = write_learning_order_folder(Path(directory) / f"order-{uuid.uuid4().hex}", documents, instances)
        data = prepare_pretraining_data(str(folder), tokenizer, max_length=max_length, cache_dir=directory)
        features = [data.dataset[row] for row in range(len(data.dataset))]
    collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id,
                                         num_negatives=4, max_length=max_length, seed=seed)  # fmt: skip
    batch = collator(features)

    lengths = batch["attention_mask"].sum(dim=1)
    assert batch["input_ids"].shape[0] == len(documents) and (lengths <= max_length).all()
    if "mention_spans" in batch:
        spans, entity_ids = batch["mention_spans"], batch["mention_entity_ids"]
        assert ((spans[:, 1] < spans[:, 2]) & (spans[:, 2] <= lengths[spans[:, 0]])).all()
        num_entities = int(entity_ids.max()) + 1
        assert set(entity_ids.tolist()) == set(range(num_entities))
        # Span alignment round trip: mention tokens are never masked, and decode to one of the document's mentions.
        for row, start, end in spans.tolist():
            names = {m["name"] for entity in documents[row]["entities"] for m in entity["mentions"]}
            assert tokenizer.decode(batch["input_ids"][row, start:end]).strip() in names
    if "relation_entity_ids" in batch:
        anchors = batch["relation_entity_ids"].shape[0]
        assert int(batch["relation_entity_ids"].max()) < num_entities
        positive = batch["relation_positive_index"]
        assert ((positive == -1) | ((positive >= 0) & (positive < anchors) & (positive != torch.arange(anchors)))).all()
        assert ((batch["relation_negative_index"] >= -1) & (batch["relation_negative_index"] < anchors)).all()
    if "ed_input_ids" in batch:
        assert batch["ed_input_ids"].shape[1] <= max_length
        candidates = batch["ed_candidate_entity_ids"]
        targets = candidates[torch.arange(candidates.shape[0]), batch["ed_target_index"]]
        assert (targets >= 0).all()
        assert not (candidates == batch["ed_query_entity_ids"][:, None]).any()
    output = model(**batch)
    assert torch.isfinite(output.loss)


@st.composite
def sentence_records(draw) -> list[dict]:
    """1-5 sentences with two non-overlapping entity spans and a label among three."""
    records = []
    for _ in range(draw(st.integers(1, 5))):
        tokens = draw(st.lists(WORDS, min_size=2, max_size=15))
        cut = draw(st.integers(1, len(tokens) - 1))
        first = sorted(draw(st.lists(st.integers(0, cut), min_size=2, max_size=2, unique=True)))
        second = sorted(draw(st.lists(st.integers(cut, len(tokens)), min_size=2, max_size=2, unique=True)))
        spans = [first, second] if draw(st.booleans()) else [second, first]
        records.append({"tokens": tokens, "head": spans[0], "tail": spans[1],
                        "relation": draw(st.sampled_from(["located in", "country", "no_relation"]))})  # fmt: skip
    return records


def converted_rows(folder: Path) -> dict[str, list]:
    return read_config(folder, "data")


@SETTINGS
@given(records=sentence_records())
def test_opennre_records_round_trip_through_the_converter(records):
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        lines = [
            json.dumps({"token": r["tokens"], "h": {"name": "h", "pos": r["head"]},
                        "t": {"name": "t", "pos": r["tail"]}, "relation": r["relation"]})
            for r in records
        ]  # fmt: skip
        (folder / "train.txt").write_text("\n".join(lines) + "\n")
        (folder / "rel2id.json").write_text(json.dumps({"located in": 0, "country": 1, "no_relation": 2}))
        convert_opennre([SplitSource("train", folder / "train.txt")], folder / "out",
                        relations_file=folder / "rel2id.json", no_relation="no_relation")  # fmt: skip
        rows = converted_rows(folder / "out")
    names = ["no_relation", "located in", "country"]  # the no-relation label moves to id 0
    assert rows["tokens"] == [r["tokens"] for r in records]
    assert [[h["start"], h["end"]] for h in rows["head"]] == [r["head"] for r in records]
    assert [[t["start"], t["end"]] for t in rows["tail"]] == [r["tail"] for r in records]
    assert [names[label] for label in rows["relation"]] == [r["relation"] for r in records]
    assert rows["uid"] == [f"train/{line}" for line in range(len(records))]


@SETTINGS
@given(records=sentence_records(), brackets=st.lists(st.sampled_from(sorted(PTB_BRACKETS)), max_size=3))
def test_tacred_records_round_trip_with_inclusive_ends_and_ptb_brackets(records, brackets):
    tacred = []
    for position, record in enumerate(records):
        tokens = record["tokens"] + brackets
        relation = "org:members" if record["relation"] == "country" else "no_relation"
        tacred.append({"id": f"r{position}", "token": tokens, "relation": relation,
                       "subj_start": record["head"][0], "subj_end": record["head"][1] - 1,
                       "obj_start": record["tail"][0], "obj_end": record["tail"][1] - 1})  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "train.json").write_text(json.dumps(tacred))
        report = convert_tacred([SplitSource("train", folder / "train.json")], folder / "out")
        rows = converted_rows(folder / "out")
    assert report.num_rows["default"]["train"] == len(records)
    assert rows["tokens"] == [[PTB_BRACKETS.get(token, token) for token in r["tokens"] + brackets] for r in records]
    assert [[h["start"], h["end"]] for h in rows["head"]] == [r["head"] for r in records]
    assert [[t["start"], t["end"]] for t in rows["tail"]] == [r["tail"] for r in records]
    assert rows["id"] == [record["id"] for record in tacred]
