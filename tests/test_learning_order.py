"""Stage 1: LearningOrderTrainer recording (batch and epoch mode), state, checkpoints, gradient accumulation,
upsampling, export and analysis, on tiny random RoBERTa classifiers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, List, Value, load_dataset
from transformers import RobertaConfig, TrainingArguments, set_seed

from finecl_hf import FineCLConfig, FineCLForRelationExtraction
from finecl_hf.learning_order import LearningOrderState, LearningOrderTrainer, LearningOrderTrainingArguments
from finecl_hf.learning_order.analysis import (
    clean_label_auc,
    cumulative_jaccard,
    mann_whitney_auc,
    percent_learned_per_class,
    subset_precision,
)
from finecl_hf.data.learning_order import LearningOrderRunInfo, export_learning_order
from finecl_hf.learning_order.state import STATE_FILE_NAME
from finecl_hf.learning_order.trainer import class_balance_weights
from finecl_hf.learning_order.upsampling import upsample_classes

LABELS = ["no_relation", "born_in", "capital_of", "part_of"]
PAD = 1
CUE_OFFSET = 100  # token 100 + label sits inside the tail span: the label is learnable from the input
ID_OFFSET = 200  # token 200 + row sits in the head span: a hook can tell which instance a forward saw


def tiny_dataset(num_rows: int = 40, seed: int = 0, noise: float = 0.25) -> Dataset:
    """Rows in the collator's format; a fraction `noise` of labels disagree with the cue token."""
    rng = np.random.default_rng(seed)
    rows = []
    for row in range(num_rows):
        cue_label = int(rng.integers(len(LABELS)))
        label = int(rng.integers(len(LABELS))) if rng.random() < noise else cue_label
        filler = rng.integers(5, 90, size=int(rng.integers(2, 7))).tolist()
        rows.append(
            {
                "uid": f"train/{row}",
                "input_ids": [0, ID_OFFSET + row, CUE_OFFSET + cue_label, 7, *filler, 2],
                "head_token_span": [1, 2],
                "tail_token_span": [2, 4],
                "relation": label,
            }
        )
    features = Features(
        {
            "uid": Value("string"),
            "input_ids": List(Value("int32")),
            "head_token_span": List(Value("int32")),
            "tail_token_span": List(Value("int32")),
            "relation": ClassLabel(names=LABELS),
        }
    )
    return Dataset.from_list(rows, features=features)


class SentencePairCollator:
    """Batches of the model-input contract (one head/tail pair per row) built here, without a tokenizer."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = torch.full((len(rows), max(len(row["input_ids"]) for row in rows)), self.pad_token_id)
        spans = []
        for index, row in enumerate(rows):
            input_ids[index, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
            spans += [[index, *row["head_token_span"]], [index, *row["tail_token_span"]]]
        return {
            "input_ids": input_ids,
            "attention_mask": (input_ids != self.pad_token_id).long(),
            "mention_spans": torch.tensor(spans),
            "mention_entity_ids": torch.arange(2 * len(rows)),
            "pair_entity_ids": torch.arange(2 * len(rows)).view(-1, 2),
            "labels": torch.tensor([row["relation"] for row in rows]),
        }


def tiny_model(dropout: float = 0.1, seed: int = 0) -> FineCLForRelationExtraction:
    set_seed(seed)
    encoder = RobertaConfig(
        vocab_size=260, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=40, pad_token_id=PAD, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )
    config = FineCLConfig(
        encoder=encoder, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={name: index for index, name in enumerate(LABELS)}, relation_level="sentence",
        classifier_dropout=dropout,
    )
    return FineCLForRelationExtraction(config)


def tiny_args(tmp_path, **overrides) -> LearningOrderTrainingArguments:
    values = dict(
        output_dir=str(tmp_path / "run"), num_train_epochs=3, per_device_train_batch_size=8, learning_rate=3e-3,
        warmup_steps=0, seed=0, use_cpu=True, dataloader_num_workers=0, save_strategy="no", report_to="none",
        disable_tqdm=True, logging_steps=1000,
    )
    values.update(overrides)
    return LearningOrderTrainingArguments(**values)


def make_trainer(tmp_path, dataset=None, model=None, **overrides) -> LearningOrderTrainer:
    return LearningOrderTrainer(
        model=model or tiny_model(),
        args=tiny_args(tmp_path, **overrides),
        train_dataset=dataset if dataset is not None else tiny_dataset(),
        data_collator=SentencePairCollator(pad_token_id=PAD),
    )


class ForwardLog:
    """Forward hook keeping, for every training forward, which instances it saw, their labels and their logits
    (float64; `test_learning_order_scores` recomputes every statistic from them)."""

    def __init__(self, model: torch.nn.Module):
        self.records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        model.register_forward_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs, output):
        if module.training:
            rows = (kwargs["input_ids"][:, 1] - ID_OFFSET).numpy()
            self.records.append((rows, kwargs["labels"].numpy(), output.logits.detach().double().numpy()))


def first_correct_epochs(log: ForwardLog, num_rows: int, batches_per_epoch: int, learnable) -> np.ndarray:
    """The expectation, computed by hand from the logged forwards: epoch of the first correct argmax."""
    expected = np.full(num_rows, -1)
    for forward, (rows, labels, logits) in enumerate(log.records):
        predictions = logits.argmax(-1)
        for row, label, prediction in zip(rows, labels, predictions):
            if expected[row] < 0 and prediction == label and learnable(label):
                expected[row] = forward // batches_per_epoch
    return expected


# ----------------------------------------------------------------------------------------------------------------------
# Batch mode and epoch mode


@pytest.mark.parametrize("record_no_relation", [False, True])
def test_batch_mode_records_the_epoch_of_the_first_correct_training_forward(tmp_path, record_no_relation):
    dataset = tiny_dataset()
    trainer = make_trainer(tmp_path, dataset, record_no_relation=record_no_relation)
    log = ForwardLog(trainer.model)
    trainer.train()

    batches_per_epoch = math.ceil(len(dataset) / 8)
    assert len(log.records) == 3 * batches_per_epoch  # no second forward in batch mode
    learnable = (lambda label: True) if record_no_relation else (lambda label: label != 0)
    expected = first_correct_epochs(log, len(dataset), batches_per_epoch, learnable)
    learned = trainer.learning_order.learned_epoch
    np.testing.assert_array_equal(learned, expected)
    assert (learned >= 0).sum() > len(dataset) // 3, "the tiny model should learn a good part of the cue"
    if not record_no_relation:
        assert (learned[np.asarray(dataset["relation"]) == 0] == -1).all()


def test_epoch_mode_records_from_an_eval_pass_at_each_epoch_end(tmp_path):
    dataset = tiny_dataset()
    trainer = make_trainer(tmp_path, dataset, mode="epoch", num_train_epochs=2, record_no_relation=True)
    log = ForwardLog(trainer.model)
    passes = []
    original = trainer.run_epoch_pass

    def spy(epoch):
        # What the model predicts right now, in eval mode, computed independently of the trainer.
        collator = SentencePairCollator(pad_token_id=PAD)
        batch = collator([dataset[i] for i in range(len(dataset))])
        labels = batch.pop("labels")
        trainer.model.eval()
        with torch.no_grad():
            predictions = trainer.model(**batch).logits.argmax(-1)
        trainer.model.train()
        passes.append((epoch, (predictions == labels).numpy()))
        return original(epoch)

    trainer.run_epoch_pass = spy
    trainer.train()

    assert [epoch for epoch, _ in passes] == [0, 1]
    assert trainer.learning_order.evaluated_epochs == 2
    expected = np.where(passes[0][1], 0, np.where(passes[1][1], 1, -1))
    np.testing.assert_array_equal(trainer.learning_order.learned_epoch, expected)
    assert len(log.records) == 2 * math.ceil(len(dataset) / 8)  # the pass runs in eval mode, outside the log


def test_instance_index_never_reaches_the_model_and_is_checked(tmp_path):
    dataset = tiny_dataset(num_rows=8)
    trainer = make_trainer(tmp_path, dataset, num_train_epochs=1)
    seen_keys = []
    trainer.model.register_forward_pre_hook(lambda module, args, kwargs: seen_keys.append(set(kwargs)), with_kwargs=True)
    trainer.train()
    assert seen_keys and all("instance_index" not in keys for keys in seen_keys)
    assert trainer.args.remove_unused_columns is False

    shuffled = dataset.add_column("instance_index", list(reversed(range(8))))
    with pytest.raises(ValueError, match=r"record 1 \(index 0\): field 'instance_index' is 7"):
        make_trainer(tmp_path, shuffled)


def test_plain_training_arguments_default_to_batch_mode_and_no_relation_from_the_config(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", dataloader_drop_last=True)
    trainer = LearningOrderTrainer(model=tiny_model(), args=args, train_dataset=tiny_dataset(8),
                                   data_collator=SentencePairCollator(pad_token_id=PAD))
    assert (trainer.mode, trainer.no_relation_id, trainer.record_no_relation) == ("batch", 0, False)
    assert args.dataloader_drop_last is False and args.label_names == ["labels"]
    with pytest.raises(ValueError, match="mode='sometimes' is invalid"):
        LearningOrderTrainingArguments(output_dir=str(tmp_path), mode="sometimes")
    with pytest.raises(ValueError, match="upsample_min_percent=120"):
        LearningOrderTrainingArguments(output_dir=str(tmp_path), upsample_min_percent=120)


# ----------------------------------------------------------------------------------------------------------------------
# State and checkpoints


def test_state_is_a_compact_int16_array_with_first_occurrence_recording(tmp_path):
    state = LearningOrderState(1_500_000)
    assert state.learned_epoch.dtype == np.int16 and state.learned_epoch.shape == (1_500_000,)
    assert state.learned_epoch.nbytes + state.seen_in_epoch.nbytes <= 5 * 1024 * 1024
    assert (state.learned_epoch == -1).all()

    small = LearningOrderState(6)
    # A gathered batch of two ranks: rank 1 repeats instance 0 (distributed padding) and pads with -1.
    assert small.record(0, np.array([0, 1, 2, 0, -1]), np.array([False, True, False, True, True])) == 1
    assert small.learned_epoch.tolist() == [-1, 0, -1, -1, -1, -1]  # instance 0's repeat does not count
    small.record(0, np.array([3, 0]), np.array([True, True]))  # 0 already seen in epoch 0
    small.record(1, np.array([0, 1, 2]), np.array([True, False, True]))
    assert small.learned_epoch.tolist() == [1, 0, 1, 0, -1, -1]

    small.save(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [STATE_FILE_NAME]  # no temporary file left
    restored = LearningOrderState.load(tmp_path, 6)
    np.testing.assert_array_equal(restored.learned_epoch, small.learned_epoch)
    np.testing.assert_array_equal(restored.seen_in_epoch, small.seen_in_epoch)
    assert restored.current_epoch == 1
    with pytest.raises(ValueError, match="holds 6 instances but the training dataset has 7"):
        LearningOrderState.load(tmp_path, 7)
    with pytest.raises(ValueError, match="learning_order.npz is missing"):
        LearningOrderState.load(tmp_path / "elsewhere")


def test_checkpoints_hold_the_state_and_resuming_reproduces_the_uninterrupted_order(tmp_path):
    reference = make_trainer(tmp_path / "a", save_strategy="steps", save_steps=3, save_total_limit=None)
    reference.train()
    checkpoint = tmp_path / "a" / "run" / "checkpoint-6"  # mid-epoch 1 (5 steps per epoch)
    saved = LearningOrderState.load(checkpoint, 40)
    assert saved.current_epoch == 1 and saved.seen_in_epoch.sum() == 8
    assert (saved.learned_epoch <= 1).all()

    resumed = make_trainer(tmp_path / "b", save_strategy="steps", save_steps=3)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    np.testing.assert_array_equal(resumed.learning_order.learned_epoch, reference.learning_order.learned_epoch)


# ----------------------------------------------------------------------------------------------------------------------
# Gradient accumulation


def _parameters_after_one_step(tmp_path, batch_size: int, accumulation: int) -> dict[str, torch.Tensor]:
    trainer = make_trainer(
        tmp_path, tiny_dataset(16), model=tiny_model(dropout=0.0), per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation, max_steps=1, optim="sgd", learning_rate=1.0, max_grad_norm=0.0,
    )
    before = {name: value.detach().clone() for name, value in trainer.model.named_parameters()}
    trainer.train()
    return {name: before[name] - value.detach() for name, value in trainer.model.named_parameters()}


def test_gradient_accumulation_of_two_batches_equals_one_batch_of_double_size(tmp_path):
    # SGD with lr 1 makes the update equal to the gradient, so a wrong 1/accumulation scaling would show.
    accumulated = _parameters_after_one_step(tmp_path / "a", batch_size=4, accumulation=2)
    single = _parameters_after_one_step(tmp_path / "b", batch_size=8, accumulation=1)
    assert any(update.abs().max() > 1e-6 for update in single.values())
    for name, update in single.items():
        torch.testing.assert_close(accumulated[name], update, atol=1e-6, rtol=1e-4, msg=name)


# ----------------------------------------------------------------------------------------------------------------------
# Upsampling


def test_documents_per_batch_leaves_sentence_corpora_in_batches_of_instances(tmp_path):
    trainer = make_trainer(tmp_path, tiny_dataset(num_rows=20), documents_per_batch=4, per_device_train_batch_size=8)
    sizes = [len(batch["labels"]) for batch in trainer.get_train_dataloader()]
    assert sizes == [8, 8, 4]  # no `document_index`: the Trainer's batches, not 4 one-sentence "documents"


def test_class_balance_weights_follow_the_count_power_and_average_one_over_the_instances():
    labels = [1] * 6 + [2] * 2 + [3]  # class 0 absent
    for power in (0.0, 0.5, 1.0):
        weights = class_balance_weights(labels, num_classes=4, power=power).numpy()
        assert weights[0] == 0
        assert weights[np.asarray(labels)].mean() == pytest.approx(1.0)
        assert weights[1] / weights[3] == pytest.approx(6.0 ** -power)
    assert np.allclose(class_balance_weights(labels, 4, 0.0).numpy()[1:], 1.0)


def test_class_balanced_loss_is_the_weighted_mean_cross_entropy_of_the_batch(tmp_path):
    dataset = tiny_dataset(num_rows=16)
    weights = class_balance_weights(dataset["relation"], len(LABELS), 1.0)
    trainer = LearningOrderTrainer(
        model=tiny_model(dropout=0.0), args=tiny_args(tmp_path), train_dataset=dataset,
        data_collator=SentencePairCollator(pad_token_id=PAD), class_weights=weights,
    )
    batch = trainer.data_collator([trainer.train_dataset[row] for row in range(8)])
    labels = batch["labels"].clone()
    trainer.model.train()
    loss, outputs = trainer.compute_loss(trainer.model, dict(batch), return_outputs=True)
    per_instance = torch.nn.functional.cross_entropy(outputs.logits.float(), labels, reduction="none")
    naive = (weights[labels] * per_instance).sum() / weights[labels].sum()
    assert loss.item() == pytest.approx(naive.item(), rel=1e-5)
    plain = trainer.model(**{key: value for key, value in batch.items() if key != "instance_index"}).loss
    if len(set(labels.tolist())) > 1:
        assert not math.isclose(loss.item(), plain.item(), rel_tol=1e-4)  # weighting really changed the loss
    with pytest.raises(ValueError, match="class_balance=1.5 is invalid"):
        tiny_args(tmp_path, class_balance=1.5)


def test_upsampling_reaches_the_minimum_percent_of_every_class_and_marks_rows():
    labels = np.array([0] * 10 + [1] * 10 + [2] * 7 + [3] * 4)
    learned = np.full(labels.size, -1)
    learned[10:18] = [0, 1, 2, 0, 1, 2, 0, 1]  # class 1: 80% learned
    learned[20] = 0  # class 2: 1 of 7
    new, upsampled = upsample_classes(learned, labels, min_percent=50, num_epochs=3, seed=0, ignore_labels=[0])
    for label, size in ((1, 10), (2, 7), (3, 4)):
        members = labels == label
        assert (new[members] >= 0).sum() >= math.ceil(0.5 * size)
    assert (new[labels == 0] == -1).all()  # ignored class untouched
    assert upsampled.sum() == (4 - 1) + 2 and (new[upsampled] == 2).all()  # they join A_{k-1}
    assert (learned[upsampled] == -1).all()
    np.testing.assert_array_equal(new[~upsampled], learned[~upsampled])
    again, again_mask = upsample_classes(learned, labels, min_percent=50, num_epochs=3, seed=0, ignore_labels=[0])
    np.testing.assert_array_equal(again_mask, upsampled)
    with pytest.raises(ValueError, match="min_percent=150"):
        upsample_classes(learned, labels, min_percent=150, num_epochs=3, seed=0)


# ----------------------------------------------------------------------------------------------------------------------
# Export


def test_export_is_a_hub_dataset_folder_with_instances_documents_and_run_metadata(tmp_path):
    instances = tiny_dataset(6).add_column("document_index", [0, 0, 1, 1, 1, 0])
    documents = Dataset.from_dict({"uid": ["train/0", "train/1"], "title": ["A", "B"]})
    learned = np.array([0, -1, 2, 1, -1, 2])
    upsampled = np.array([False, False, True, False, False, False])
    info = LearningOrderRunInfo(
        model_name_or_path="tiny", num_epochs=3, mode="batch", seed=7, percent_learned_per_epoch=[100 / 6, 100 / 6, 100 / 6],
        upsample_min_percent=50.0, num_upsampled=1,
    )
    export_learning_order(instances, learned, upsampled, tmp_path / "order", info, documents=documents)

    loaded = load_dataset(str(tmp_path / "order"), split="train")
    assert loaded["uid"] == instances["uid"] and loaded["learned_epoch"] == learned.tolist()
    assert loaded["learned"] == (learned >= 0).tolist() and loaded["upsampled"] == upsampled.tolist()
    assert loaded.features["relation"].names == LABELS and loaded.features["learned_epoch"].dtype == "int16"
    assert load_dataset(str(tmp_path / "order"), "documents", split="train")["title"] == ["A", "B"]
    card = (tmp_path / "order" / "README.md").read_text()
    from finecl_hf.cards import read_dataset_card_metadata

    metadata = read_dataset_card_metadata(tmp_path / "order")
    assert (metadata["num_epochs"], metadata["mode"], metadata["seed"]) == (3, "batch", 7)
    assert metadata["percent_learned_per_epoch"] == pytest.approx([100 / 6] * 3)
    assert "| 2 | 16.67 | 50.00 |" in card

    from finecl_hf.commands.analyse import main as analysis_main

    report = analysis_main([str(tmp_path / "order"), "--compare", str(tmp_path / "order"), "--plot", str(tmp_path / "fig.png")])
    assert report["cumulative_jaccard"] == [1.0, 1.0, 1.0]
    # The analysis reports what the classifier learned, like the card: the upsampled row counts as not learned.
    assert report["percent_learned_per_epoch"] == pytest.approx(metadata["percent_learned_per_epoch"])
    assert report["upsampled"] == 1
    assert report["percent_learned_per_class"]["no_relation"] and (tmp_path / "fig.png").stat().st_size > 1000


# ----------------------------------------------------------------------------------------------------------------------
# Analysis


def test_cumulative_jaccard_on_hand_made_orders():
    a = np.array([0, 0, 1, 2, -1, -1])
    b = np.array([0, 1, 1, -1, 2, -1])
    # by epoch 0: {0,1} vs {0} → 1/2; by 1: {0,1,2} vs {0,1,2} → 1; by 2: {0,1,2,3} vs {0,1,2,4} → 3/5
    assert cumulative_jaccard(a, b) == pytest.approx([0.5, 1.0, 0.6])
    assert cumulative_jaccard(np.array([-1]), np.array([-1]), num_epochs=1) == [1.0]


def test_subset_precision_on_hand_made_orders():
    learned = np.array([0, 0, 0, 1, 1, -1, -1, -1])
    correct = np.array([1, 1, 0, 1, 0, 0, 0, 1], dtype=bool)
    precision = subset_precision(learned, correct, num_epochs=3)
    assert precision["A_0"] == {"size": 3, "precision": pytest.approx(2 / 3)}
    assert precision["A_1"]["precision"] == 0.5 and precision["not_learned"]["precision"] == pytest.approx(1 / 3)
    assert precision["A_2"]["size"] == 0 and math.isnan(precision["A_2"]["precision"])
    assert precision["all"]["precision"] == 0.5
    per_class = percent_learned_per_class(learned, np.array([0, 1, 0, 1, 0, 1, 0, 1]), 2, ["x", "y"])
    assert per_class == {"x": [50.0, 25.0], "y": [25.0, 25.0]}


def _pairwise_auc(scores, positive) -> float:
    wins = [
        1.0 if p > n else 0.5 if p == n else 0.0
        for p, n in itertools.product(scores[positive], scores[~positive])
    ]
    return sum(wins) / len(wins)


def test_auc_is_the_mann_whitney_statistic_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=60).astype(float)  # many ties
    positive = rng.random(60) < 0.4
    assert mann_whitney_auc(scores, positive) == pytest.approx(_pairwise_auc(scores, positive))
    learned = np.array([0, 1, -1, 2, -1, 0])
    clean = np.array([1, 1, 0, 0, 1, 0], dtype=bool)
    # never learned ranks below every learned epoch
    assert clean_label_auc(learned, clean) == pytest.approx(_pairwise_auc(np.array([0, -1, -3, -2, -3, 0.0]), clean))
    assert clean_label_auc(np.array([0, 1, -1]), np.array([1, 1, 0], dtype=bool)) == 1.0
    assert math.isnan(mann_whitney_auc([1.0, 2.0], [True, True]))


# ----------------------------------------------------------------------------------------------------------------------
# Document-level relation instances (data layer's tokenizer and collator)


def tiny_documents() -> Dataset:
    from finecl_hf.data.schema import document_features, triple_uid

    sentences = [["Paris", "is", "the", "capital", "of", "France", "."], ["Berlin", "is", "in", "Germany", "."]]
    documents = []
    for index in range(4):
        uid = f"train/{index}"
        entities = [
            {"type": "LOC", "mentions": [{"name": "Paris", "sent_id": 0, "start": 0, "end": 1}]},
            {"type": "LOC", "mentions": [{"name": "France", "sent_id": 0, "start": 5, "end": 6}]},
            {"type": "LOC", "mentions": [{"name": "Berlin", "sent_id": 1, "start": 0, "end": 1}]},
            {"type": "LOC", "mentions": [{"name": "Germany", "sent_id": 1, "start": 3, "end": 4}]},
        ]
        relations = [
            {"uid": triple_uid(uid, 0, 1, "capital_of"), "head": 0, "tail": 1, "relation": 2, "evidence": [0]},
            {"uid": triple_uid(uid, 2, 3, "part_of"), "head": 2, "tail": 3, "relation": 3, "evidence": [1]},
        ]
        documents.append({"uid": uid, "title": "t", "sents": sentences, "entities": entities, "relations": relations})
    return Dataset.from_list(documents, features=document_features(LABELS))


def test_document_grouped_sampler_is_seeded_per_epoch_and_keeps_documents_together():
    from finecl_hf.learning_order.trainer import DocumentGroupedSampler

    document_index = np.repeat(np.arange(6), [3, 1, 4, 2, 5, 1])
    sampler = DocumentGroupedSampler(document_index, seed=5)
    first = list(sampler)
    assert sorted(first) == list(range(document_index.size)) and first == list(sampler)
    runs = [key for key, _ in itertools.groupby(document_index[first])]
    assert len(runs) == 6  # every document's instances are consecutive
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_relation_instances_of_documents_train_with_the_data_layer_collator(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config):
    from finecl_hf.data.data_collator import RelationInstanceCollator
    from finecl_hf.data.relation_instances import build_relation_instances
    from finecl_hf.data.tokenization import tokenize_documents
    from finecl_hf.learning_order.analysis import instance_correctness

    documents = tiny_documents()
    instances = build_relation_instances(documents, na_ratio=1.0)
    tokenized, _ = tokenize_documents(documents, tiny_roberta_tokenizer, max_length=64)
    config = FineCLConfig(encoder=tiny_roberta_config, num_labels=len(LABELS), relation_level="sentence",
                          id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    trainer = LearningOrderTrainer(
        model=FineCLForRelationExtraction(config), args=tiny_args(tmp_path, num_train_epochs=2, mode="epoch"),
        train_dataset=instances,
        data_collator=RelationInstanceCollator(tiny_roberta_tokenizer, tokenized, return_instance_uids=False),
    )
    documents_per_batch = []
    trainer.model.register_forward_hook(lambda module, args, kwargs, out: documents_per_batch.append(kwargs["input_ids"].size(0)) if module.training else None, with_kwargs=True)
    trainer.train()
    assert trainer.learning_order.evaluated_epochs == 2 and trainer.learning_order.num_instances == len(instances)
    assert max(documents_per_batch) <= 3  # 8 instances per batch, 4 per document, grouped by document

    distant = documents.map(lambda row: {"relations": [{**t, "confirmed_by_gold": t["head"] == 0} for t in row["relations"]]})
    correct, known = instance_correctness(instances, distant, "confirmed_by_gold")
    relation = np.asarray(instances["relation"])
    assert known.tolist() == (relation != 0).tolist()  # sampled no-relation pairs have no known correctness
    assert correct[known].tolist() == (np.asarray(instances["head"])[known] == 0).tolist()
