"""One owner per extension axis: a benchmark task added through the task registry alone, and the shared names of
`finecl_hf.constants` agreeing with the literals of the files that cannot import them (checkpoint and metric files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from datasets import ClassLabel, Dataset, DatasetDict
from transformers import HfArgumentParser, TrainingArguments

from finecl_hf import configuration
from finecl_hf.constants import (
    IGNORE_INDEX,
    LEARNING_ORDER_COLUMNS,
    NO_RELATION,
    NO_RELATION_LABELS,
    NOT_LEARNED,
    RELATION_LEVELS,
    SEMEVAL_NO_RELATION,
    find_no_relation_label,
)
from finecl_hf.data.schema import SEMEVAL_RELATIONS, relation_instance_features, semeval_label_names, sentence_features
from finecl_hf.finetuning import RelationExtractionArguments, run_fine_tuning
from finecl_hf.finetuning.tasks import (
    TASK_CHOICES,
    TASKS,
    BenchmarkTask,
    MetricDescription,
    get_task,
    paper_recipe,
    register_task,
    resolve_task,
)
from finecl_hf.data.learning_order import learning_order_columns
from finecl_hf.metrics import METRIC_NAMES, SEMEVAL_LABELS, load_metric
from finecl_hf.modeling import FineCLForPreTraining
from finecl_hf.pretraining.synthetic import learning_order_label_names, synthetic_features

TOY_LABELS = ["toy:left", "toy:right", "toy:up"]


def toy_scores(predictions, references, label_names):
    """Exact match, and the share of predictions that point the same way (left/right vs up) as the gold label."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    up = label_names.index("toy:up")
    return {
        "toy_accuracy": float(np.mean(predictions == references)),
        "toy_axis_agreement": float(np.mean((predictions == up) == (references == up))),
    }


@pytest.fixture
def toy_task():
    """A sentence-level benchmark that exists only through `register_task` (removed again after the test)."""
    task = register_task(BenchmarkTask(
        name="toy",
        relation_level="sentence",
        dataset_name="Toy benchmark",
        dataset_id="toy_benchmark",
        metrics=(
            MetricDescription("toy_accuracy", "accuracy", "Toy accuracy", "exact match over the three toy labels."),
            MetricDescription("toy_axis_agreement", "accuracy", "Axis agreement", "same axis as the gold label."),
        ),
        headline_metric="toy_accuracy",
        score=toy_scores,
        recipe=get_task("wiki80").recipe,
        label_requirement="labels named `toy:*`",
        accepts_labels=lambda names: all(name.startswith("toy:") for name in names),
    ))
    yield task
    TASKS.pop(task.name)


def toy_rows(num_rows: int, split: str) -> Dataset:
    rng = np.random.default_rng(len(split))
    rows = [
        {
            "uid": f"{split}/{index}",
            "id": str(index),
            "tokens": ["Paris", "is", "the", "capital", "of", "France", "."],
            "head": {"name": "Paris", "start": 0, "end": 1, "type": None},
            "tail": {"name": "France", "start": 5, "end": 6, "type": None},
            "relation": int(rng.integers(len(TOY_LABELS))),
        }
        for index in range(num_rows)
    ]
    return Dataset.from_list(rows, features=sentence_features(TOY_LABELS))


# ---------------------------------------------------------------------------------------------------- task registry
def test_a_task_added_through_the_registry_alone_fine_tunes_and_writes_its_card(tmp_path, tiny_backbone, toy_task):
    assert "toy" in TASK_CHOICES and resolve_task("toy", "sentence", TOY_LABELS) == "toy"
    training_defaults, _ = paper_recipe("sentence", 0.1, "toy")
    assert training_defaults["metric_for_best_model"] == "toy_accuracy"

    output_dir = tmp_path / "toy-run"
    args = RelationExtractionArguments(
        model_name_or_path=str(tiny_backbone), dataset_path=str(tmp_path / "toy_corpus"), task="toy",
        validation_size=6, max_length=32,
    )
    training_args = TrainingArguments(
        output_dir=str(output_dir), max_steps=1, per_device_train_batch_size=4, eval_strategy="no",
        save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True,
    )
    result = run_fine_tuning(args, training_args, DatasetDict(train=toy_rows(24, "train"), test=toy_rows(10, "test")))

    metrics = result.runs[0].metrics
    assert result.runs[0].training_args.max_steps == 1 and "train_loss" in metrics
    records = [json.loads(line) for line in (output_dir / "predictions_test.jsonl").read_text().splitlines()]
    assert len(records) == 10
    assert metrics["test_toy_accuracy"] == pytest.approx(np.mean([r["predicted"] == r["gold"] for r in records]))
    assert {"eval_toy_axis_agreement", "test_toy_axis_agreement"} <= set(metrics)

    card = (output_dir / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["finecl"]["task"] == "toy" and metadata["datasets"] == ["toy_benchmark"]
    results = metadata["model-index"][0]["results"]
    names = {metric["name"] for entry in results for metric in entry["metrics"]}
    assert {"Toy accuracy (test)", "Axis agreement (test)", "Toy accuracy (validation)"} <= names
    assert {entry["dataset"]["name"] for entry in results} == {"Toy benchmark"}
    assert "**Toy accuracy**: exact match over the three toy labels." in card


def test_the_command_line_sees_registered_tasks_and_explains_unfitting_labels(toy_task):
    parser = HfArgumentParser(RelationExtractionArguments)
    (args,) = parser.parse_args_into_dataclasses(["--model_name_or_path", "m", "--dataset_path", "d", "--task", "toy"])
    assert args.task == "toy"
    with pytest.raises(ValueError, match=r"task='toy' needs labels named `toy:\*`"):
        resolve_task("toy", "sentence", ["P17", "P31"])
    # `auto` tries tasks in registration order: the catch-all Wiki80 entry keeps the toy labels.
    assert resolve_task("auto", "sentence", TOY_LABELS) == "wiki80"


def test_an_unregistered_task_is_refused_with_the_registered_names():
    with pytest.raises(ValueError, match="'semeval', 'tacred', 'wiki80', 'docred'"):
        get_task("toy")
    with pytest.raises(SystemExit):
        HfArgumentParser(RelationExtractionArguments).parse_args_into_dataclasses(
            ["--model_name_or_path", "m", "--dataset_path", "d", "--task", "toy"]
        )


def test_registered_tasks_are_consistent_and_their_metric_modules_ship():
    assert list(TASKS) == ["semeval", "tacred", "wiki80", "docred"]
    for task in TASKS.values():
        assert task.headline_metric in task.metric_keys
        assert task.metric_module is None or task.metric_module in METRIC_NAMES
    assert sorted(task.metric_module for task in TASKS.values() if task.metric_module) == sorted(METRIC_NAMES)
    with pytest.raises(ValueError, match="already registered"):
        register_task(get_task("semeval"))
    with pytest.raises(ValueError, match="headline_metric='f1' is not among"):
        BenchmarkTask(name="bad", relation_level="sentence", dataset_name="x", dataset_id="x",
                      metrics=(MetricDescription("accuracy", "accuracy", "Accuracy", "."),), headline_metric="f1",
                      score=toy_scores, recipe=get_task("semeval").recipe)


def test_each_task_scores_through_its_shipped_evaluate_module():
    """The plain score of a task and `evaluate.load` of its metric module give the same numbers."""
    predictions, references = [1, 0, 2, 2], [1, 2, 2, 0]
    tacred_labels = [NO_RELATION, "per:age", "org:founded"]
    scores = get_task("tacred").score(predictions, references, tacred_labels)
    module = load_metric("tacred_f1", keep_in_memory=True)
    assert scores["micro_f1"] == pytest.approx(
        module.compute(predictions=predictions, references=references, label_names=tacred_labels)["f1"]
    )
    semeval = get_task("semeval").score([0, 1], [0, 2], SEMEVAL_LABELS)
    assert semeval == pytest.approx(
        load_metric("semeval_f1", keep_in_memory=True).compute(
            predictions=[0, 1], references=[0, 2], label_names=SEMEVAL_LABELS
        )
    )


# --------------------------------------------------------------------------------------------- constants, defined once
def test_checkpoint_files_keep_the_shared_values():
    """`configuration.py` is copied beside checkpoints and may not import finecl_hf: its literals must match."""
    assert configuration.RELATION_LEVELS == RELATION_LEVELS
    assert configuration.FineCLConfig().no_relation_label == NO_RELATION


def test_metric_files_keep_the_shared_values():
    """The metric files are standalone `evaluate` modules: their no-relation names and SemEval labels must match."""
    import sys

    semeval = sys.modules["finecl_hf.metrics._semeval_f1"]
    tacred = sys.modules["finecl_hf.metrics._tacred_f1"]
    assert semeval.OTHER_LABEL == SEMEVAL_NO_RELATION
    assert tacred.DEFAULT_NO_RELATION == NO_RELATION
    assert semeval.RELATION_TYPES == SEMEVAL_RELATIONS
    assert set(semeval.LABELS) == set(semeval_label_names())


def test_the_ignore_index_is_what_the_losses_skip(tiny_backbone):
    """Labels equal to `IGNORE_INDEX` contribute nothing: PyTorch's cross-entropy and the model's MLM loss skip them."""
    assert torch.nn.CrossEntropyLoss().ignore_index == IGNORE_INDEX
    model = FineCLForPreTraining.from_backbone(str(tiny_backbone)).eval()
    input_ids = torch.tensor([[0, 10, 11, 12, 2]])
    ignored = torch.full_like(input_ids, IGNORE_INDEX)
    assert model(input_ids=input_ids, labels=ignored).mlm_loss.item() == 0.0
    one_target = ignored.clone()
    one_target[0, 2] = 11
    assert model(input_ids=input_ids, labels=one_target).mlm_loss.item() > 0.0


def test_no_relation_lookup_order():
    assert NO_RELATION_LABELS[:2] == (NO_RELATION, SEMEVAL_NO_RELATION)
    assert find_no_relation_label(semeval_label_names()) == SEMEVAL_NO_RELATION
    assert find_no_relation_label(["NA", "P17"]) == "NA"
    assert find_no_relation_label(["Other", NO_RELATION]) == NO_RELATION
    assert find_no_relation_label(["P17", "P31"]) is None


def test_stage_one_export_and_the_synthetic_datasets_share_one_learning_order_schema():
    names = learning_order_label_names()
    instances = Dataset.from_list(
        [{"uid": "train/0/0-1/P17", "document_index": 0, "document_uid": "train/0", "head": 0, "tail": 1,
          "relation": 1}],
        features=relation_instance_features(names),
    )
    exported = learning_order_columns(instances, np.array([NOT_LEARNED]), np.array([False]))
    assert exported.features == synthetic_features()[1]
    assert list(exported.column_names[-len(LEARNING_ORDER_COLUMNS):]) == list(LEARNING_ORDER_COLUMNS)
    assert exported[0]["learned"] is False and isinstance(exported.features["relation"], ClassLabel)


def test_the_learning_order_folder_written_by_synthetic_loads_with_stage_two(tmp_path):
    from finecl_hf.data.learning_order import load_learning_order_dataset
    from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset

    folder = write_synthetic_learning_order_dataset(Path(tmp_path) / "order", num_documents=3)
    instances, documents = load_learning_order_dataset(str(folder))
    assert len(documents) == 3 and set(LEARNING_ORDER_COLUMNS) <= set(instances.column_names)
