"""Oracle learning orders of a corpus corrupted by `finecl_hf.data.document_noise`: the true noise mask as an order.

The controlled experiment's ceilings: `oracle_drop` (corrupted triples last, eq. 5's lowest weight) and
`oracle_relabel` (every corrupted triple given back its original). Written as a learning-order dataset
(`finecl_hf.data.learning_order`) that stage 2 reads like stage 1's; `finecl convert oracle-order` is the command line.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from datasets import Dataset

from ..constants import NOT_LEARNED
from ..errors import UsageError
from .conversion import SplitSource, move_into_place, refuse_earlier_output, staging_folder
from .learning_order import LearningOrderRunInfo, export_learning_order, relabelled_copy
from .loading import load_dataset_folder
from .relation_instances import RELATION_INSTANCES_CONFIG, triple_values_by_uid

DEFAULT_ORACLE_EPOCHS = 15  # the paper's stage-1 epochs: corrupted triples are "learned" at k_max = 14


class OracleOrder(NamedTuple):
    """An oracle order before it is written: the instances, their `learned_epoch`, the documents, the run info."""

    instances: Dataset
    learned_epoch: np.ndarray
    documents: Dataset
    run_info: LearningOrderRunInfo


def write_oracle_learning_order(
    noisy_dataset: str | Path,
    output_dir: str | Path,
    *,
    split: str = "train",
    num_epochs: int = DEFAULT_ORACLE_EPOCHS,
    relabel: bool = False,
) -> Path:
    """A learning-order dataset whose order is the true noise mask of a corpus written by
    `finecl_hf.data.document_noise.write_noisy_corpus`.

    Clean triples get `learned_epoch` 0, corrupted ones `num_epochs - 1` (k_max: eq. 5's lowest weight), sampled
    no-relation pairs -1 (never learned, as stage 1 leaves them unless `--record_no_relation`). The documents config
    is the noisy folder's documents.

    `relabel`: the ceiling of label correction instead: every corrupted triple is given back its original head, tail
    and relation (`given_relation` keeps the corrupted label, `cleaning` says `relabelled`), and every triple gets
    `learned_epoch` 0.
    """
    return _export(_oracle_order(noisy_dataset, split, num_epochs, relabel), output_dir)


def _export(order: OracleOrder, output_dir: str | Path) -> Path:
    upsampled = np.zeros(len(order.instances), dtype=bool)  # an oracle upsamples nothing
    return export_learning_order(order.instances, order.learned_epoch, upsampled, output_dir, order.run_info,
                                 documents=order.documents)  # fmt: skip


def _oracle_order(noisy_dataset: str | Path, split: str, num_epochs: int, relabel: bool) -> OracleOrder:
    """The oracle order of a noisy corpus (see `write_oracle_learning_order`)."""
    if num_epochs < 2:
        raise UsageError(f"num_epochs={num_epochs} must be at least 2: clean and corrupted labels need two epochs.")
    instances = load_dataset_folder(noisy_dataset, RELATION_INSTANCES_CONFIG, split=split)
    documents = load_dataset_folder(noisy_dataset, split=split)
    if "is_noisy" not in documents.features["relations"].feature:
        raise UsageError(
            f"noisy_dataset={str(noisy_dataset)!r} has no `is_noisy` field in its relations: it is not a folder written "
            "by `finecl convert document-noise`, so its noise mask is unknown."
        )
    noisy = triple_values_by_uid(instances, documents, "is_noisy")  # null: a sampled no-relation pair
    is_triple = np.asarray(noisy.is_valid(), dtype=bool)
    is_noisy = np.asarray(noisy.fill_null(False), dtype=bool)
    learned_epoch = np.where(is_triple, np.where(is_noisy, num_epochs - 1, 0), NOT_LEARNED).astype(np.int64)
    if relabel:
        instances = _restore_original_triples(instances, documents, is_noisy)
        learned_epoch = np.where(is_triple, 0, NOT_LEARNED).astype(np.int64)
    percent = np.array([np.mean(learned_epoch == epoch) * 100 for epoch in range(num_epochs)]).round(4).tolist()
    run_info = LearningOrderRunInfo(
        model_name_or_path="oracle: the true noise mask (no classifier)"
        + (", corrupted triples given back their original" if relabel else ""),
        num_epochs=num_epochs,
        mode="oracle",
        seed=0,
        percent_learned_per_epoch=percent,
        source_dataset=str(noisy_dataset),
    )
    return OracleOrder(instances, learned_epoch, documents, run_info)


def _restore_original_triples(instances: Dataset, documents: Dataset, is_noisy: np.ndarray) -> Dataset:
    """`instances` with the corrupted triples' head, tail and relation set back to the original triple's."""
    restored = {}
    for column in ("head", "tail", "relation"):
        original = np.asarray(triple_values_by_uid(instances, documents, f"original_{column}").fill_null(-1), dtype=np.int64)
        restored[column] = np.where(is_noisy, original, np.asarray(instances[column], dtype=np.int64))
    relation = restored.pop("relation")
    return relabelled_copy(instances, relation, is_noisy, replaced=restored)


@dataclass
class OracleOrderReport:
    """What `finecl convert oracle-order` wrote."""

    output_dir: Path
    num_instances: int
    relabel: bool

    def format(self) -> str:
        kind = "oracle order"
        if self.relabel:
            kind = "relabelled oracle order (corrupted triples given back their original)"
        return f"wrote {self.output_dir}\n  {kind}: {self.num_instances} instances"


def convert_oracle_order(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    skip_invalid: bool = False,
    overwrite: bool = False,
    num_epochs: int = DEFAULT_ORACLE_EPOCHS,
    relabel: bool = False,
) -> OracleOrderReport:
    """`write_oracle_learning_order` as an entry of the corpus registry: `--source` is the noisy corpus folder (its
    `README.md` names it), `--output` the learning-order dataset to write."""
    if skip_invalid:
        raise UsageError("--skip_invalid does not apply to oracle-order: it reads a folder finecl-hf wrote.")
    if len(sources) != 1:
        raise UsageError(f"oracle-order reads one noisy corpus folder; --source names {len(sources)}.")
    source, output_dir = sources[0], Path(output_dir)
    refuse_earlier_output(output_dir, overwrite)
    order = _oracle_order(source.path.parent, source.split, num_epochs, relabel)
    # Written beside the output and moved into place at the end, as every converter writes: an interrupted run leaves
    # the output as it was.
    staging = staging_folder(output_dir)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _export(order, staging)
        move_into_place(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return OracleOrderReport(output_dir, len(order.instances), relabel)


__all__ = ["DEFAULT_ORACLE_EPOCHS", "OracleOrderReport", "convert_oracle_order", "write_oracle_learning_order"]
