"""Sub-word tokenization that keeps track of entities, for any fast tokenizer (RoBERTa BPE, BERT WordPiece, ...).

Words are tokenized with ``is_split_into_words=True`` and mapped back with ``word_ids()``, so a word span
``[start, end)`` becomes the token span covering exactly those words' sub-words. Byte-level BPE tokenizers (RoBERTa,
GPT-2) are used with ``add_prefix_space=True`` semantics (`word_level_tokenizer` returns such a copy): every word is
then encoded as it would be after a space in running text, as in pre-training, instead of being glued to the previous
word.

Token spans count from the start of `input_ids`, special tokens included (the model-input contract).

**Long inputs** (`max_length`, 512 by default, special tokens included):
- documents are *truncated* at the end, on a word boundary (no word is split). A mention is kept only if all its
  sub-words survive; an entity whose mentions are all cut off is dropped, and so are the relation triples and the
  entity pairs it takes part in. Every loss is counted per row (`dropped_*` columns), summed in the returned
  `TokenizationStats` and logged as a warning; nothing is dropped silently.
- sentences are cut to a *window of words around the two entities* (centred on them, as much context as fits on both
  sides), so an entity is lost only if head and tail alone do not fit; such rows (and rows whose entity has no
  sub-word at all) are removed, counted in `TokenizationStats.dropped_rows` and logged.

**Entity markers** (sentence level, optional): `EntityMarkers` words are inserted around the head and the tail before
tokenization (default ``<e1> head </e1>`` and ``<e2> tail </e2>``); the entity spans cover the entity words only,
the markers sit just outside. The markers are ordinary text unless `add_entity_marker_tokens` registers them as
special tokens (then resize the model's embeddings by the number it returns).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, Features, List, Value
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging

from ..errors import UsageError
from ..encoding import (
    DEFAULT_ENTITY_MARKERS,
    ENTITY_MARKER_STYLES,
    EntityMarkers,
    WordTokens,
    encode_words,
    insert_entity_markers,
    special_token_frame,
    word_level_tokenizer,
)

logger = logging.get_logger(__name__)

DEFAULT_MAX_LENGTH = 512


@dataclass
class TokenizationStats:
    """What tokenization kept and lost (see the module docstring for the long-input policy).

    Attributes:
        rows: Input rows.
        truncated_rows: Rows cut to `max_length`.
        dropped_rows: Sentence level: rows removed because head or tail could not be represented.
        mentions: Document level: mentions in the input.
        dropped_mentions: Document level: mentions cut off by truncation or without any sub-word.
        dropped_entities: Document level: entities left with no mention.
        dropped_relations: Document level: relation triples whose head or tail was dropped.
        dropped_pairs: Ordered entity pairs lost (document level: pairs with a dropped entity; sentence level: the
            pairs of the dropped rows).
    """

    rows: int = 0
    truncated_rows: int = 0
    dropped_rows: int = 0
    mentions: int = 0
    dropped_mentions: int = 0
    dropped_entities: int = 0
    dropped_relations: int = 0
    dropped_pairs: int = 0

    def log(self) -> None:
        """Log a summary, as a warning when anything was dropped."""
        lost = self.dropped_rows + self.dropped_mentions + self.dropped_entities
        message = ", ".join(f"{item.name} {getattr(self, item.name)}" for item in fields(self))
        (logger.warning if lost else logger.info)(f"Tokenization: {message}.")


def add_entity_marker_tokens(
    tokenizer: PreTrainedTokenizerBase, markers: EntityMarkers = DEFAULT_ENTITY_MARKERS
) -> int:
    """Register the marker words as special tokens (never split). Returns how many are new to the vocabulary:
    call ``model.resize_token_embeddings(len(tokenizer))`` when it is not 0."""
    return tokenizer.add_special_tokens({"extra_special_tokens": markers.tokens()}, replace_extra_special_tokens=False)


def sentence_features_after_tokenization(dataset: Dataset) -> Features:
    """Features of `tokenize_sentences` output: the input's columns minus `tokens`, plus the token columns."""
    features = {name: feature for name, feature in dataset.features.items() if name != "tokens"}
    features.update(
        {
            "input_ids": List(Value("int32")),
            "head_token_span": List(Value("int32"), length=2),
            "tail_token_span": List(Value("int32"), length=2),
            "truncated": Value("bool"),
            "keep": Value("bool"),
        }
    )
    return Features(features)


def tokenize_sentences(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    entity_markers: EntityMarkers | None = None,
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> tuple[Dataset, TokenizationStats]:
    """Tokenize a sentence-level dataset (schema of `finecl_hf.data.schema`).

    Adds `input_ids`, `head_token_span` and `tail_token_span` (``[start, end)`` in `input_ids`) and `truncated`;
    drops `tokens`. Rows whose head or tail cannot be represented are removed and counted (see the module docstring).
    """
    tokenizer = word_level_tokenizer(tokenizer)
    prefix, suffix = special_token_frame(tokenizer)
    budget = max_length - len(prefix) - len(suffix)

    def encode(batch: dict) -> dict:
        heads, tails, batch_words = [], [], []
        for tokens, head, tail in zip(batch["tokens"], batch["head"], batch["tail"]):
            head_span, tail_span = (head["start"], head["end"]), (tail["start"], tail["end"])
            if entity_markers is not None:
                tokens, head_span, tail_span = insert_entity_markers(tokens, head_span, tail_span, entity_markers)
            batch_words.append(tokens)
            heads.append(head_span)
            tails.append(tail_span)
        output: dict[str, list] = {name: [] for name in ("input_ids", "head_token_span", "tail_token_span")}
        output.update(truncated=[], keep=[])
        for words, head, tail in zip(encode_words(tokenizer, batch_words), heads, tails):
            _encode_sentence(words, head, tail, entity_markers is not None, budget, prefix, suffix, output)
        return output

    tokenized = dataset.map(
        encode,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=["tokens"],
        features=sentence_features_after_tokenization(dataset),
        desc="Tokenizing sentences",
    )
    stats = TokenizationStats(rows=len(dataset), truncated_rows=_column_sum(tokenized, "truncated"))
    stats.dropped_rows = stats.dropped_pairs = stats.rows - _column_sum(tokenized, "keep")
    if stats.dropped_rows:
        tokenized = tokenized.filter(lambda keep: keep, input_columns="keep", batched=True, num_proc=num_proc)
    stats.log()
    return tokenized.remove_columns("keep"), stats


def _encode_sentence(
    words: WordTokens,
    head: tuple[int, int],
    tail: tuple[int, int],
    has_markers: bool,
    budget: int,
    prefix: list[int],
    suffix: list[int],
    output: dict[str, list],
) -> None:
    head_tokens, tail_tokens = words.span(*head), words.span(*tail)
    window = None
    if head_tokens is not None and tail_tokens is not None:
        # Keep the markers (one word on each side of an entity) inside the window too.
        margin = 1 if has_markers else 0
        region = words.span(min(head[0], tail[0]) - margin, max(head[1], tail[1]) + margin)
        window = words.window(budget, keep=region)
    keep = window is not None
    left, right = window if keep else (0, 0)
    offset = len(prefix) - left
    output["input_ids"].append(prefix + words.input_ids[left:right] + suffix)
    output["head_token_span"].append([head_tokens[0] + offset, head_tokens[1] + offset] if keep else [0, 0])
    output["tail_token_span"].append([tail_tokens[0] + offset, tail_tokens[1] + offset] if keep else [0, 0])
    output["truncated"].append(keep and right - left < len(words))
    output["keep"].append(keep)


def document_features_after_tokenization(dataset: Dataset) -> Features:
    """Features of `tokenize_documents` output: the input's columns minus `sents`, plus the token columns."""
    features = {name: feature for name, feature in dataset.features.items() if name != "sents"}
    features.update(
        {
            "input_ids": List(Value("int32")),
            "mention_token_spans": List(List(Value("int32"), length=3)),
            "num_entities": Value("int32"),
            "truncated": Value("bool"),
            "num_mentions": Value("int32"),
            "dropped_mentions": Value("int32"),
            "dropped_entities": Value("int32"),
            "dropped_relations": Value("int32"),
            "dropped_pairs": Value("int32"),
        }
    )
    return Features(features)


def tokenize_documents(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    num_proc: int | None = None,
    batch_size: int = 100,
) -> tuple[Dataset, TokenizationStats]:
    """Tokenize a documents dataset (schema of `finecl_hf.data.schema`); row order is kept (row i = document i).

    Adds `input_ids`, `mention_token_spans` (one ``[entity, start, end)`` triple per kept mention, token positions in
    `input_ids`), `num_entities`, `truncated` and the per-row loss counts `num_mentions`, `dropped_mentions`,
    `dropped_entities`, `dropped_relations`, `dropped_pairs`; drops `sents`. Truncation policy: module docstring.
    """
    tokenizer = word_level_tokenizer(tokenizer)
    prefix, suffix = special_token_frame(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    new_columns = [name for name in document_features_after_tokenization(dataset) if name not in dataset.column_names]

    def encode(batch: dict) -> dict:
        batch_words = [[word for sentence in sents for word in sentence] for sents in batch["sents"]]
        encoded = encode_words(tokenizer, batch_words)
        output: dict[str, list] = {name: [] for name in new_columns}
        for words, sents, entities, relations in zip(encoded, batch["sents"], batch["entities"], batch["relations"]):
            _encode_document(words, sents, entities, relations, budget, prefix, suffix, output)
        return output

    tokenized = dataset.map(
        encode,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        remove_columns=["sents"],
        features=document_features_after_tokenization(dataset),
        desc="Tokenizing documents",
    )
    stats = TokenizationStats(rows=len(tokenized))
    for name in (
        "truncated_rows",
        "mentions",
        "dropped_mentions",
        "dropped_entities",
        "dropped_relations",
        "dropped_pairs",
    ):
        column = {"truncated_rows": "truncated", "mentions": "num_mentions"}.get(name, name)
        setattr(stats, name, _column_sum(tokenized, column))
    stats.log()
    return tokenized, stats


def _encode_document(
    words: WordTokens,
    sents: list[list[str]],
    entities: list[dict],
    relations: list[dict],
    budget: int,
    prefix: list[int],
    suffix: list[int],
    output: dict[str, list],
) -> None:
    sentence_offsets = np.cumsum([0] + [len(sentence) for sentence in sents])
    _, cut = words.window(budget)
    spans, num_mentions = [], 0
    for entity_index, entity in enumerate(entities):
        for mention in entity["mentions"]:
            num_mentions += 1
            offset = sentence_offsets[mention["sent_id"]]
            token_span = words.span(offset + mention["start"], offset + mention["end"])
            if token_span is not None and token_span[1] <= cut:
                spans.append([entity_index, token_span[0] + len(prefix), token_span[1] + len(prefix)])
    kept = {span[0] for span in spans}
    dropped = len(entities) - len(kept)
    output["input_ids"].append(prefix + words.input_ids[:cut] + suffix)
    output["mention_token_spans"].append(spans)
    output["num_entities"].append(len(entities))
    output["truncated"].append(cut < len(words))
    output["num_mentions"].append(num_mentions)
    output["dropped_mentions"].append(num_mentions - len(spans))
    output["dropped_entities"].append(dropped)
    output["dropped_relations"].append(sum(r["head"] not in kept or r["tail"] not in kept for r in relations))
    output["dropped_pairs"].append(len(entities) * (len(entities) - 1) - len(kept) * (len(kept) - 1))


def _column_sum(dataset: Dataset, column: str) -> int:
    values = dataset.data.column(column)
    return int(pc.sum(pc.cast(values, pa.int64())).as_py() or 0)


def entity_markers(style: str) -> EntityMarkers | None:
    """The `EntityMarkers` of a `--entity_markers` style (`None` for `"none"`)."""
    if style == "none":
        return None
    if style not in ENTITY_MARKER_STYLES:
        raise UsageError(f"entity_markers={style!r} must be one of 'none', {', '.join(map(repr, ENTITY_MARKER_STYLES))}.")
    return ENTITY_MARKER_STYLES[style]


def tokenize_split(
    rows: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    relation_level: str,
    max_length: int,
    markers: str = "none",
    num_proc: int | None = None,
) -> Dataset:
    """Tokenize one split for `relation_level` with `finecl_hf.data.tokenization` (its statistics are logged there)."""
    if relation_level == "document":
        return tokenize_documents(rows, tokenizer, max_length=max_length, num_proc=num_proc)[0]
    markers = entity_markers(markers)
    return tokenize_sentences(rows, tokenizer, max_length=max_length, entity_markers=markers, num_proc=num_proc)[0]


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "TokenizationStats",
    "add_entity_marker_tokens",
    "document_features_after_tokenization",
    "entity_markers",
    "sentence_features_after_tokenization",
    "tokenize_documents",
    "tokenize_sentences",
    "tokenize_split",
]
