"""Model cards of fine-tuned relation extraction checkpoints, with `model-index` results the Hub displays.

The card is rendered from `model_cards/finetuned_model_card.md` (shipped as the package `finecl_hf.model_cards`)
through `huggingface_hub.ModelCard`, with `ModelCardData`/`EvalResult` metadata: one result per (split, metric).
finecl-specific facts the Hub has no field for (training fraction, seeds, subset seed, task) live under the YAML
key `finecl`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

MODEL_CARD_TEMPLATE = "finetuned_model_card.md"
FINECL_METADATA_KEY = "finecl"


@dataclass(frozen=True)
class MetricDescription:
    """How a metric is named on the Hub (`metric_type`, a Hub metric id) and explained in the card."""

    key: str
    metric_type: str
    label: str
    description: str


_SEMEVAL_METRICS = (
    MetricDescription(
        "macro_f1_official", "f1", "Official macro-F1",
        "the SemEval-2010 Task 8 official score: macro-averaged F1 over the 9 relations, direction taken into account "
        "(a right relation with the wrong direction is an error), `Other` excluded (the official scorer's "
        "\"(9+1)-way\" figure).",
    ),
    MetricDescription(
        "micro_f1", "f1", "Micro-F1",
        "micro-averaged F1 over the 18 directed labels, `Other` excluded: the score the FineCL paper's code reports "
        "(the paper's Table 5).",
    ),
    MetricDescription("accuracy", "accuracy", "Accuracy", "exact match over all 19 labels."),
)
_TACRED_METRICS = (
    MetricDescription(
        "micro_f1", "f1", "Micro-F1",
        "micro-averaged F1 over all relations except the no-relation label (the official TACRED scorer).",
    ),
    MetricDescription("micro_precision", "precision", "Precision", "micro precision, no-relation excluded."),
    MetricDescription("micro_recall", "recall", "Recall", "micro recall, no-relation excluded."),
)
_WIKI80_METRICS = (
    MetricDescription("accuracy", "accuracy", "Accuracy", "exact match over all relations."),
    MetricDescription(
        "micro_f1", "f1", "Micro-F1",
        "micro-averaged F1 over all relations; every row holds a relation, so it equals accuracy.",
    ),
    MetricDescription("macro_f1", "f1", "Macro-F1", "unweighted mean of the per-relation F1."),
)
_DOCRED_METRICS = (
    MetricDescription("f1", "f1", "F1", "micro-F1 over (document, head, tail, relation) facts (official DocRED)."),
    MetricDescription(
        "ign_f1", "f1", "Ign F1",
        "F1 ignoring correct facts whose (head mention, tail mention, relation) already occur in the training facts.",
    ),
    MetricDescription("f1_macro", "f1", "F1-macro", "mean of the per-relation F1 (the paper's Table 4)."),
    MetricDescription(
        "f1_macro_weighted", "f1", "F1-macro-weighted", "per-relation F1 weighted by gold support (Table 4)."
    ),
)
TASK_METRICS: dict[str, tuple[MetricDescription, ...]] = {
    "semeval": _SEMEVAL_METRICS,
    "tacred": _TACRED_METRICS,
    "wiki80": _WIKI80_METRICS,
    "docred": _DOCRED_METRICS,
}
TASK_DATASETS = {
    "semeval": ("sem_eval_2010_task_8", "SemEval-2010 Task 8"),
    "tacred": ("tacred", "TACRED"),
    "wiki80": ("wiki80", "Wiki80"),
    "docred": ("docred", "DocRED"),
}


@dataclass
class FineTunedModelCardSpec:
    """Everything the card of one fine-tuned checkpoint shows.

    Args:
        model_name: Name shown as the card title and in `model-index`.
        base_model: The checkpoint fine-tuning started from (Hub id or local path).
        task: `semeval`, `tacred`, `wiki80` or `docred`: selects the metrics shown.
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
        dataset_name: Pretty dataset name (default: the task's benchmark).
        dataset_id: Hub dataset id or local folder name (default: the task's benchmark id).
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
        if self.task not in TASK_METRICS:
            raise ValueError(f"FineTunedModelCardSpec.task={self.task!r} must be one of {tuple(TASK_METRICS)}.")
        default_id, default_name = TASK_DATASETS[self.task]
        self.dataset_id = self.dataset_id or default_id
        self.dataset_name = self.dataset_name or default_name


def eval_results(spec: FineTunedModelCardSpec) -> list[EvalResult]:
    """One `EvalResult` per (split, metric) of `spec.results`, values in percent rounded to 2 decimals."""
    results = []
    for split, values in spec.results.items():
        for metric in TASK_METRICS[spec.task]:
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
    template = resources.files("finecl_hf.model_cards").joinpath(MODEL_CARD_TEMPLATE).read_text(encoding="utf-8")
    return ModelCard.from_template(
        card_data,
        template_str=template,
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
        result_metrics=TASK_METRICS[spec.task],
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


__all__ = [
    "FINECL_METADATA_KEY",
    "TASK_METRICS",
    "FineTunedModelCardSpec",
    "MetricDescription",
    "eval_results",
    "render_model_card",
    "write_model_card",
]
