"""Relation features of a sentence split, encoded once per (encoder, split, tokenization) and cached on disk.

Rows are tokenized with stage 3's `tokenize_split` (sentence level: a word window around head and tail of at most
`max_length` sub-words) and batched with its `SentenceRelationCollator`. The cache file
(`<cache_dir>/<key>.safetensors`) holds `features` `[rows, 2 · hidden]` and an `encoded` mask: a probe encodes only
the rows it needs (all test rows, the drawn shots) and a later probe with more draws encodes only the missing ones.
The key hashes the encoder's files, the split's inputs (`tokens`, `head`, `tail`) and the tokenization settings, so
a re-trained encoder or an edited split never reads stale features.

Rows the tokenizer cannot represent (head and tail further apart than `max_length`) get no features (`NaN`), are
counted and logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset
from safetensors.numpy import load_file, save_file
from transformers.utils import logging
from transformers.utils.logging import tqdm

from ..data.data_collator import SentenceRelationCollator
from ..finetuning.preparation import tokenize_split
from .encoder import FrozenRelationEncoder

logger = logging.get_logger(__name__)

ROW_COLUMN = "probe_row"
_INPUT_COLUMNS = ("tokens", "head", "tail")


@dataclass(frozen=True)
class TokenizationSettings:
    """How sentences become sub-words (the same options as fine-tuning's `--max_length` and `--entity_markers`)."""

    max_length: int = 100
    entity_markers: str = "none"


def split_fingerprint(rows: Dataset) -> str:
    """sha256 prefix of the inputs that decide a row's features (`tokens`, `head`, `tail`), in row order."""
    digest = hashlib.sha256()
    columns = rows.select_columns(list(_INPUT_COLUMNS)).to_dict()
    for row in zip(*(columns[name] for name in _INPUT_COLUMNS)):
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


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
) -> SplitFeatures:
    """Features of the `needed` rows of a sentence split (all rows when `None`), from the cache where possible.

    `cache_dir=None` uses `default_cache_dir()`; pass `cache_dir=False` to disable caching.
    """
    num_rows = len(rows)
    needed_rows = np.arange(num_rows) if needed is None else np.unique(np.asarray(needed, dtype=np.int64))
    cache_file = None
    features = np.full((num_rows, encoder.feature_size), np.nan, dtype=np.float32)
    attempted = np.zeros(num_rows, dtype=bool)
    if cache_dir is not False:
        cache_file = Path(cache_dir or default_cache_dir()) / f"{feature_cache_key(encoder, rows, settings)}.safetensors"
        if cache_file.is_file():
            stored = load_file(cache_file)
            features, attempted = stored["features"], stored["attempted"].astype(bool)
    missing = needed_rows[~attempted[needed_rows]]
    seconds = 0.0
    if missing.size:
        start = time.perf_counter()
        features[missing] = _encode_rows(encoder, rows, missing, settings, batch_size, description)
        seconds = time.perf_counter() - start
        attempted[missing] = True
        if cache_file is not None:
            _save_atomically(cache_file, features, attempted, encoder, description)
    encoded = attempted & ~np.isnan(features).any(axis=1)
    lost = int((attempted & ~encoded)[needed_rows].sum())
    if lost:
        logger.warning(
            f"{description}: {lost} of {needed_rows.size} rows have no features (head and tail do not fit in "
            f"max_length={settings.max_length} sub-words)."
        )
    return SplitFeatures(features, encoded, attempted, seconds, cache_file)


def _encode_rows(
    encoder: FrozenRelationEncoder,
    rows: Dataset,
    indices: np.ndarray,
    settings: TokenizationSettings,
    batch_size: int,
    description: str,
) -> np.ndarray:
    subset = rows.select(indices.tolist()).add_column(ROW_COLUMN, list(range(len(indices))))
    tokenized = tokenize_split(subset, encoder.tokenizer, "sentence", settings.max_length, settings.entity_markers)
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
        output[[row[ROW_COLUMN] for row in batch_rows]] = encoder.pair_features(batch).numpy()
    return output


def _save_atomically(
    path: Path, features: np.ndarray, attempted: np.ndarray, encoder: FrozenRelationEncoder, description: str
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    metadata = {"encoder": encoder.name_or_path, "encoder_fingerprint": encoder.fingerprint, "split": description}
    save_file({"features": features, "attempted": attempted.astype(np.uint8)}, str(partial), metadata=metadata)
    partial.replace(path)


__all__ = [
    "SplitFeatures",
    "TokenizationSettings",
    "default_cache_dir",
    "encode_split",
    "feature_cache_key",
    "split_fingerprint",
]
