"""Property tests: random valid inputs never crash the converter, the tokenizers or the collators; spans round-trip."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from datasets import Dataset
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from finecl_hf.data.conversion import SplitSource, find_split_file
from finecl_hf.data.data_collator import (
    DocumentRelationCollator,
    RelationInstanceCollator,
    SentenceRelationCollator,
    drop_instances_without_mentions,
)
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.relation_instances import RELATION_INSTANCES_CONFIG
from finecl_hf.data.schema import sentence_features
from finecl_hf.data.tokenization import tokenize_documents, tokenize_sentences
from finecl_hf.encoding import DEFAULT_ENTITY_MARKERS, encode_words, special_token_frame, word_level_tokenizer

RELATIONS = {"P17": "country", "P131": "located in the administrative territorial entity", "P27": "citizenship"}
# Words MiniLM's WordPiece vocabulary knows (accents are stripped by its normalizer); byte-level BPE takes any text.
KNOWN_WORDS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-&éüñçå"),
    min_size=1,
    max_size=12,
)
ANY_WORDS = st.text(st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module")
def minilm_tokenizer(minilm_path):
    return AutoTokenizer.from_pretrained(minilm_path)


def normalised(tokenizer, text: str) -> str:
    normalizer = tokenizer.backend_tokenizer.normalizer
    return (normalizer.normalize_str(text) if normalizer is not None else text).replace(" ", "")


@st.composite
def documents(draw, words=KNOWN_WORDS) -> dict:
    """A valid DocRED-format document: 1-4 sentences, 0-5 entities with 1-3 mentions, unique labelled triples."""
    sents = draw(st.lists(st.lists(words, min_size=1, max_size=12), min_size=1, max_size=4))
    vertex_set = []
    for _ in range(draw(st.integers(0, 5))):
        mentions = []
        for _ in range(draw(st.integers(1, 3))):
            sent_id = draw(st.integers(0, len(sents) - 1))
            start = draw(st.integers(0, len(sents[sent_id]) - 1))
            end = draw(st.integers(start + 1, min(len(sents[sent_id]), start + 3)))
            name = " ".join(sents[sent_id][start:end])
            mentions.append(
                {"name": name, "pos": [start, end], "sent_id": sent_id, "type": draw(st.sampled_from(["PER", "LOC"]))}
            )
        vertex_set.append(mentions)
    pairs = [(h, t) for h in range(len(vertex_set)) for t in range(len(vertex_set)) if h != t]
    triples = (
        draw(st.lists(st.tuples(st.sampled_from(pairs), st.sampled_from(sorted(RELATIONS))), unique=True, max_size=6))
        if pairs
        else []
    )
    labels = [{"h": h, "t": t, "r": r, "evidence": [draw(st.integers(0, len(sents) - 1))]} for (h, t), r in triples]
    return {"title": draw(words), "sents": sents, "vertexSet": vertex_set, "labels": labels}


def convert(docs: list[dict], folder: Path) -> tuple[Dataset, Dataset]:
    """Run the DocRED converter on `docs`; return its documents and relation-instance splits (in memory)."""
    (folder / "rel_info.json").write_text(json.dumps(RELATIONS))
    (folder / "train.json").write_text(json.dumps(docs, ensure_ascii=False))
    report = convert_docred(
        [SplitSource("train", folder / "train.json")], folder / "out", rel_info_file=folder / "rel_info.json"
    )
    assert report.num_rows["default"]["train"] == len(docs)
    read = lambda config: Dataset(pq.read_table(find_split_file(folder / "out", config, "train")))  # noqa: E731
    return read("default"), read(RELATION_INSTANCES_CONFIG)


@SETTINGS
@given(
    docs=st.lists(documents(), min_size=1, max_size=3),
    max_length=st.integers(12, 64),
    family=st.sampled_from(["bpe", "wordpiece"]),
)
def test_random_documents_convert_tokenize_and_collate(
    docs, max_length, family, tiny_roberta_tokenizer, minilm_tokenizer
):
    tokenizer = tiny_roberta_tokenizer if family == "bpe" else minilm_tokenizer
    with tempfile.TemporaryDirectory() as folder:
        converted, instances = convert(docs, Path(folder))
    for raw, row in zip(docs, converted):
        assert [[m["start"] for m in e["mentions"]] for e in row["entities"]] == [
            [m["pos"][0] for m in e] for e in raw["vertexSet"]
        ]
        assert [(t["head"], t["tail"]) for t in row["relations"]] == [
            (label["h"], label["t"]) for label in raw["labels"]
        ]
    tokenized, stats = tokenize_documents(converted, tokenizer, max_length=max_length)
    assert stats.mentions - stats.dropped_mentions == sum(len(spans) for spans in tokenized["mention_token_spans"])
    for document, row in zip(converted, tokenized):
        assert len(row["input_ids"]) <= max_length
        for entity, start, end in row["mention_token_spans"]:
            text = normalised(tokenizer, tokenizer.decode(row["input_ids"][start:end]))
            names = {normalised(tokenizer, mention["name"]) for mention in document["entities"][entity]["mentions"]}
            assert text in names
    batch = DocumentRelationCollator(tokenizer, num_labels=len(RELATIONS) + 1)(
        [tokenized[i] for i in range(len(tokenized))]
    )
    kept = [len({span[0] for span in spans}) for spans in tokenized["mention_token_spans"]]
    assert batch["pair_entity_ids"].shape == (sum(k * (k - 1) for k in kept), 2)
    assert batch["labels"].shape == (len(batch["pair_entity_ids"]), len(RELATIONS) + 1)
    usable, _ = drop_instances_without_mentions(instances, tokenized)
    if len(usable):
        batch = RelationInstanceCollator(tokenizer, tokenized)([usable[i] for i in range(len(usable))])
        assert batch["pair_entity_ids"].shape == (len(usable), 2) and len(batch["instance_uids"]) == len(usable)


@settings(max_examples=60, deadline=None)
@given(words=st.lists(ANY_WORDS, min_size=1, max_size=20), data=st.data())
def test_byte_level_span_alignment_round_trips_any_text(words, data, tiny_roberta_tokenizer):
    tokenizer = word_level_tokenizer(tiny_roberta_tokenizer)
    # A special token's own text in the data ("<unk>", "</s>") is read as that token, as transformers reads raw text
    # (and as the `special` entity markers need): such words do not round-trip as characters, by design.
    assume(not any(special in word for word in words for special in tokenizer.all_special_tokens))
    start = data.draw(st.integers(0, len(words) - 1))
    end = data.draw(st.integers(start + 1, len(words)))
    encoded = encode_words(tokenizer, [words])[0]
    span = encoded.span(start, end)
    assert tokenizer.decode(encoded.input_ids[span[0] : span[1]]) == "".join(" " + word for word in words[start:end])


@settings(max_examples=60, deadline=None)
@given(words=st.lists(KNOWN_WORDS, min_size=1, max_size=20), data=st.data())
def test_wordpiece_span_alignment_round_trips(words, data, minilm_tokenizer):
    start = data.draw(st.integers(0, len(words) - 1))
    end = data.draw(st.integers(start + 1, len(words)))
    encoded = encode_words(minilm_tokenizer, [words])[0]
    span = encoded.span(start, end)
    decoded = minilm_tokenizer.decode(encoded.input_ids[span[0] : span[1]])
    assert normalised(minilm_tokenizer, decoded) == normalised(minilm_tokenizer, "".join(words[start:end]))
    assert span[1] - span[0] == sum(len(minilm_tokenizer.tokenize(word)) for word in words[start:end])


@st.composite
def sentence_rows(draw) -> dict:
    tokens = draw(st.lists(KNOWN_WORDS, min_size=2, max_size=30))
    cut = draw(st.integers(1, len(tokens) - 1))
    head_start = draw(st.integers(0, cut - 1))
    head_end = draw(st.integers(head_start + 1, cut))
    tail_start = draw(st.integers(cut, len(tokens) - 1))
    tail_end = draw(st.integers(tail_start + 1, len(tokens)))
    head, tail = (head_start, head_end), (tail_start, tail_end)
    if draw(st.booleans()):
        head, tail = tail, head
    entity = lambda span: {"name": " ".join(tokens[span[0] : span[1]]), "start": span[0], "end": span[1], "type": None}  # noqa: E731
    return {
        "uid": "",
        "id": "",
        "tokens": tokens,
        "head": entity(head),
        "tail": entity(tail),
        "relation": draw(st.integers(0, 2)),
    }


@SETTINGS
@given(rows=st.lists(sentence_rows(), min_size=1, max_size=6), max_length=st.integers(8, 48), markers=st.booleans())
def test_random_sentences_tokenize_and_collate(rows, max_length, markers, minilm_tokenizer):
    dataset = Dataset.from_list(rows, features=sentence_features(["no_relation", "r1", "r2"]))
    tokenized, stats = tokenize_sentences(
        dataset, minilm_tokenizer, max_length=max_length, entity_markers=DEFAULT_ENTITY_MARKERS if markers else None
    )
    assert stats.rows - stats.dropped_rows == len(tokenized)
    prefix, suffix = special_token_frame(minilm_tokenizer)
    for row in tokenized:
        assert len(row["input_ids"]) <= max_length
        assert (
            row["input_ids"][: len(prefix)] == prefix
            and row["input_ids"][len(row["input_ids"]) - len(suffix) :] == suffix
        )
        for role in ("head", "tail"):
            start, end = row[f"{role}_token_span"]
            decoded = minilm_tokenizer.decode(row["input_ids"][start:end])
            assert normalised(minilm_tokenizer, decoded) == normalised(minilm_tokenizer, row[role]["name"])
    if len(tokenized):
        batch = SentenceRelationCollator(minilm_tokenizer)([tokenized[i] for i in range(len(tokenized))])
        assert batch["pair_entity_ids"].shape == (len(tokenized), 2)
        assert torch.equal(batch["labels"], torch.tensor(tokenized["relation"]))
