"""The relation-instance view of a documents dataset: what learning-order stage 1 trains on.

One row per (document, head, tail, relation): every labelled triple, plus no-relation pairs sampled per document as in
the original FineCL code: ``min(#NA pairs, na_ratio × #positive pairs)`` ordered entity pairs (head != tail) without
any relation, ``na_ratio = 3`` by default. Sampling is seeded per document
(``random.Random(f"{seed}/{document uid}")``), so it does not depend on batching, `num_proc` or the other documents.
A document without positive pairs gets no sampled pair. Rows refer to the documents split by `document_index` (its
row number) and never copy its text.
"""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset

from ..constants import RELATION_INSTANCES_CONFIG
from ..errors import DataError
from .schema import NO_RELATION, relation_instance_features, triple_uid

DEFAULT_NA_RATIO = 3.0
DEFAULT_SEED = 0
RELATION_INSTANCES_DESCRIPTION = (
    "The relation-instance view of the documents (what learning-order stage 1 trains on): one row per (document, "
    "head, tail, relation) with `document_index` = row of the same split of the default config. It holds every "
    "labelled triple plus, per document, min(#no-relation pairs, {na_ratio} × #positive pairs) ordered entity pairs "
    "without relation, sampled with seed {seed}, labelled `no_relation` (id 0)."
)


def sample_no_relation_pairs(
    num_entities: int, positive_pairs: set[tuple[int, int]], document: str, na_ratio: float | None, seed: int
) -> list[tuple[int, int]]:
    """The sampled no-relation (head, tail) pairs of one document, sorted; `na_ratio=None` keeps all of them."""
    candidates = [
        (head, tail)
        for head in range(num_entities)
        for tail in range(num_entities)
        if head != tail and (head, tail) not in positive_pairs
    ]
    if na_ratio is None:
        return candidates
    count = min(len(candidates), int(na_ratio * len(positive_pairs)))
    return sorted(random.Random(f"{seed}/{document}").sample(candidates, count))


def relation_instances_for_document(
    document: dict,
    document_index: int,
    na_ratio: float | None = DEFAULT_NA_RATIO,
    seed: int = DEFAULT_SEED,
    relations_column: str = "relations",
) -> list[dict]:
    """Instance rows of one document row (needs its `uid`, `entities` and `relations_column`)."""
    uid = document["uid"]
    triples = document[relations_column]
    rows = [
        {
            "uid": triple["uid"],
            "document_index": document_index,
            "document_uid": uid,
            "head": triple["head"],
            "tail": triple["tail"],
            "relation": triple["relation"],
        }
        for triple in triples
    ]
    positive_pairs = {(triple["head"], triple["tail"]) for triple in triples}
    for head, tail in sample_no_relation_pairs(len(document["entities"]), positive_pairs, uid, na_ratio, seed):
        rows.append(
            {
                "uid": triple_uid(uid, head, tail, NO_RELATION),
                "document_index": document_index,
                "document_uid": uid,
                "head": head,
                "tail": tail,
                "relation": 0,
            }
        )
    return rows


def build_relation_instances(
    documents: Dataset,
    na_ratio: float | None = DEFAULT_NA_RATIO,
    seed: int = DEFAULT_SEED,
    relations_column: str = "relations",
    num_proc: int | None = None,
) -> Dataset:
    """The relation-instance view of a documents `Dataset` (e.g. one whose card lacks the ``relation_instances``
    config, or with another `na_ratio`/`seed`), built with a batched `map`."""
    relation_feature = documents.features[relations_column].feature["relation"]
    if relation_feature.names[0] != NO_RELATION:
        raise DataError(
            f"{relations_column}.relation must have {NO_RELATION!r} as label 0, got {relation_feature.names[0]!r}."
        )

    def expand(batch: dict, indices: list[int]) -> dict:
        columns: dict[str, list] = {
            name: [] for name in ("uid", "document_index", "document_uid", "head", "tail", "relation")
        }
        for offset, index in enumerate(indices):
            document = {"uid": batch["uid"][offset], "entities": batch["entities"][offset]}
            document[relations_column] = batch[relations_column][offset]
            for row in relation_instances_for_document(document, index, na_ratio, seed, relations_column):
                for name, value in row.items():
                    columns[name].append(value)
        return columns

    needed = documents.select_columns(["uid", "entities", relations_column])  # do not decode the text
    return needed.map(
        expand,
        batched=True,
        with_indices=True,
        remove_columns=needed.column_names,
        features=relation_instance_features(relation_feature.names),
        num_proc=num_proc,
        desc="Building relation instances",
    )


def triple_values_by_uid(instances: Any, documents: Any, field: str) -> pa.Array:
    """`field` of the documents' relation triple that each instance is (matched by triple `uid`), null for instances
    that are no triple (sampled no-relation pairs): an Arrow join, without Python dicts of the whole corpus."""
    relations = pc.list_flatten(documents.with_format("arrow")["relations"])
    uids = pc.struct_field(relations, "uid")
    values = pc.struct_field(relations, field)
    if isinstance(uids, pa.ChunkedArray):
        uids, values = uids.combine_chunks(), values.combine_chunks()
    position = pc.index_in(instances.with_format("arrow")["uid"], value_set=uids)
    taken = pc.take(values, position)
    return taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken


__all__ = [
    "triple_values_by_uid",
    "DEFAULT_NA_RATIO",
    "DEFAULT_SEED",
    "RELATION_INSTANCES_CONFIG",
    "RELATION_INSTANCES_DESCRIPTION",
    "build_relation_instances",
    "relation_instances_for_document",
    "sample_no_relation_pairs",
]
