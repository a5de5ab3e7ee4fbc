"""Names and values that several parts of finecl-hf must agree on, each defined here once.

Only the standard library is imported, so command-line entry points can read these before their heavy imports.

`modeling.py`, `configuration.py`, `losses.py` and the metric files `metrics/<name>/<name>.py` are copied next to
checkpoints or loaded as standalone `evaluate` modules and therefore cannot import `finecl_hf`: they keep their own
literals, and `tests/test_registries.py` checks that those equal the values below.
"""

from __future__ import annotations

from collections.abc import Sequence

# Label id that losses and metrics skip: padding of sentence labels, MLM targets and per-document pair tables. It is
# the default `ignore_index` of `torch.nn.CrossEntropyLoss`, which is why that value.
IGNORE_INDEX = -100

# `sentence`: one (head, tail) pair per row, single-label; `document`: every entity pair of a document, multi-label.
RELATION_LEVELS = ("sentence", "document")

# ------------------------------------------------------------------------------------------------- no-relation labels
NO_RELATION = "no_relation"  # TACRED, DocRED and every finecl-hf converter of documents
SEMEVAL_NO_RELATION = "Other"  # SemEval-2010 Task 8
OPENNRE_NO_RELATION = "NA"  # OpenNRE's distantly supervised corpora (NYT10, ...)
# Looked up in this order: a label set holding several of them takes the first.
NO_RELATION_LABELS = (NO_RELATION, SEMEVAL_NO_RELATION, OPENNRE_NO_RELATION)


def find_no_relation_label(label_names: Sequence[str]) -> str | None:
    """The no-relation class among `label_names` (the first of `NO_RELATION_LABELS` present), or `None` (Wiki80)."""
    return next((name for name in NO_RELATION_LABELS if name in label_names), None)


# ------------------------------------------------------------------------------------------------- dataset configs
# The relation-instance view that the document converters write next to the documents (stage 1's input).
RELATION_INSTANCES_CONFIG = "relation_instances"

# The learning-order dataset (its owner: `finecl_hf.data.learning_order`, which writes and reads it). Config `instances`
# (the default) holds the input instances plus the columns below; config `documents` the documents they point to
# (document-level input only).
LEARNING_ORDER_INSTANCES_CONFIG = "instances"
LEARNING_ORDER_DOCUMENTS_CONFIG = "documents"
LEARNED_EPOCH_COLUMN = "learned_epoch"  # first epoch (0-based) at which the instance was predicted correctly
LEARNED_COLUMN = "learned"  # learned_epoch != NOT_LEARNED
UPSAMPLED_COLUMN = "upsampled"  # learned_epoch was set by class upsampling, not by training
# Stage 1's position of each training instance, carried through its batches (never exported).
INSTANCE_INDEX_COLUMN = "instance_index"
NOT_LEARNED = -1  # learned_epoch of an instance never learned
# The columns stage 1 adds, with their `datasets.Value` dtypes.
LEARNING_ORDER_COLUMNS = {LEARNED_EPOCH_COLUMN: "int16", LEARNED_COLUMN: "bool", UPSAMPLED_COLUMN: "bool"}

__all__ = [
    "IGNORE_INDEX",
    "LEARNED_COLUMN",
    "LEARNED_EPOCH_COLUMN",
    "LEARNING_ORDER_COLUMNS",
    "LEARNING_ORDER_DOCUMENTS_CONFIG",
    "LEARNING_ORDER_INSTANCES_CONFIG",
    "NOT_LEARNED",
    "NO_RELATION",
    "NO_RELATION_LABELS",
    "OPENNRE_NO_RELATION",
    "RELATION_INSTANCES_CONFIG",
    "RELATION_LEVELS",
    "SEMEVAL_NO_RELATION",
    "UPSAMPLED_COLUMN",
    "find_no_relation_label",
]
