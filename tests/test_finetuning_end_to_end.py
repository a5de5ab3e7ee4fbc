"""End-to-end fine-tuning runs on the real corpora: SemEval-2010 Task 8 with the offline MiniLM, and a DocRED-format
run on the shipped Re-DocRED documents."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from datasets import DatasetDict, load_dataset
from transformers import TrainingArguments, pipeline

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.finetuning import RelationExtractionArguments, run_fine_tuning

DOCRED_METRICS = ("f1", "ign_f1", "f1_macro", "f1_macro_weighted", "precision", "recall", "threshold")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def card_metadata(directory: Path) -> dict:
    return yaml.safe_load((directory / "README.md").read_text().split("---")[1])


def training_arguments(output_dir: Path, **overrides) -> TrainingArguments:
    settings = dict(
        output_dir=str(output_dir), eval_strategy="epoch", save_strategy="epoch", load_best_model_at_end=True,
        save_total_limit=1, report_to="none", disable_tqdm=True, use_cpu=True, dataloader_pin_memory=False,
    )
    return TrainingArguments(**{**settings, **overrides})


@pytest.mark.slow
def test_minilm_on_a_semeval_subset_beats_the_majority_class_by_a_wide_margin(shared_data_dir, minilm_path, tmp_path):
    source = shared_data_dir / "semeval2010_task8"
    convert_semeval(
        [SplitSource("train", source / "TRAIN_FILE.TXT"), SplitSource("test", source / "TEST_FILE_FULL.TXT")],
        tmp_path / "semeval",
    )
    # 800 training sentences (10%), 3 epochs of 50 steps, batches of similar lengths (less padding): about a minute
    # on 2 idle cores.
    arguments = RelationExtractionArguments(
        model_name_or_path=minilm_path, dataset_path=str(tmp_path / "semeval"), train_fraction=0.1, max_length=64,
        classifier_dropout=0.1, max_eval_samples=200, max_predict_samples=400,
    )
    training = training_arguments(
        tmp_path / "run", num_train_epochs=3, per_device_train_batch_size=16, per_device_eval_batch_size=100,
        learning_rate=1e-4, warmup_steps=0.1, metric_for_best_model="macro_f1_official", seed=42,
        train_sampling_strategy="group_by_length",
    )
    result = run_fine_tuning(arguments, training)
    metrics = result.runs[0].metrics
    output = tmp_path / "run"

    # Predicting the majority class (Other) scores 0 official macro-F1 and its share of the test rows as accuracy.
    predictions = read_jsonl(output / "predictions_test.jsonl")
    majority_accuracy = Counter(record["gold"] for record in predictions).most_common(1)[0][1] / len(predictions)
    assert len(predictions) == 400 and metrics["train_runtime"] > 0
    assert metrics["test_macro_f1_official"] > 0.45, metrics  # about 0.61 when this was written
    assert metrics["test_micro_f1"] > 0.45 and metrics["test_accuracy"] > majority_accuracy + 0.25, metrics
    assert json.loads((output / "all_results.json").read_text())["test_macro_f1_official"] == metrics[
        "test_macro_f1_official"
    ]
    assert not list(output.glob("checkpoint-*")) and (output / "model.safetensors").is_file()
    assert "AutoModel" in json.loads((output / "config.json").read_text())["auto_map"]
    values = {m["name"]: m["value"] for r in card_metadata(output)["model-index"][0]["results"] for m in r["metrics"]}
    assert values["Official macro-F1 (test)"] == round(100 * metrics["test_macro_f1_official"], 2)

    # Inference from the saved folder agrees with the evaluation's predictions file.
    extractor = pipeline("relation-extraction", model=str(output), device="cpu")
    rows = load_dataset(str(tmp_path / "semeval"), split="test").select(range(16))
    for row, record, result in zip(rows, predictions, extractor(list(rows), batch_size=8)):
        assert result[0]["label"] == record["predicted"]
        assert result[0]["score"] == pytest.approx(record["score"], abs=1e-4)


@pytest.fixture(scope="module")
def redocred(shared_data_dir, tmp_path_factory) -> DatasetDict:
    """20 Re-DocRED documents converted by the data layer, split here into train / dev / test."""
    root = tmp_path_factory.mktemp("redocred")
    with gzip.open(shared_data_dir / "redocred" / "test_revised.json.gz", "rt", encoding="utf-8") as handle:
        documents = json.load(handle)[:20]
    (root / "test_revised.json").write_text(json.dumps(documents))
    convert_docred(
        [SplitSource("test", root / "test_revised.json")], root / "dataset",
        rel_info_file=shared_data_dir / "docred" / "rel_info.json", relation_instances=False,
    )
    documents = load_dataset(str(root / "dataset"), split="test", cache_dir=str(root / "cache"))
    return DatasetDict(
        train=documents.select(range(12)), validation=documents.select(range(12, 16)),
        test=documents.select(range(16, 20)),
    )


@pytest.mark.slow
@pytest.mark.parametrize("document_loss", ["bce", "adaptive_threshold"])
def test_docred_format_run_produces_the_full_metrics(redocred, tiny_backbone, tmp_path, document_loss):
    arguments = RelationExtractionArguments(
        model_name_or_path=str(tiny_backbone), dataset_path="redocred", relation_level="document", doc_loss=document_loss,
        max_length=128, document_projection_size=16,
    )
    training = training_arguments(
        tmp_path / "run", num_train_epochs=2, per_device_train_batch_size=6, per_device_eval_batch_size=4,
        learning_rate=1e-3, metric_for_best_model="f1", seed=0,
    )
    metrics = run_fine_tuning(arguments, training, redocred).runs[0].metrics
    output = tmp_path / "run"

    expected = DOCRED_METRICS if document_loss == "bce" else tuple(m for m in DOCRED_METRICS if m != "threshold")
    for split in ("eval", "test"):
        assert all(f"{split}_{name}" in metrics for name in expected), sorted(metrics)
        assert all(0.0 <= metrics[f"{split}_{name}"] <= 1.0 for name in expected if name != "threshold")
    # Gold facts of entities cut by max_length still count (as missed): every relation of the split is counted.
    assert metrics["test_num_gold"] == len({(r["head"], r["tail"], r["relation"], row["uid"])
                                            for row in redocred["test"] for r in row["relations"]})
    config = json.loads((output / "config.json").read_text())
    if document_loss == "bce":
        # The dev-tuned threshold is applied unchanged to test and saved for inference.
        assert metrics["test_threshold"] == metrics["eval_threshold"] == config["decision_threshold"]
    records = read_jsonl(output / "predictions_test.jsonl")
    assert [record["uid"] for record in records] == redocred["test"]["uid"]
    assert all({"gold", "predicted", "title"} <= set(record) for record in records)
    assert card_metadata(output)["finecl"]["relation_level"] == "document"

    # Inference from the saved folder finds the facts of the predictions file.
    extractor = pipeline("relation-extraction", model=str(output), device="cpu")
    for row, record in zip(redocred["test"].select(range(2)), records):
        facts = extractor(row)
        expected = {(fact["h"], fact["t"], fact["r"]) for fact in record["predicted"]}
        assert {(fact["head"], fact["tail"], fact["label"]) for fact in facts} == expected
