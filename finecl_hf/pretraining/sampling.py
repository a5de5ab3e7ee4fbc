"""Relation-instance index and the positive/negative sampling of FineCL's relation discrimination (ERICA §3.2).

Scale: the paper's corpus holds 7.2M relation instances over 1M documents. Everything here is flat NumPy arrays built
with vectorised operations from Arrow columns (a few bytes per instance), never Python objects per instance.

How anchors find their positives inside a batch:

1. `RelationPairSampler` yields documents two by two: every document of the corpus (shuffled per epoch) followed
   by a *partner* document drawn so that it holds an instance of one of the first document's relations. With an
   even per-device batch size the two always land in the same batch (the data loader batches consecutive indices,
   and `accelerate` hands whole batches to processes), so every document brings at least one anchor with a positive.
2. `sample_contrastive_pairs` then looks at all relation instances of the batch: each instance of a real relation
   takes as positive a random instance of the same relation *from another document* of the batch (the original
   pairs instances (2m, 2m+1) within each relation and drops the odd one out; here every instance that has a
   partner is an anchor); its negatives are up to `num_negatives` random instances of other relations, no-relation
   pairs included, except same-document pairs that share its head or its tail.

A relation whose instances all lie in one document (e.g. a relation with a single instance) can never be an anchor:
the index counts these instances instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from transformers.utils import logging

from ..errors import DataError
from ..losses import NO_INDEX

logger = logging.get_logger(__name__)

# Re-draws of a partner that landed in the anchor's own document before the exact (slow-path) draw takes over.
_PARTNER_REDRAWS = 8


def _csr_offsets(sorted_keys: np.ndarray, num_keys: int) -> np.ndarray:
    """`offsets[k]:offsets[k + 1]` is the run of key `k` in the sorted array `sorted_keys`."""
    return np.searchsorted(sorted_keys, np.arange(num_keys + 1), side="left").astype(np.int64)


@dataclass
class RelationInstanceIndex:
    """All relation instances of a corpus as flat arrays sorted by document, with views by document and by relation.

    Build it with `from_arrays` (or `finecl_hf.pretraining.data.prepare_pretraining_data`, which reads the Arrow
    columns of a learning-order dataset).

    Attributes:
        document: `int32 [instances]` document row of each instance, sorted ascending.
        head, tail: `int32 [instances]` entity index of the head and tail inside their document.
        relation: `int32 [instances]` relation class id.
        learned_epoch: `int16 [instances]` stage-1 learning epoch, `-1` = never learned.
        document_offsets: `int64 [documents + 1]`: the instances of document `d` are rows
            `document_offsets[d]:document_offsets[d + 1]`.
        pairable_rows: `int64 [pairable]` rows of the instances that can be anchors (a real relation present in at
            least two documents), grouped by relation; `pairable_offsets[r]:pairable_offsets[r + 1]` are those of `r`.
        no_relation_id: class id of the no-relation label, or `None` when the corpus has none.
        weight: `float32 [instances]` weight of each instance under a corpus weighting scheme
            (`finecl_hf.weighting`, e.g. `posterior`), `None` when the weights come from `learned_epoch`.
    """

    document: np.ndarray
    head: np.ndarray
    tail: np.ndarray
    relation: np.ndarray
    learned_epoch: np.ndarray
    document_offsets: np.ndarray
    pairable_rows: np.ndarray
    pairable_offsets: np.ndarray
    num_relations: int
    no_relation_id: int | None
    weight: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        document: np.ndarray,
        head: np.ndarray,
        tail: np.ndarray,
        relation: np.ndarray,
        learned_epoch: np.ndarray,
        *,
        num_documents: int,
        num_relations: int,
        no_relation_id: int | None,
        source: str = "instances",
        weight: np.ndarray | None = None,
    ) -> RelationInstanceIndex:
        """Validate the columns of an instance table and index them.

        Args:
            document, head, tail, relation, learned_epoch: one value per instance, in any order.
            num_documents: number of rows of the documents table the instances point to.
            num_relations: number of relation classes (no-relation included).
            no_relation_id: class id of the no-relation label, `None` if the corpus has none.
            source: name of the instance table, used in error messages.
            weight: optional weight of each instance under a corpus weighting scheme, in [0, 1].

        Raises:
            ValueError: naming `source`, the first bad row and the field, when a value is out of range.
        """
        columns = {
            "document_index": document,
            "head": head,
            "tail": tail,
            "relation": relation,
            "learned_epoch": learned_epoch,
        }
        if weight is not None:
            columns["weight"] = weight
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) != 1:
            raise DataError(f"{source}: columns have different lengths: {lengths}.")
        _check_range(source, "document_index", document, 0, num_documents)
        _check_range(source, "head", head, 0, np.iinfo(np.int32).max)
        _check_range(source, "tail", tail, 0, np.iinfo(np.int32).max)
        _check_range(source, "relation", relation, 0, num_relations)
        _check_range(source, "learned_epoch", learned_epoch, -1, np.iinfo(np.int16).max)
        # Compact dtypes, converted one column at a time: the index is the only memory that grows with the corpus.
        arrays = {
            "document": np.asarray(document).astype(np.int32, copy=False),
            "head": np.asarray(head).astype(np.int32, copy=False),
            "tail": np.asarray(tail).astype(np.int32, copy=False),
            "relation": np.asarray(relation).astype(np.int32, copy=False),
            "learned_epoch": np.asarray(learned_epoch).astype(np.int16, copy=False),
        }
        if weight is not None:
            arrays["weight"] = np.asarray(weight).astype(np.float32, copy=False)
            if not (np.isfinite(arrays["weight"]).all() and (arrays["weight"] >= 0).all()):
                raise DataError(f"{source}: instance weights must be finite and >= 0.")
        if np.any(arrays["document"][1:] < arrays["document"][:-1]):
            order = np.argsort(arrays["document"], kind="stable")
            for name in arrays:
                arrays[name] = arrays[name][order]
            del order
        index = cls(
            **arrays,
            document_offsets=np.zeros(num_documents + 1, dtype=np.int64),
            pairable_rows=np.zeros(0, dtype=np.int64),
            pairable_offsets=np.zeros(num_relations + 1, dtype=np.int64),
            num_relations=num_relations,
            no_relation_id=no_relation_id,
        )
        index._build_views()
        return index

    def keep_only(self, keep: np.ndarray) -> None:
        """Drop the instances where `keep` is False, in place, one column at a time (memory peaks at one column)."""
        for name in ("document", "head", "tail", "relation", "learned_epoch", "weight"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name)[keep])
        self._build_views()

    def _build_views(self) -> None:
        self.document_offsets = _csr_offsets(self.document, self.num_documents)
        self.pairable_rows, self.pairable_offsets = _pairable_instances(
            self.document, self.relation, self.num_relations, self.no_relation_id
        )

    @property
    def num_instances(self) -> int:
        return int(self.document.shape[0])

    @property
    def num_documents(self) -> int:
        return int(self.document_offsets.shape[0] - 1)

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays."""
        arrays = (
            self.document,
            self.head,
            self.tail,
            self.relation,
            self.learned_epoch,
            self.document_offsets,
            self.pairable_rows,
            self.pairable_offsets,
            self.weight,
        )
        return int(sum(array.nbytes for array in arrays if array is not None))

    def instances_of(self, document: int) -> slice:
        """Rows of the instances of `document`."""
        return slice(int(self.document_offsets[document]), int(self.document_offsets[document + 1]))

    def statistics(self) -> dict[str, int]:
        """Counts that say how much of the corpus relation discrimination can use."""
        is_relation = self._is_relation()
        relation_counts = np.bincount(self.relation[is_relation], minlength=self.num_relations)
        pairable_counts = np.diff(self.pairable_offsets)
        unpairable = (relation_counts > 0) & (pairable_counts == 0)
        return {
            "num_documents": self.num_documents,
            "num_instances": self.num_instances,
            "num_no_relation_instances": int((~is_relation).sum()),
            "num_relations_present": int((relation_counts > 0).sum()),
            "num_single_instance_relations": int((relation_counts == 1).sum()),
            "num_unpairable_relations": int(unpairable.sum()),
            "num_unpairable_instances": int(relation_counts[unpairable].sum()),
            "num_pairable_instances": int(self.pairable_rows.shape[0]),
            "num_learned_instances": int((self.learned_epoch >= 0).sum()),
        }

    def log_statistics(self) -> None:
        stats = self.statistics()
        logger.info(f"Relation-instance index: {stats} ({self.nbytes / 2**20:.1f} MiB).")
        if stats["num_unpairable_relations"]:
            logger.warning(
                f"{stats['num_unpairable_relations']} relation(s) ({stats['num_single_instance_relations']} with a "
                f"single instance) occur in only one document: their {stats['num_unpairable_instances']} instance(s) "
                "have no positive from another document and are used only as negatives."
            )

    def _is_relation(self) -> np.ndarray:
        if self.no_relation_id is None:
            return np.ones(self.num_instances, dtype=bool)
        return self.relation != self.no_relation_id

    def sample_partner_documents(self, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each anchor document, a document holding an instance of one of its relations (vectorised).

        The relation is one of the anchor's pairable instances, drawn uniformly; the partner is a uniformly drawn
        instance of that relation from another document. Anchors without a pairable instance get a random other
        document (they still contribute MLM, entity discrimination and negatives).
        """
        anchors = np.asarray(anchors, dtype=np.int64)
        partners = rng.integers(0, max(self.num_documents, 1), size=anchors.shape[0])
        # Pairable instances of each anchor: the pairable rows sorted by document form a second CSR view.
        pairable_by_document = np.sort(self.pairable_rows)
        document_of_pairable = self.document[pairable_by_document]
        starts = np.searchsorted(document_of_pairable, anchors, side="left")
        counts = np.searchsorted(document_of_pairable, anchors, side="right") - starts
        has_pairable = counts > 0
        chosen = pairable_by_document[starts[has_pairable] + _uniform_below(rng, counts[has_pairable])]
        relations = self.relation[chosen]
        partners[has_pairable] = self._draw_other_document(relations, anchors[has_pairable], rng)
        return partners

    def _draw_other_document(self, relations: np.ndarray, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random instance of each `relations[i]` whose document differs from `anchors[i]`; returns its document."""
        starts = self.pairable_offsets[relations]
        counts = self.pairable_offsets[relations + 1] - starts
        partners = np.empty_like(anchors)
        pending = np.arange(anchors.shape[0])
        for _ in range(_PARTNER_REDRAWS):
            rows = self.pairable_rows[starts[pending] + _uniform_below(rng, counts[pending])]
            partners[pending] = self.document[rows]
            pending = pending[partners[pending] == anchors[pending]]
            if pending.size == 0:
                return partners
        for i in pending:  # relations dominated by the anchor's own document: draw exactly among the others
            rows = self.pairable_rows[starts[i] : starts[i] + counts[i]]
            others = rows[self.document[rows] != anchors[i]]
            partners[i] = self.document[others[rng.integers(others.shape[0])]]
        return partners


def _uniform_below(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """One uniform integer in `[0, counts[i])` per entry (`counts` > 0)."""
    return np.minimum((rng.random(counts.shape[0]) * counts).astype(np.int64), counts - 1)


def _check_range(source: str, field: str, values: np.ndarray, low: int, high: int) -> None:
    """Raise a `ValueError` naming the first row of `values` outside `[low, high)`."""
    values = np.asarray(values)
    if values.size == 0 or (values.min() >= low and values.max() < high):
        return
    bad = np.flatnonzero((values < low) | (values >= high))
    row = int(bad[0])
    raise DataError(
        f"{source}: record {row + 1} (index {row}), field {field!r} = {values[row]} is out of range: it must be in [{low}, {high}) "
        f"({bad.size} bad row(s) in all)."
    )


def _pairable_instances(
    document: np.ndarray, relation: np.ndarray, num_relations: int, no_relation_id: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (grouped by relation) of the instances whose relation is real and present in >= 2 documents.

    A relation spans two documents exactly when its first and last documents differ: two `ufunc.at` passes, no sort.
    """
    first = np.full(num_relations, np.iinfo(np.int64).max)
    last = np.full(num_relations, -1, dtype=np.int64)
    np.minimum.at(first, relation, document)
    np.maximum.at(last, relation, document)
    spans_documents = first < last
    if no_relation_id is not None:
        spans_documents[no_relation_id] = False
    rows = np.flatnonzero(spans_documents[relation])
    rows = rows[np.argsort(relation[rows], kind="stable")]
    return rows, _csr_offsets(relation[rows], num_relations)


class RelationPairSampler(torch.utils.data.Sampler[int]):
    """Yields document indices two by two: each document of the corpus, then a partner sharing one of its relations.

    One epoch visits every document once as the first of a pair (shuffled with `seed` and the epoch), so `len` is
    twice the number of documents. Use it with an even per-device batch size so pairs are never split across batches
    (`FineCLPreTrainingArguments` checks this). The Trainer calls `set_epoch` at each epoch.

    Args:
        index: the corpus' relation-instance index.
        seed: base seed; the order of epoch `e` depends only on `(seed, e)`, so runs and resumed runs agree.
    """

    def __init__(self, index: RelationInstanceIndex, seed: int = 0):
        super().__init__()
        self.index = index
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 2 * self.index.num_documents

    def pairs(self, epoch: int | None = None) -> np.ndarray:
        """`[documents, 2]` (document, partner) pairs of `epoch` (default: the current one)."""
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch])
        anchors = rng.permutation(self.index.num_documents)
        return np.stack([anchors, self.index.sample_partner_documents(anchors, rng)], axis=1)

    def __iter__(self) -> Iterator[int]:
        yield from self.pairs().ravel().tolist()


def sample_contrastive_pairs(
    document_ids: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    relations: np.ndarray,
    *,
    no_relation_id: int | None,
    num_negatives: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives of the relation instances of one batch (see the module docstring).

    Args:
        document_ids: `[instances]` corpus-wide document index of each instance (two copies of a document in one
            batch count as the same document).
        heads, tails: `[instances]` entity index of head and tail (any numbering unique within a document).
        relations: `[instances]` relation class ids.
        no_relation_id: the no-relation class (never an anchor, always a candidate negative), or `None`.
        num_negatives: maximum number of negatives per anchor.
        rng: the batch's random generator.

    Returns:
        `positive_index [instances]` (`-1` for non-anchors) and `negative_index [instances, k]` padded with `-1`,
        where `k = min(num_negatives, instances - 1)`; rows of non-anchors are all `-1`.
    """
    num_instances = relations.shape[0]
    width = max(min(num_negatives, num_instances - 1), 0)
    if num_instances == 0:
        return np.full(0, NO_INDEX, dtype=np.int64), np.full((0, width), NO_INDEX, dtype=np.int64)
    same_document = document_ids[:, None] == document_ids[None, :]
    same_relation = relations[:, None] == relations[None, :]
    is_relation = np.ones(num_instances, dtype=bool) if no_relation_id is None else relations != no_relation_id

    positive_allowed = same_relation & ~same_document & is_relation[:, None]
    positive_keys = np.where(positive_allowed, rng.random((num_instances, num_instances)), -1.0)
    has_positive = positive_allowed.any(axis=1)
    positive_index = np.where(has_positive, positive_keys.argmax(axis=1), NO_INDEX)

    shares_entity = same_document & ((heads[:, None] == heads[None, :]) | (tails[:, None] == tails[None, :]))
    negative_allowed = ~same_relation & ~shares_entity & has_positive[:, None]
    negative_index = np.full((num_instances, width), NO_INDEX, dtype=np.int64)
    if width == 0:
        return positive_index.astype(np.int64), negative_index
    # Random keys in [0, 1) for allowed negatives, 2 for the rest: the `width` smallest keys are a uniform sample.
    # `width` < `num_instances` always (an instance is never its own negative), so argpartition is well defined.
    negative_keys = np.where(negative_allowed, rng.random((num_instances, num_instances)), 2.0)
    candidates = np.argpartition(negative_keys, width - 1, axis=1)[:, :width]
    chosen_keys = np.take_along_axis(negative_keys, candidates, axis=1)
    order = np.argsort(chosen_keys, axis=1, kind="stable")
    candidates, chosen_keys = (np.take_along_axis(a, order, axis=1) for a in (candidates, chosen_keys))
    negative_index[:] = np.where(chosen_keys < 2.0, candidates, NO_INDEX)
    return positive_index.astype(np.int64), negative_index


__all__ = ["RelationInstanceIndex", "RelationPairSampler", "sample_contrastive_pairs"]
