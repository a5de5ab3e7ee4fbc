"""Training-dynamics statistics of stage 1 (AUM, confidence, variability, forgetting events, correct fraction): recorded
from the logits the trainer already reads, checked against a naive recomputation from logged forwards; saved and
restored with checkpoints; exported with the learning order; the score registry is the one place to add a score."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from datasets import load_dataset

from test_learning_order import (
    CUE_OFFSET,
    PAD,
    ForwardLog,
    SentencePairCollator,
    make_trainer,
    tiny_dataset,
)

from finecl_hf.learning_order import LearningOrderState
from finecl_hf.learning_order import scores as scores_module
from finecl_hf.commands.analyse import main as analyse_command
from finecl_hf.learning_order.analysis import score_detection, top_fraction_precision
from finecl_hf.data.learning_order import LearningOrderRunInfo, export_learning_order
from finecl_hf.order_scores import SCORES, cleanliness, score_names
from finecl_hf.learning_order.scores import score_columns
from finecl_hf.learning_order.state import STATE_FILE_NAME
from finecl_hf.learning_order.trainer import assigned_label_statistics

SCORE_COLUMNS = ("aum", "confidence", "variability", "forgetting_events", "correct_fraction")


def naive_statistics(observations: list[list[tuple[int, int, np.ndarray]]], num_rows: int) -> dict[str, np.ndarray]:
    """The five statistics straight from their definitions, from per-instance lists of (epoch, label, logits)."""
    columns = {name: np.full(num_rows, np.nan) for name in SCORE_COLUMNS}
    for row, seen in enumerate(observations):
        if not seen:
            continue
        margins, probabilities, correct = [], [], []
        for _, label, logits in seen:
            others = np.delete(logits, label)
            margins.append(logits[label] - others.max())
            probabilities.append(np.exp(logits[label]) / np.exp(logits).sum())
            correct.append(int(np.argmax(logits) == label))
        columns["aum"][row] = np.mean(margins)
        columns["confidence"][row] = np.mean(probabilities)
        columns["variability"][row] = np.std(probabilities)
        columns["forgetting_events"][row] = sum(a == 1 and b == 0 for a, b in zip(correct, correct[1:]))
        columns["correct_fraction"][row] = np.mean(correct)
    return columns


def first_occurrences(
    log: ForwardLog, num_rows: int, batches_per_epoch: int
) -> list[list[tuple[int, int, np.ndarray]]]:
    """Per instance, its first observation of every epoch, in order."""
    observations: list[list] = [[] for _ in range(num_rows)]
    for forward, (rows, labels, logits) in enumerate(log.records):
        epoch = forward // batches_per_epoch
        for row, label, row_logits in zip(rows, labels, logits):
            if not observations[row] or observations[row][-1][0] != epoch:
                observations[row].append((epoch, int(label), row_logits))
    return observations


def assert_statistics_close(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    for name in SCORE_COLUMNS:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------------------------------------------------------------
# Recording


def test_assigned_label_statistics_on_hand_made_logits():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]])
    margin, probability, correct = assigned_label_statistics(logits, torch.tensor([0, 2, -100]))
    torch.testing.assert_close(margin, torch.tensor([1.5, -2.0, 0.0]))
    expected = torch.tensor([torch.softmax(logits[0], 0)[0], torch.softmax(logits[1], 0)[2], 0.0])
    torch.testing.assert_close(probability, expected)
    assert correct.tolist() == [True, False, False]


def test_batch_mode_statistics_equal_a_naive_recomputation_from_the_training_forwards(tmp_path):
    dataset = tiny_dataset()
    trainer = make_trainer(tmp_path, dataset, num_train_epochs=4)
    log = ForwardLog(trainer.model)
    trainer.train()

    batches_per_epoch = math.ceil(len(dataset) / 8)
    assert len(log.records) == 4 * batches_per_epoch  # still no second forward
    expected = naive_statistics(first_occurrences(log, len(dataset), batches_per_epoch), len(dataset))
    columns = score_columns(trainer.learning_order)
    assert_statistics_close(columns, expected)
    assert (trainer.learning_order.observations == 4).all()
    assert columns["forgetting_events"].max() >= 1, "dropout and a high learning rate should forget something"
    assert 0 < columns["correct_fraction"].mean() < 1
    assert {name: columns[name].dtype.name for name in SCORE_COLUMNS} == {
        "aum": "float32", "confidence": "float32", "variability": "float32", "forgetting_events": "int16",
        "correct_fraction": "float32",
    }


def test_epoch_mode_statistics_come_from_the_epoch_end_passes(tmp_path):
    dataset = tiny_dataset()
    trainer = make_trainer(tmp_path, dataset, mode="epoch", num_train_epochs=3)
    passes: list[np.ndarray] = []
    original = trainer.run_epoch_pass

    def spy(epoch):
        batch = SentencePairCollator(pad_token_id=PAD)([dataset[i] for i in range(len(dataset))])
        batch.pop("labels")
        trainer.model.eval()
        with torch.no_grad():
            passes.append(trainer.model(**batch).logits.double().numpy())
        trainer.model.train()
        return original(epoch)

    trainer.run_epoch_pass = spy
    trainer.train()
    labels = np.asarray(dataset["relation"])
    observations = [[(epoch, int(labels[row]), logits[row]) for epoch, logits in enumerate(passes)] for row in range(len(dataset))]
    assert_statistics_close(score_columns(trainer.learning_order), naive_statistics(observations, len(dataset)))


def test_state_counts_only_the_first_occurrence_per_epoch_and_forgetting_transitions(tmp_path):
    state = LearningOrderState(3)
    record = lambda epoch, rows, correct, margin: state.record(  # noqa: E731
        epoch, np.array(rows), np.array(correct), margin=np.array(margin, dtype=float),
        probability=np.full(len(rows), 0.5), argmax_correct=np.array(correct),
    )
    record(0, [0, 1, 0, -1], [True, False, False, True], [1.0, -1.0, 9.0, 9.0])  # instance 0's repeat is ignored
    record(0, [0, 2], [False, True], [9.0, 2.0])  # 0 already observed in epoch 0
    record(1, [0, 1, 2], [False, True, True], [-3.0, 1.0, 4.0])
    record(2, [0, 1, 2], [True, False, True], [2.0, -1.0, 0.0])
    assert state.observations.tolist() == [3, 3, 3]
    assert state.margin_sum.tolist() == [0.0, -1.0, 6.0]
    assert state.forgetting_events.tolist() == [1, 1, 0]
    assert state.correct_count.tolist() == [2, 1, 3]
    assert state.learned_epoch.tolist() == [0, 1, 0]
    np.testing.assert_allclose(score_columns(state)["variability"], 0.0)

    state.save(tmp_path)
    restored = LearningOrderState.load(tmp_path, 3)
    for name, values in score_columns(state).items():
        np.testing.assert_array_equal(score_columns(restored)[name], values)
    assert restored.last_correct.tolist() == [True, False, True] and restored.has_dynamics


def test_a_checkpoint_without_the_statistics_resumes_the_order_and_drops_the_score_columns(tmp_path, caplog):
    np.savez(
        tmp_path / STATE_FILE_NAME, learned_epoch=np.array([0, -1, 2], dtype=np.int16),
        seen_in_epoch=np.array([True, False, True]), current_epoch=np.int64(2), evaluated_epochs=np.int64(0),
    )
    restored = LearningOrderState.load(tmp_path, 3)
    assert restored.learned_epoch.tolist() == [0, -1, 2] and not restored.has_dynamics
    assert list(score_columns(restored)) == ["learned_epoch"]
    restored.save(tmp_path / "later")
    assert not LearningOrderState.load(tmp_path / "later", 3).has_dynamics  # stays marked in later checkpoints

    with np.load(tmp_path / "later" / STATE_FILE_NAME) as saved:
        arrays = {name: saved[name] for name in saved.files if name != "margin_sum"}
    np.savez(tmp_path / STATE_FILE_NAME, **arrays)
    with pytest.raises(ValueError, match=r"\['margin_sum'\] missing; the file is damaged"):
        LearningOrderState.load(tmp_path, 3)


def test_resuming_mid_epoch_reproduces_the_uninterrupted_statistics_exactly(tmp_path):
    reference = make_trainer(tmp_path / "a", save_strategy="steps", save_steps=3, save_total_limit=None)
    reference.train()
    resumed = make_trainer(tmp_path / "b", save_strategy="steps", save_steps=3)
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "run" / "checkpoint-6"))  # mid-epoch 1
    expected, actual = score_columns(reference.learning_order), score_columns(resumed.learning_order)
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


# ----------------------------------------------------------------------------------------------------------------------
# Scores: orientation, export, card, analysis


def test_cleanliness_is_oriented_higher_is_cleaner_with_never_learned_last():
    columns = {
        "learned_epoch": np.array([0, 2, -1, 1]), "aum": np.array([1.0, -2.0, 0.5, 3.0]),
        "forgetting_events": np.array([0, 2, 0, 1]), "correct_fraction": np.array([1.0, 0.5, 0.0, 0.7]),
    }
    assert cleanliness("learned_epoch", columns).tolist() == [0.0, -2.0, -3.0, -1.0]
    assert cleanliness("aum", columns).tolist() == [1.0, -2.0, 0.5, 3.0]
    assert cleanliness("forgetting_events", columns).tolist() == [0.0, -2.0, -3.0, -1.0]  # never correct: last
    upsampled = {**columns, "upsampled": np.array([False, True, False, False])}
    assert cleanliness("learned_epoch", upsampled).tolist() == [0.0, -2.0, -2.0, -1.0]  # upsampled = not learned
    with pytest.raises(KeyError, match="unknown cleanliness score 'shiny'"):
        cleanliness("shiny", columns)
    with pytest.raises(KeyError, match=r"needs column\(s\) \['confidence'\]"):
        cleanliness("confidence", columns)
    assert top_fraction_precision([3.0, 2.0, 1.0, 0.0], [True, False, True, True], 0.5) == 0.5


def _export(tmp_path, trainer, dataset):
    info = LearningOrderRunInfo(model_name_or_path="tiny", num_epochs=3, mode="batch", seed=0, percent_learned_per_epoch=[0.0] * 3)
    learned = trainer.learning_order.learned_epoch
    path = export_learning_order(dataset, learned, np.zeros(len(dataset), bool), tmp_path / "order", info,
                                 scores=score_columns(trainer.learning_order))
    return path, load_dataset(str(path), split="train")


def test_export_writes_every_score_column_and_the_card_documents_each(tmp_path):
    dataset = tiny_dataset()
    trainer = make_trainer(tmp_path, dataset)
    trainer.train()
    path, loaded = _export(tmp_path, trainer, dataset)
    columns = score_columns(trainer.learning_order)
    for name in SCORE_COLUMNS:
        assert loaded.features[name].dtype == SCORES[name].dtype
        np.testing.assert_array_equal(np.asarray(loaded[name]), columns[name])
    card = (path / "README.md").read_text()
    assert set(columns) == {"learned_epoch", *SCORE_COLUMNS}  # no corpus evidence given: the evidence scores are not computed
    for score in (SCORES[name] for name in columns):
        assert f"| `{score.name}` ({score.dtype}) | {score.formula} | {score.direction} |" in card
    assert "Pleiss et al." in card and "Toneva et al." in card and "Swayamdipta et al." in card

    detection = score_detection(loaded, np.asarray(loaded["relation"]) >= 0)  # all "correct": AUC undefined
    assert set(detection) == set(columns) and math.isnan(detection["aum"]["roc_auc"])


def test_analysis_reports_every_score_against_the_known_truth(tmp_path):
    from finecl_hf.learning_order.analysis import mann_whitney_auc

    dataset = tiny_dataset(noise=0.4)
    clean = [row["input_ids"][2] - CUE_OFFSET == row["relation"] for row in dataset]  # the label agrees with the cue
    trainer = make_trainer(tmp_path, dataset, record_no_relation=True)
    trainer.train()
    path, loaded = _export(tmp_path, trainer, dataset.add_column("label_is_clean", clean))
    report = analyse_command([str(path), "--correct_column", "label_is_clean"])
    assert list(report["scores"]) == [name for name in SCORES if name in loaded.column_names]
    for name, values in report["scores"].items():
        assert values["roc_auc"] == pytest.approx(mann_whitney_auc(cleanliness(name, loaded), clean)), name
    assert report["scores"]["aum"]["roc_auc"] > 0.5  # the cue is learnable: clean labels get larger margins
    only = analyse_command([str(path), "--correct_column", "label_is_clean", "--scores", "aum"])
    assert list(only["scores"]) == ["aum"]


def test_a_score_added_to_the_registry_alone_reaches_the_export_card_and_command_lines(tmp_path, monkeypatch):
    toy = replace(
        SCORES["confidence"], name="toy_margin_squared", compute=lambda inputs: inputs.dynamics.margin_sum**2,
        formula="(Σ_t margin_t)²", description="a toy score", reference="this test",
    )
    monkeypatch.setitem(SCORES, toy.name, toy)
    assert toy.name in score_names()

    dataset = tiny_dataset(16)
    trainer = make_trainer(tmp_path, dataset, num_train_epochs=1)
    trainer.train()
    path, loaded = _export(tmp_path, trainer, dataset)
    np.testing.assert_allclose(
        np.asarray(loaded[toy.name]), (trainer.learning_order.margin_sum**2).astype(np.float32)
    )
    assert "| `toy_margin_squared` (float32) | (Σ_t margin_t)² |" in (path / "README.md").read_text()

    with pytest.raises(SystemExit):  # argparse rejects unknown choices; the toy one is accepted
        analyse_command([str(path), "--scores", "not_a_score"])
    report = analyse_command([str(path), "--scores", toy.name, "confidence"])
    assert report["instances"] == 16

    from transformers import HfArgumentParser

    from finecl_hf.pretraining.arguments import FineCLPreTrainingArguments

    parser = HfArgumentParser(FineCLPreTrainingArguments)
    (args,) = parser.parse_args_into_dataclasses(["--output_dir", str(tmp_path / "p"), "--order_by", toy.name])
    assert args.order_by == toy.name
    with pytest.raises(ValueError, match="order_by='not_a_score' is invalid: .*toy_margin_squared"):  # the live registry
        parser.parse_args_into_dataclasses(["--output_dir", str(tmp_path / "p"), "--order_by", "not_a_score"])
    assert scores_module.SCORES is SCORES
