"""Stage 1 end to end: load instances, train `LearningOrderTrainer`, upsample, analyse and export.

`trainers/learning_order.py` is the command-line front end of `run_learning_order`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset
from transformers import AutoTokenizer, set_seed
from transformers.utils import logging

from finecl_hf.cards import read_dataset_card_metadata
from finecl_hf.constants import RELATION_INSTANCES_CONFIG, find_no_relation_label
from finecl_hf.data.data_collator import (
    RelationInstanceCollator,
    SentenceRelationCollator,
    drop_instances_without_mentions,
)
from finecl_hf.data.loading import dataset_config_names, load_dataset_folder
from finecl_hf.data.tokenization import tokenize_documents, tokenize_sentences
from finecl_hf.distributed import patient_group, wait_for_main_process
from finecl_hf.errors import DataError, UsageError
from finecl_hf.modeling import FineCLForRelationExtraction

from ..data.learning_order import LearningOrderRunInfo, export_learning_order
from ..order_scores import ENTITY_TYPES, FEATURES, SCORES, cleanliness
from .analysis import clean_label_auc, format_table, instance_correctness, mann_whitney_auc, subset_precision
from .arguments import LearningOrderArguments, LearningOrderTrainingArguments
from .evidence import UNKNOWN_TYPE, CorpusEvidence, EvidenceSettings, neighbour_candidates, type_signatures
from .label_issues import ISSUE_SCORE, LabelIssueColumns, label_issue_columns, pair_ids
from .neighbours import require_faiss
from .scores import ScoreInputs, compute_score_columns
from .state import percent_learned_per_epoch
from .trainer import LearningOrderTrainer, class_balance_weights
from .upsampling import upsample_classes

logger = logging.get_logger(__name__)

SOURCE_ROW_COLUMN = "source_row"  # row of the input instances, kept through tokenization and filtering


@dataclass
class LearningOrderResult:
    """What a stage-1 run produced."""

    learned_epoch: np.ndarray
    upsampled: np.ndarray
    percent_learned_per_epoch: list[float]
    output_dir: Path | None
    subset_precision: dict[str, Any] | None = None
    clean_label_auc: float | None = None
    score_columns: dict[str, np.ndarray] | None = None
    score_auc: dict[str, float] | None = None
    score_seconds: dict[str, float] | None = None
    label_issues: LabelIssueColumns | None = None


def load_instances(data_args: LearningOrderArguments) -> tuple[Dataset, Dataset | None]:
    """The instances to learn the order of, and the documents they refer to (document-level input) or `None`."""
    path = data_args.dataset_path
    configs = dataset_config_names(path)
    if data_args.dataset_config_name is None and RELATION_INSTANCES_CONFIG in configs:
        instances = load_dataset_folder(path, RELATION_INSTANCES_CONFIG, split=data_args.dataset_split)
        documents = load_dataset_folder(path, split=data_args.dataset_split)
        return instances, documents
    instances = load_dataset_folder(path, data_args.dataset_config_name, split=data_args.dataset_split)
    return instances, None


def no_relation_name(label_names: list[str], requested: str | None) -> str | None:
    """The no-relation class: the requested name (must exist), else the first of `no_relation`/`Other`/`NA` present."""
    if requested is not None:
        if requested not in label_names:
            raise UsageError(f"no_relation_label={requested!r} is not a label of the dataset ({label_names[:5]}...).")
        return requested
    return find_no_relation_label(label_names)


def run_learning_order(
    data_args: LearningOrderArguments, training_args: LearningOrderTrainingArguments
) -> LearningOrderResult:
    """Train, record, upsample, analyse and export (main process writes); see `trainers/learning_order.py`."""
    instances, documents = load_instances(data_args)
    if data_args.max_train_samples is not None:
        instances = instances.select(range(min(data_args.max_train_samples, len(instances))))
    label_feature = instances.features.get(data_args.label_column)
    if not isinstance(label_feature, ClassLabel):
        raise DataError(
            f"{data_args.dataset_path}: field {data_args.label_column!r} must be a ClassLabel column of relation "
            f"labels (columns: {instances.column_names})."
        )
    label_names = list(label_feature.names)
    _check_unique_uids(instances, data_args.dataset_path)
    no_relation = no_relation_name(label_names, data_args.no_relation_label or _card_no_relation(data_args.dataset_path))
    model_path = data_args.model_name_or_path  # the offline MiniLM when none was given (LearningOrderArguments)
    tokenizer = AutoTokenizer.from_pretrained(data_args.tokenizer_name or model_path)
    instances = instances.add_column(SOURCE_ROW_COLUMN, list(range(len(instances))))
    with training_args.main_process_first(desc="tokenizing"):
        train_dataset, collator = _tokenized_training_data(instances, documents, tokenizer, data_args)
    dropped = len(instances) - len(train_dataset)
    if dropped:
        logger.warning(f"{dropped} of {len(instances)} instances dropped: head or tail lost to max_length={data_args.max_length}.")

    if not len(train_dataset):
        raise DataError(
            f"{data_args.dataset_path}: all {len(instances)} instances lost their head or tail to "
            f"max_length={data_args.max_length}: nothing is left to learn; raise --max_length."
        )
    if data_args.correct_column is not None:  # checked now, not after hours of training
        instance_correctness(instances, documents, data_args.correct_column)
    kept = instances.select(train_dataset[SOURCE_ROW_COLUMN]).remove_columns(SOURCE_ROW_COLUMN)
    evidence = corpus_evidence(kept, documents, data_args, len(label_names), model_path, training_args.seed, training_args)
    set_seed(training_args.seed)  # the classifier's new heads are initialised from the global generators
    trainer = LearningOrderTrainer(
        model=_classifier(model_path, label_names, no_relation),
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collator,
        no_relation_id=label_names.index(no_relation) if no_relation is not None else None,
        class_weights=_class_weights(kept, data_args.label_column, len(label_names), training_args.class_balance),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    return _finish(trainer, kept, documents, evidence, data_args, training_args, model_path, label_names, no_relation)


def corpus_evidence(
    instances: Dataset,
    documents: Dataset | None,
    data_args: LearningOrderArguments,
    num_classes: int,
    model_path: str,
    seed: int = 0,
    training_args: LearningOrderTrainingArguments | None = None,
) -> CorpusEvidence:
    """The evidence scores' inputs for `instances` (checked now, before any training: a score named in
    `--scores` that the corpus cannot give, k larger than the corpus, an encoder folder that cannot be loaded).

    Features are encoded lazily (on first use, after training) with the frozen `--evidence_encoder` (default: the
    backbone) at stage 1's `--max_length`, so every instance stage 1 kept has them; with `training_args`, on its
    device and into its output folder (`_feature_encoder`).
    """
    labels = np.asarray(instances[data_args.label_column], dtype=np.int64)
    if documents is not None:
        groups = np.asarray(instances["document_index"], dtype=np.int64)
    else:
        groups = np.arange(len(instances))
    signatures = _entity_type_signatures(instances, documents)
    features = None
    requested = set(data_args.scores or SCORES)
    wants_features = any(SCORES[name].needs == FEATURES for name in requested)
    if data_args.uses_features and wants_features:
        if "neighbour_agreement" in requested:
            require_faiss()  # now, not after training: the error names the extra to install
        features = _feature_encoder(instances, documents, data_args, model_path, training_args)
    evidence = CorpusEvidence(
        labels, groups, num_classes, signatures, features,
        EvidenceSettings(num_neighbours=data_args.num_neighbours, folds=data_args.out_of_sample_folds, seed=seed),
    )  # fmt: skip
    for name in data_args.scores or ():
        need = SCORES[name].needs
        reason = evidence.missing(need) if need in (ENTITY_TYPES, FEATURES) else None
        if reason is not None:
            hint = " (--evidence_encoder none)" if need == FEATURES else f" ({data_args.dataset_path})"
            raise UsageError(f"--scores {name}: it cannot be computed: {reason}{hint}; nothing was written.")
    if features is not None:
        candidates = neighbour_candidates(np.ones(len(instances), dtype=bool), evidence.neighbour_groups)
        if data_args.num_neighbours > candidates:
            raise UsageError(
                f"--num_neighbours {data_args.num_neighbours} is larger than the {candidates} instances an instance "
                f"of {data_args.dataset_path} can have as neighbours; nothing was written."
            )
        if data_args.out_of_sample_folds > np.unique(groups).size:
            raise UsageError(
                f"--out_of_sample_folds {data_args.out_of_sample_folds} is larger than the {np.unique(groups).size} "
                f"documents of {data_args.dataset_path}; nothing was written."
            )
    return evidence


def _entity_type_signatures(instances: Dataset, documents: Dataset | None) -> np.ndarray | None:
    """`HEAD->TAIL` per instance, or `None` when the corpus has no entity types at all."""
    if documents is not None:
        # Arrow all the way: every entity's type in one flat array, an instance's entity at its document's offset.
        entities = documents.with_format("arrow")["entities"]
        entities = entities.combine_chunks() if isinstance(entities, pa.ChunkedArray) else entities
        types = pc.struct_field(entities.flatten(), "type")
        offsets = np.asarray(entities.offsets, dtype=np.int64)
        offsets -= offsets[0]  # a sliced array's offsets start where its flattened values do
        pairs = instances.select_columns(["document_index", "head", "tail"]).with_format("numpy")
        start = offsets[np.asarray(pairs["document_index"], dtype=np.int64)]
        heads = types.take(start + np.asarray(pairs["head"], dtype=np.int64))
        tails = types.take(start + np.asarray(pairs["tail"], dtype=np.int64))
        if heads.null_count == len(heads) and tails.null_count == len(tails):
            return None
        return _joined_signatures(heads, tails)
    elif {"head", "tail"} <= set(instances.column_names) and "type" in instances.features["head"]:
        heads = [entity["type"] for entity in instances["head"]]
        tails = [entity["type"] for entity in instances["tail"]]
    else:
        return None
    if all(value is None for value in (*heads, *tails)):
        return None
    return type_signatures(heads, tails)


FEATURES_FILE = "evidence_features.npy"
FEATURES_KEY_FILE = "evidence_features.json"


def _joined_signatures(heads: pa.Array, tails: pa.Array) -> np.ndarray:
    """`type_signatures` of Arrow type columns, joined by Arrow compute."""
    heads, tails = (pc.fill_null(values, UNKNOWN_TYPE) for values in (heads, tails))
    return np.asarray(pc.binary_join_element_wise(heads, tails, "->").to_numpy(zero_copy_only=False), dtype=object)


def _feature_encoder(
    instances: Dataset,
    documents: Dataset | None,
    data_args: LearningOrderArguments,
    model_path: str,
    training_args: LearningOrderTrainingArguments | None = None,
):
    """A callable giving the instances' frozen features; the encoder folder is loaded (and checked) now.

    The encoder runs on the training device (`bf16`/`fp16` as the training arguments ask). With `training_args`,
    the features go to `<output_dir>/evidence_features.npy`, read back memory-mapped; a later run into the same
    folder (a resumed one) whose encoder, instances and `max_length` are the same reuses the file instead of
    encoding again (`evidence_features.json` holds what it was computed from).
    """
    from finecl_hf.representations.encoder import load_frozen_encoder

    argument = "--evidence_encoder" if data_args.evidence_encoder else "--model_name_or_path"
    device, dtype = _encoder_device(training_args)
    try:
        encoder = load_frozen_encoder(data_args.evidence_encoder or model_path, argument=argument, device=device, dtype=dtype)
    except ValueError as error:
        raise UsageError(str(error)) from error
    folder = None if training_args is None else Path(training_args.output_dir)
    workers = data_args.preprocessing_num_workers
    return lambda: _features_file(encoder, instances, documents, data_args.max_length, folder, workers)


def _encoder_device(training_args: LearningOrderTrainingArguments | None) -> tuple[Any, Any]:
    if training_args is None:
        return None, None
    import torch

    dtype = torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else None
    return training_args.device, dtype


def _features_file(
    encoder, instances: Dataset, documents: Dataset | None, max_length: int, folder: Path | None, workers: int | None
):
    """The features, from the run folder's features file when it was computed from the same inputs."""
    from finecl_hf.representations.features import (
        TokenizationSettings,
        encode_document_instances,
        encode_split,
        input_fingerprints,
    )

    inputs = input_fingerprints(instances, documents)
    key = {"encoder": encoder.fingerprint, "max_length": max_length, "rows": len(instances), **inputs}
    if folder is not None:
        path, key_path = folder / FEATURES_FILE, folder / FEATURES_KEY_FILE
        features = _reusable_features(path, key_path, key, (len(instances), encoder.feature_size))
        if features is not None:
            logger.info(f"evidence features reused from {path} ({features.shape[0]} instances).")
            return features
        folder.mkdir(parents=True, exist_ok=True)
        key_path.unlink(missing_ok=True)  # the key is written last: a file without one is never reused
        partial = folder / f".{FEATURES_FILE}.partial.npy"
    else:
        partial = None
    logger.info(f"evidence features: encoding {len(instances)} instances" + (f" into {folder / FEATURES_FILE}." if folder else "."))
    if documents is not None:
        features = encode_document_instances(
            encoder, instances, documents, max_length=max_length, output_file=partial, num_proc=workers,
            documents_fingerprint=inputs["documents"],
        ).features
    else:
        settings = TokenizationSettings(max_length=max_length)
        features = encode_split(encoder, instances, settings=settings, description="instances", num_proc=workers).features
        if partial is not None:
            np.save(partial, features)
    if partial is None:
        return features
    del features
    partial.replace(path)
    key_path.write_text(json.dumps(key, indent=1))
    return np.load(path, mmap_mode="r")


def _reusable_features(path: Path, key_path: Path, key: dict, shape: tuple[int, int]) -> np.ndarray | None:
    """The features file of an earlier run, memory-mapped, when its key matches and it reads whole; `None` otherwise.
    It is a cache: a damaged file or key (a disk that filled up, a copy cut short) is encoded again, with a warning."""
    if not (path.is_file() and key_path.is_file()):
        return None
    try:
        if json.loads(key_path.read_text()) != key:
            return None
        features = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:  # json's JSONDecodeError and numpy's truncated-file errors are ValueErrors
        logger.warning(f"{path}: the features file of an earlier run cannot be read ({error}); encoding again.")
        return None
    return features if features.shape == shape else None


def _check_unique_uids(instances: Dataset, dataset_path: str) -> None:
    """Instance `uid`s key the exported order (stage 2, analyses): a repeated one is an error naming row and uid."""
    if "uid" not in instances.column_names:
        return
    uids = instances.data.column("uid")
    counts = pc.value_counts(uids)
    repeated = pc.filter(counts, pc.greater(pc.struct_field(counts, "counts"), 1))
    if len(repeated):
        uid = repeated[0]["values"].as_py()
        rows = [row for row, value in enumerate(uids.to_pylist()) if value == uid]
        raise DataError(
            f"{dataset_path}: rows {rows}, field 'uid': {uid!r} is repeated ({len(repeated)} repeated uid(s) in all); "
            "every instance needs its own uid."
        )


def _card_no_relation(dataset_path: str) -> str | None:
    """The no-relation label a finecl-hf converter recorded in the dataset card, if any."""
    try:
        return read_dataset_card_metadata(dataset_path).get("no_relation_label")
    except (ValueError, OSError):  # not a finecl-hf dataset folder: fall back to the usual names
        return None


def _class_weights(instances: Dataset, label_column: str, num_classes: int, power: float) -> Any:
    """Loss weights of `--class_balance` (None: the model's own plain cross-entropy)."""
    if not power:
        return None
    return class_balance_weights(instances[label_column], num_classes, power)


def _classifier(model_path: str, label_names: list[str], no_relation: str | None) -> FineCLForRelationExtraction:
    """The stage-1 classifier: one single-label prediction per (head, tail) instance over all classes (eq. 1)."""
    return FineCLForRelationExtraction.from_backbone(
        model_path,
        num_labels=len(label_names),
        id2label=dict(enumerate(label_names)),
        label2id={name: index for index, name in enumerate(label_names)},
        relation_level="sentence",
        **({"no_relation_label": no_relation} if no_relation is not None else {}),
    )


def _tokenized_training_data(
    instances: Dataset, documents: Dataset | None, tokenizer: Any, data_args: LearningOrderArguments
) -> tuple[Dataset, Any]:
    """Tokenize with `finecl_hf.data.tokenization`; return the training rows and their collator."""
    workers = data_args.preprocessing_num_workers
    if documents is None:
        tokenized, _ = tokenize_sentences(instances, tokenizer, max_length=data_args.max_length, num_proc=workers)
        return tokenized, SentenceRelationCollator(tokenizer, label_column=data_args.label_column)
    tokenized_documents, _ = tokenize_documents(documents, tokenizer, max_length=data_args.max_length, num_proc=workers)
    kept, _ = drop_instances_without_mentions(instances, tokenized_documents, num_proc=workers)
    return kept, RelationInstanceCollator(tokenizer, tokenized_documents, return_instance_uids=False)


def _finish(
    trainer: LearningOrderTrainer,
    instances: Dataset,
    documents: Dataset | None,
    evidence: CorpusEvidence,
    data_args: LearningOrderArguments,
    training_args: LearningOrderTrainingArguments,
    model_path: str,
    label_names: list[str],
    no_relation: str | None,
) -> LearningOrderResult:
    # Every process holds the gathered learning order and upsamples it (cheap). The scores and the export are the main
    # process's work, done once per job: the evidence (encoding, neighbour index, cross-fitted classifiers) would
    # otherwise be computed by each. The others wait for it on a group that outlasts the default 30-minute timeout.
    waiting = patient_group()
    num_epochs = trainer.num_epochs
    learned = trainer.learning_order.learned_epoch.copy()
    labels = np.asarray(instances[data_args.label_column])
    ignored = [label_names.index(no_relation)] if no_relation is not None and not training_args.record_no_relation else []
    final, upsampled = upsample_classes(
        learned, labels, training_args.upsample_min_percent, num_epochs, training_args.seed, ignore_labels=ignored
    )
    result = LearningOrderResult(final, upsampled, percent_learned_per_epoch(learned, num_epochs), None)
    if trainer.is_world_process_zero():
        no_relation_id = label_names.index(no_relation) if no_relation is not None else None
        _add_scores(result, learned, trainer, instances, documents, evidence, data_args, no_relation_id)
        output_dir = Path(data_args.learning_order_dir or Path(training_args.output_dir) / "learning_order")
        run_info = LearningOrderRunInfo(
            model_name_or_path=model_path, num_epochs=num_epochs, mode=training_args.mode, seed=training_args.seed,
            percent_learned_per_epoch=result.percent_learned_per_epoch,
            upsample_min_percent=training_args.upsample_min_percent, num_upsampled=int(upsampled.sum()),
            record_no_relation=training_args.record_no_relation, source_dataset=data_args.dataset_path,
            subset_precision=result.subset_precision, clean_label_auc=result.clean_label_auc,
            documents_per_batch=training_args.documents_per_batch, score_auc=result.score_auc,
            score_seconds={name: round(value, 2) for name, value in result.score_seconds.items()},
            evidence_encoder=(data_args.evidence_encoder or model_path) if evidence.features is not None else None,
            **_label_issue_metadata(result.label_issues),
        )
        result.output_dir = export_learning_order(
            instances, final, upsampled, output_dir, run_info, documents=documents, scores=result.score_columns,
            label_issues=None if result.label_issues is None else result.label_issues.columns(),
        )
        print(render_summary(result))
    wait_for_main_process(waiting)
    return result


def _add_scores(
    result: LearningOrderResult,
    learned: np.ndarray,
    trainer: LearningOrderTrainer,
    instances: Dataset,
    documents: Dataset | None,
    evidence: CorpusEvidence,
    data_args: LearningOrderArguments,
    no_relation_id: int | None,
) -> None:
    """The cleanliness scores, the label-issue columns (when `combined` was computed), and with `--correct_column`
    their ROC-AUCs and the subset precision, into `result`."""
    scores, seconds = compute_score_columns(ScoreInputs(trainer.learning_order, evidence), data_args.scores)
    result.score_columns, result.score_seconds = scores, seconds
    if ISSUE_SCORE in scores and evidence.predictions is not None:
        labelled = np.ones(len(instances), dtype=bool)
        if no_relation_id is not None and not trainer.args.record_no_relation:
            labelled = evidence.labels != no_relation_id  # sampled no-relation pairs: nobody labelled them
        result.label_issues = label_issue_columns(
            evidence, pair_ids(instances), cleanliness(ISSUE_SCORE, scores), labelled, data_args.issue_share
        )
    if data_args.correct_column is None:
        return
    correct, known = instance_correctness(instances, documents, data_args.correct_column)
    # Precision describes what the classifier learned: measured before upsampling, over rows of known correctness.
    result.subset_precision = subset_precision(learned[known], correct[known], trainer.num_epochs)
    result.clean_label_auc = clean_label_auc(learned[known], correct[known])
    result.score_auc = {name: mann_whitney_auc(cleanliness(name, scores)[known], correct[known]) for name in scores}


def _label_issue_metadata(label_issues: LabelIssueColumns | None) -> dict[str, Any]:
    if label_issues is None:
        return {}
    return {"label_issue_share": round(label_issues.issue_share, 4), "label_issue_share_source": label_issues.share_source}


def render_summary(result: LearningOrderResult) -> str:
    """Percent learned per epoch and, when known, subset precision, as Markdown tables."""
    cumulative = np.cumsum(result.percent_learned_per_epoch)
    rows = [[epoch, percent, float(total)] for epoch, (percent, total) in enumerate(zip(result.percent_learned_per_epoch, cumulative))]
    parts = [format_table(["epoch", "% first learned", "% learned (cumulative)"], rows),
             f"upsampled: {int(result.upsampled.sum())} instances"]
    if result.subset_precision is not None:
        parts.append(format_table(
            ["subset", "size", "label precision"],
            [[name, value["size"], value["precision"]] for name, value in result.subset_precision.items()],
        ))
        parts.append(f"ROC-AUC of learning order as a clean-label detector: {result.clean_label_auc:.4f}")
    if result.score_auc:
        parts.append(format_table(
            ["cleanliness score", "ROC-AUC (clean vs wrong label)"],
            [[name, f"{auc:.4f}"] for name, auc in result.score_auc.items()],
        ))
    if result.label_issues is not None:
        issues = result.label_issues
        parts.append(
            f"label issues: {int(issues.label_issue.sum())} labels flagged (share {issues.issue_share:.3f}, "
            f"{issues.share_source}); review them with `finecl label-issues <learning-order folder>`"
        )
    if result.output_dir is not None:
        parts.append(f"learning-order dataset written to {result.output_dir}")
    return "\n\n".join(parts)


__all__ = ["LearningOrderResult", "load_instances", "no_relation_name", "render_summary", "run_learning_order"]
