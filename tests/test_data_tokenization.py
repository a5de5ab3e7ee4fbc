"""Entity-aligned tokenization: word spans -> sub-word spans for RoBERTa BPE and BERT WordPiece, long-input policy."""

from __future__ import annotations

import copy

import pytest
from datasets import Dataset, load_dataset
from transformers import AutoTokenizer

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.schema import semeval_label_names, sentence_features
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.data.tokenization import add_entity_marker_tokens, tokenize_documents, tokenize_sentences
from finecl_hf.encoding import (
    DEFAULT_ENTITY_MARKERS,
    PUNCT_ENTITY_MARKERS,
    insert_entity_markers,
    special_token_frame,
    word_level_tokenizer,
)


@pytest.fixture(scope="module")
def minilm_tokenizer(minilm_path):
    return AutoTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module", params=["roberta-bpe", "minilm-wordpiece"])
def tokenizer(request, tiny_roberta_tokenizer, minilm_tokenizer):
    return tiny_roberta_tokenizer if request.param == "roberta-bpe" else minilm_tokenizer


@pytest.fixture(scope="module")
def semeval_test(shared_data_dir, tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("semeval")
    source = SplitSource("test", shared_data_dir / "semeval2010_task8" / "TEST_FILE_FULL.TXT")
    convert_semeval([source], root / "data")
    return load_dataset(str(root / "data"), split="test", cache_dir=str(root / "cache"))


@pytest.fixture(scope="module")
def redocred(shared_data_dir, tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("redocred")
    source = SplitSource("test", shared_data_dir / "redocred" / "test_revised.json.gz")
    convert_docred(
        [source], root / "data", rel_info_file=shared_data_dir / "docred" / "rel_info.json", relation_instances=False
    )
    return load_dataset(str(root / "data"), split="test", cache_dir=str(root / "cache"))


def normalised(tokenizer, text: str) -> str:
    """Text as the tokenizer's normalizer sees it (lowercased, accents stripped for uncased BERT), without spaces."""
    normalizer = tokenizer.backend_tokenizer.normalizer
    return (normalizer.normalize_str(text) if normalizer is not None else text).replace(" ", "")


def test_semeval_entities_round_trip_through_both_tokenizer_families(semeval_test, tokenizer):
    tokenized, stats = tokenize_sentences(semeval_test, tokenizer)
    assert stats.rows == len(semeval_test) == len(tokenized) and stats.dropped_rows == 0
    byte_level = "roberta" in type(tokenizer).__name__.lower()
    for source, row in zip(semeval_test, tokenized):
        for role in ("head", "tail"):
            words = source["tokens"][source[role]["start"] : source[role]["end"]]
            start, end = row[f"{role}_token_span"]
            decoded = tokenizer.decode(row["input_ids"][start:end])
            if byte_level:  # byte-level BPE decodes exactly: a space before each word
                assert decoded == "".join(" " + word for word in words), row["uid"]
            else:
                assert decoded.replace(" ", "") == normalised(tokenizer, "".join(words)), row["uid"]
            # ... and those words are the text between the markers (`name`), spaces aside.
            assert decoded.replace(" ", "") == normalised(tokenizer, row[role]["name"]) or byte_level
    prefix, suffix = special_token_frame(tokenizer)
    assert tokenized[0]["input_ids"][: len(prefix)] == prefix and tokenized[0]["input_ids"][-len(suffix) :] == suffix


def test_byte_level_bpe_gets_prefix_space_semantics(tiny_roberta_tokenizer, minilm_tokenizer):
    prepared = word_level_tokenizer(tiny_roberta_tokenizer)
    assert prepared is not tiny_roberta_tokenizer
    assert prepared.backend_tokenizer.pre_tokenizer.add_prefix_space
    assert not tiny_roberta_tokenizer.backend_tokenizer.pre_tokenizer.add_prefix_space, (
        "the caller's tokenizer is untouched"
    )
    words = ["The", "child", "was", "wrapped"]
    in_text = prepared(" " + " ".join(words), add_special_tokens=False)["input_ids"]
    as_words = prepared(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert as_words == in_text, "each word is encoded as in running text"
    assert word_level_tokenizer(minilm_tokenizer) is minilm_tokenizer


def test_entity_markers_as_added_special_tokens(semeval_test, minilm_tokenizer):
    tokenizer = copy.deepcopy(minilm_tokenizer)
    assert add_entity_marker_tokens(tokenizer) == 4
    assert add_entity_marker_tokens(tokenizer) == 0
    tokenized, _ = tokenize_sentences(semeval_test.select(range(50)), tokenizer, entity_markers=DEFAULT_ENTITY_MARKERS)
    marker_ids = tokenizer.convert_tokens_to_ids(DEFAULT_ENTITY_MARKERS.tokens())
    for row in tokenized:
        ids = row["input_ids"]
        (head_start, head_end), (tail_start, tail_end) = row["head_token_span"], row["tail_token_span"]
        assert [ids[head_start - 1], ids[head_end], ids[tail_start - 1], ids[tail_end]] == marker_ids
        assert tokenizer.decode(ids[head_start:head_end]).replace(" ", "") == normalised(tokenizer, row["head"]["name"])


def test_insert_entity_markers_handles_order_and_adjacency():
    words, head, tail = insert_entity_markers(["a", "b", "c", "d"], (2, 4), (0, 2), PUNCT_ENTITY_MARKERS)
    assert words == ["#", "a", "b", "#", "@", "c", "d", "@"]
    assert words[slice(*head)] == ["c", "d"] and words[slice(*tail)] == ["a", "b"]


def sentence_dataset(rows: list[tuple[list[str], tuple[int, int], tuple[int, int]]]) -> Dataset:
    return Dataset.from_list(
        [
            {
                "uid": f"train/{index}",
                "id": str(index),
                "tokens": tokens,
                "head": {"name": " ".join(tokens[slice(*head)]), "start": head[0], "end": head[1], "type": None},
                "tail": {"name": " ".join(tokens[slice(*tail)]), "start": tail[0], "end": tail[1], "type": None},
                "relation": 0,
            }
            for index, (tokens, head, tail) in enumerate(rows)
        ],
        features=sentence_features(semeval_label_names()),
    )


def test_long_sentences_keep_a_window_around_both_entities(minilm_tokenizer):
    filler = [f"word{index}" for index in range(300)]
    fits = filler[:150] + ["Marie", "Curie"] + filler[:10] + ["Warsaw"] + filler[:150]
    too_far = ["Marie"] + filler + ["Warsaw"]
    dataset = sentence_dataset([(fits, (150, 152), (162, 163)), (too_far, (0, 1), (301, 302))])
    tokenized, stats = tokenize_sentences(dataset, minilm_tokenizer, max_length=64)
    assert (stats.rows, stats.truncated_rows, stats.dropped_rows, stats.dropped_pairs) == (2, 1, 1, 1)
    assert tokenized["uid"] == ["train/0"]
    row = tokenized[0]
    assert len(row["input_ids"]) <= 64 and row["truncated"]
    assert minilm_tokenizer.decode(row["input_ids"][slice(*row["head_token_span"])]) == "marie curie"
    assert minilm_tokenizer.decode(row["input_ids"][slice(*row["tail_token_span"])]) == "warsaw"
    head_start, tail_end = row["head_token_span"][0], row["tail_token_span"][1]
    assert abs(head_start - (len(row["input_ids"]) - tail_end)) <= 8, "context is shared between both sides"


def test_document_truncation_drops_exactly_the_mentions_that_do_not_fit(redocred, minilm_tokenizer):
    documents = redocred.select(range(60))
    max_length = 128
    tokenized, stats = tokenize_documents(documents, minilm_tokenizer, max_length=max_length)
    prefix, suffix = special_token_frame(minilm_tokenizer)
    budget = max_length - len(prefix) - len(suffix)

    def count_tokens(words: list[str]) -> int:
        return (
            len(minilm_tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"])
            if words
            else 0
        )

    expected_dropped_mentions = expected_dropped_entities = expected_dropped_relations = 0
    for document, row in zip(documents, tokenized):
        words = [word for sentence in document["sents"] for word in sentence]
        offsets = [
            sum(len(sentence) for sentence in document["sents"][:index]) for index in range(len(document["sents"]))
        ]
        assert len(row["input_ids"]) <= max_length
        # Independent rule: a mention survives iff the words up to its end fit in the budget, and then its span is
        # (tokens of the words before it, tokens of the words up to its end), shifted by the leading special tokens.
        expected_spans = []
        for entity_index, entity in enumerate(document["entities"]):
            for mention in entity["mentions"]:
                word_start, word_end = (offsets[mention["sent_id"]] + mention[key] for key in ("start", "end"))
                if count_tokens(words[:word_end]) <= budget:
                    start, end = count_tokens(words[:word_start]), count_tokens(words[:word_end])
                    expected_spans.append([entity_index, start + len(prefix), end + len(prefix)])
                else:
                    expected_dropped_mentions += 1
        assert sorted(row["mention_token_spans"]) == sorted(expected_spans), document["uid"]
        kept_entities = {span[0] for span in expected_spans}
        expected_dropped_entities += len(document["entities"]) - len(kept_entities)
        expected_dropped_relations += sum(
            t["head"] not in kept_entities or t["tail"] not in kept_entities for t in document["relations"]
        )
    assert stats.truncated_rows > 10
    assert stats.dropped_mentions == expected_dropped_mentions > 0
    assert stats.dropped_entities == expected_dropped_entities > 0
    assert stats.dropped_relations == expected_dropped_relations > 0
    assert stats.mentions == sum(len(e["mentions"]) for entities in documents["entities"] for e in entities)


def test_full_length_documents_report_their_losses(redocred, minilm_tokenizer):
    tokenized, stats = tokenize_documents(redocred, minilm_tokenizer, num_proc=2)
    assert len(tokenized) == 500 and tokenized["uid"] == redocred["uid"], "row i is still document i"
    assert max(len(ids) for ids in tokenized["input_ids"]) <= 512
    assert stats.truncated_rows == sum(tokenized["truncated"]) > 0
    assert stats.dropped_pairs == sum(tokenized["dropped_pairs"]) >= stats.dropped_entities > 0
