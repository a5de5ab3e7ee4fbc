"""`FineCLPreTrainingCollator`: per-document examples → one `FineCLForPreTraining.forward` batch (paper §3.2, A.2).

Each document of the batch is used twice:

- **Relation discrimination + MLM** (`input_ids`, `labels`, `relation_*`): the document, MLM-masked, with all its
  relation instances plus up to `max_no_relation_pairs_per_document` sampled no-relation pairs. Positives and
  negatives come from `sample_contrastive_pairs` (same relation in another document / other relations, excluding
  same-document pairs sharing the head or tail). MLM masks `mlm_probability` of the tokens that are neither special,
  padding nor part of any entity mention, 80% `[MASK]` / 10% random token / 10% unchanged.
- **Entity discrimination** (`ed_*`): the unmasked document prefixed with `relation name + head mention + [SEP]` for
  one of its relation triples drawn at random; the query is the head entity (mean of its mentions in the document),
  the candidates are the document's other entities and the target is the tail. Other gold tails of the same
  (head, relation) are left out of the candidates: they would be false negatives.

Randomness comes from a generator seeded with `seed` and the batch's document indices, so a batch is the same on
every run, with any number of data-loader workers or processes, and after resuming.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from ..constants import IGNORE_INDEX
from ..losses import NO_INDEX
from .sampling import sample_contrastive_pairs

MASK_SHARE = 0.8  # of the selected tokens, replaced by the mask token
RANDOM_SHARE = 0.1  # replaced by a random token; the remaining 10% stay unchanged


@dataclass(frozen=True)
class SequenceLayout:
    """The special tokens a tokenizer puts around one sequence and around a pair (e.g. `[CLS] A [SEP] B [SEP]`,
    `<s> A </s></s> B </s>`), read from the tokenizer itself so any fast tokenizer works."""

    single_prefix: tuple[int, ...]
    single_suffix: tuple[int, ...]
    pair_prefix: tuple[int, ...]
    pair_middle: tuple[int, ...]
    pair_suffix: tuple[int, ...]
    second_segment_type_id: int
    uses_token_type_ids: bool

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> SequenceLayout:
        single = tokenizer("a")
        single_ids, single_sequence = single["input_ids"], single.sequence_ids()
        pair = tokenizer("a", "b", return_token_type_ids=True)
        pair_ids, pair_sequence = pair["input_ids"], pair.sequence_ids()
        if 0 not in single_sequence or 1 not in pair_sequence:
            raise ValueError(f"Cannot read the special-token layout of {type(tokenizer).__name__}: it encodes no text.")
        first_a, last_a = single_sequence.index(0), len(single_sequence) - 1 - single_sequence[::-1].index(0)
        pair_first_a = pair_sequence.index(0)
        pair_last_a = len(pair_sequence) - 1 - pair_sequence[::-1].index(0)
        pair_first_b = pair_sequence.index(1)
        pair_last_b = len(pair_sequence) - 1 - pair_sequence[::-1].index(1)
        return cls(
            single_prefix=tuple(single_ids[:first_a]),
            single_suffix=tuple(single_ids[last_a + 1 :]),
            pair_prefix=tuple(pair_ids[:pair_first_a]),
            pair_middle=tuple(pair_ids[pair_last_a + 1 : pair_first_b]),
            pair_suffix=tuple(pair_ids[pair_last_b + 1 :]),
            second_segment_type_id=int(pair["token_type_ids"][pair_first_b]),
            uses_token_type_ids="token_type_ids" in tokenizer.model_input_names,
        )


@dataclass
class _Document:
    """One example after entity renumbering: global entity ids of the batch, and its kept relation instances."""

    row: int
    feature: dict[str, Any]
    entities: np.ndarray  # document-local ids of the entities that kept a mention, sorted
    entity_offset: int  # global id of entities[0]
    instances: np.ndarray  # positions into the feature's instance arrays


@dataclass
class _QueryExample:
    """One entity-discrimination sequence: `relation name + head mention + [SEP]` + the document."""

    input_ids: np.ndarray
    second_segment_start: int  # where the document starts (token type 1 for BERT-style tokenizers)
    spans: np.ndarray  # [mentions, 2] token spans of the document's mentions that fit
    mention_entities: np.ndarray  # document-local entity of each span
    head: int
    tail: int
    other_gold_tails: np.ndarray  # other tails of (head, relation): neither target nor negative


class FineCLPreTrainingCollator:
    """Builds `FineCLForPreTraining` batches from `FineCLPreTrainingDataset` items (see the module docstring).

    Args:
        tokenizer: the fast tokenizer the documents were tokenized with.
        relation_names: natural-language name of every relation class id (the entity-discrimination query).
        no_relation_id: class id of the no-relation label (never an anchor nor an ED query), or `None`.
        num_negatives: maximum negatives per RD anchor (paper: 64).
        mlm_probability: share of maskable tokens selected for MLM (paper: 0.15).
        max_no_relation_pairs_per_document: no-relation pairs sampled per document for RD (original: 32).
        max_length: maximum length of the entity-discrimination sequences (query included).
        pad_to_multiple_of: pad sequence lengths to a multiple of this (8 helps tensor cores).
        seed: base seed of all sampling.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        relation_names: Sequence[str],
        no_relation_id: int | None,
        *,
        num_negatives: int = 64,
        mlm_probability: float = 0.15,
        max_no_relation_pairs_per_document: int = 32,
        max_length: int = 512,
        pad_to_multiple_of: int | None = None,
        seed: int = 0,
    ):
        if tokenizer.mask_token_id is None or tokenizer.pad_token_id is None:
            raise ValueError(f"{type(tokenizer).__name__} needs a mask and a padding token for MLM.")
        if not 0 < mlm_probability < 1:
            raise ValueError(f"mlm_probability={mlm_probability} is invalid: it must be in (0, 1).")
        if num_negatives < 1 or max_no_relation_pairs_per_document < 0:
            raise ValueError("num_negatives must be >= 1 and max_no_relation_pairs_per_document >= 0.")
        self.tokenizer = tokenizer
        self.layout = SequenceLayout.from_tokenizer(tokenizer)
        self.relation_name_ids = [
            np.asarray(tokenizer(name, add_special_tokens=False)["input_ids"], dtype=np.int64)
            for name in relation_names
        ]
        self.no_relation_id = no_relation_id
        self.num_negatives = num_negatives
        self.mlm_probability = mlm_probability
        self.max_no_relation_pairs_per_document = max_no_relation_pairs_per_document
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.seed = seed
        self.special_ids = np.asarray(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        vocabulary = np.arange(len(tokenizer))
        self.replacement_ids = vocabulary[~np.isin(vocabulary, self.special_ids)]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, *(int(f["document_index"]) for f in features)])
        documents = self._index_documents(features, rng)
        batch = self._relation_discrimination_inputs(documents, rng)
        batch.update(self._entity_discrimination_inputs(documents, rng))
        return batch

    # ------------------------------------------------------------------------------------------------------------------
    # Entities and instances

    def _index_documents(self, features: list[dict[str, Any]], rng: np.random.Generator) -> list[_Document]:
        documents, offset = [], 0
        for row, feature in enumerate(features):
            entities = np.unique(np.asarray(feature["mention_entities"], dtype=np.int64))
            relations = np.asarray(feature["instance_relations"])
            kept = np.isin(feature["instance_heads"], entities) & np.isin(feature["instance_tails"], entities)
            is_no_relation = (
                relations == self.no_relation_id if self.no_relation_id is not None else np.zeros_like(kept)
            )
            positives = np.flatnonzero(kept & ~is_no_relation)
            no_relation = rng.permutation(np.flatnonzero(kept & is_no_relation))
            no_relation = np.sort(no_relation[: self.max_no_relation_pairs_per_document])
            documents.append(_Document(row, feature, entities, offset, np.concatenate([positives, no_relation])))
            offset += entities.shape[0]
        return documents

    def _relation_discrimination_inputs(self, documents: list[_Document], rng: np.random.Generator) -> dict:
        input_ids, attention_mask = self._pad([d.feature["input_ids"] for d in documents])
        spans, mention_entities = [], []
        heads, tails, local_heads, local_tails, relations, epochs, weights, document_ids = ([] for _ in range(8))
        for document in documents:
            feature = document.feature
            starts, ends = np.asarray(feature["mention_starts"]), np.asarray(feature["mention_ends"])
            spans.append(np.stack([np.full_like(starts, document.row), starts, ends], axis=1))
            mention_entities.append(
                document.entity_offset + np.searchsorted(document.entities, feature["mention_entities"])
            )
            chosen = document.instances
            local_heads.append(np.asarray(feature["instance_heads"])[chosen])
            local_tails.append(np.asarray(feature["instance_tails"])[chosen])
            heads.append(document.entity_offset + np.searchsorted(document.entities, local_heads[-1]))
            tails.append(document.entity_offset + np.searchsorted(document.entities, local_tails[-1]))
            relations.append(np.asarray(feature["instance_relations"])[chosen])
            epochs.append(np.asarray(feature["instance_learned_epochs"])[chosen])
            if "instance_weights" in feature:
                weights.append(np.asarray(feature["instance_weights"], dtype=np.float32)[chosen])
            document_ids.append(np.full(chosen.shape[0], int(feature["document_index"])))
        spans = np.concatenate(spans).astype(np.int64).reshape(-1, 3)
        labels, input_ids = self._mask_tokens(input_ids, attention_mask, spans, rng)
        batch = {"input_ids": _long(input_ids), "attention_mask": _long(attention_mask), "labels": _long(labels)}
        if spans.shape[0] == 0:
            return batch  # no entity survived: MLM only
        batch["mention_spans"] = _long(spans)
        batch["mention_entity_ids"] = _long(np.concatenate(mention_entities))
        relations = np.concatenate(relations).astype(np.int64)
        if relations.shape[0] == 0:
            return batch
        positive_index, negative_index = sample_contrastive_pairs(
            np.concatenate(document_ids),
            np.concatenate(local_heads),
            np.concatenate(local_tails),
            relations,
            no_relation_id=self.no_relation_id,
            num_negatives=self.num_negatives,
            rng=rng,
        )
        batch["relation_entity_ids"] = _long(np.stack([np.concatenate(heads), np.concatenate(tails)], axis=1))
        batch["relation_learned_epochs"] = _long(np.concatenate(epochs))
        if weights:
            if len(weights) != len(documents):
                raise ValueError("Some documents of the batch carry `instance_weights` and others do not.")
            batch["relation_weights"] = torch.from_numpy(np.concatenate(weights))
        batch["relation_positive_index"] = _long(positive_index)
        batch["relation_negative_index"] = _long(negative_index)
        no_relation = (
            relations == self.no_relation_id if self.no_relation_id is not None else np.zeros_like(relations, bool)
        )
        batch["relation_is_no_relation"] = torch.from_numpy(no_relation)
        return batch

    # ------------------------------------------------------------------------------------------------------------------
    # MLM

    def _mask_tokens(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, spans: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """`(labels, masked input_ids)`; entity-mention, special and padding tokens are never selected."""
        rows, length = input_ids.shape
        # Mark mention tokens with a difference array: +1 at each span start, -1 at its end, then a running sum.
        inside = np.zeros((rows, length + 1), dtype=np.int64)
        np.add.at(inside, (spans[:, 0], spans[:, 1]), 1)
        np.add.at(inside, (spans[:, 0], spans[:, 2]), -1)
        in_mention = np.cumsum(inside, axis=1)[:, :length] > 0
        maskable = attention_mask.astype(bool) & ~np.isin(input_ids, self.special_ids) & ~in_mention
        selected = maskable & (rng.random((rows, length)) < self.mlm_probability)
        if not selected.any() and maskable.any():
            # Tiny batches: always predict at least one token, so the MLM head takes part in every step (DDP).
            candidates = np.flatnonzero(maskable)
            selected.flat[candidates[rng.integers(candidates.shape[0])]] = True
        labels = np.where(selected, input_ids, IGNORE_INDEX)
        roll = rng.random((rows, length))
        masked = input_ids.copy()
        masked[selected & (roll < MASK_SHARE)] = self.tokenizer.mask_token_id
        replaced = selected & (roll >= MASK_SHARE) & (roll < MASK_SHARE + RANDOM_SHARE)
        masked[replaced] = rng.choice(self.replacement_ids, size=int(replaced.sum()))
        return labels, masked

    # ------------------------------------------------------------------------------------------------------------------
    # Entity discrimination

    def _entity_discrimination_inputs(self, documents: list[_Document], rng: np.random.Generator) -> dict:
        sequences, type_ids, spans, mention_entities, queries, candidates, targets = ([] for _ in range(7))
        offset = 0
        for document in documents:
            example = self._entity_discrimination_example(document, rng)
            if example is None:
                continue
            row = len(sequences)
            entities, local = np.unique(example.mention_entities, return_inverse=True)
            sequences.append(example.input_ids)
            positions = np.arange(example.input_ids.shape[0])
            type_ids.append(np.where(positions >= example.second_segment_start, self.layout.second_segment_type_id, 0))
            spans.append(np.concatenate([np.full((example.spans.shape[0], 1), row), example.spans], axis=1))
            mention_entities.append(offset + local)
            others = entities[(entities != example.head) & ~np.isin(entities, example.other_gold_tails)]
            queries.append(offset + int(np.searchsorted(entities, example.head)))
            candidates.append(offset + np.searchsorted(entities, others))
            targets.append(int(np.flatnonzero(others == example.tail)[0]))
            offset += entities.shape[0]
        if not sequences:
            return {}
        input_ids, attention_mask = self._pad(sequences)
        width = max(c.shape[0] for c in candidates)
        candidate_ids = np.full((len(candidates), width), NO_INDEX, dtype=np.int64)
        for row, row_candidates in enumerate(candidates):
            candidate_ids[row, : row_candidates.shape[0]] = row_candidates
        batch = {
            "ed_input_ids": _long(input_ids),
            "ed_attention_mask": _long(attention_mask),
            "ed_mention_spans": _long(np.concatenate(spans)),
            "ed_mention_entity_ids": _long(np.concatenate(mention_entities)),
            "ed_query_entity_ids": _long(np.asarray(queries)),
            "ed_candidate_entity_ids": _long(candidate_ids),
            "ed_target_index": _long(np.asarray(targets)),
        }
        if self.layout.uses_token_type_ids:
            batch["ed_token_type_ids"] = _long(self._pad(type_ids, pad_value=0)[0])
        return batch

    def _entity_discrimination_example(self, document: _Document, rng: np.random.Generator) -> _QueryExample | None:
        """The prefixed sequence of one document for a random triple whose head and tail fit, or `None`."""
        feature, layout = document.feature, self.layout
        relations = np.asarray(feature["instance_relations"])
        heads, tails = np.asarray(feature["instance_heads"]), np.asarray(feature["instance_tails"])
        triples = document.instances[heads[document.instances] != tails[document.instances]]
        if self.no_relation_id is not None:
            triples = triples[relations[triples] != self.no_relation_id]
        ids = np.asarray(feature["input_ids"], dtype=np.int64)
        content = ids[len(layout.single_prefix) : ids.shape[0] - len(layout.single_suffix)]
        starts, ends = np.asarray(feature["mention_starts"]), np.asarray(feature["mention_ends"])
        mention_entities = np.asarray(feature["mention_entities"])
        for triple in rng.permutation(triples):
            head, tail, relation = int(heads[triple]), int(tails[triple]), int(relations[triple])
            first_head_mention = np.flatnonzero(mention_entities == head)[0]
            query = np.concatenate(
                [self.relation_name_ids[relation], ids[starts[first_head_mention] : ends[first_head_mention]]]
            )[: self.max_length // 4]
            before = len(layout.pair_prefix) + query.shape[0] + len(layout.pair_middle)
            budget = self.max_length - before - len(layout.pair_suffix)
            shift = before - len(layout.single_prefix)
            fits = ends - len(layout.single_prefix) <= budget
            if not (np.any(fits & (mention_entities == head)) and np.any(fits & (mention_entities == tail))):
                continue  # the query pushed the head or tail past max_length; try another triple
            sequence = np.concatenate(
                [layout.pair_prefix, query, layout.pair_middle, content[:budget], layout.pair_suffix]
            ).astype(np.int64)
            same_query = (heads[triples] == head) & (relations[triples] == relation)
            return _QueryExample(
                input_ids=sequence,
                second_segment_start=before,
                spans=np.stack([starts[fits] + shift, ends[fits] + shift], axis=1),
                mention_entities=mention_entities[fits],
                head=head,
                tail=tail,
                other_gold_tails=np.setdiff1d(tails[triples][same_query], [tail]),
            )
        return None

    # ------------------------------------------------------------------------------------------------------------------

    def _pad(self, sequences: list, pad_value: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Right-pad to the longest sequence (rounded up to `pad_to_multiple_of`): `(ids, attention_mask)`."""
        pad_value = self.tokenizer.pad_token_id if pad_value is None else pad_value
        length = max(len(sequence) for sequence in sequences)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        ids = np.full((len(sequences), length), pad_value, dtype=np.int64)
        mask = np.zeros((len(sequences), length), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        return ids, mask


def _long(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64))


__all__ = ["FineCLPreTrainingCollator", "SequenceLayout"]
