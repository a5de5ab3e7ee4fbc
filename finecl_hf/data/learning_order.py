"""The learning-order dataset: the one owner of its format, the contract between stage 1 and stage 2.

Stage 1 writes it (`export_learning_order`), `finecl label-issues --clean` writes cleaned copies
(`write_learning_order_folder`, `relabelled_copy`), the oracle orders of the controlled experiment write it from a
true noise mask (`finecl_hf.data.oracle_order`), and stage 2, the analysis and the experiments read it through
`load_learning_order_dataset` and `read_learning_order_metadata`. It lives in the data layer so that no stage imports
another to read or write it.

Layout:

```
<output_dir>/
  README.md                                  card: YAML `configs` + `dataset_info` + run metadata under `finecl`
  instances/train-<sha256 prefix>.parquet     config `instances` (default): input rows + learned_epoch/learned/upsampled
                                             + one column per cleanliness score (finecl_hf.order_scores)
                                             + the label-issue columns (suggested_relation, suggested_probability,
                                             label_issue) when stage 1 computed them
  documents/train-<sha256 prefix>.parquet     config `documents` (document-level input only)
```

`load_dataset(output_dir)` loads the instances, `load_dataset(output_dir, "documents")` the documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset, DatasetInfo, Value
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from ..cards import FINECL_METADATA_KEY, describe_feature, render_card_template, size_category
from ..constants import (
    INSTANCE_INDEX_COLUMN,
    LEARNED_COLUMN,
    LEARNED_EPOCH_COLUMN,
    LEARNING_ORDER_COLUMNS,
    NOT_LEARNED,
    UPSAMPLED_COLUMN,
)
from ..constants import LEARNING_ORDER_DOCUMENTS_CONFIG as DOCUMENTS_CONFIG
from ..constants import LEARNING_ORDER_INSTANCES_CONFIG as INSTANCES_CONFIG
from ..errors import DataError, UsageError
from ..order_scores import SCORES
from .loading import dataset_config_names, fingerprint_parquet_file, load_dataset_folder

LEARNING_ORDER_CARD_TEMPLATE = "learning_order_card.md"
# What a reader needs: the instance fields stage 2 indexes, and the document fields it tokenizes.
REQUIRED_INSTANCE_COLUMNS = ("document_index", "head", "tail", "relation", LEARNED_EPOCH_COLUMN)
REQUIRED_DOCUMENT_COLUMNS = ("sents", "entities")
# How a damaged learning-order folder is written again (finecl_hf.data.loading.reading_dataset's message).
REBUILD_LEARNING_ORDER = "write it again with `finecl learning-order` (stage 1)"
PARQUET_NAME = "train.parquet"  # renamed after its content once written (see finecl_hf.data.loading)
# The label-issue columns stage 1 adds (finecl_hf.learning_order.label_issues computes them).
SUGGESTED_RELATION_COLUMN = "suggested_relation"
SUGGESTED_PROBABILITY_COLUMN = "suggested_probability"
LABEL_ISSUE_COLUMN = "label_issue"
LABEL_ISSUE_COLUMNS = (SUGGESTED_RELATION_COLUMN, SUGGESTED_PROBABILITY_COLUMN, LABEL_ISSUE_COLUMN)
# What a cleaned copy's `cleaning` column says (`relabelled_copy`).
KEPT, RELABELLED = "kept", "relabelled"


@dataclass
class LearningOrderRunInfo:
    """Run metadata written into the card (YAML key `finecl`) of a learning-order dataset.

    Args:
        model_name_or_path: backbone the classifier started from.
        num_epochs: k, the number of epochs trained.
        mode: `batch` or `epoch`.
        seed: training seed.
        percent_learned_per_epoch: percent of all instances first learned in each epoch, before upsampling.
        upsample_min_percent: P of the class upsampling (0 = none).
        num_upsampled: number of instances moved by upsampling.
        record_no_relation: whether no-relation instances could count as learned.
        source_dataset: the dataset the instances come from.
        subset_precision: label precision per subset, when correctness was known.
        clean_label_auc: ROC-AUC of learning order as a clean-label detector, when correctness was known.
        documents_per_batch: documents per training step (0: batches of instances).
        score_auc: ROC-AUC of every cleanliness score as a clean-label detector, when correctness was known.
        score_seconds: wall time of each score's own work (the evidence scores' encoding and fits included).
        evidence_encoder: the frozen encoder of the feature-based scores, when they were computed.
        label_issue_share: the share of labels flagged `label_issue`, when the label-issue columns were written.
        label_issue_share_source: `mixture` (estimated from `combined`) or `--issue_share`.
        cleaning: what `finecl label-issues --clean` did (`CleaningReport` fields and the folder it cleaned).
    """

    model_name_or_path: str
    num_epochs: int
    mode: str
    seed: int
    percent_learned_per_epoch: list[float]
    upsample_min_percent: float = 0.0
    num_upsampled: int = 0
    record_no_relation: bool = False
    source_dataset: str | None = None
    subset_precision: dict[str, Any] | None = None
    clean_label_auc: float | None = None
    documents_per_batch: int = 0
    score_auc: dict[str, float] | None = None
    score_seconds: dict[str, float] | None = None
    evidence_encoder: str | None = None
    label_issue_share: float | None = None
    label_issue_share_source: str | None = None
    cleaning: dict[str, Any] | None = None


def learning_order_columns(
    instances: Dataset,
    learned_epoch: Any,
    upsampled: Any,
    scores: Mapping[str, Any] | None = None,
    label_issues: Mapping[str, Any] | None = None,
) -> Dataset:
    """`instances` with `learned_epoch` (int16, -1 = never), `learned` (bool), `upsampled` (bool) and the score
    columns appended.

    Args:
        scores: column values of registered cleanliness scores (`finecl_hf.order_scores`; stage 1 computes them),
            written in each score's dtype; `learned_epoch` there is ignored (the `learned_epoch` argument, after
            upsampling, is written).
        label_issues: the `suggested_relation`, `suggested_probability` and `label_issue` columns
            (`finecl_hf.learning_order.label_issues`).

    A working `instance_index` column (added by the trainer) is dropped: rows keep their order and their `uid`.
    """
    learned_epoch = np.asarray(learned_epoch)
    upsampled = np.asarray(upsampled, dtype=bool)
    if learned_epoch.shape != (len(instances),) or upsampled.shape != (len(instances),):
        raise ValueError(
            f"learned_epoch ({learned_epoch.shape}) and upsampled ({upsampled.shape}) must hold one entry for each of "
            f"the {len(instances)} instances."
        )
    scores = {name: values for name, values in (scores or {}).items() if name != LEARNED_EPOCH_COLUMN}
    unknown = [name for name in scores if name not in SCORES]
    if unknown:
        raise ValueError(f"score column(s) {unknown} are not registered cleanliness scores ({', '.join(SCORES)}).")
    for name, values in scores.items():
        if np.shape(values) != (len(instances),):
            raise ValueError(f"score column {name!r} has shape {np.shape(values)}, expected ({len(instances)},).")
    clashing = [name for name in (*LEARNING_ORDER_COLUMNS, *scores) if name in instances.column_names]
    if clashing:
        instances = instances.remove_columns(clashing)
    if INSTANCE_INDEX_COLUMN in instances.column_names:
        instances = instances.remove_columns(INSTANCE_INDEX_COLUMN)
    values = {
        LEARNED_EPOCH_COLUMN: learned_epoch.astype(np.int16).tolist(),
        LEARNED_COLUMN: (learned_epoch != NOT_LEARNED).tolist(),
        UPSAMPLED_COLUMN: upsampled.tolist(),
    }
    for name, dtype in LEARNING_ORDER_COLUMNS.items():
        instances = instances.add_column(name, values[name], feature=Value(dtype))
    for name, values in scores.items():
        dtype = SCORES[name].dtype
        instances = instances.add_column(name, np.asarray(values).astype(dtype).tolist(), feature=Value(dtype))
    return _with_label_issue_columns(instances, label_issues)


def _with_label_issue_columns(instances: Dataset, label_issues: Mapping[str, Any] | None) -> Dataset:
    if not label_issues:
        return instances
    instances = instances.remove_columns([name for name in LABEL_ISSUE_COLUMNS if name in instances.column_names])
    features = {  # (feature, NumPy dtype of the values)
        SUGGESTED_RELATION_COLUMN: (ClassLabel(names=instances.features["relation"].names), np.int64),
        SUGGESTED_PROBABILITY_COLUMN: (Value("float32"), np.float32),
        LABEL_ISSUE_COLUMN: (Value("bool"), bool),
    }
    for name, (feature, dtype) in features.items():
        values = np.asarray(label_issues[name])
        if values.shape != (len(instances),):
            raise ValueError(f"column {name!r} has shape {values.shape}, expected ({len(instances)},).")
        instances = instances.add_column(name, values.astype(dtype).tolist(), feature=feature)
    return instances


def export_learning_order(
    instances: Dataset,
    learned_epoch: Any,
    upsampled: Any,
    output_dir: str | Path,
    run_info: LearningOrderRunInfo,
    documents: Dataset | None = None,
    scores: Mapping[str, Any] | None = None,
    label_issues: Mapping[str, Any] | None = None,
) -> Path:
    """Write the learning-order dataset folder (see the module docstring) and return its path.

    `scores`, `label_issues`: columns to add (`score_columns(trainer.learning_order)`, the label-issue columns); see
    `learning_order_columns`.
    """
    table = learning_order_columns(instances, learned_epoch, upsampled, scores, label_issues)
    return write_learning_order_folder(table, output_dir, run_info, documents)


def write_learning_order_folder(
    table: Dataset, output_dir: str | Path, run_info: LearningOrderRunInfo, documents: Dataset | None = None
) -> Path:
    """Write `table` (instances that already hold the learning-order columns) and `documents` as a learning-order
    folder with its card; `export_learning_order` and the cleaned copies of `finecl label-issues` write through it."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    configs = {INSTANCES_CONFIG: table}
    if documents is not None:
        configs[DOCUMENTS_CONFIG] = documents
    data_files = {}
    for name, dataset in configs.items():
        (output_dir / name).mkdir(exist_ok=True)
        dataset.to_parquet(str(output_dir / name / PARQUET_NAME))
        data_files[name] = fingerprint_parquet_file(output_dir / name / PARQUET_NAME).relative_to(output_dir).as_posix()
    render_learning_order_card(configs, run_info, data_files).save(output_dir / "README.md")
    return output_dir


def render_learning_order_card(
    configs: dict[str, Dataset], run_info: LearningOrderRunInfo, data_files: dict[str, str]
) -> DatasetCard:
    """Render `model_cards/learning_order_card.md` with Hub YAML (`configs`, `dataset_info`, run metadata).

    `data_files` maps each config to its Parquet file, relative to the folder.
    """
    instances = configs[INSTANCES_CONFIG]
    configs_yaml = [
        {"config_name": name, "data_files": [{"split": "train", "path": data_files[name]}],
         **({"default": True} if name == INSTANCES_CONFIG else {})}
        for name in configs
    ]
    metadata = {key: _without_nan(value) for key, value in asdict(run_info).items() if value is not None}
    card_data = DatasetCardData(
        pretty_name="FineCL learning order",
        task_categories=["text-classification"],
        tags=["relation-extraction", "finecl", "learning-order", "label-noise"],
        size_categories=[size_category(len(instances))],
        configs=configs_yaml,
        **{FINECL_METADATA_KEY: metadata},
    )
    DatasetInfosDict({name: _dataset_info(dataset) for name, dataset in configs.items()}).to_dataset_card_data(card_data)
    label_names = _label_names(instances)
    learned = np.asarray(instances["learned"])
    per_epoch = run_info.percent_learned_per_epoch
    return render_card_template(
        DatasetCard,
        card_data,
        LEARNING_ORDER_CARD_TEMPLATE,
        run=run_info,
        num_instances=len(instances),
        percent_learned=100.0 * float(learned.mean()) if learned.size else 0.0,
        epochs=[
            {"epoch": epoch, "percent": percent, "cumulative": float(np.sum(per_epoch[: epoch + 1]))}
            for epoch, percent in enumerate(per_epoch)
        ],
        columns=[(name, describe_feature(feature)) for name, feature in instances.features.items()],
        has_documents=DOCUMENTS_CONFIG in configs,
        label_names=label_names,
        scores=[score for name, score in SCORES.items() if name in instances.column_names],
    )


# ------------------------------------------------------------------------------------------------------------ read
def load_learning_order_instances(path: str | Path, split: str = "train") -> Dataset:
    """The `instances` config of any learning-order dataset (sentence- or document-level), checked for the column
    every reader needs (`learned_epoch`)."""
    instances = load_dataset_folder(path, INSTANCES_CONFIG, split=split, rebuild=REBUILD_LEARNING_ORDER)
    _require_columns(f"{path} (config '{INSTANCES_CONFIG}', split '{split}')", instances, (LEARNED_EPOCH_COLUMN,))
    return instances


def load_learning_order_documents(path: str | Path, split: str = "train") -> Dataset | None:
    """The `documents` config of a document-level learning-order dataset; `None` for a sentence-level one."""
    if DOCUMENTS_CONFIG not in dataset_config_names(path, REBUILD_LEARNING_ORDER):
        return None
    return load_dataset_folder(path, DOCUMENTS_CONFIG, split=split, rebuild=REBUILD_LEARNING_ORDER)


def load_learning_order_dataset(
    path: str, split: str = "train", cache_dir: str | None = None
) -> tuple[Dataset, Dataset]:
    """Load the `instances` and `documents` configs of a learning-order dataset (a local folder or a Hub id).

    Raises:
        ValueError: naming `path` when a config or a required column is missing, or `relation` is not a `ClassLabel`.
    """
    configs = dataset_config_names(path, REBUILD_LEARNING_ORDER)
    for config, role in ((INSTANCES_CONFIG, "the relation instances with their `learned_epoch`"),
                         (DOCUMENTS_CONFIG, "the documents the instances point to")):  # fmt: skip
        if config not in configs:
            raise UsageError(
                f"{path} is not a learning-order dataset of documents: it has no '{config}' config ({role}); its "
                f"configs are {configs}. Stage 2 reads the folder that stage 1 (trainers/learning_order.py) writes "
                "for a document-level corpus (DocRED format): run it on this dataset first."
            )
    instances = load_dataset_folder(path, INSTANCES_CONFIG, split=split, cache_dir=cache_dir,
                                    rebuild=REBUILD_LEARNING_ORDER)
    documents = load_dataset_folder(path, DOCUMENTS_CONFIG, split=split, cache_dir=cache_dir,
                                    rebuild=REBUILD_LEARNING_ORDER)
    _require_columns(f"{path} (config '{INSTANCES_CONFIG}', split '{split}')", instances, REQUIRED_INSTANCE_COLUMNS)
    _require_columns(f"{path} (config '{DOCUMENTS_CONFIG}', split '{split}')", documents, REQUIRED_DOCUMENT_COLUMNS)
    if not isinstance(instances.features["relation"], ClassLabel):
        raise DataError(
            f"{path}: field 'relation' of config '{INSTANCES_CONFIG}' must be a ClassLabel, got "
            f"{instances.features['relation']}."
        )
    check_document_uids(instances, documents, f"{path} (config '{INSTANCES_CONFIG}', split '{split}')")
    return instances, documents


def read_learning_order_metadata(path: str | Path) -> dict[str, Any]:
    """The run metadata of a local learning-order folder's card (`LearningOrderRunInfo` fields: stage-1 model, epochs,
    mode, seed, ...); empty for a Hub id or a card without it."""
    readme = Path(path) / "README.md"
    if not readme.is_file():
        return {}
    metadata = DatasetCard.load(readme).data.to_dict().get(FINECL_METADATA_KEY)
    return metadata if isinstance(metadata, dict) else {}


def check_document_uids(instances: Dataset, documents: Dataset, source: str, chunk_size: int = 65_536) -> None:
    """Each instance's `document_uid` must be the `uid` of the document its `document_index` points to.

    A `documents` config from another export (or another order of the corpus) would otherwise silently pair instances
    with the wrong entities. Compared in chunks with Arrow kernels; skipped when either column is absent.
    """
    import pyarrow.compute as pc

    if "document_uid" not in instances.column_names or "uid" not in documents.column_names:
        return
    document_uids = documents.data.column("uid")
    instance_uids = instances.data.column("document_uid")
    indices = instances.data.column("document_index")
    for start in range(0, len(instances), chunk_size):
        chunk = indices.slice(start, chunk_size)
        expected = pc.take(document_uids, chunk)
        mismatch = pc.not_equal(expected, instance_uids.slice(start, chunk_size))
        position = pc.index(pc.fill_null(mismatch, True), True).as_py()
        if position >= 0:
            row = start + position
            raise DataError(
                f"{source}: record {row + 1} (index {row}), field 'document_uid' = {instance_uids[row].as_py()!r}, but "
                f"its document_index {indices[row].as_py()} points to the document with uid "
                f"{expected[position].as_py()!r} in config '{DOCUMENTS_CONFIG}': the two configs do not belong "
                "together (export both from one stage-1 run)."
            )


def _require_columns(source: str, dataset: Dataset, columns: tuple[str, ...]) -> None:
    missing = [name for name in columns if name not in dataset.column_names]
    if missing:
        raise DataError(f"{source}: missing field(s) {missing}; it has {dataset.column_names}.")


def relabelled_copy(
    instances: Any, relation: np.ndarray, relabelled: np.ndarray, replaced: Mapping[str, np.ndarray] | None = None
) -> Any:
    """`instances` with `relation` as their labels: `given_relation` keeps the labels as they were and `cleaning` says
    `relabelled` or `kept` (bool `relabelled` per instance); `replaced` columns (a restored `head`, `tail`) are written
    over in their own features. `clean_instances` (stage 1) and the relabelled oracle order write through it."""
    features = instances.features
    copy = instances.rename_column("relation", "given_relation")
    for column, values in (replaced or {}).items():
        copy = copy.remove_columns(column).add_column(column, np.asarray(values).tolist(), feature=features[column])
    copy = copy.add_column("relation", np.asarray(relation).tolist(), feature=features["relation"])
    return copy.add_column("cleaning", np.where(relabelled, RELABELLED, KEPT).tolist(), feature=Value("string"))


def _without_nan(value: Any) -> Any:
    """YAML-friendly metadata: NaN (e.g. the precision of an empty subset) becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return value


def _dataset_info(dataset: Dataset) -> DatasetInfo:
    splits = SplitDict()
    splits.add(SplitInfo(name="train", num_examples=len(dataset), num_bytes=dataset.data.nbytes))
    return DatasetInfo(features=dataset.features, splits=splits, dataset_size=dataset.data.nbytes)


def _label_names(dataset: Dataset) -> list[str] | None:
    for feature in dataset.features.values():
        if isinstance(feature, ClassLabel):
            return list(feature.names)
    return None


__all__ = [
    "KEPT",
    "LABEL_ISSUE_COLUMN",
    "LABEL_ISSUE_COLUMNS",
    "RELABELLED",
    "REQUIRED_DOCUMENT_COLUMNS",
    "REQUIRED_INSTANCE_COLUMNS",
    "LearningOrderRunInfo",
    "check_document_uids",
    "export_learning_order",
    "learning_order_columns",
    "load_learning_order_dataset",
    "load_learning_order_documents",
    "load_learning_order_instances",
    "read_learning_order_metadata",
    "relabelled_copy",
    "render_learning_order_card",
    "SUGGESTED_PROBABILITY_COLUMN",
    "SUGGESTED_RELATION_COLUMN",
    "write_learning_order_folder",
]
