"""Word → sub-word encoding shared by stage 3's data layer and the `relation-extraction` pipeline: entity markers,
word-level tokenization with each word's sub-word span, the special tokens around a sequence, word-aligned windows.

This module is copied beside every saved FineCL model together with `pipelines.py`, which imports it (relatively), so
the pipeline encodes raw text by the same rules as `finecl_hf.data.tokenization` encodes training data, and a saved
folder still runs where finecl-hf is not installed (`trust_remote_code=True`). It therefore imports only numpy,
tokenizers and transformers.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import pre_tokenizers
from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class EntityMarkers:
    """Marker words put around the head and tail of a sentence-level example."""

    head_start: str = "<e1>"
    head_end: str = "</e1>"
    tail_start: str = "<e2>"
    tail_end: str = "</e2>"

    def tokens(self) -> list[str]:
        return list(dict.fromkeys([self.head_start, self.head_end, self.tail_start, self.tail_end]))


DEFAULT_ENTITY_MARKERS = EntityMarkers()
# Zhou & Chen (2022)'s "entity marker (punct)": no new vocabulary needed.
PUNCT_ENTITY_MARKERS = EntityMarkers("@", "@", "#", "#")
# `--entity_markers` styles of stage 3 (`none` inserts nothing): `special` registers the default words as tokens.
ENTITY_MARKER_STYLES = {"text": DEFAULT_ENTITY_MARKERS, "special": DEFAULT_ENTITY_MARKERS, "punct": PUNCT_ENTITY_MARKERS}


def word_level_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """`tokenizer`, or a copy of it with ``add_prefix_space=True`` when it is a byte-level BPE without it.

    Raises `ValueError` for a slow (Python) tokenizer: word alignment needs ``word_ids()``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer: word alignment needs `word_ids()`.")
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    parts = list(pre_tokenizer) if isinstance(pre_tokenizer, pre_tokenizers.Sequence) else [pre_tokenizer]
    if not any(isinstance(part, pre_tokenizers.ByteLevel) and not part.add_prefix_space for part in parts):
        return tokenizer
    tokenizer = copy.deepcopy(tokenizer)
    pre_tokenizer = tokenizer.backend_tokenizer.pre_tokenizer
    for part in list(pre_tokenizer) if isinstance(pre_tokenizer, pre_tokenizers.Sequence) else [pre_tokenizer]:
        if isinstance(part, pre_tokenizers.ByteLevel):
            part.add_prefix_space = True
    tokenizer.add_prefix_space = True
    return tokenizer


def special_token_frame(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after a single sequence (``[CLS]``/``[SEP]``, ...)."""
    encoding = tokenizer(["x"], is_split_into_words=True)
    word_ids = encoding.word_ids()
    first = word_ids.index(0)
    last = len(word_ids) - 1 - word_ids[::-1].index(0)
    return encoding["input_ids"][:first], encoding["input_ids"][last + 1 :]


class WordTokens:
    """Sub-words of a word sequence (no special tokens) with, for each word, its token span (-1 when it has none)."""

    def __init__(self, input_ids: list[int], word_ids: Sequence[int], num_words: int):
        self.input_ids = input_ids
        self.word_ids = np.asarray(word_ids, dtype=np.int64)
        self.first = np.full(num_words, -1, dtype=np.int64)
        self.end = np.full(num_words, -1, dtype=np.int64)
        if len(self.word_ids):
            starts = np.flatnonzero(np.r_[True, self.word_ids[1:] != self.word_ids[:-1]])
            self.first[self.word_ids[starts]] = starts
            self.end[self.word_ids[starts]] = np.r_[starts[1:], len(self.word_ids)]

    def __len__(self) -> int:
        return len(self.input_ids)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """Token span of words ``[start, end)``, or None when none of them has a sub-word."""
        with_tokens = np.flatnonzero(self.first[start:end] >= 0)
        if not len(with_tokens):
            return None
        return int(self.first[start + with_tokens[0]]), int(self.end[start + with_tokens[-1]])

    def word_boundary_at_or_before(self, position: int) -> int:
        """The largest token position <= `position` where a word starts (or the sequence ends)."""
        while 0 < position < len(self) and self.word_ids[position] == self.word_ids[position - 1]:
            position -= 1
        return position

    def word_boundary_at_or_after(self, position: int) -> int:
        """The smallest token position >= `position` where a word starts (or the sequence ends)."""
        while 0 < position < len(self) and self.word_ids[position] == self.word_ids[position - 1]:
            position += 1
        return position

    def window(self, budget: int, keep: tuple[int, int] | None = None) -> tuple[int, int] | None:
        """Word-aligned token window ``[left, right)`` of at most `budget` tokens.

        Without `keep`, the window starts at 0 (truncation at the end). With `keep` (a token span that must stay
        inside), the context left over is shared between both sides; `None` when `keep` does not fit.
        """
        if len(self) <= budget:
            return 0, len(self)
        if keep is None:
            return 0, self.word_boundary_at_or_before(budget)
        keep_left, keep_right = keep
        if keep_right - keep_left > budget:
            return None
        spare = budget - (keep_right - keep_left)
        left = max(0, keep_left - spare // 2)
        right = min(len(self), left + budget)
        left = max(0, right - budget)
        return self.word_boundary_at_or_after(left), self.word_boundary_at_or_before(right)


def encode_words(tokenizer: PreTrainedTokenizerBase, batch_words: list[list[str]]) -> list[WordTokens]:
    """Tokenize a batch of word lists without special tokens nor truncation."""
    encoding = tokenizer(batch_words, is_split_into_words=True, add_special_tokens=False, verbose=False)
    return [
        WordTokens(encoding["input_ids"][index], encoding.word_ids(index), len(words))
        for index, words in enumerate(batch_words)
    ]


def insert_entity_markers(
    tokens: list[str], head: tuple[int, int], tail: tuple[int, int], markers: EntityMarkers
) -> tuple[list[str], tuple[int, int], tuple[int, int]]:
    """Insert marker words around the head and tail word spans; returns the new words and the entities' new spans."""
    # At one position, closing markers go before opening ones ("</e1> <e2>" when the tail follows the head directly).
    inserts = sorted(
        [
            (head[0], 1, markers.head_start),
            (head[1], 0, markers.head_end),
            (tail[0], 1, markers.tail_start),
            (tail[1], 0, markers.tail_end),
        ]
    )
    words: list[str] = []
    position = 0
    for index, _, marker in inserts:
        words.extend(tokens[position:index])
        words.append(marker)
        position = index
    words.extend(tokens[position:])

    def shifted(span: tuple[int, int]) -> tuple[int, int]:
        start = span[0] + sum(index <= span[0] for index, _, _ in inserts)
        return start, start + span[1] - span[0]

    return words, shifted(head), shifted(tail)


__all__ = [
    "DEFAULT_ENTITY_MARKERS",
    "ENTITY_MARKER_STYLES",
    "PUNCT_ENTITY_MARKERS",
    "EntityMarkers",
    "WordTokens",
    "encode_words",
    "insert_entity_markers",
    "special_token_frame",
    "word_level_tokenizer",
]
