"""Model cards of fine-tuned relation extraction checkpoints, with `model-index` results the Hub displays.

The card is rendered from `model_cards/finetuned_model_card.md` (shipped as the package `finecl_hf.model_cards`)
through `huggingface_hub.ModelCard`, with `ModelCardData`/`EvalResult` metadata: one result per (split, metric).
finecl-specific facts the Hub has no field for (training fraction, seeds, subset seed, task) live under the YAML
key `finecl`. What a task contributes (dataset name and id, the metrics shown and their descriptions) comes from its
entry in `finecl_hf.finetuning.tasks`.

`write_run_card` builds the card of one fine-tuning run from its arguments and its `all_results.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..cards import render_card_template
from ..constants import find_no_relation_label
from .evaluation import by_split
from .tasks import MetricDescription, get_task

if TYPE_CHECKING:
    from transformers import TrainingArguments

    from .arguments import RelationExtractionArguments
    from .preparation import PreparedData

MODEL_CARD_TEMPLATE = "finetuned_model_card.md"
FINECL_METADATA_KEY = "finecl"


@dataclass
class FineTunedModelCardSpec:
    """Everything the card of one fine-tuned checkpoint shows.

    Args:
        model_name: Name shown as the card title and in `model-index`.
        base_model: The checkpoint fine-tuning started from (Hub id or local path).
        task: a registered task (`finecl_hf.finetuning.tasks`): selects the metrics shown and the dataset defaults.
        relation_level: `sentence` or `document`.
        label_names: Class names by id.
        no_relation_label: The no-relation class (`None` when the corpus has none).
        train_fraction: Share of the training split used.
        num_train_examples: Rows trained on.
        subset_seed: Seed of the training subset.
        seeds: All training seeds of the experiment.
        seed: Seed of this checkpoint.
        results: Split -> metric -> fraction in [0, 1], for this checkpoint.
        seed_summary: Split -> metric -> {"mean", "std", "n"} (fractions) over `seeds`, when there are several.
        hyperparameters: Name -> value, shown as a table.
        dataset_name: Pretty dataset name (default: the task's `dataset_name`).
        dataset_id: Hub dataset id or local folder name (default: the task's `dataset_id`).
        train_split: Name of the training split.
        metric_for_best_model: The dev metric used for checkpoint selection.
        validation_note: How the dev split was obtained (e.g. held out of train).
        decision_threshold: Document-level BCE threshold tuned on dev.
        entity_pooling: How entities pool their mentions.
        document_loss: `bce` or `adaptive_threshold`.
    """

    model_name: str
    base_model: str
    task: str
    relation_level: str
    label_names: Sequence[str]
    no_relation_label: str | None
    train_fraction: float
    num_train_examples: int
    subset_seed: int
    seeds: Sequence[int]
    seed: int
    results: Mapping[str, Mapping[str, float]]
    seed_summary: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    dataset_name: str | None = None
    dataset_id: str | None = None
    train_split: str = "train"
    metric_for_best_model: str | None = None
    validation_note: str | None = None
    decision_threshold: float | None = None
    entity_pooling: str = "mean"
    document_loss: str = "bce"

    def __post_init__(self) -> None:
        task = get_task(self.task)
        self.dataset_id = self.dataset_id or task.dataset_id
        self.dataset_name = self.dataset_name or task.dataset_name

    @property
    def metrics(self) -> tuple[MetricDescription, ...]:
        """The metrics the card shows: the task's."""
        return get_task(self.task).metrics


def eval_results(spec: FineTunedModelCardSpec) -> list[EvalResult]:
    """One `EvalResult` per (split, metric) of `spec.results`, values in percent rounded to 2 decimals."""
    results = []
    for split, values in spec.results.items():
        for metric in spec.metrics:
            if metric.key not in values:
                continue
            results.append(
                EvalResult(
                    task_type="text-classification",
                    task_name="Relation Extraction",
                    dataset_type=spec.dataset_id,
                    dataset_name=spec.dataset_name,
                    dataset_split=split,
                    metric_type=metric.metric_type,
                    metric_name=f"{metric.label} ({split})",
                    metric_value=round(100 * float(values[metric.key]), 2),
                )
            )
    return results


def _percent(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict:
    return {
        split: {key: {"mean": 100 * stats["mean"], "std": 100 * stats["std"]} for key, stats in metrics.items()}
        for split, metrics in summary.items()
    }


def render_model_card(spec: FineTunedModelCardSpec) -> ModelCard:
    """Render the card of a fine-tuned checkpoint (YAML metadata + Markdown body)."""
    base_is_hub_id = not Path(spec.base_model).exists()
    card_data = ModelCardData(
        model_name=spec.model_name,
        base_model=spec.base_model if base_is_hub_id else None,
        datasets=[spec.dataset_id],
        eval_results=eval_results(spec) or None,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["relation-extraction", "finecl", f"{spec.relation_level}-level"],
        **{
            FINECL_METADATA_KEY: {
                "task": spec.task,
                "relation_level": spec.relation_level,
                "train_fraction": spec.train_fraction,
                "num_train_examples": spec.num_train_examples,
                "subset_seed": spec.subset_seed,
                "seeds": list(spec.seeds),
                "seed": spec.seed,
                "decision_threshold": spec.decision_threshold,
            }
        },
    )
    return render_card_template(
        ModelCard,
        card_data,
        MODEL_CARD_TEMPLATE,
        model_name=spec.model_name,
        base_model=spec.base_model,
        base_model_url=f"https://huggingface.co/{spec.base_model}" if base_is_hub_id else None,
        dataset_name=spec.dataset_name,
        relation_level=spec.relation_level,
        num_labels=len(spec.label_names),
        label_names=[f"`{name}`" for name in spec.label_names],
        no_relation_label=spec.no_relation_label,
        entity_pooling=spec.entity_pooling,
        document_loss=spec.document_loss,
        decision_threshold=spec.decision_threshold,
        results={split: {key: 100 * value for key, value in values.items()} for split, values in spec.results.items()},
        seed_summary=_percent(spec.seed_summary) if spec.seed_summary else None,
        result_metrics=spec.metrics,
        seed=spec.seed,
        seeds=list(spec.seeds),
        train_fraction=spec.train_fraction,
        train_split=spec.train_split,
        num_train_examples=spec.num_train_examples,
        subset_seed=spec.subset_seed,
        metric_for_best_model=spec.metric_for_best_model,
        validation_note=spec.validation_note,
        hyperparameters=dict(spec.hyperparameters),
    )


def write_model_card(directory: str | Path, spec: FineTunedModelCardSpec) -> Path:
    """Render the card and save it as `directory/README.md`; returns its path."""
    path = Path(directory) / "README.md"
    render_model_card(spec).save(path)
    return path


def write_run_card(
    args: RelationExtractionArguments,
    run_args: TrainingArguments,
    data: PreparedData,
    seeds: Sequence[int],
    summary: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the card of one fine-tuning run from its `all_results.json` (and the seed summary, when there is one).

    Args:
        args, run_args: the run's arguments (`run_args.output_dir` is the run's folder).
        data: the prepared splits (task, labels, training rows, how dev was obtained).
        seeds: all seeds of the experiment.
        summary: split -> metric -> {"mean", "std", ...} over the seeds (`by_split` of the seed summary).
    """
    output_dir = Path(run_args.output_dir)
    task = get_task(data.task)
    results = by_split(json.loads((output_dir / "all_results.json").read_text()))
    spec = FineTunedModelCardSpec(
        model_name=output_dir.parent.name if output_dir.name.startswith("seed-") else output_dir.name,
        base_model=args.model_name_or_path,
        task=task.name,
        relation_level=args.relation_level,
        label_names=data.label_names,
        no_relation_label=find_no_relation_label(data.label_names),
        train_fraction=args.train_fraction,
        num_train_examples=len(data.raw["train"]),
        subset_seed=args.subset_seed,
        seeds=list(seeds),
        seed=run_args.seed,
        results={split: {k: v for k, v in values.items() if k in task.metric_keys} for split, values in results.items()},
        seed_summary=summary,
        hyperparameters=run_hyperparameters(args, run_args),
        dataset_id=Path(args.dataset_path).name if task.dataset_from_folder else None,
        train_split=args.train_split,
        metric_for_best_model=run_args.metric_for_best_model,
        validation_note=data.validation_note,
        decision_threshold=results.get("validation", {}).get("threshold"),
        entity_pooling=args.entity_pooling,
        document_loss=args.doc_loss,
    )
    return write_model_card(output_dir, spec)


def run_hyperparameters(args: RelationExtractionArguments, run_args: TrainingArguments) -> dict[str, Any]:
    """The hyper-parameter table of a run's card."""
    values = {
        "recipe": args.recipe,
        "learning_rate": run_args.learning_rate,
        "train_batch_size (total)": run_args.per_device_train_batch_size * run_args.world_size
        * run_args.gradient_accumulation_steps,
        "num_train_epochs": run_args.num_train_epochs,
        "warmup_steps": run_args.warmup_steps,
        "weight_decay": run_args.weight_decay,
        "adam_epsilon": run_args.adam_epsilon,
        "max_grad_norm": run_args.max_grad_norm,
        "lr_scheduler_type": str(getattr(run_args.lr_scheduler_type, "value", run_args.lr_scheduler_type)),
        "max_length": args.max_length,
        "classifier_dropout": args.classifier_dropout,
        "entity_pooling": args.entity_pooling,
    }
    if args.relation_level == "document":
        values["document_loss"] = args.doc_loss
    else:
        values["entity_markers"] = args.entity_markers
    return values


__all__ = [
    "FINECL_METADATA_KEY",
    "FineTunedModelCardSpec",
    "MetricDescription",
    "eval_results",
    "render_model_card",
    "run_hyperparameters",
    "write_model_card",
    "write_run_card",
]
