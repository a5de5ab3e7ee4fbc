"""The benchmark tasks of stage 3 and their metrics: one `BenchmarkTask` entry per task, in one registry (`TASKS`).

A task says how a fine-tuned model is judged and described: its relation level, how its scores are computed (and the
shipped `evaluate` module they come from), the headline metric that selects the best checkpoint, the paper's training
recipe, and what its model card shows (dataset name and id, each metric's label and description). Everything
task-specific in finecl-hf reads this registry:

- `RelationExtractionArguments.task` (its choices, `TASK_CHOICES`) and `resolve_task` (`--task auto`);
- `paper_recipe`: the recipe of the task's relation level, with `metric_for_best_model` = the headline metric;
- `SentenceMetrics` / `DocumentMetrics` (`finecl_hf.finetuning.evaluation`): the task's `score`;
- the model card and the seed summary: dataset, metric descriptions, headline metric.

So adding a benchmark is one `register_task(BenchmarkTask(...))` call: here for the built-in ones, anywhere before
`run_fine_tuning` (or the command-line parser) for your own, e.g.

>>> from finecl_hf.finetuning.tasks import BenchmarkTask, MetricDescription, classification_scores, get_task
>>> register_task(BenchmarkTask(
...     name="fewrel", relation_level="sentence", dataset_name="FewRel", dataset_id="few_rel",
...     metrics=(MetricDescription("accuracy", "accuracy", "Accuracy", "exact match over all relations."),),
...     headline_metric="accuracy", score=classification_scores, recipe=get_task("wiki80").recipe,
... ))  # doctest: +SKIP

after which `--task fewrel` selects it. This module imports only the standard library and NumPy (the metric modules
load when a score is first computed), so the command-line parser can list the tasks before any heavy import.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..constants import NO_RELATION_LABELS, RELATION_LEVELS, find_no_relation_label
from ..errors import UsageError

logger = logging.getLogger(__name__)

AUTO_TASK = "auto"


# ------------------------------------------------------------------------------------------------------ the entries
@dataclass(frozen=True)
class MetricDescription:
    """How a metric is named on the Hub (`metric_type`, a Hub metric id) and explained in the model card.

    Args:
        key: the name the task's `score` returns it under (and `Trainer` logs as `eval_<key>` / `test_<key>`).
        metric_type: the Hub metric id of `model-index` (`f1`, `accuracy`, `precision`, ...).
        label: the column header of the card's result tables.
        description: one sentence under the tables.
    """

    key: str
    metric_type: str
    label: str
    description: str


@dataclass(frozen=True)
class PaperRecipe:
    """The paper's fine-tuning settings (Appendix A.3) for one relation level.

    Args:
        source: where the settings come from, for the logs (e.g. "Appendix A.3.2").
        training: `TrainingArguments` values for every training fraction.
        max_length: maximum sub-word length (`RelationExtractionArguments.max_length`).
        epochs_and_dropout: `(num_train_epochs, classifier_dropout)` per training fraction of the paper; a fraction
            in between takes those of the nearest one (log scale). Empty: `training` holds the epochs, the dropout
            stays at the model's default.
    """

    source: str
    training: Mapping[str, Any]
    max_length: int
    epochs_and_dropout: Mapping[float, tuple[float, float]] = field(default_factory=dict)

    def defaults(self, train_fraction: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """`(TrainingArguments values, RelationExtractionArguments values)` for `train_fraction`."""
        training, extraction = dict(self.training), {"max_length": self.max_length}
        if self.epochs_and_dropout:
            paper_fraction = nearest_paper_fraction(train_fraction, tuple(self.epochs_and_dropout))
            if not math.isclose(paper_fraction, train_fraction):
                logger.info("train_fraction=%s: using the paper's epochs and dropout for %s.", train_fraction,
                            paper_fraction)
            training["num_train_epochs"], extraction["classifier_dropout"] = self.epochs_and_dropout[paper_fraction]
        return training, extraction


def _any_labels(label_names: Sequence[str]) -> bool:
    return True


@dataclass(frozen=True)
class BenchmarkTask:
    """One benchmark task: everything that differs between SemEval, TACRED, Wiki80, DocRED, ... (module docstring).

    Args:
        name: the `--task` value.
        relation_level: `"sentence"` or `"document"`: the data the task is evaluated on.
        dataset_name: the benchmark's name in the model card.
        dataset_id: its Hub dataset id (card metadata).
        metrics: the metrics the card and the seed summary show, in this order; each `key` must be among what
            `score` returns.
        headline_metric: the key that selects the best dev checkpoint (`metric_for_best_model`, higher is better).
        score: computes the scores. Sentence level: `score(predictions, references, label_names)` with class ids;
            document level: `score(predicted_facts, reference_documents, train_facts)`, the signature of
            `finecl_hf.metrics.compute_docred_f1`. Returns `{key: value in [0, 1]}`.
        recipe: the paper's fine-tuning settings for the task (`paper_recipe`).
        metric_module: the `evaluate` module under `finecl_hf/metrics/` that implements the score, when there is one
            (`finecl_hf.metrics.load_metric(name)`).
        label_requirement: what label set the task needs, for the error raised when a dataset does not have it.
        accepts_labels: whether a dataset's label names fit the task; `--task auto` picks the first registered task
            of the dataset's relation level that accepts them, so register specific tasks before catch-all ones.
        dataset_from_folder: the task covers several corpora (TACRED, TACREV, Re-TACRED): cards name the dataset by
            its folder name rather than `dataset_id`.
    """

    name: str
    relation_level: str
    dataset_name: str
    dataset_id: str
    metrics: tuple[MetricDescription, ...]
    headline_metric: str
    score: Callable[..., dict[str, float]]
    recipe: PaperRecipe
    metric_module: str | None = None
    label_requirement: str | None = None
    accepts_labels: Callable[[Sequence[str]], bool] = _any_labels
    dataset_from_folder: bool = False

    def __post_init__(self) -> None:
        if self.name == AUTO_TASK or not self.name:
            raise ValueError(f"BenchmarkTask.name={self.name!r} is reserved or empty.")
        if self.relation_level not in RELATION_LEVELS:
            raise ValueError(
                f"BenchmarkTask {self.name!r}: relation_level={self.relation_level!r} must be one of {RELATION_LEVELS}."
            )
        if self.headline_metric not in self.metric_keys:
            raise ValueError(
                f"BenchmarkTask {self.name!r}: headline_metric={self.headline_metric!r} is not among its metrics "
                f"{self.metric_keys}."
            )

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return tuple(metric.key for metric in self.metrics)

    def check_labels(self, label_names: Sequence[str]) -> None:
        """Raise a `ValueError` naming the task's requirement when `label_names` do not fit it."""
        if not self.accepts_labels(label_names):
            raise UsageError(
                f"task={self.name!r} needs {self.label_requirement or 'other labels'}; the dataset's labels are "
                f"{list(label_names)}."
            )


# ------------------------------------------------------------------------------------------------------ the registry
TASKS: dict[str, BenchmarkTask] = {}


def register_task(task: BenchmarkTask, *, overwrite: bool = False) -> BenchmarkTask:
    """Add `task` to the registry (refusing to replace a task of the same name unless `overwrite`); returns it."""
    if task.name in TASKS and not overwrite:
        raise ValueError(f"A task named {task.name!r} is already registered; pass overwrite=True to replace it.")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> BenchmarkTask:
    """The registered task called `name`; a `ValueError` listing the registered ones otherwise."""
    if name not in TASKS:
        raise UsageError(f"task={name!r} must be {AUTO_TASK!r} or one of {tuple(TASKS)}.")
    return TASKS[name]


class _TaskChoices(Sequence):
    """`auto` followed by the registered task names, read when used: argparse `choices` that see later entries."""

    def __getitem__(self, index):
        return (AUTO_TASK, *TASKS)[index]

    def __len__(self) -> int:
        return 1 + len(TASKS)

    def __iter__(self) -> Iterator[str]:
        return iter((AUTO_TASK, *TASKS))

    def __contains__(self, name: object) -> bool:
        return name == AUTO_TASK or name in TASKS

    def __repr__(self) -> str:
        return repr(list(self))


TASK_CHOICES: Sequence[str] = _TaskChoices()


def resolve_task(task: str, relation_level: str, label_names: Sequence[str]) -> str:
    """Turn `task="auto"` into a registered task from the relation level and the label names; check explicit tasks.

    `auto` takes the first registered task of `relation_level` whose `accepts_labels` holds for `label_names`.
    """
    if task == AUTO_TASK:
        for candidate in TASKS.values():
            if candidate.relation_level == relation_level and candidate.accepts_labels(label_names):
                return candidate.name
        raise UsageError(f"No registered {relation_level}-level task accepts the labels {list(label_names)}.")
    resolved = get_task(task)
    if resolved.relation_level != relation_level:
        raise UsageError(
            f"task={task!r} is a {resolved.relation_level}-level task and does not match relation_level="
            f"{relation_level!r}."
        )
    resolved.check_labels(label_names)
    return task


# --------------------------------------------------------------------------------------------------- paper recipes
PAPER_FRACTIONS = (0.01, 0.1, 1.0)
# Paper, Appendix A.3.2 (SemEval and TACRED): shared settings, then epochs and dropout per training fraction.
SENTENCE_RECIPE = PaperRecipe(
    source="Appendix A.3.2",
    training={
        "per_device_train_batch_size": 64,
        "learning_rate": 5e-5,
        "warmup_steps": 500,
        "weight_decay": 1e-5,
        "adam_epsilon": 1e-8,
        "max_grad_norm": 1.0,
    },
    max_length=100,
    epochs_and_dropout={0.01: (80, 0.2), 0.1: (20, 0.1), 1.0: (8, 0.35)},
)
# Paper, Appendix A.3.1 (DocRED).
DOCUMENT_RECIPE = PaperRecipe(
    source="Appendix A.3.1",
    training={
        "per_device_train_batch_size": 32,
        "learning_rate": 4e-5,
        "num_train_epochs": 200,
        "weight_decay": 0.0,
        "adam_epsilon": 1e-8,
        "max_grad_norm": 1.0,
    },
    max_length=512,
)
# Not in the paper but needed to pick the best checkpoint by dev score and keep one copy of it.
EVALUATION_SETUP = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "logging_strategy": "epoch",
    "load_best_model_at_end": True,
    "save_total_limit": 1,
}


def nearest_paper_fraction(train_fraction: float, fractions: Sequence[float] = PAPER_FRACTIONS) -> float:
    """The paper's fraction (0.01, 0.1 or 1.0) closest to `train_fraction` on a log scale."""
    return min(fractions, key=lambda paper: abs(math.log(train_fraction / paper)))


def paper_recipe(relation_level: str, train_fraction: float, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The paper's fine-tuning settings (Appendix A.3) for a task and training fraction.

    Args:
        relation_level: `"sentence"` or `"document"`; must be the task's.
        train_fraction: share of the training data; fractions other than the paper's take the epochs and dropout
            of the nearest of those (log scale).
        task: a resolved task (see `resolve_task`), whose headline metric selects the best checkpoint.

    Returns:
        `(training_defaults, relation_extraction_defaults)`: values for `TrainingArguments` fields and for
        `RelationExtractionArguments` fields.
    """
    if relation_level not in RELATION_LEVELS:
        raise UsageError(f"relation_level={relation_level!r} must be one of {RELATION_LEVELS}.")
    if task == AUTO_TASK:
        raise UsageError(f"task={task!r} must be resolved to one of {tuple(TASKS)} first.")
    resolved = get_task(task)
    if resolved.relation_level != relation_level:
        raise UsageError(f"task={task!r} is a {resolved.relation_level}-level task, not {relation_level!r}.")
    training, extraction = resolved.recipe.defaults(train_fraction)
    training.update(EVALUATION_SETUP, metric_for_best_model=resolved.headline_metric, greater_is_better=True)
    return training, extraction


# --------------------------------------------------------------------------------------------------- score functions
def classification_scores(
    predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str] | None = None
) -> dict[str, float]:
    """Accuracy, micro-F1 (= accuracy when every row has a relation) and macro-F1 over the gold classes."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    f1_by_class = []
    for label in np.unique(references):
        correct = np.sum((predictions == label) & (references == label))
        predicted, gold = np.sum(predictions == label), np.sum(references == label)
        precision = correct / predicted if predicted else 0.0
        recall = correct / gold
        f1_by_class.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    accuracy = float(np.mean(predictions == references))
    return {"accuracy": accuracy, "micro_f1": accuracy, "macro_f1": float(np.mean(f1_by_class))}


def semeval_scores(predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str]):
    """The official macro-F1 and the paper code's micro-F1 of SemEval-2010 Task 8 (`semeval_f1`)."""
    from ..metrics import compute_semeval_f1

    return compute_semeval_f1(predictions, references, label_names=label_names)


def tacred_scores(predictions: Sequence[int], references: Sequence[int], label_names: Sequence[str]):
    """Accuracy and the micro precision/recall/F1 without the no-relation label (`tacred_f1`, prefixed `micro_`)."""
    from ..metrics import compute_tacred_f1

    scores = compute_tacred_f1(
        predictions, references, no_relation_label=find_no_relation_label(label_names), label_names=label_names
    )
    accuracy = float(np.mean(np.asarray(predictions) == np.asarray(references)))
    return {"accuracy": accuracy, **{f"micro_{name}": value for name, value in scores.items()}}


def docred_scores(predicted: Sequence[Sequence[Mapping[str, Any]]], references: Sequence[Mapping[str, Any]],
                  train_facts: frozenset | None = None) -> dict[str, float]:
    """F1, Ign F1, F1-macro and F1-macro-weighted of DocRED facts (`docred_f1`)."""
    from ..metrics import compute_docred_f1

    return compute_docred_f1(predicted, references, train_facts=train_facts)


def _is_semeval(label_names: Sequence[str]) -> bool:
    from ..metrics import SEMEVAL_LABELS

    return set(label_names) == set(SEMEVAL_LABELS)


def _has_no_relation(label_names: Sequence[str]) -> bool:
    return find_no_relation_label(label_names) is not None


# ------------------------------------------------------------------------------------------------- the benchmarks
# Registered from the most specific to the catch-all, the order `--task auto` tries them in.
register_task(BenchmarkTask(
    name="semeval",
    relation_level="sentence",
    dataset_name="SemEval-2010 Task 8",
    dataset_id="sem_eval_2010_task_8",
    metrics=(
        MetricDescription(
            "macro_f1_official", "f1", "Official macro-F1",
            "the SemEval-2010 Task 8 official score: macro-averaged F1 over the 9 relations, direction taken into "
            "account (a right relation with the wrong direction is an error), `Other` excluded (the official "
            "scorer's \"(9+1)-way\" figure).",
        ),
        MetricDescription(
            "micro_f1", "f1", "Micro-F1",
            "micro-averaged F1 over the 18 directed labels, `Other` excluded: the score the FineCL paper's code "
            "reports (the paper's Table 5).",
        ),
        MetricDescription("accuracy", "accuracy", "Accuracy", "exact match over all 19 labels."),
    ),
    headline_metric="macro_f1_official",
    score=semeval_scores,
    recipe=SENTENCE_RECIPE,
    metric_module="semeval_f1",
    label_requirement="the 19 SemEval-2010 Task 8 labels",
    accepts_labels=_is_semeval,
))
register_task(BenchmarkTask(
    name="tacred",
    relation_level="sentence",
    dataset_name="TACRED",
    dataset_id="tacred",
    metrics=(
        MetricDescription(
            "micro_f1", "f1", "Micro-F1",
            "micro-averaged F1 over all relations except the no-relation label (the official TACRED scorer).",
        ),
        MetricDescription("micro_precision", "precision", "Precision", "micro precision, no-relation excluded."),
        MetricDescription("micro_recall", "recall", "Recall", "micro recall, no-relation excluded."),
    ),
    headline_metric="micro_f1",
    score=tacred_scores,
    recipe=SENTENCE_RECIPE,
    metric_module="tacred_f1",
    label_requirement=f"a no-relation label {NO_RELATION_LABELS}",
    accepts_labels=_has_no_relation,
    dataset_from_folder=True,
))
# Not in the paper: Wiki80-style corpora (every row holds a relation) take the sentence-level recipe.
register_task(BenchmarkTask(
    name="wiki80",
    relation_level="sentence",
    dataset_name="Wiki80",
    dataset_id="wiki80",
    metrics=(
        MetricDescription("accuracy", "accuracy", "Accuracy", "exact match over all relations."),
        MetricDescription(
            "micro_f1", "f1", "Micro-F1",
            "micro-averaged F1 over all relations; every row holds a relation, so it equals accuracy.",
        ),
        MetricDescription("macro_f1", "f1", "Macro-F1", "unweighted mean of the per-relation F1."),
    ),
    headline_metric="micro_f1",
    score=classification_scores,
    recipe=SENTENCE_RECIPE,
    dataset_from_folder=True,
))
register_task(BenchmarkTask(
    name="docred",
    relation_level="document",
    dataset_name="DocRED",
    dataset_id="docred",
    metrics=(
        MetricDescription("f1", "f1", "F1", "micro-F1 over (document, head, tail, relation) facts (official DocRED)."),
        MetricDescription(
            "ign_f1", "f1", "Ign F1",
            "F1 ignoring correct facts whose (head mention, tail mention, relation) already occur in the training "
            "facts.",
        ),
        MetricDescription("f1_macro", "f1", "F1-macro", "mean of the per-relation F1 (the paper's Table 4)."),
        MetricDescription(
            "f1_macro_weighted", "f1", "F1-macro-weighted", "per-relation F1 weighted by gold support (Table 4)."
        ),
    ),
    headline_metric="f1",
    score=docred_scores,
    recipe=DOCUMENT_RECIPE,
    metric_module="docred_f1",
))

__all__ = [
    "AUTO_TASK",
    "DOCUMENT_RECIPE",
    "EVALUATION_SETUP",
    "PAPER_FRACTIONS",
    "SENTENCE_RECIPE",
    "TASKS",
    "TASK_CHOICES",
    "BenchmarkTask",
    "MetricDescription",
    "PaperRecipe",
    "classification_scores",
    "docred_scores",
    "get_task",
    "nearest_paper_fraction",
    "paper_recipe",
    "register_task",
    "resolve_task",
    "semeval_scores",
    "tacred_scores",
]
