"""Collators turning tokenized rows into the model-input contract of `finecl_hf.modeling`.

Every batch holds `input_ids` and `attention_mask` ``[B, L]`` (right padding, via the tokenizer's `pad`),
`mention_spans` ``[M, 3]`` (batch row, first token, end token exclusive), `mention_entity_ids` ``[M]`` (batch-global
entity index, every entity has >= 1 mention), `pair_entity_ids` ``[P, 2]`` (head, tail) and `labels`:

- `SentenceRelationCollator`: rows of `tokenize_sentences`; one pair per row (P == B), entities 2i (head) and 2i + 1
  (tail); `labels` LongTensor ``[P]``.
- `DocumentRelationCollator`: rows of `tokenize_documents`; every ordered pair (h != t) of the entities that kept a
  mention, in row-major order (h, then t); `labels` FloatTensor ``[P, R]`` multi-hot, column 0 = no-relation set for
  pairs without relation.
- `RelationInstanceCollator`: rows of the relation-instance view; each distinct document of the batch is encoded once,
  one pair per instance; `labels` LongTensor ``[P]``.

Extra keys that the model does not accept (pair metadata, instance uids) are only added on request or documented as
such; `split_model_inputs(batch)` separates them so that ``model(**inputs)`` works. Collators receive the rows of a
batch only; `RelationInstanceCollator` reads the documents it needs from an Arrow-backed `Dataset` per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow.compute as pc
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging

logger = logging.get_logger(__name__)

MODEL_INPUT_KEYS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "mention_spans",
    "mention_entity_ids",
    "pair_entity_ids",
    "labels",
)
PAIR_METADATA_KEYS = ("pair_document_index", "pair_local_entity_ids", "document_uids")
INSTANCE_UIDS_KEY = "instance_uids"


def split_model_inputs(batch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a collated batch into (model inputs, metadata such as pair metadata or instance uids)."""
    inputs = {key: value for key, value in batch.items() if key in MODEL_INPUT_KEYS}
    metadata = {key: value for key, value in batch.items() if key not in MODEL_INPUT_KEYS}
    return inputs, metadata


class _TokenBatchCollator:
    """Padding shared by the collators: right padding of `input_ids` with the tokenizer's `pad`."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, pad_to_multiple_of: int | None = None):
        if tokenizer.pad_token_id is None:
            raise ValueError(f"{type(tokenizer).__name__} has no pad token; set `tokenizer.pad_token` first.")
        self.tokenizer = tokenizer
        self.pad_to_multiple_of = pad_to_multiple_of

    def pad(self, input_ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        padded = self.tokenizer.pad(
            {"input_ids": [list(ids) for ids in input_ids]},
            padding=True,
            pad_to_multiple_of=self.pad_to_multiple_of,
            padding_side="right",
            return_attention_mask=True,
            return_tensors="pt",
        )
        return {"input_ids": padded["input_ids"].long(), "attention_mask": padded["attention_mask"].long()}


class SentenceRelationCollator(_TokenBatchCollator):
    """Batches rows of `tokenize_sentences` (needs `input_ids`, `head_token_span`, `tail_token_span` and the label).

    Args:
        tokenizer: The tokenizer used for `tokenize_sentences` (for its pad token).
        label_column: Column holding the class id (`relation`); rows without it get no `labels`.
        pad_to_multiple_of: Optional padding multiple (e.g. 8 for tensor cores).
    """

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, label_column: str = "relation", pad_to_multiple_of: int | None = None
    ):
        super().__init__(tokenizer, pad_to_multiple_of)
        self.label_column = label_column

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.pad([row["input_ids"] for row in rows])
        spans = []
        for index, row in enumerate(rows):
            spans.append([index, *row["head_token_span"]])
            spans.append([index, *row["tail_token_span"]])
        batch["mention_spans"] = torch.tensor(spans, dtype=torch.long)
        batch["mention_entity_ids"] = torch.arange(2 * len(rows), dtype=torch.long)
        batch["pair_entity_ids"] = batch["mention_entity_ids"].view(-1, 2).clone()
        if all(self.label_column in row for row in rows):
            batch["labels"] = torch.tensor([row[self.label_column] for row in rows], dtype=torch.long)
        return batch


def _entity_mentions(mention_token_spans: Sequence[Sequence[int]]) -> dict[int, list[tuple[int, int]]]:
    """Entity index -> its kept mention token spans, from `tokenize_documents`' `mention_token_spans`."""
    mentions: dict[int, list[tuple[int, int]]] = {}
    for entity, start, end in mention_token_spans:
        mentions.setdefault(entity, []).append((start, end))
    return mentions


class DocumentRelationCollator(_TokenBatchCollator):
    """Batches rows of `tokenize_documents` for document-level relation extraction.

    Pairs are all ordered pairs (h != t) of the entities that kept at least one mention (entities lost to truncation
    are counted by `tokenize_documents`); labels are multi-hot ``[P, num_labels]`` with column 0 (no-relation) set
    for pairs without relation.

    Args:
        tokenizer: The tokenizer used for `tokenize_documents`.
        num_labels: R, the number of relation classes including no-relation (`ClassLabel.num_classes`).
        relations_column: Column holding the triples (`relations`); rows without it get no `labels`.
        return_pair_metadata: Also return `pair_document_index` ``[P]`` (batch row of each pair),
            `pair_local_entity_ids` ``[P, 2]`` (entity indices within the document) and `document_uids`, for
            evaluation. These keys are not model inputs: separate them with `split_model_inputs` before the forward.
        pad_to_multiple_of: Optional padding multiple.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        num_labels: int,
        relations_column: str = "relations",
        return_pair_metadata: bool = False,
        pad_to_multiple_of: int | None = None,
    ):
        super().__init__(tokenizer, pad_to_multiple_of)
        if num_labels < 2:
            raise ValueError(f"num_labels must count no-relation and at least one relation, got {num_labels}.")
        self.num_labels = num_labels
        self.relations_column = relations_column
        self.return_pair_metadata = return_pair_metadata

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.pad([row["input_ids"] for row in rows])
        spans, mention_entities, pairs, local_pairs, pair_rows, labels = [], [], [], [], [], []
        with_labels = all(self.relations_column in row for row in rows)
        next_entity = 0
        for index, row in enumerate(rows):
            mentions = _entity_mentions(row["mention_token_spans"])
            global_ids = {}
            for entity in sorted(mentions):
                global_ids[entity] = next_entity
                for start, end in mentions[entity]:
                    spans.append([index, start, end])
                    mention_entities.append(next_entity)
                next_entity += 1
            row_pairs = [(head, tail) for head in global_ids for tail in global_ids if head != tail]
            pairs.extend((global_ids[head], global_ids[tail]) for head, tail in row_pairs)
            local_pairs.extend(row_pairs)
            pair_rows.extend([index] * len(row_pairs))
            if with_labels:
                labels.append(self._pair_labels(row[self.relations_column], row_pairs))
        batch["mention_spans"] = torch.tensor(spans, dtype=torch.long).view(-1, 3)
        batch["mention_entity_ids"] = torch.tensor(mention_entities, dtype=torch.long)
        batch["pair_entity_ids"] = torch.tensor(pairs, dtype=torch.long).view(-1, 2)
        if with_labels:
            batch["labels"] = torch.cat(labels) if labels else torch.zeros(0, self.num_labels)
        if self.return_pair_metadata:
            batch["pair_document_index"] = torch.tensor(pair_rows, dtype=torch.long)
            batch["pair_local_entity_ids"] = torch.tensor(local_pairs, dtype=torch.long).view(-1, 2)
            batch["document_uids"] = [row.get("uid") for row in rows]
        return batch

    def _pair_labels(self, triples: Sequence[dict], pairs: list[tuple[int, int]]) -> torch.Tensor:
        labels = torch.zeros(len(pairs), self.num_labels)
        position = {pair: index for index, pair in enumerate(pairs)}
        for triple in triples:
            pair = position.get((triple["head"], triple["tail"]))
            relation = triple["relation"]
            if not 0 <= relation < self.num_labels:
                raise ValueError(
                    f"Relation id {relation} of triple {triple.get('uid')!r} is outside 0..{self.num_labels - 1}."
                )
            if pair is not None and relation != 0:
                labels[pair, relation] = 1.0
        labels[:, 0] = (labels[:, 1:].sum(dim=1) == 0).float()
        return labels


class RelationInstanceCollator(_TokenBatchCollator):
    """Batches rows of the relation-instance view (learning-order stage 1).

    Each distinct `document_index` of the batch is read from `documents` (the output of `tokenize_documents` for the
    same split) and encoded once; each instance becomes one (head, tail) pair and its class id in `labels` ``[P]``.
    Only the entities the instances use are pooled. The batch also carries the instances' `uid`s under
    `INSTANCE_UIDS_KEY` (``"instance_uids"``, a list of strings, not a model input): the stage-1 trainer pops it
    before the forward to record which instance each prediction belongs to (see `split_model_inputs`).

    An instance whose head or tail lost all mentions to truncation raises `ValueError`; remove such instances
    beforehand with `drop_instances_without_mentions`, which counts them.

    Args:
        tokenizer: The tokenizer used for `tokenize_documents`.
        documents: The tokenized documents (Arrow-backed; rows are fetched per batch).
        return_instance_uids: Add `instance_uids` to the batch.
        pad_to_multiple_of: Optional padding multiple.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        documents: Dataset,
        return_instance_uids: bool = True,
        pad_to_multiple_of: int | None = None,
    ):
        super().__init__(tokenizer, pad_to_multiple_of)
        missing = {"input_ids", "mention_token_spans"} - set(documents.column_names)
        if missing:
            raise ValueError(
                f"`documents` must be the output of `tokenize_documents`; missing columns {sorted(missing)}."
            )
        self.documents = documents.select_columns(["input_ids", "mention_token_spans"])
        self.return_instance_uids = return_instance_uids

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        document_indices = list(dict.fromkeys(int(row["document_index"]) for row in rows))
        documents = self.documents[document_indices]
        batch = self.pad(documents["input_ids"])
        mentions_by_row = [_entity_mentions(spans) for spans in documents["mention_token_spans"]]
        row_of_document = {document: row for row, document in enumerate(document_indices)}
        spans, mention_entities, pairs = [], [], []
        global_ids: dict[tuple[int, int], int] = {}
        for row in rows:
            batch_row = row_of_document[int(row["document_index"])]
            pair = []
            for role in ("head", "tail"):
                key = (batch_row, int(row[role]))
                if key not in global_ids:
                    entity_mentions = mentions_by_row[batch_row].get(key[1])
                    if not entity_mentions:
                        raise ValueError(
                            f"Instance {row.get('uid')!r}: the {role} entity {key[1]} of document "
                            f"{row['document_index']} has no mention left after tokenization; filter the instances "
                            "with `drop_instances_without_mentions` first."
                        )
                    global_ids[key] = len(global_ids)
                    for start, end in entity_mentions:
                        spans.append([batch_row, start, end])
                        mention_entities.append(global_ids[key])
                pair.append(global_ids[key])
            pairs.append(pair)
        batch["mention_spans"] = torch.tensor(spans, dtype=torch.long).view(-1, 3)
        batch["mention_entity_ids"] = torch.tensor(mention_entities, dtype=torch.long)
        batch["pair_entity_ids"] = torch.tensor(pairs, dtype=torch.long).view(-1, 2)
        batch["labels"] = torch.tensor([row["relation"] for row in rows], dtype=torch.long)
        if self.return_instance_uids:
            batch[INSTANCE_UIDS_KEY] = [row["uid"] for row in rows]
        return batch


def drop_instances_without_mentions(
    instances: Dataset, documents: Dataset, num_proc: int | None = None
) -> tuple[Dataset, int]:
    """Remove relation instances whose head or tail has no mention left in the tokenized `documents`.

    Returns the kept instances and how many were removed (logged as a warning when not 0). Documents are read batch
    by batch from Arrow, never all at once.
    """
    if pc.sum(documents.data.column("dropped_entities")).as_py() == 0:  # Arrow-level shortcut: nothing was lost
        return instances, 0
    mention_spans = documents.select_columns(["mention_token_spans"])

    def usable(document_index: list[int], head: list[int], tail: list[int]) -> list[bool]:
        needed = sorted(set(document_index))
        kept_entities = {
            document: {span[0] for span in spans}
            for document, spans in zip(needed, mention_spans[needed]["mention_token_spans"])
        }
        return [h in kept_entities[d] and t in kept_entities[d] for d, h, t in zip(document_index, head, tail)]

    kept = instances.filter(
        usable,
        input_columns=["document_index", "head", "tail"],
        batched=True,
        num_proc=num_proc,
        desc="Checking instances",
    )
    removed = len(instances) - len(kept)
    if removed:
        logger.warning(
            f"Removed {removed} of {len(instances)} relation instances whose head or tail lost all mentions."
        )
    return kept, removed


__all__ = [
    "INSTANCE_UIDS_KEY",
    "MODEL_INPUT_KEYS",
    "PAIR_METADATA_KEYS",
    "DocumentRelationCollator",
    "RelationInstanceCollator",
    "SentenceRelationCollator",
    "drop_instances_without_mentions",
    "split_model_inputs",
]
