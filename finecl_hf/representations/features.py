"""Relation features of a sentence split, encoded once per (encoder, split, tokenization) and cached on disk.

Rows are tokenized with `finecl_hf.data.tokenization.tokenize_split`, as fine-tuning tokenizes them (sentence level: a
word window around head and tail of at most `max_length` sub-words), and batched with the `SentenceRelationCollator`.
The cache file (`<cache_dir>/<key>.safetensors`) holds `features` `[rows, 2 · hidden]` and an `encoded` mask: a probe encodes only
the rows it needs (all test rows, the drawn shots) and a later probe with more draws encodes only the missing ones.
The key hashes the encoder's files, the split's inputs (`tokens`, `head`, `tail`) and the tokenization settings, so
a re-trained encoder or an edited split never reads stale features.

Rows the tokenizer cannot represent (head and tail further apart than `max_length`) get no features (`NaN`), are
counted and logged.

`encode_document_instances` does the same for document-level relation instances (stage 1's `relation_instances`
view): each document is encoded once (`tokenize_documents`, first `max_length` sub-words), every entity
pooled over its kept mentions (`encode_document_entities`, cached per documents' text and entities), and an
instance's features are its [e_head; e_tail].
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from datasets import Dataset
from safetensors.numpy import load_file, save_file
from transformers.utils import logging
from transformers.utils.logging import tqdm

from ..data.data_collator import SentenceRelationCollator
from ..data.tokenization import tokenize_documents
from ..errors import DataError
from ..data.tokenization import tokenize_split
from .encoder import FrozenRelationEncoder

logger = logging.get_logger(__name__)

ROW_COLUMN = "probe_row"
FINGERPRINT_BATCH = 10_000
INSTANCE_BATCH = 65_536  # instances whose features are assembled at once
_INPUT_COLUMNS = ("tokens", "head", "tail")
_DOCUMENT_COLUMNS = ("sents", "entities")
_INSTANCE_COLUMNS = ("document_index", "head", "tail")


@dataclass(frozen=True)
class TokenizationSettings:
    """How sentences become sub-words (the same options as fine-tuning's `--max_length` and `--entity_markers`)."""

    max_length: int = 100
    entity_markers: str = "none"


def split_fingerprint(rows: Dataset, columns: tuple[str, ...] = _INPUT_COLUMNS) -> str:
    """sha256 prefix of the inputs that decide a row's features (`tokens`, `head`, `tail`), in row order."""
    digest = hashlib.sha256()
    values = rows.select_columns(list(columns)).to_dict()
    for row in zip(*(values[name] for name in columns)):
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def arrow_fingerprint(rows: Dataset, columns: tuple[str, ...]) -> str:
    """sha256 prefix of the `columns` of `rows` as Arrow IPC bytes, batch by batch (the rows' order and selection
    respected): a content hash without a Python copy of the rows."""
    digest = hashlib.sha256()
    for batch in rows.select_columns(list(columns)).with_format("arrow").iter(batch_size=FINGERPRINT_BATCH):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_table(batch)
        digest.update(sink.getvalue())
    return digest.hexdigest()[:16]


def input_fingerprints(instances: Dataset, documents: Dataset | None = None) -> dict[str, str]:
    """`arrow_fingerprint`s of what decides the instances' features: their (`document_index`, `head`, `tail`) and the
    documents' text and entities, or for a sentence split its (`tokens`, `head`, `tail`)."""
    if documents is None:
        return {"instances": arrow_fingerprint(instances, _INPUT_COLUMNS)}
    return {"instances": arrow_fingerprint(instances, _INSTANCE_COLUMNS),
            "documents": arrow_fingerprint(documents, _DOCUMENT_COLUMNS)}  # fmt: skip


def feature_cache_key(encoder: FrozenRelationEncoder, rows: Dataset, settings: TokenizationSettings) -> str:
    text = json.dumps(
        {"encoder": encoder.fingerprint, "split": split_fingerprint(rows), "settings": vars(settings)}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def default_cache_dir() -> Path:
    """`$HF_HOME/finecl_hf/probe_features` (Hugging Face's cache root)."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "finecl_hf" / "probe_features"


@dataclass
class SplitFeatures:
    """Features of one split: `features[i]` is row i's [e_head; e_tail], NaN where not encoded or not representable.

    Attributes:
        features: `[rows, 2 · hidden]` float32.
        encoded: rows whose features were computed (the tokenizer could represent them).
        attempted: rows that were asked for (encoded, or not representable).
        encode_seconds: wall time spent encoding in this call (0 when everything came from the cache).
        cache_file: the cache file, or `None` when caching was off.
    """

    features: np.ndarray
    encoded: np.ndarray
    attempted: np.ndarray
    encode_seconds: float = 0.0
    cache_file: Path | None = None


def encode_split(
    encoder: FrozenRelationEncoder,
    rows: Dataset,
    needed: np.ndarray | None = None,
    *,
    settings: TokenizationSettings = TokenizationSettings(),
    batch_size: int = 64,
    cache_dir: str | Path | bool | None = None,
    description: str = "split",
    num_proc: int | None = None,
) -> SplitFeatures:
    """Features of the `needed` rows of a sentence split (all rows when `None`), from the cache where possible.

    `cache_dir=None` uses `default_cache_dir()`; pass `cache_dir=False` to disable caching.
    """
    num_rows = len(rows)
    needed_rows = np.arange(num_rows) if needed is None else np.unique(np.asarray(needed, dtype=np.int64))
    cache_file = _cache_file(cache_dir, feature_cache_key(encoder, rows, settings))
    features, attempted = _cached_features(cache_file, num_rows, encoder.feature_size)
    missing = needed_rows[~attempted[needed_rows]]
    seconds = 0.0
    if missing.size:
        start = time.perf_counter()
        features[missing] = _encode_rows(encoder, rows, missing, settings, batch_size, description, num_proc)
        seconds = time.perf_counter() - start
        attempted[missing] = True
        if cache_file is not None:
            arrays = {"features": features, "attempted": attempted.astype(np.uint8)}
            _save_atomically(cache_file, arrays, encoder, description)
    encoded = attempted & ~np.isnan(features).any(axis=1)
    lost = int((attempted & ~encoded)[needed_rows].sum())
    if lost:
        logger.warning(
            f"{description}: {lost} of {needed_rows.size} rows have no features (head and tail do not fit in "
            f"max_length={settings.max_length} sub-words)."
        )
    return SplitFeatures(features, encoded, attempted, seconds, cache_file)


def encode_document_instances(
    encoder: FrozenRelationEncoder,
    instances: Dataset,
    documents: Dataset,
    *,
    max_length: int = 512,
    documents_per_batch: int = 8,
    cache_dir: str | Path | bool | None = None,
    description: str = "documents",
    output_file: str | Path | None = None,
    num_proc: int | None = None,
    documents_fingerprint: str | None = None,
) -> SplitFeatures:
    """Features [e_head; e_tail] of document-level relation instances (`document_index`, `head`, `tail` columns;
    `documents` in the schema of `finecl_hf.data.schema`).

    Entities are encoded once per document (`encode_document_entities`, cached by the documents' text and entities,
    not by their labels: corpora that relabel the same documents share one encoding). An instance whose head or tail
    has no mention within the first `max_length` sub-words gets NaN (counted, logged). With `output_file` the
    features are assembled batch by batch into that `.npy` file and returned memory-mapped (no `[instances, dim]`
    array in memory). `documents_fingerprint`: the documents' `arrow_fingerprint`, when the caller has it already.
    """
    entities, offsets, seconds, cache_file = encode_document_entities(
        encoder, documents, max_length=max_length, documents_per_batch=documents_per_batch, cache_dir=cache_dir,
        description=description, num_proc=num_proc, documents_fingerprint=documents_fingerprint,
    )
    pairs = instances.select_columns(list(_INSTANCE_COLUMNS)).with_format("numpy")
    document = np.asarray(pairs["document_index"], dtype=np.int64)
    if document.size and (document.min() < 0 or document.max() >= len(documents)):
        raise DataError(f"{description}: document_index outside 0..{len(documents) - 1}.")
    head, tail = np.asarray(pairs["head"], dtype=np.int64), np.asarray(pairs["tail"], dtype=np.int64)
    shape = (len(instances), encoder.feature_size)
    if output_file is None:
        features = np.empty(shape, dtype=np.float32)
    else:
        features = np.lib.format.open_memmap(output_file, mode="w+", dtype=np.float32, shape=shape)
    encoded = np.empty(len(instances), dtype=bool)
    for start in range(0, len(instances), INSTANCE_BATCH):
        rows = slice(start, min(start + INSTANCE_BATCH, len(instances)))
        features[rows], encoded[rows] = _pair_features(entities, offsets, document[rows], head[rows], tail[rows])
    if output_file is not None:
        features.flush()
    if not encoded.all():
        logger.warning(
            f"{description}: {int((~encoded).sum())} of {len(instances)} instances have no features (head or tail has "
            f"no mention within the first {max_length} sub-words of its document)."
        )
    return SplitFeatures(features, encoded, np.ones(len(instances), dtype=bool), seconds, cache_file)


def _pair_features(
    entities: np.ndarray, offsets: np.ndarray, document: np.ndarray, head: np.ndarray, tail: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`([e_head; e_tail] [instances, 2 · hidden], encoded mask)`; NaN rows where either entity is missing."""
    count = offsets[document + 1] - offsets[document]
    valid = (head >= 0) & (head < count) & (tail >= 0) & (tail < count)
    safe_head = offsets[document] + np.where(valid, head, 0)
    safe_tail = offsets[document] + np.where(valid, tail, 0)
    features = np.concatenate([entities[safe_head], entities[safe_tail]], axis=1)
    features[~valid] = np.nan
    encoded = ~np.isnan(features).any(axis=1)
    features[~encoded] = np.nan  # half a pair is no pair
    return features, encoded


def encode_document_entities(
    encoder: FrozenRelationEncoder,
    documents: Dataset,
    *,
    max_length: int = 512,
    documents_per_batch: int = 8,
    cache_dir: str | Path | bool | None = None,
    description: str = "documents",
    num_proc: int | None = None,
    documents_fingerprint: str | None = None,
) -> tuple[np.ndarray, np.ndarray, float, Path | None]:
    """Entity embeddings of every document: `(entities [Σ entities, hidden], offsets [documents + 1], seconds,
    cache_file)`; document d's entity e is row `offsets[d] + e`, NaN where no mention survived truncation.
    `documents_fingerprint`: the documents' `arrow_fingerprint` of their text and entities, when already computed."""
    settings = TokenizationSettings(max_length=max_length, entity_markers="none")
    documents_fingerprint = documents_fingerprint or arrow_fingerprint(documents, _DOCUMENT_COLUMNS)
    key = json.dumps(
        {"encoder": encoder.fingerprint, "documents": documents_fingerprint, "settings": vars(settings)}, sort_keys=True
    )
    cache_file = _cache_file(cache_dir, "entities-" + hashlib.sha256(key.encode()).hexdigest()[:20])
    if cache_file is not None and cache_file.is_file():
        stored = load_file(cache_file)
        return stored["entities"], stored["offsets"], 0.0, cache_file
    start = time.perf_counter()
    entities, offsets = _encode_documents(encoder, documents, max_length, documents_per_batch, description, num_proc)
    seconds = time.perf_counter() - start
    if cache_file is not None:
        _save_atomically(cache_file, {"entities": entities, "offsets": offsets}, encoder, description)
    return entities, offsets, seconds, cache_file


def _encode_documents(
    encoder: FrozenRelationEncoder,
    documents: Dataset,
    max_length: int,
    documents_per_batch: int,
    description: str,
    num_proc: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    columns = documents.select_columns(["sents", "entities", "relations"])
    tokenized, _ = tokenize_documents(columns, encoder.tokenizer, max_length=max_length, num_proc=num_proc)
    tokenized = tokenized.select_columns(["input_ids", "mention_token_spans", "num_entities"])
    arrow = tokenized.with_format("arrow")
    counts = np.asarray(arrow["num_entities"], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    hidden = encoder.feature_size // 2
    entities = np.full((int(offsets[-1]), hidden), np.nan, dtype=np.float32)
    padder = SentenceRelationCollator(encoder.tokenizer)  # its `pad` only: right padding with an attention mask
    # Documents of similar lengths share a batch: little padding.
    lengths = np.asarray(pc.list_value_length(arrow["input_ids"]), dtype=np.int64)
    order = np.argsort(lengths, kind="stable").tolist()
    device = encoder.device
    for start in tqdm(range(0, len(order), documents_per_batch), desc=f"Encoding {description}", unit="batch"):
        batch_documents = order[start : start + documents_per_batch]
        rows = tokenized[batch_documents]
        spans, mention_entities, rows_of_entities = [], [], {}
        for batch_row, (document, document_spans) in enumerate(zip(batch_documents, rows["mention_token_spans"])):
            for entity, span_start, span_end in document_spans:
                row = int(offsets[document] + entity)
                rows_of_entities.setdefault(row, len(rows_of_entities))
                spans.append([batch_row, span_start, span_end])
                mention_entities.append(rows_of_entities[row])
        if not rows_of_entities:
            continue
        batch = padder.pad(rows["input_ids"])
        with torch.inference_mode():
            _, pooled = encoder.model.encode_entities(
                batch["input_ids"].to(device), batch["attention_mask"].to(device),
                torch.tensor(spans, device=device).view(-1, 3), torch.tensor(mention_entities, device=device),
            )  # fmt: skip
        entities[list(rows_of_entities)] = pooled.float().cpu().numpy()
    return entities, offsets


def _cache_file(cache_dir: str | Path | bool | None, key: str) -> Path | None:
    if cache_dir is False:
        return None
    return Path(cache_dir or default_cache_dir()) / f"{key}.safetensors"


def _cached_features(cache_file: Path | None, num_rows: int, feature_size: int) -> tuple[np.ndarray, np.ndarray]:
    if cache_file is not None and cache_file.is_file():
        stored = load_file(cache_file)
        return stored["features"], stored["attempted"].astype(bool)
    return np.full((num_rows, feature_size), np.nan, dtype=np.float32), np.zeros(num_rows, dtype=bool)


def _encode_rows(
    encoder: FrozenRelationEncoder,
    rows: Dataset,
    indices: np.ndarray,
    settings: TokenizationSettings,
    batch_size: int,
    description: str,
    num_proc: int | None = None,
) -> np.ndarray:
    subset = rows.select(indices.tolist()).add_column(ROW_COLUMN, list(range(len(indices))))
    tokenized = tokenize_split(
        subset, encoder.tokenizer, "sentence", settings.max_length, settings.entity_markers, num_proc=num_proc
    )
    output = np.full((len(indices), encoder.feature_size), np.nan, dtype=np.float32)
    if not len(tokenized):
        return output
    collator = SentenceRelationCollator(encoder.tokenizer, label_column="relation")
    # Batches of similar lengths pad little: the encoder does the same work in a fraction of the time.
    lengths = np.fromiter((len(ids) for ids in tokenized["input_ids"]), dtype=np.int64, count=len(tokenized))
    order = np.argsort(lengths, kind="stable")
    columns = ["input_ids", "head_token_span", "tail_token_span", ROW_COLUMN]
    tokenized = tokenized.select_columns(columns)
    for start in tqdm(range(0, len(order), batch_size), desc=f"Encoding {description}", unit="batch"):
        batch_rows = tokenized.select(order[start : start + batch_size].tolist()).to_list()
        batch = collator(batch_rows)
        output[[row[ROW_COLUMN] for row in batch_rows]] = encoder.pair_features(batch).cpu().numpy()
    return output


def _save_atomically(
    path: Path, arrays: dict[str, np.ndarray], encoder: FrozenRelationEncoder, description: str
) -> None:
    """Write to a partial file, then rename: an interrupted write never leaves a cache file others would read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    metadata = {"encoder": encoder.name_or_path, "encoder_fingerprint": encoder.fingerprint, "split": description}
    save_file(arrays, str(partial), metadata=metadata)
    partial.replace(path)


__all__ = [
    "SplitFeatures",
    "TokenizationSettings",
    "arrow_fingerprint",
    "input_fingerprints",
    "default_cache_dir",
    "encode_document_entities",
    "encode_document_instances",
    "encode_split",
    "feature_cache_key",
    "split_fingerprint",
]
