"""Synthetic learning-order datasets and a tiny RoBERTa, for tests, benchmarks and smoke runs of stage 2.

`write_synthetic_learning_order_dataset` writes a folder in the exact format stage 1 exports (Parquet + README with
`configs:`): config `instances` (default) holds one row per relation instance with `learned_epoch`, `learned` and
`upsampled`; config `documents` holds the DocRED-like documents the instances point to. Documents are generated one
at a time and streamed to Parquet, so 100k documents need no more memory than 1k. `datasets` is imported only there:
`save_tiny_roberta` also works where it is not installed (the GPU benchmark).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..constants import (
    LEARNED_COLUMN,
    LEARNED_EPOCH_COLUMN,
    LEARNING_ORDER_COLUMNS,
    LEARNING_ORDER_DOCUMENTS_CONFIG,
    LEARNING_ORDER_INSTANCES_CONFIG,
    NO_RELATION,
    NOT_LEARNED,
    UPSAMPLED_COLUMN,
)

if TYPE_CHECKING:
    from datasets import Features

# A few DocRED relations with their names (docred/rel_info.json), so entity-discrimination queries read naturally.
SYNTHETIC_RELATIONS = {
    "P17": "country",
    "P131": "located in the administrative territorial entity",
    "P27": "country of citizenship",
    "P150": "contains administrative territorial entity",
    "P577": "publication date",
    "P175": "performer",
    "P569": "date of birth",
    "P570": "date of death",
    "P527": "has part",
    "P161": "cast member",
    "P264": "record label",
    "P19": "place of birth",
}
# Only ever one instance in the whole corpus: it can never be an RD anchor (the index counts it).
SINGLETON_RELATION = "P1376"
FILLER_WORDS = (
    "the a of in and to was is for on with by as at from that which his her their it after before during "
    "album film city river born released member village team played district capital season band company "
    "population school island war party league station church county music series award family group"
).split()
ENTITY_WORDS = (
    "Paris Berlin France Germany Chomsky Philadelphia Peru Lima Nile Danube Beatles Mozart Vienna Austria "
    "Madrid Spain Oslo Norway Tokyo Japan Cairo Egypt Rome Italy Dublin Ireland Prague Seattle Boston Texas "
    "Brahms Liszt Chopin Warsaw Poland Athens Greece Lisbon Portugal"
).split()
NUM_LEARNING_EPOCHS = 15


def learning_order_label_names() -> list[str]:
    """`ClassLabel` names of the synthetic corpus: `no_relation` (id 0), the relations, then the singleton relation."""
    return [NO_RELATION, *SYNTHETIC_RELATIONS, SINGLETON_RELATION]


def synthetic_features() -> tuple[Features, Features]:
    """`(documents, instances)` features: the data layer's document schema and the stage-1 export's instance schema."""
    from datasets import Value

    from ..data.schema import document_features, relation_instance_features

    label_names = learning_order_label_names()
    instances = relation_instance_features(label_names)
    instances.update({name: Value(dtype) for name, dtype in LEARNING_ORDER_COLUMNS.items()})
    return document_features(label_names), instances


def _synthetic_document(
    rng: np.random.Generator, position: int, sentences: tuple[int, int]
) -> tuple[dict, list[tuple[int, int, int]]]:
    """One DocRED-like document and its relation triples `(head, tail, relation id)` (no-relation pairs excluded)."""
    num_sentences = int(rng.integers(*sentences))
    num_entities = int(rng.integers(3, 8))
    names = [str(rng.choice(ENTITY_WORDS)) for _ in range(num_entities)]
    # Each sentence is a shuffled sequence of filler words and entity slots; every entity is mentioned 1-2 times.
    slots: list[list[int | None]] = [[None] * int(rng.integers(6, 14)) for _ in range(num_sentences)]
    for entity in range(num_entities):
        for _ in range(int(rng.integers(1, 3))):
            slots[int(rng.integers(num_sentences))].append(entity)
    sents, entities = [], [{"type": "MISC", "mentions": []} for _ in range(num_entities)]
    for sent_id, sentence_slots in enumerate(slots):
        rng.shuffle(sentence_slots)
        words: list[str] = []
        for slot in sentence_slots:
            if slot is None:
                words.append(str(rng.choice(FILLER_WORDS)))
            else:
                entities[slot]["mentions"].append(
                    {"name": names[slot], "sent_id": sent_id, "start": len(words), "end": len(words) + 1}
                )
                words.append(names[slot])
        sents.append(words)
    relation_ids = np.arange(1, len(SYNTHETIC_RELATIONS) + 1)
    # A Zipf-like relation distribution: a few frequent relations, a long tail, as in distant supervision.
    relation_probabilities = 1.0 / relation_ids
    relation_probabilities /= relation_probabilities.sum()
    triples: set[tuple[int, int, int]] = set()
    for _ in range(int(rng.integers(1, 5))):
        head, tail = rng.choice(num_entities, size=2, replace=False)
        triples.add((int(head), int(tail), int(rng.choice(relation_ids, p=relation_probabilities))))
    if position == 0:
        triples.add((0, 1, len(SYNTHETIC_RELATIONS) + 1))
    document = {
        "uid": f"train/{position}",
        "title": f"Synthetic document {position}",
        "sents": sents,
        "entities": entities,
        "relations": [],
    }
    return document, sorted(triples)


def _learned_epoch(rng: np.random.Generator) -> int:
    """Most instances are learned early, some late, a quarter never (-1), like stage 1's Fig. 2."""
    if rng.random() < 0.25:
        return NOT_LEARNED
    return int(min(rng.geometric(0.3) - 1, NUM_LEARNING_EPOCHS - 1))


def _generate(num_documents: int, seed: int, sentences: tuple[int, int]) -> Iterator[tuple[dict, list[dict]]]:
    rng = np.random.default_rng(seed)
    names = learning_order_label_names()
    for position in range(num_documents):
        document, triples = _synthetic_document(rng, position, sentences)
        instances = []
        for head, tail, relation in triples:
            uid = f"{document['uid']}/{head}-{tail}/{names[relation]}"
            document["relations"].append({"uid": uid, "head": head, "tail": tail, "relation": relation, "evidence": []})
            epoch = _learned_epoch(rng)
            instances.append((uid, head, tail, relation, epoch))
        # No-relation pairs: up to 3x the positives, as the data layer samples them.
        num_entities = len(document["entities"])
        related = {(head, tail) for head, tail, _ in triples}
        candidates = [
            (h, t) for h in range(num_entities) for t in range(num_entities) if h != t and (h, t) not in related
        ]
        chosen = rng.permutation(len(candidates))[: 3 * len(triples)]
        for head, tail in sorted(candidates[i] for i in chosen):
            instances.append((f"{document['uid']}/{head}-{tail}/{NO_RELATION}", head, tail, 0, NOT_LEARNED))
        rows = [
            {
                "uid": uid,
                "document_index": position,
                "document_uid": document["uid"],
                "head": head,
                "tail": tail,
                "relation": relation,
                LEARNED_EPOCH_COLUMN: epoch,
                LEARNED_COLUMN: epoch != NOT_LEARNED,
                UPSAMPLED_COLUMN: False,
            }
            for uid, head, tail, relation, epoch in instances
        ]
        yield document, rows


def _documents(num_documents: int, seed: int, sentences: tuple[int, int]) -> Iterator[dict]:
    for document, _ in _generate(num_documents, seed, sentences):
        yield document


def _instances(num_documents: int, seed: int, sentences: tuple[int, int]) -> Iterator[dict]:
    for _, rows in _generate(num_documents, seed, sentences):
        yield from rows


def write_synthetic_learning_order_dataset(
    directory: str | Path, num_documents: int = 64, seed: int = 0, sentences: tuple[int, int] = (2, 5)
) -> Path:
    """Write a learning-order dataset folder of `num_documents` synthetic documents (see the module docstring).

    `sentences` is the `[low, high)` range of sentences per document (each of 6-13 filler words plus mentions).

    Both configs are produced by the same seeded generator, so instance `document_index` values match the documents.
    Returns the folder, loadable with `load_dataset(folder)` (instances) and `load_dataset(folder, "documents")`.
    """
    from datasets import Dataset

    directory = Path(directory)
    (directory / LEARNING_ORDER_INSTANCES_CONFIG).mkdir(parents=True, exist_ok=True)
    (directory / LEARNING_ORDER_DOCUMENTS_CONFIG).mkdir(parents=True, exist_ok=True)
    document_features, instance_features = synthetic_features()
    with tempfile.TemporaryDirectory() as cache_dir:
        for name, generator, features in (
            (LEARNING_ORDER_DOCUMENTS_CONFIG, _documents, document_features),
            (LEARNING_ORDER_INSTANCES_CONFIG, _instances, instance_features),
        ):
            dataset = Dataset.from_generator(
                generator,
                gen_kwargs={"num_documents": num_documents, "seed": seed, "sentences": tuple(sentences)},
                features=features,
                cache_dir=cache_dir,
                writer_batch_size=2_000,
            )
            dataset.to_parquet(str(directory / name / "train.parquet"), batch_size=2_000)
            num_rows = len(dataset)
            del dataset
            if name == LEARNING_ORDER_INSTANCES_CONFIG:
                num_instances = num_rows
    (directory / "README.md").write_text(_card(num_documents, num_instances, seed), encoding="utf-8")
    return directory


def _card(num_documents: int, num_instances: int, seed: int) -> str:
    metadata = {
        "model": "synthetic",
        "num_epochs": NUM_LEARNING_EPOCHS,
        "mode": "synthetic",
        "seed": seed,
        "relation_names": SYNTHETIC_RELATIONS | {SINGLETON_RELATION: "capital of"},
    }
    return (
        "---\n"
        "configs:\n"
        f"- config_name: {LEARNING_ORDER_INSTANCES_CONFIG}\n  default: true\n"
        f"  data_files:\n  - split: train\n    path: {LEARNING_ORDER_INSTANCES_CONFIG}/train.parquet\n"
        f"- config_name: {LEARNING_ORDER_DOCUMENTS_CONFIG}\n  data_files:\n  - split: train\n"
        f"    path: {LEARNING_ORDER_DOCUMENTS_CONFIG}/train.parquet\n"
        f"finecl: {json.dumps(metadata)}\n"
        "---\n\n"
        f"# Synthetic learning-order dataset\n\n{num_instances} relation instances over {num_documents} synthetic "
        "documents, with random learning epochs. For tests and benchmarks only.\n"
    )


def save_tiny_roberta(directory: str | Path, hidden_dropout: float = 0.0) -> Path:
    """Save a tiny random RoBERTa (hidden size 32, 2 layers) and a byte-level BPE tokenizer trained on the synthetic
    vocabulary into `directory`; `FineCLForPreTraining.from_backbone(directory)` and `AutoTokenizer` load it."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = [" ".join(FILLER_WORDS), " ".join(ENTITY_WORDS), *SYNTHETIC_RELATIONS.values(), "capital of"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        text * 4, vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.save_model(str(directory))
    tokenizer = RobertaTokenizerFast(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"), model_max_length=512
    )
    tokenizer.save_pretrained(directory)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=520,
        hidden_dropout_prob=hidden_dropout,
        attention_probs_dropout_prob=hidden_dropout,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    RobertaModel(config, add_pooling_layer=False).save_pretrained(directory)
    return directory


__all__ = [
    "NO_RELATION",
    "SINGLETON_RELATION",
    "SYNTHETIC_RELATIONS",
    "learning_order_label_names",
    "save_tiny_roberta",
    "synthetic_features",
    "write_synthetic_learning_order_dataset",
]
