"""One fine-tuning experiment: prepare the data once, train one model per seed, then summarise the seeds.

`run_fine_tuning` is what `trainers/finetune.py` calls: it prepares the splits (held-out dev, stratified training
subset), trains one model per seed with `RelationExtractionTrainer` keeping the best dev checkpoint, tunes the
document-level threshold on dev, evaluates on test, and writes per run `all_results.json`, `predictions_<split>.jsonl`,
the model, tokenizer and model card; over several seeds it adds `seed_summary.json` and `seed_summary.md`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import DatasetDict
from transformers import TrainingArguments, set_seed
from transformers.utils import logging

from ..checkpointing import resolve_resume_checkpoint
from ..constants import find_no_relation_label
from ..data.data_collator import DocumentRelationCollator, SentenceRelationCollator
from ..errors import UsageError
from ..modeling import FineCLForRelationExtraction
from .arguments import RelationExtractionArguments
from .evaluation import (
    DocumentDecoder,
    DocumentMetrics,
    SentenceMetrics,
    by_split,
    document_prediction_records,
    seed_summary_markdown,
    sentence_prediction_records,
    summarize_seeds,
    write_jsonl,
)
from .inference import dataset_relation_names
from .model_card import write_run_card
from .preparation import PreparedData, prepare_data
from .tasks import get_task
from .trainer import RelationExtractionTrainer

logger = logging.get_logger(__name__)

SEED_SUMMARY_JSON = "seed_summary.json"
SEED_SUMMARY_MARKDOWN = "seed_summary.md"


@dataclass
class SeedRun:
    """Result of one seed: its output folder, training arguments and metrics (train, `eval_*`, `test_*`)."""

    seed: int
    output_dir: Path
    training_args: TrainingArguments
    metrics: dict[str, float]


@dataclass
class ExperimentResult:
    """All seeds of one fine-tuning experiment and their summary (`None` for a single seed)."""

    runs: list[SeedRun]
    summary: dict[str, dict[str, Any]] | None = None
    wall_clock_seconds: float = 0.0


def build_model(
    args: RelationExtractionArguments, label_names: list[str], vocabulary_size: int | None = None
) -> FineCLForRelationExtraction:
    """`FineCLForRelationExtraction.from_backbone` with the labels, relation level, loss, pooling and dropout.

    Args:
        vocabulary_size: grow the input embeddings to this size (after adding entity-marker tokens).
    """
    overrides: dict[str, Any] = {
        "num_labels": len(label_names),
        "id2label": dict(enumerate(label_names)),
        "label2id": {name: index for index, name in enumerate(label_names)},
        "relation_level": args.relation_level,
        "document_loss": args.doc_loss,
        "entity_pooling": args.entity_pooling,
    }
    no_relation = find_no_relation_label(label_names)
    if no_relation is not None:
        overrides["no_relation_label"] = no_relation
    if args.classifier_dropout is not None:
        overrides["classifier_dropout"] = args.classifier_dropout
    if args.document_projection_size is not None:
        overrides["document_projection_size"] = args.document_projection_size
    model = FineCLForRelationExtraction.from_backbone(args.model_name_or_path, **overrides)
    # Read back by the relation-extraction pipeline, which must insert the same markers.
    model.config.entity_markers = args.entity_markers
    # Readable relation names (DocRED P-id -> rel_info name), returned by the relation-extraction pipeline.
    model.config.relation_names = dataset_relation_names(args.dataset_path)
    if vocabulary_size is not None and vocabulary_size != model.config.encoder.vocab_size:
        # FineCLForRelationExtraction has no get_input_embeddings, so resize the encoder itself and record the new
        # size in the configuration that is saved.
        model.encoder.resize_token_embeddings(vocabulary_size)
        model.config.encoder.vocab_size = vocabulary_size
    return model


def train_one_seed(
    args: RelationExtractionArguments, training_args: TrainingArguments, data: PreparedData, seed: int,
    seeds: list[int], output_dir: Path,
) -> SeedRun:
    """Train with one seed, keep the best dev checkpoint, evaluate dev and test, write the outputs and the card."""
    run_args = _run_arguments(training_args, args.relation_level, seed, output_dir)
    set_seed(seed)
    model = build_model(args, data.label_names, len(data.tokenizer) if data.added_tokens else None)
    document_level = args.relation_level == "document"
    collator = (
        DocumentRelationCollator(data.tokenizer, len(data.label_names), return_pair_metadata=True)
        if document_level else SentenceRelationCollator(data.tokenizer)
    )
    decoder = DocumentDecoder(args.doc_loss)
    trainer = RelationExtractionTrainer(
        model=model,
        args=run_args,
        data_collator=collator,
        train_dataset=data.tokenized["train"],
        eval_dataset=data.tokenized["validation"],
        processing_class=data.tokenizer,
        compute_metrics=_metrics_for(data, "validation", decoder),
        relation_level=args.relation_level,
    )
    checkpoint = resolve_resume_checkpoint(run_args.resume_from_checkpoint, str(output_dir))
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_metrics("train", train_result.metrics)

    metrics = {}
    for split in ("validation", "test"):
        if split not in data.tokenized:
            continue
        trainer.compute_metrics = _metrics_for(data, split, decoder)
        prefix = "eval" if split == "validation" else "test"
        prediction = trainer.predict(data.tokenized[split], metric_key_prefix=prefix)
        if document_level and decoder.document_loss == "bce" and split == "validation":
            # The dev-tuned threshold is then used, unchanged, for test and by the saved model.
            decoder.threshold = prediction.metrics[f"{prefix}_threshold"]
            model.config.decision_threshold = decoder.threshold
        trainer.save_metrics(prefix, prediction.metrics)
        metrics.update(prediction.metrics)
        if trainer.is_world_process_zero():
            write_jsonl(output_dir / f"predictions_{split}.jsonl", _records(data, split, prediction, decoder))

    trainer.save_model(str(output_dir))
    trainer.save_state()
    if trainer.is_world_process_zero():
        (output_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle; the card lists the arguments
        _remove_checkpoints(output_dir, args.keep_checkpoints)
        write_run_card(args, run_args, data, seeds, summary=None)
    return SeedRun(seed, output_dir, run_args, {**train_result.metrics, **metrics})


def _run_arguments(training_args: TrainingArguments, relation_level: str, seed: int, output_dir: Path):
    updates: dict[str, Any] = {"seed": seed, "output_dir": str(output_dir)}
    if relation_level == "document":
        # Per-batch arrays avoid padding every document to the longest pair list of the whole split.
        updates["eval_do_concat_batches"] = False
    return dataclasses.replace(training_args, **updates)


def _metrics_for(data: PreparedData, split: str, decoder: DocumentDecoder):
    if get_task(data.task).relation_level == "document":
        return DocumentMetrics(data.raw[split], data.label_names, decoder, data.train_facts, task=data.task)
    scored = set(data.tokenized[split]["uid"])
    dropped = [row["relation"] for row in data.raw[split] if row["uid"] not in scored]
    return SentenceMetrics(data.task, data.label_names, dropped)


def _records(data: PreparedData, split: str, prediction, decoder: DocumentDecoder) -> list[dict[str, Any]]:
    if get_task(data.task).relation_level == "document":
        return document_prediction_records(
            data.raw[split], prediction.predictions, prediction.label_ids, data.label_names, decoder
        )
    return sentence_prediction_records(
        data.raw[split], data.tokenized[split]["uid"], prediction.predictions, data.label_names,
        references=prediction.label_ids,
    )


def _remove_checkpoints(output_dir: Path, keep: bool) -> None:
    """The best model is saved at the top of `output_dir`; intermediate checkpoints would be pushed to the Hub too."""
    if keep:
        return
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)


def run_fine_tuning(
    args: RelationExtractionArguments, training_args: TrainingArguments, dataset: DatasetDict | None = None
) -> ExperimentResult:
    """Fine-tune once per seed (`args.seeds`, default `training_args.seed`) and summarise the seeds.

    With several seeds each run goes to `output_dir/seed-<seed>` and `seed_summary.{json,md}` (mean ± std of every
    dev and test metric) to `output_dir`; with one seed the run goes to `output_dir` itself.
    """
    if training_args.output_dir is None:
        raise UsageError("--output_dir is required.")
    started = time.perf_counter()
    data = prepare_data(args, dataset)
    seeds = list(args.seeds or [training_args.seed])
    root = Path(training_args.output_dir)
    runs = []
    for seed in seeds:
        output_dir = root / f"seed-{seed}" if len(seeds) > 1 else root
        logger.info("Fine-tuning with seed %d -> %s", seed, output_dir)
        runs.append(train_one_seed(args, training_args, data, seed, seeds, output_dir))
    result = ExperimentResult(runs, wall_clock_seconds=time.perf_counter() - started)
    if len(runs) > 1 and training_args.process_index == 0:
        result.summary = write_seed_summary(root, runs, data.task, result.wall_clock_seconds)
        for run in runs:  # the cards now also show mean ± std over the seeds
            write_run_card(args, run.training_args, data, seeds, by_split(result.summary))
    return result


def write_seed_summary(root: Path, runs: list[SeedRun], task: str, wall_clock_seconds: float) -> dict[str, Any]:
    """Write `seed_summary.json` (mean, std, n, per-seed values of every metric) and `seed_summary.md`."""
    summary = summarize_seeds({run.seed: run.metrics for run in runs})
    root.mkdir(parents=True, exist_ok=True)
    payload = {"seeds": [run.seed for run in runs], "wall_clock_seconds": wall_clock_seconds, "metrics": summary}
    (root / SEED_SUMMARY_JSON).write_text(json.dumps(payload, indent=2) + "\n")
    shown = get_task(task).metric_keys
    sections = [
        seed_summary_markdown(summary, [f"{prefix}_{name}" for name in shown], title)
        for prefix, title in (("eval", "Dev"), ("test", "Test"))
    ]
    header = (
        f"## Fine-tuning over {len(runs)} seeds ({', '.join(str(run.seed) for run in runs)})\n\n"
        f"Headline metric: `{get_task(task).headline_metric}`; scores in percent, mean ± sample standard deviation. "
        f"Wall-clock time: {wall_clock_seconds / 60:.1f} min.\n\n"
    )
    (root / SEED_SUMMARY_MARKDOWN).write_text(header + "\n".join(sections))
    return summary


__all__ = [
    "SEED_SUMMARY_JSON",
    "SEED_SUMMARY_MARKDOWN",
    "ExperimentResult",
    "SeedRun",
    "build_model",
    "run_fine_tuning",
    "train_one_seed",
    "write_seed_summary",
]
