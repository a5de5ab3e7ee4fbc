"""Stage 3 building blocks: recipes and CLI parsing, data reduction, evaluation, model cards and inference."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from datasets import Dataset, DatasetDict
from huggingface_hub import ModelCard
from transformers import EvalPrediction, TrainingArguments, pipeline

from finecl_hf import FineCLConfig, FineCLForRelationExtraction
from finecl_hf.data.schema import semeval_label_names, sentence_features
from finecl_hf.finetuning import (
    FineTunedModelCardSpec,
    RelationExtractionArguments,
    hold_out_validation,
    paper_recipe,
    render_model_card,
    training_subset,
    write_model_card,
)
from finecl_hf.data.data_collator import SentenceRelationCollator
from finecl_hf.finetuning.evaluation import (
    DocumentDecoder,
    DocumentMetrics,
    SentenceMetrics,
    resolve_task,
    seed_summary_markdown,
    sentence_prediction_records,
    summarize_seeds,
)
from finecl_hf.pipelines import parse_marked_sentence, split_words_with_spans
from finecl_hf.finetuning.preparation import prepare_data
from finecl_hf.finetuning.run import build_model
from finecl_hf.finetuning.trainer import RelationExtractionTrainer, group_by_document

REPOSITORY = Path(__file__).resolve().parent.parent
SEMEVAL_LABELS = semeval_label_names()


def load_cli():
    """`trainers/finetune.py` as a module (trainers/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("finetune_cli", REPOSITORY / "trainers" / "finetune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sentence_dataset(num_rows: int, label_names: list[str], seed: int = 0, split: str = "train") -> Dataset:
    """Synthetic sentence-level rows with imbalanced classes (class c has weight c + 1)."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, len(label_names) + 1, dtype=float)
    labels = rng.choice(len(label_names), size=num_rows, p=weights / weights.sum())
    rows = [
        {
            "uid": f"{split}/{index}",
            "id": str(index),
            "tokens": ["the", "cat", "sat", "on", "the", "mat", "."],
            "head": {"name": "cat", "start": 1, "end": 2, "type": None},
            "tail": {"name": "mat", "start": 5, "end": 6, "type": None},
            "relation": int(label),
        }
        for index, label in enumerate(labels)
    ]
    return Dataset.from_list(rows, features=sentence_features(label_names))


# ---------------------------------------------------------------------------------------------------- recipes and CLI
@pytest.mark.parametrize(("fraction", "epochs", "dropout"), [(0.01, 80, 0.2), (0.1, 20, 0.1), (1.0, 8, 0.35)])
def test_paper_recipe_sentence_level_follows_appendix_a3(fraction, epochs, dropout):
    training, extraction = paper_recipe("sentence", fraction, "semeval")
    assert training["num_train_epochs"] == epochs and extraction["classifier_dropout"] == dropout
    assert training["per_device_train_batch_size"] == 64 and training["learning_rate"] == 5e-5
    assert training["warmup_steps"] == 500 and training["weight_decay"] == 1e-5
    assert extraction["max_length"] == 100
    assert training["metric_for_best_model"] == "macro_f1_official" and training["load_best_model_at_end"]


def test_paper_recipe_document_level_and_nearest_fraction():
    training, extraction = paper_recipe("document", 0.1, "docred")
    assert training["per_device_train_batch_size"] == 32 and training["learning_rate"] == 4e-5
    assert extraction["max_length"] == 512
    assert training["metric_for_best_model"] == "f1" and training["weight_decay"] == 0.0
    # 5% is closer to 10% than to 1% on a log scale.
    assert paper_recipe("sentence", 0.05, "tacred")[0]["num_train_epochs"] == 20
    with pytest.raises(ValueError, match="relation_level"):
        paper_recipe("paragraph", 0.1, "semeval")


def test_cli_applies_the_recipe_only_where_no_flag_was_given(tmp_path):
    folder = tmp_path / "semeval"
    DatasetDict(train=sentence_dataset(40, SEMEVAL_LABELS)).save_to_disk(str(folder))
    cli = load_cli()
    common = ["--model_name_or_path", "unused", "--dataset_path", str(folder), "--output_dir", str(tmp_path / "out")]
    arguments, training = cli.parse_arguments(common + ["--train_fraction", "0.01", "--learning_rate", "1e-3"])
    assert training.learning_rate == 1e-3  # explicit flag wins
    assert training.num_train_epochs == 80 and arguments.classifier_dropout == 0.2 and arguments.max_length == 100
    assert training.metric_for_best_model == "macro_f1_official" and training.load_best_model_at_end
    arguments, training = cli.parse_arguments(common + ["--recipe", "none"])
    assert training.num_train_epochs == TrainingArguments(output_dir="x").num_train_epochs
    assert arguments.classifier_dropout is None


def test_cli_help_lists_both_argument_groups(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_cli().parse_arguments(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--train_fraction" in help_text and "--learning_rate" in help_text


def test_cli_reads_a_json_file_with_the_same_precedence(tmp_path):
    folder = tmp_path / "semeval"
    DatasetDict(train=sentence_dataset(40, SEMEVAL_LABELS)).save_to_disk(str(folder))
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model_name_or_path": "unused", "dataset_path": str(folder),
                                  "output_dir": str(tmp_path / "out"), "train_fraction": 1.0, "num_train_epochs": 2}))
    _, training = load_cli().parse_arguments([str(config)])
    assert training.num_train_epochs == 2 and training.per_device_train_batch_size == 64


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("train_fraction", 0.0, "train_fraction"), ("classifier_dropout", 1.0, "classifier_dropout"),
     ("seeds", [1, 1], "repeats")],
)
def test_arguments_reject_invalid_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        RelationExtractionArguments(model_name_or_path="m", dataset_path="d", **{field: value})


# ------------------------------------------------------------------------------------------------------ data reduction
def test_stratified_subsets_are_reproducible_nested_and_proportional():
    names = ["no_relation", "a", "b", "c", "d"]
    pool = sentence_dataset(2000, names)
    one, ten, full = (training_subset(pool, fraction, seed=7) for fraction in (0.01, 0.1, 1.0))
    assert training_subset(pool, 0.1, seed=7)["uid"] == ten["uid"]
    assert training_subset(pool, 0.1, seed=8)["uid"] != ten["uid"]
    assert set(one["uid"]) <= set(ten["uid"]) <= set(full["uid"]) and len(full) == len(pool)
    assert len(ten) == 200
    pool_counts, subset_counts = Counter(pool["relation"]), Counter(ten["relation"])
    for label, count in pool_counts.items():
        assert abs(subset_counts[label] - count * 200 / len(pool)) <= 1


def test_held_out_dev_is_disjoint_and_fractions_refer_to_the_whole_training_split():
    train = sentence_dataset(1000, ["no_relation", "a", "b"])
    pool, dev = hold_out_validation(train, 0.1, seed=3)
    assert len(dev) == 100 and not set(dev["uid"]) & set(pool["uid"])
    subset = training_subset(pool, 0.1, seed=3, reference_size=len(train))
    assert len(subset) == 100 and not set(subset["uid"]) & set(dev["uid"])
    assert len(training_subset(pool, 1.0, seed=3, reference_size=len(train))) == len(pool)


def test_the_training_subset_does_not_depend_on_the_training_seed(tiny_backbone):
    dataset = DatasetDict(train=sentence_dataset(300, SEMEVAL_LABELS), test=sentence_dataset(20, SEMEVAL_LABELS))
    common = dict(model_name_or_path=str(tiny_backbone), dataset_path="unused", train_fraction=0.1, subset_seed=5)
    first = prepare_data(RelationExtractionArguments(seeds=[1, 2], **common), dataset)
    second = prepare_data(RelationExtractionArguments(seeds=[3], **common), dataset)
    assert first.raw["train"]["uid"] == second.raw["train"]["uid"] and len(first.raw["train"]) == 30
    assert first.raw["validation"]["uid"] == second.raw["validation"]["uid"]
    assert first.task == "semeval" and "held out" in first.validation_note


# ---------------------------------------------------------------------------------------------------------- evaluation
def test_resolve_task_recognises_the_benchmarks():
    assert resolve_task("auto", "sentence", SEMEVAL_LABELS) == "semeval"
    assert resolve_task("auto", "sentence", ["no_relation", "per:age"]) == "tacred"
    assert resolve_task("auto", "sentence", ["P17", "P31"]) == "wiki80"
    assert resolve_task("auto", "document", ["no_relation", "P17"]) == "docred"
    with pytest.raises(ValueError, match="relation_level"):
        resolve_task("docred", "sentence", ["no_relation", "P17"])
    with pytest.raises(ValueError, match="19 SemEval"):
        resolve_task("semeval", "sentence", ["no_relation", "P17"])


def test_sentence_metrics_name_both_semeval_scores_and_count_dropped_rows():
    names = SEMEVAL_LABELS
    gold = [names.index("Cause-Effect(e1,e2)"), names.index("Cause-Effect(e2,e1)"), names.index("Other")]
    logits = np.full((3, len(names)), -5.0)
    logits[0, gold[0]] = logits[1, gold[0]] = logits[2, gold[2]] = 5.0  # row 1: right type, wrong direction
    scores = SentenceMetrics("semeval", names)(EvalPrediction(predictions=logits, label_ids=np.array(gold)))
    # Cause-Effect: 1 correct, 1 proposed + 1 wrong direction -> P = 1/2, R = 1/2; the only type in the references.
    assert scores["macro_f1_official"] == pytest.approx(0.5)
    assert scores["micro_f1"] == pytest.approx(0.5)  # 1 correct of 2 predicted and 2 gold directed relations
    dropped = SentenceMetrics("semeval", names, dropped_references=[gold[0]])(
        EvalPrediction(predictions=logits, label_ids=np.array(gold))
    )
    assert dropped["micro_recall"] == pytest.approx(1 / 3) and dropped["accuracy"] == pytest.approx(2 / 4)


def test_evaluation_visits_rows_in_order_even_when_training_groups_by_length(tmp_path, tiny_backbone):
    rows = sentence_dataset(12, SEMEVAL_LABELS)
    rows = rows.map(lambda row, index: {"tokens": row["tokens"] + ["word"] * (index % 5) * 3}, with_indices=True)
    data = prepare_data(
        RelationExtractionArguments(model_name_or_path=str(tiny_backbone), dataset_path="unused", validation_size=2),
        DatasetDict(train=rows, test=rows),
    )
    arguments = TrainingArguments(output_dir=str(tmp_path), train_sampling_strategy="group_by_length",
                                  per_device_eval_batch_size=4, report_to="none", use_cpu=True)
    trainer = RelationExtractionTrainer(
        model=build_model(RelationExtractionArguments(model_name_or_path=str(tiny_backbone), dataset_path="-"),
                          SEMEVAL_LABELS),
        args=arguments, data_collator=SentenceRelationCollator(data.tokenizer), processing_class=data.tokenizer,
    )
    lengths = [int(mask.sum()) for batch in trainer.get_eval_dataloader(data.tokenized["test"])
               for mask in batch["attention_mask"]]
    assert lengths == [len(ids) for ids in data.tokenized["test"]["input_ids"]]
    assert len(set(lengths)) > 1


def test_prediction_records_refuse_predictions_out_of_dataset_order():
    rows = sentence_dataset(3, SEMEVAL_LABELS)
    logits = np.zeros((3, len(SEMEVAL_LABELS)))
    records = sentence_prediction_records(rows, rows["uid"], logits, SEMEVAL_LABELS, references=rows["relation"])
    assert [record["uid"] for record in records] == rows["uid"]
    shuffled = [rows["relation"][index] for index in (1, 2, 0)]
    if shuffled != rows["relation"]:
        with pytest.raises(ValueError, match="not in dataset order"):
            sentence_prediction_records(rows, rows["uid"], logits, SEMEVAL_LABELS, references=shuffled)


def test_group_by_document_keeps_pair_order_and_pads():
    values = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    rows = torch.tensor([1, 0, 1, 1])
    grouped = group_by_document(values, rows, num_documents=3)
    assert grouped.shape == (3, 3, 1)
    assert grouped[0, :, 0].tolist() == [2.0, -100.0, -100.0]
    assert grouped[1, :, 0].tolist() == [1.0, 3.0, 4.0]
    assert (grouped[2] == -100).all()


LABELS = ["no_relation", "P1", "P2"]


def documents(relations_per_document: list[list[tuple[int, int, int]]]) -> Dataset:
    """Documents with three entities named e<doc>_<entity> and the given (head, tail, relation id) triples."""
    rows = []
    for index, relations in enumerate(relations_per_document):
        rows.append(
            {
                "uid": f"d/{index}",
                "title": f"doc {index}",
                "entities": [{"mentions": [{"name": f"e{index}_{entity}"}]} for entity in range(3)],
                "relations": [{"head": h, "tail": t, "relation": r} for h, t, r in relations],
            }
        )
    return Dataset.from_list(rows)


def pair_outputs(probabilities_per_document: list[dict[tuple[int, int, int], float]]):
    """Per-document logits [6 pairs, 3] (all ordered pairs of 3 entities) from chosen P(relation) values."""
    pairs = np.array([(h, t) for h in range(3) for t in range(3) if h != t])
    logits = []
    for probabilities in probabilities_per_document:
        table = np.full((len(pairs), len(LABELS)), -10.0)
        for (head, tail, relation), probability in probabilities.items():
            row = next(i for i, (h, t) in enumerate(pairs) if (h, t) == (head, tail))
            table[row, relation] = math.log(probability / (1 - probability))
        logits.append(table)
    return np.stack(logits), np.stack([pairs] * len(logits))


def test_document_threshold_is_tuned_on_dev_and_applied_unchanged_to_test():
    dev = documents([[(0, 1, 1), (1, 2, 2)]])
    dev_logits, dev_pairs = pair_outputs([{(0, 1, 1): 0.9, (1, 2, 2): 0.8, (2, 0, 1): 0.3}])
    decoder = DocumentDecoder("bce")
    dev_scores = DocumentMetrics(dev, LABELS, decoder)(EvalPrediction(predictions=dev_logits, label_ids=dev_pairs))
    assert dev_scores["f1"] == 1.0 and 0.3 < dev_scores["threshold"] < 0.8

    # On test, the gold fact scored 0.5 sits below the dev threshold: the best test threshold (< 0.5) would find it.
    decoder.threshold = dev_scores["threshold"]
    test = documents([[(0, 1, 1), (0, 2, 2)]])
    test_logits, test_pairs = pair_outputs([{(0, 1, 1): 0.95, (0, 2, 2): 0.5}])
    test_scores = DocumentMetrics(test, LABELS, decoder)(EvalPrediction(predictions=test_logits, label_ids=test_pairs))
    assert test_scores["threshold"] == dev_scores["threshold"]
    assert (test_scores["precision"], test_scores["recall"]) == (1.0, 0.5)
    assert test_scores["f1"] == pytest.approx(2 / 3)


def test_document_metrics_report_the_full_docred_dictionary_and_ign_f1():
    dev = documents([[(0, 1, 1), (1, 2, 2)]])
    logits, pairs = pair_outputs([{(0, 1, 1): 0.9, (1, 2, 2): 0.8}])
    train_facts = frozenset({("e0_0", "e0_1", "P1")})  # the first correct fact was seen in training
    decoder = DocumentDecoder("bce", threshold=0.5)
    scores = DocumentMetrics(dev, LABELS, decoder, train_facts)(
        EvalPrediction(predictions=[logits], label_ids=[pairs])  # per-batch lists (eval_do_concat_batches=False)
    )
    assert {"f1", "ign_f1", "f1_macro", "f1_macro_weighted", "precision", "recall", "threshold"} <= set(scores)
    assert scores["f1"] == 1.0 and scores["num_correct_in_train"] == 1
    assert scores["ign_f1"] == pytest.approx(2 * 1.0 * 1.0 / 2.0)  # ign precision 1/1, recall 2/2


def test_adaptive_threshold_decoding_predicts_relations_above_the_no_relation_logit():
    logits = np.array([[0.0, 1.0, -1.0], [2.0, 1.0, 3.0]])
    facts = DocumentDecoder("adaptive_threshold").decode(logits, np.array([[0, 1], [1, 0]]), LABELS)
    assert [(f["h"], f["t"], f["r"]) for f in facts] == [(0, 1, "P1"), (1, 0, "P2")]
    assert facts[0]["score"] == pytest.approx(1.0)


def test_seed_summary_mean_std_and_markdown():
    summary = summarize_seeds({42: {"test_f1": 0.8, "epoch": 3}, 43: {"test_f1": 0.6, "epoch": 3}})
    assert summary["test_f1"]["mean"] == pytest.approx(0.7)
    assert summary["test_f1"]["std"] == pytest.approx(math.sqrt(0.02))  # sample std of (0.8, 0.6)
    table = seed_summary_markdown(summary, ["test_f1"], "Test")
    assert "| test_f1 | 70.00 ± 14.14 | 42: 80.00, 43: 60.00 |" in table


# ---------------------------------------------------------------------------------------------------------- model card
def test_model_card_yaml_parses_and_holds_the_metrics(tmp_path):
    spec = FineTunedModelCardSpec(
        model_name="minilm-semeval-10",
        base_model="sentence-transformers/all-MiniLM-L6-v2",
        task="semeval",
        relation_level="sentence",
        label_names=SEMEVAL_LABELS,
        no_relation_label="Other",
        train_fraction=0.1,
        num_train_examples=800,
        subset_seed=0,
        seeds=[42, 43, 44],
        seed=42,
        results={"test": {"macro_f1_official": 0.7512, "micro_f1": 0.7634, "accuracy": 0.7}},
        seed_summary={"test": {"macro_f1_official": {"mean": 0.74, "std": 0.01, "n": 3}}},
        hyperparameters={"learning_rate": 5e-5},
        metric_for_best_model="macro_f1_official",
    )
    path = write_model_card(tmp_path, spec)
    text = path.read_text()
    metadata = yaml.safe_load(text.split("---")[1])
    results = metadata["model-index"][0]["results"][0]
    assert results["dataset"]["split"] == "test" and results["dataset"]["type"] == "sem_eval_2010_task_8"
    values = {metric["name"]: metric["value"] for metric in results["metrics"]}
    assert values["Official macro-F1 (test)"] == 75.12 and values["Micro-F1 (test)"] == 76.34
    assert metadata["finecl"]["train_fraction"] == 0.1 and metadata["finecl"]["seeds"] == [42, 43, 44]
    assert metadata["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    loaded = ModelCard.load(path)
    assert {result.metric_value for result in loaded.data.eval_results} >= {75.12, 76.34}
    assert "74.00 ± 1.00" in text and "10%" in text
    with pytest.raises(ValueError, match="task"):
        render_model_card(FineTunedModelCardSpec(**{**spec.__dict__, "task": "conll"}))


# ----------------------------------------------------------------------------------------------------------- inference
def test_split_words_keeps_entity_boundaries():
    words, spans = split_words_with_spans("Paris-based firms, e.g. Acme.", [(0, 5), (24, 28)])
    assert words[spans[0][0]:spans[0][1]] == ["Paris"] and words[spans[1][0]:spans[1][1]] == ["Acme"]
    marked = parse_marked_sentence("The <e1>fire</e1> was caused by a <e2>cigarette</e2>.")
    assert marked["text"][slice(*marked["head"])] == "fire" and marked["text"][slice(*marked["tail"])] == "cigarette"
    with pytest.raises(ValueError, match="</e2>"):
        parse_marked_sentence("The <e1>fire</e1> was caused by a <e2>cigarette.")


def save_tiny_model(directory: Path, tokenizer, config: FineCLConfig) -> str:
    torch.manual_seed(0)
    FineCLForRelationExtraction(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def test_relation_extractor_on_sentences(tmp_path, tiny_roberta_config, tiny_roberta_tokenizer):
    config = FineCLConfig(
        encoder=tiny_roberta_config.to_dict(), num_labels=len(SEMEVAL_LABELS), id2label=dict(enumerate(SEMEVAL_LABELS)),
        label2id={name: index for index, name in enumerate(SEMEVAL_LABELS)},
    )
    directory = save_tiny_model(tmp_path, tiny_roberta_tokenizer, config)
    extractor = pipeline("relation-extraction", model=str(directory), device="cpu")
    marked = "The <e1>child</e1> was wrapped into the <e2>cradle</e2>."
    text = "The child was wrapped into the cradle."
    best = extractor(marked)
    assert len(best) == 1 and best[0]["label"] in SEMEVAL_LABELS and 0 < best[0]["score"] <= 1
    spans = extractor({"text": text, "head": (4, 9), "tail": (31, 37)}, top_k=None)
    assert spans[0]["label"] == best[0]["label"] and spans[0]["score"] == pytest.approx(best[0]["score"], abs=1e-6)
    assert sum(item["score"] for item in spans) == pytest.approx(1.0) and len(spans) == len(SEMEVAL_LABELS)
    batch = extractor([marked, "A <e1>misty ridge</e1> uprises from the <e2>surge</e2>.", marked], batch_size=2)
    # Padding a sentence next to a longer one leaves its prediction unchanged (up to float rounding).
    assert len(batch) == 3 and batch[0][0]["label"] == batch[2][0]["label"] == best[0]["label"]
    assert batch[0][0]["score"] == pytest.approx(best[0]["score"], abs=1e-5)


def test_relation_extractor_on_documents(tmp_path, tiny_roberta_config, tiny_roberta_tokenizer):
    config = FineCLConfig(encoder=tiny_roberta_config.to_dict(), num_labels=len(LABELS), relation_level="document",
                          id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    config.decision_threshold = 0.0  # every probability is above it: all pairs x relations are predicted
    extractor = pipeline("relation-extraction", model=str(save_tiny_model(tmp_path, tiny_roberta_tokenizer, config)), device="cpu")
    text = "Paris is the capital of France; Berlin is the capital of Germany."
    document = {"text": text, "entities": [[(0, 5)], [(24, 30)], [(32, 38), (57, 64)]]}
    facts = extractor(document)
    assert len(facts) == 3 * 2 * (len(LABELS) - 1)
    assert {fact["head_name"] for fact in facts} == {"Paris", "France", "Berlin"}
    assert facts == sorted(facts, key=lambda fact: -fact["score"])
    docred_layout = {
        "sents": [["Paris", "is", "the", "capital", "of", "France", "."]],
        "vertexSet": [
            [{"name": "Paris", "sent_id": 0, "pos": [0, 1]}],
            [{"name": "France", "sent_id": 0, "pos": [5, 6]}],
        ],
    }
    single_entity = {"text": text, "entities": [[(0, 5)]]}
    results = extractor([docred_layout, single_entity])
    assert len(results[0]) == 2 * (len(LABELS) - 1) and results[1] == []
