"""From a learning-order dataset (stage 1's export) to the per-document examples of FineCL pre-training.

`prepare_pretraining_data(path, tokenizer)` loads the two configs of the learning-order dataset (`instances`, with
`learned_epoch`, and `documents`), tokenizes the documents once with the data layer's
`finecl_hf.data.tokenization.tokenize_documents` (a `datasets.map`: the result is a memory-mapped Arrow cache file,
tokenized exactly as fine-tuning tokenizes documents), and indexes the instances in NumPy arrays
(`RelationInstanceIndex`, about 20 bytes per instance). Nothing holds a Python object per document or per instance.

`order_by` picks the learning epoch k that eq. 5 weighs each instance by: `learned_epoch` (the paper, the column as
written) or any other cleanliness score of the dataset, mapped to a pseudo-epoch through its rank
(`finecl_hf.pretraining.ordering`).

Long documents are cut at `max_length` sub-word tokens (the original's 512-token policy, on a word boundary). Mentions
that do not fit are dropped, entities left without a mention are dropped, and relation instances that lose their head
or tail are removed from the index; every drop is counted (`PreTrainingData.statistics`) and logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging

from ..constants import LEARNED_EPOCH_COLUMN, NO_RELATION
from ..constants import LEARNING_ORDER_DOCUMENTS_CONFIG as DOCUMENTS_CONFIG
from ..constants import LEARNING_ORDER_INSTANCES_CONFIG as INSTANCES_CONFIG
from ..data.tokenization import tokenize_documents
from ..errors import DataError
from ..data.learning_order import load_learning_order_dataset, read_learning_order_metadata
from ..order_scores import CleanlinessScore, get_score
from ..weighting import CorpusWeights, WeightingScheme, get_weighting
from .ordering import PAPER_ORDER, corpus_weights, eq5_epoch_bounds, eq5_epochs
from .sampling import RelationInstanceIndex, RelationPairSampler

logger = logging.get_logger(__name__)

# Instance columns and the dtype the index keeps them in.
INSTANCE_COLUMNS = {
    "document_index": np.int32,
    "head": np.int32,
    "tail": np.int32,
    "relation": np.int32,
    LEARNED_EPOCH_COLUMN: np.int16,
}
# Columns of `finecl_hf.data.tokenization.tokenize_documents` that pre-training reads.
TOKENIZED_COLUMNS = ["input_ids", "mention_token_spans", "num_entities"]
# Documents per pass when checking which instances survive truncation (bounded memory on any corpus size).
_CHECK_CHUNK_DOCUMENTS = 4_096


def read_column(dataset: Dataset, name: str, dtype: np.dtype, source: str = "dataset") -> np.ndarray:
    """One integer column of a dataset's Arrow table as a NumPy array of `dtype`.

    Copied chunk by chunk from the memory-mapped table into one preallocated array, so no wider temporary of the
    whole column is ever made (7.2M instances: 29 MB as int32 instead of 58 MB as int64 plus the copy). Reads the table
    as stored, i.e. a dataset straight from `load_dataset`/`map` (no `select`/`shuffle` indices mapping).

    Raises:
        ValueError: naming `source` and the field when it has missing values or values that `dtype` cannot hold.
    """
    column = dataset.data.column(name)
    limits = np.iinfo(dtype)
    values = np.empty(len(column), dtype=dtype)
    position = 0
    for chunk in column.chunks:
        if chunk.null_count:
            raise DataError(f"{source}: field {name!r} has {chunk.null_count} missing value(s).")
        part = chunk.to_numpy(zero_copy_only=False)
        if part.size and (part.min() < limits.min or part.max() > limits.max):
            raise DataError(f"{source}: field {name!r} has values outside the range of {np.dtype(dtype).name}.")
        values[position : position + part.size] = part
        position += part.size
    return values


class FineCLPreTrainingDataset(torch.utils.data.Dataset):
    """One example per document: its tokenized text and mention spans (from Arrow) and its relation instances
    (from the index). `FineCLPreTrainingCollator` turns a list of them into a pre-training batch.

    Items are dicts of NumPy arrays: `document_index`, `input_ids`, `mention_starts`, `mention_ends`,
    `mention_entities`, `instance_heads`, `instance_tails`, `instance_relations`, `instance_learned_epochs`, and
    `instance_weights` when the index holds corpus-scheme weights.

    Args:
        tokenized_documents: output of `finecl_hf.data.tokenization.tokenize_documents` (row i = document i), with
            `input_ids` and `mention_token_spans` (`[entity, start, end)` per kept mention).
        index: the relation instances of those documents.
    """

    def __init__(self, tokenized_documents: Dataset, index: RelationInstanceIndex):
        if len(tokenized_documents) != index.num_documents:
            raise ValueError(
                f"The index covers {index.num_documents} documents but {len(tokenized_documents)} were given."
            )
        self.documents = tokenized_documents.with_format("numpy", columns=["input_ids", "mention_token_spans"])
        self.index = index

    def __len__(self) -> int:
        return len(self.documents)

    def __getitem__(self, document: int) -> dict[str, Any]:
        document = int(document)
        row = self.documents[document]
        spans = np.asarray(row["mention_token_spans"], dtype=np.int64).reshape(-1, 3)
        rows = self.index.instances_of(document)
        item = {
            "document_index": document,
            "input_ids": row["input_ids"],
            "mention_starts": spans[:, 1],
            "mention_ends": spans[:, 2],
            "mention_entities": spans[:, 0],
            "instance_heads": self.index.head[rows],
            "instance_tails": self.index.tail[rows],
            "instance_relations": self.index.relation[rows],
            "instance_learned_epochs": self.index.learned_epoch[rows],
        }
        if self.index.weight is not None:
            item["instance_weights"] = self.index.weight[rows]
        return item


@dataclass
class PreTrainingData:
    """Everything stage 2 reads from a learning-order dataset.

    Attributes:
        dataset: the per-document examples.
        index: the relation-instance index (after removing instances truncation left without head or tail).
        relation_label_names: `ClassLabel` names of `relation`.
        no_relation_label: the no-relation label, `None` when the corpus has none.
        source: where the learning-order dataset was loaded from.
        card_metadata: the `finecl` metadata of the dataset's card (stage-1 model, epochs, mode, seed, ...).
        statistics: counts of documents, instances, truncation drops and unusable relations.
        order_by: the cleanliness score the index's `learned_epoch` comes from (`learned_epoch` = the paper).
        epoch_range: (k_min, k_max) of the pseudo-epochs when `order_by` is another score, else `None` (the range
            of the learned epochs).
        weighting_fit: what a corpus weighting scheme found (its estimated noise rate and summary), else `None`.
    """

    dataset: FineCLPreTrainingDataset
    index: RelationInstanceIndex
    relation_label_names: list[str]
    no_relation_label: str | None
    source: str
    card_metadata: dict[str, Any] = field(default_factory=dict)
    statistics: dict[str, int] = field(default_factory=dict)
    order_by: str = PAPER_ORDER
    epoch_range: tuple[int, int] | None = None
    weighting_fit: CorpusWeights | None = None

    def sampler(self, seed: int) -> RelationPairSampler:
        """The document-pair sampler that lets anchors find positives inside each batch."""
        return RelationPairSampler(self.index, seed=seed)

    def learned_epoch_config(self) -> dict[str, int]:
        """`min_learned_epoch`/`max_learned_epoch` of `FineCLConfig` from the data (k_min, k_max of eq. 5).

        When stage 1 learned no instance, both are 0: every weight is then 1. With an `order_by` score, the
        pseudo-epochs' range.
        """
        epoch_range = eq5_epoch_bounds(self.index.learned_epoch, self.epoch_range)
        return {"min_learned_epoch": epoch_range[0], "max_learned_epoch": epoch_range[1]}

    def relation_names(self, names_file: str | None = None) -> list[str]:
        """Natural-language name of every relation label, for the entity-discrimination query.

        Looked up, in order, in `names_file` (a JSON object label -> name, e.g. DocRED's `rel_info.json`), in the
        dataset card's `relation_names`/`relation_descriptions` metadata, else the label itself.
        """
        mapping: dict[str, str] = {}
        for key in ("relation_descriptions", "relation_names"):
            if isinstance(self.card_metadata.get(key), dict):
                mapping.update(self.card_metadata[key])
        if names_file is not None:
            with open(names_file, encoding="utf-8") as handle:
                loaded = json.load(handle)
            if not isinstance(loaded, dict):
                raise DataError(f"{names_file}: expected a JSON object mapping relation labels to names.")
            mapping.update(loaded)
        return [str(mapping.get(label, label)) for label in self.relation_label_names]


def prepare_pretraining_data(
    path: str,
    tokenizer: PreTrainedTokenizerBase,
    *,
    max_length: int = 512,
    split: str = "train",
    no_relation_label: str = NO_RELATION,
    num_proc: int | None = None,
    cache_dir: str | None = None,
    order_by: str | CleanlinessScore = PAPER_ORDER,
    order_by_within_relation: bool = False,
    weighting: str | WeightingScheme = "paper",
    truncation_share: float | None = None,
) -> PreTrainingData:
    """Load, tokenize and index a learning-order dataset for FineCL pre-training (see the module docstring).

    `order_by`/`order_by_within_relation`: the score that orders the instances for eq. 5 and whether it is ranked
    within each relation (`finecl_hf.pretraining.ordering`); checked before anything is tokenized. When `weighting` is
    a corpus scheme (`posterior`, `truncate`), its weights are computed here from the `order_by` score (with
    `truncation_share` for `truncate`) and carried by the index. Both may be given as names or as the registry
    entries (`finecl_hf.order_scores.SCORES`, `finecl_hf.weighting.WEIGHTING_SCHEMES`) that `finecl pretrain`
    resolves once when it checks its arguments.
    """
    score = order_by if isinstance(order_by, CleanlinessScore) else get_score(order_by)
    scheme = weighting if isinstance(weighting, WeightingScheme) else get_weighting(weighting)
    instances, documents = load_learning_order_dataset(path, split=split, cache_dir=cache_dir)
    label_names = list(instances.features["relation"].names)
    no_relation_id = label_names.index(no_relation_label) if no_relation_label in label_names else None
    source = f"{path} (config '{INSTANCES_CONFIG}', split '{split}')"
    # Everything that can be checked without tokens is checked first: tokenizing 1M documents takes hours.
    columns = {name: read_column(instances, name, dtype, source) for name, dtype in INSTANCE_COLUMNS.items()}
    card_metadata = read_learning_order_metadata(path)
    epoch_range = None
    weights, weighting_fit = None, None
    if scheme.weighs_corpus:
        weights, weighting_fit = corpus_weights(
            instances, scheme, score, columns["relation"], no_relation_id, truncation_share, source
        )
        logger.info(f"--weighting {scheme.name} on {score.name!r}: {weighting_fit.summary}.")
    elif score.name != PAPER_ORDER:
        columns["learned_epoch"], epoch_range = eq5_epochs(
            instances, score, columns["learned_epoch"], columns["relation"], no_relation_id, card_metadata,
            order_by_within_relation, source,
        )
        logger.info(f"Instances ordered by {score.name!r} (pseudo-epochs {epoch_range[0]}..{epoch_range[1]}).")
    index = RelationInstanceIndex.from_arrays(
        *columns.values(),
        num_documents=len(documents),
        num_relations=len(label_names),
        no_relation_id=no_relation_id,
        source=source,
        weight=weights,
    )
    tokenized, tokenization = tokenize_documents(documents, tokenizer, max_length=max_length, num_proc=num_proc)
    tokenized = tokenized.select_columns(TOKENIZED_COLUMNS)
    _check_entities_exist(index, read_column(tokenized, "num_entities", np.int32), source)
    truncation = _drop_truncated_instances(index, tokenized)
    statistics = {
        **index.statistics(),
        "num_mentions": tokenization.mentions,
        "num_truncated_documents": tokenization.truncated_rows,
        "num_truncated_mentions": tokenization.dropped_mentions,
        "num_truncated_entities": tokenization.dropped_entities,
        **truncation,
    }
    logger.info(f"Pre-training data from {path}: {statistics}.")
    if truncation["num_truncated_instances"]:
        logger.warning(
            f"{truncation['num_truncated_instances']} relation instance(s) lost their head or tail to the "
            f"{max_length}-token cut and are not used ({tokenization.dropped_mentions} mention(s) cut in all)."
        )
    index.log_statistics()
    return PreTrainingData(
        dataset=FineCLPreTrainingDataset(tokenized, index),
        index=index,
        relation_label_names=label_names,
        no_relation_label=no_relation_label if no_relation_id is not None else None,
        source=str(path),
        card_metadata=card_metadata,
        statistics=statistics,
        order_by=score.name,
        epoch_range=epoch_range,
        weighting_fit=weighting_fit,
    )


def _check_entities_exist(index: RelationInstanceIndex, num_entities: np.ndarray, source: str) -> None:
    for name, entities in (("head", index.head), ("tail", index.tail)):
        bad = np.flatnonzero(entities >= num_entities[index.document])
        if bad.size:
            row = int(bad[0])
            raise DataError(
                f"{source}: instance of document {int(index.document[row])}, field {name!r} = {int(entities[row])} "
                f"is not an entity of that document (it has {int(num_entities[index.document[row]])})."
            )


def _drop_truncated_instances(index: RelationInstanceIndex, tokenized: Dataset) -> dict[str, int]:
    """Remove (in place) instances whose head or tail has no mention left after truncation; bounded-memory chunks."""
    keep = np.ones(index.num_instances, dtype=bool)
    column = tokenized.data.column("mention_token_spans")
    num_documents = index.num_documents
    largest_endpoint = int(max(index.head.max(initial=0), index.tail.max(initial=0)))
    for start in range(0, num_documents, _CHECK_CHUNK_DOCUMENTS):
        length = min(_CHECK_CHUNK_DOCUMENTS, num_documents - start)
        chunk = column.slice(start, length)
        spans = pc.list_flatten(chunk)  # one [entity, start, end] list per kept mention
        entities = pc.list_flatten(spans).to_numpy()[0::3].astype(np.int64)
        documents = pc.list_parent_indices(chunk).to_numpy().astype(np.int64) + start
        stride = max(int(entities.max(initial=0)), largest_endpoint) + 1  # (document, entity) -> one integer key
        kept_keys = np.unique(documents * stride + entities)
        rows = slice(int(index.document_offsets[start]), int(index.document_offsets[start + length]))
        for endpoint in (index.head[rows], index.tail[rows]):
            keys = index.document[rows].astype(np.int64) * stride + endpoint
            position = np.searchsorted(kept_keys, keys).clip(max=max(kept_keys.shape[0] - 1, 0))
            present = kept_keys[position] == keys if kept_keys.size else np.zeros(keys.shape, dtype=bool)
            keep[rows] &= present
    dropped = int((~keep).sum())
    if dropped:
        index.keep_only(keep)
    return {"num_truncated_instances": dropped}


__all__ = [
    "DOCUMENTS_CONFIG",
    "INSTANCES_CONFIG",
    "FineCLPreTrainingDataset",
    "PreTrainingData",
    "prepare_pretraining_data",
    "read_column",
]
