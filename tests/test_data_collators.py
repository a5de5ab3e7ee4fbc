"""Collators emit exactly the model-input contract and run through `FineCLForRelationExtraction`."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset, load_dataset
from torch.utils.data import DataLoader

from finecl_hf import FineCLConfig, FineCLForRelationExtraction
from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.data_collator import (
    INSTANCE_UIDS_KEY,
    PAIR_METADATA_KEYS,
    DocumentRelationCollator,
    RelationInstanceCollator,
    SentenceRelationCollator,
    drop_instances_without_mentions,
    split_model_inputs,
)
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.relation_instances import RELATION_INSTANCES_CONFIG
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.data.tokenization import tokenize_documents, tokenize_sentences


@pytest.fixture(scope="module")
def converted(shared_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("collators")
    convert_semeval(
        [SplitSource("test", shared_data_dir / "semeval2010_task8" / "TEST_FILE_FULL.TXT")], root / "semeval"
    )
    documents = SplitSource("test", shared_data_dir / "redocred" / "test_revised.json.gz")
    convert_docred([documents], root / "redocred", rel_info_file=shared_data_dir / "docred" / "rel_info.json")
    cache = str(root / "cache")
    return {
        "semeval": load_dataset(str(root / "semeval"), split="test", cache_dir=cache).select(range(64)),
        "documents": load_dataset(str(root / "redocred"), split="test", cache_dir=cache).select(range(24)),
        "instances": load_dataset(str(root / "redocred"), RELATION_INSTANCES_CONFIG, split="test", cache_dir=cache),
    }


def tiny_model(tiny_roberta_config, num_labels: int, level: str) -> FineCLForRelationExtraction:
    config = FineCLConfig(encoder=tiny_roberta_config.to_dict(), num_labels=num_labels, relation_level=level)
    return FineCLForRelationExtraction(config).eval()


def assert_contract(batch: dict) -> None:
    """Shapes and invariants of the model-input contract."""
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    assert input_ids.dtype == attention_mask.dtype == torch.long and input_ids.shape == attention_mask.shape
    lengths = attention_mask.sum(dim=1)
    assert torch.equal(attention_mask, (torch.arange(input_ids.size(1)) < lengths[:, None]).long()), "right padding"
    spans, entities, pairs = batch["mention_spans"], batch["mention_entity_ids"], batch["pair_entity_ids"]
    assert spans.dtype == entities.dtype == pairs.dtype == torch.long
    assert spans.shape == (entities.numel(), 3) and pairs.shape[1] == 2
    rows, starts, ends = spans.unbind(-1)
    assert bool((starts < ends).all()) and bool((ends <= lengths[rows]).all()) and bool((starts >= 1).all())
    assert torch.equal(torch.unique(entities), torch.arange(int(entities.max()) + 1)), "every entity has a mention"
    assert bool((pairs < entities.max() + 1).all()) and bool((pairs[:, 0] != pairs[:, 1]).all())


def test_sentence_collator(converted, tiny_roberta_tokenizer, tiny_roberta_config):
    tokenized, _ = tokenize_sentences(converted["semeval"], tiny_roberta_tokenizer)
    collator = SentenceRelationCollator(tiny_roberta_tokenizer)
    loader = DataLoader(tokenized, batch_size=16, collate_fn=collator)
    batch = next(iter(loader))
    assert_contract(batch)
    assert set(batch) == {
        "input_ids",
        "attention_mask",
        "mention_spans",
        "mention_entity_ids",
        "pair_entity_ids",
        "labels",
    }
    assert torch.equal(batch["pair_entity_ids"], torch.arange(32).view(16, 2))
    assert torch.equal(batch["mention_spans"][0], torch.tensor([0, *tokenized[0]["head_token_span"]]))
    assert torch.equal(batch["mention_spans"][3], torch.tensor([1, *tokenized[1]["tail_token_span"]]))
    assert batch["labels"].tolist() == tokenized["relation"][:16] and batch["labels"].dtype == torch.long
    assert int(batch["input_ids"][batch["attention_mask"] == 0].unique()) == tiny_roberta_tokenizer.pad_token_id
    output = tiny_model(tiny_roberta_config, 19, "sentence")(**batch)
    assert output.logits.shape == (16, 19) and torch.isfinite(output.loss)


def test_document_collator(converted, tiny_roberta_tokenizer, tiny_roberta_config):
    tokenized, stats = tokenize_documents(converted["documents"], tiny_roberta_tokenizer, max_length=256)
    assert stats.dropped_entities > 0, "the fixture must exercise entities lost to truncation"
    collator = DocumentRelationCollator(tiny_roberta_tokenizer, num_labels=97, return_pair_metadata=True)
    rows = [tokenized[index] for index in range(4)]
    batch = collator(rows)
    inputs, metadata = split_model_inputs(batch)
    assert set(metadata) == set(PAIR_METADATA_KEYS)
    assert_contract(inputs)
    labels = inputs["labels"]
    assert labels.dtype == torch.float32 and labels.shape == (len(inputs["pair_entity_ids"]), 97)
    expected_pairs = 0
    for index, row in enumerate(rows):
        kept = sorted({span[0] for span in row["mention_token_spans"]})
        assert len(kept) == row["num_entities"] - row["dropped_entities"]
        expected_pairs += len(kept) * (len(kept) - 1)
        in_row = metadata["pair_document_index"] == index
        local = metadata["pair_local_entity_ids"][in_row].tolist()
        assert local == [[h, t] for h in kept for t in kept if h != t]
        positives = {
            (t["head"], t["tail"], t["relation"]) for t in row["relations"] if t["head"] in kept and t["tail"] in kept
        }
        found = {(local[p][0], local[p][1], r) for p, r in (labels[in_row][:, 1:] > 0).nonzero().tolist()}
        assert found == {(h, t, r - 1) for h, t, r in positives}
    assert len(labels) == expected_pairs
    assert torch.equal(labels[:, 0], (labels[:, 1:].sum(dim=1) == 0).float()), "column 0 = no relation, exclusive"
    assert metadata["document_uids"] == [row["uid"] for row in rows]
    output = tiny_model(tiny_roberta_config, 97, "document")(**inputs)
    assert output.logits.shape == labels.shape and torch.isfinite(output.loss)
    assert set(DocumentRelationCollator(tiny_roberta_tokenizer, num_labels=97)(rows)) == set(inputs), (
        "no metadata by default"
    )


def test_relation_instance_collator(converted, tiny_roberta_tokenizer, tiny_roberta_config):
    documents, _ = tokenize_documents(converted["documents"], tiny_roberta_tokenizer, max_length=256)
    instances = converted["instances"].filter(lambda index: index < len(documents), input_columns="document_index")
    with pytest.raises(ValueError, match="no mention left after tokenization"):
        collator = RelationInstanceCollator(tiny_roberta_tokenizer, documents)
        for start in range(0, len(instances), 256):
            collator([instances[index] for index in range(start, min(start + 256, len(instances)))])
    usable, removed = drop_instances_without_mentions(instances, documents)
    assert removed > 0 and len(usable) + removed == len(instances)
    rows = [usable[index] for index in (0, 1, 40, len(usable) - 1)]
    batch = RelationInstanceCollator(tiny_roberta_tokenizer, documents)(rows)
    inputs, metadata = split_model_inputs(batch)
    assert_contract(inputs)
    document_indices = list(dict.fromkeys(row["document_index"] for row in rows))
    assert inputs["input_ids"].shape[0] == len(document_indices), "each distinct document is encoded once"
    assert metadata == {INSTANCE_UIDS_KEY: [row["uid"] for row in rows]}
    assert inputs["labels"].tolist() == [row["relation"] for row in rows]
    for pair, row in zip(inputs["pair_entity_ids"].tolist(), rows):
        batch_row = document_indices.index(row["document_index"])
        for entity_id, entity in zip(pair, (row["head"], row["tail"])):
            mine = inputs["mention_spans"][inputs["mention_entity_ids"] == entity_id].tolist()
            expected = [
                [batch_row, s, e] for k, s, e in documents[row["document_index"]]["mention_token_spans"] if k == entity
            ]
            assert mine == expected
    output = tiny_model(tiny_roberta_config, 97, "sentence")(**inputs)
    assert output.logits.shape == (4, 97) and torch.isfinite(output.loss)


def test_collators_reject_a_tokenizer_without_pad_token(tiny_roberta_tokenizer):
    import copy

    tokenizer = copy.deepcopy(tiny_roberta_tokenizer)
    tokenizer.pad_token = None
    with pytest.raises(ValueError, match="no pad token"):
        SentenceRelationCollator(tokenizer)
    with pytest.raises(ValueError, match="tokenize_documents"):
        RelationInstanceCollator(tiny_roberta_tokenizer, Dataset.from_dict({"input_ids": [[0]]}))
