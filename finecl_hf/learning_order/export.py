"""Export a learning order as a Hub-ready dataset folder (Parquet + README card), the input of stage 2.

Layout:

```
<output_dir>/
  README.md                                  card: YAML `configs` + `dataset_info` + run metadata under `finecl`
  instances/train-<sha256 prefix>.parquet     config `instances` (default): input rows + learned_epoch/learned/upsampled
                                             + one column per cleanliness score (finecl_hf.learning_order.scores)
  documents/train-<sha256 prefix>.parquet     config `documents` (document-level input only)
```

`load_dataset(output_dir)` loads the instances, `load_dataset(output_dir, "documents")` the documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset, DatasetInfo, Value
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from finecl_hf.cards import FINECL_METADATA_KEY, describe_feature, size_category
from finecl_hf.constants import LEARNED_COLUMN, LEARNED_EPOCH_COLUMN, LEARNING_ORDER_COLUMNS, UPSAMPLED_COLUMN
from finecl_hf.constants import LEARNING_ORDER_DOCUMENTS_CONFIG as DOCUMENTS_CONFIG
from finecl_hf.constants import LEARNING_ORDER_INSTANCES_CONFIG as INSTANCES_CONFIG
from finecl_hf.data.loading import fingerprint_parquet_file

from .scores import SCORES
from .state import NOT_LEARNED
from .trainer import INSTANCE_INDEX_COLUMN

LEARNING_ORDER_CARD_TEMPLATE = "learning_order_card.md"
PARQUET_NAME = "train.parquet"  # renamed after its content once written (see finecl_hf.data.loading)


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


def learning_order_columns(
    instances: Dataset, learned_epoch: Any, upsampled: Any, scores: Mapping[str, Any] | None = None
) -> Dataset:
    """`instances` with `learned_epoch` (int16, -1 = never), `learned` (bool), `upsampled` (bool) and the score
    columns appended.

    Args:
        scores: column values of registered cleanliness scores (`finecl_hf.learning_order.scores.score_columns`),
            written in each score's dtype; `learned_epoch` there is ignored (the `learned_epoch` argument, after
            upsampling, is written).

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
    return instances


def export_learning_order(
    instances: Dataset,
    learned_epoch: Any,
    upsampled: Any,
    output_dir: str | Path,
    run_info: LearningOrderRunInfo,
    documents: Dataset | None = None,
    scores: Mapping[str, Any] | None = None,
) -> Path:
    """Write the learning-order dataset folder (see the module docstring) and return its path.

    `scores`: cleanliness-score columns to add (`score_columns(trainer.learning_order)`); see `learning_order_columns`.
    """
    output_dir = Path(output_dir)
    table = learning_order_columns(instances, learned_epoch, upsampled, scores)
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
    template = resources.files("finecl_hf.model_cards").joinpath(LEARNING_ORDER_CARD_TEMPLATE).read_text(encoding="utf-8")
    per_epoch = run_info.percent_learned_per_epoch
    return DatasetCard.from_template(
        card_data,
        template_str=template,
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
