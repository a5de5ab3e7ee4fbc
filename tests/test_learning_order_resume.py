"""A stage-1 run killed with SIGKILL after a checkpoint and resumed ends with exactly the learning order and the
training-dynamics statistics (score columns) of an uninterrupted run with the same seed; and the entry point runs end
to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR))
REPOSITORY = TESTS_DIR.parent

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests_dir!r})
    import numpy as np
    from transformers import TrainerCallback
    from pathlib import Path
    from test_learning_order import PAD, SentencePairCollator, tiny_args, tiny_dataset, tiny_model
    from finecl_hf.learning_order import LearningOrderTrainer
    from finecl_hf.learning_order.scores import score_columns

    output_dir, mode, pause_at, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume"

    class PauseAfterCheckpoint(TrainerCallback):
        # Stands still right after checkpoint `pause_at` is complete, so the parent kills it at a known point.
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == pause_at:
                print("CHECKPOINT", state.global_step, flush=True)
                time.sleep(600)

    args = tiny_args(Path(output_dir), output_dir=output_dir, mode=mode, save_strategy="steps", save_steps=pause_at,
                     record_no_relation=mode == "epoch")
    trainer = LearningOrderTrainer(model=tiny_model(), args=args, train_dataset=tiny_dataset(),
                                   data_collator=SentencePairCollator(pad_token_id=PAD),
                                   callbacks=[] if resume else [PauseAfterCheckpoint()])
    trainer.train(resume_from_checkpoint=True if resume else None)
    np.save(output_dir + "/final_order.npy", trainer.learning_order.learned_epoch)
    np.savez(output_dir + "/final_scores.npz", **score_columns(trainer.learning_order))
    """
)


def _child(tmp_path: Path, output_dir: Path, mode: str, pause_at: int, resume: bool) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests_dir=str(TESTS_DIR)))
    return subprocess.Popen(
        [sys.executable, str(script), str(output_dir), mode, str(pause_at), "resume" if resume else "fresh"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY,
    )


def _finish(process: subprocess.Popen, timeout: float = 300) -> None:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "pause_at"),
    # batch: killed mid-epoch 1 (5 steps per epoch); epoch: killed at the last step of epoch 0, before its epoch pass.
    [("batch", 7), ("epoch", 5)],
)
def test_sigkill_and_resume_gives_exactly_the_uninterrupted_learning_order(tmp_path, mode, pause_at):
    # The uninterrupted reference runs in this process: same code, same seed, same CPU kernels.
    from test_learning_order import make_trainer

    from finecl_hf.learning_order.scores import score_columns

    reference = make_trainer(tmp_path / "uninterrupted", mode=mode, record_no_relation=mode == "epoch")
    reference.train()
    expected = reference.learning_order.learned_epoch
    expected_scores = score_columns(reference.learning_order)

    interrupted = tmp_path / "interrupted"
    process = _child(tmp_path, interrupted, mode, pause_at=pause_at, resume=False)
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if line.startswith("CHECKPOINT"):
            break
        assert time.monotonic() < deadline, "the child never reached its checkpoint"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (interrupted / f"checkpoint-{pause_at}" / "learning_order.npz").is_file()
    assert not (interrupted / "final_order.npy").exists()

    _finish(_child(tmp_path, interrupted, mode, pause_at=pause_at, resume=True))
    resumed = np.load(interrupted / "final_order.npy")
    assert (expected >= 0).any()
    np.testing.assert_array_equal(resumed, expected)
    with np.load(interrupted / "final_scores.npz") as resumed_scores:
        assert sorted(resumed_scores.files) == sorted(expected_scores)
        for name, values in expected_scores.items():  # bit for bit, the float sums included
            np.testing.assert_array_equal(resumed_scores[name], values, err_msg=name)
    assert not np.isnan(expected_scores["aum"]).any()


@pytest.mark.slow
def test_entry_point_writes_a_learning_order_dataset(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config):
    from datasets import Dataset, Value, load_dataset
    from transformers import RobertaModel

    from test_learning_order import LABELS

    from finecl_hf.data.schema import sentence_features

    backbone = tmp_path / "backbone"
    RobertaModel(tiny_roberta_config).save_pretrained(backbone)
    tiny_roberta_tokenizer.save_pretrained(backbone)
    words = "Paris is the capital of France and Berlin is the capital of Germany".split()
    rows = []
    for index in range(24):
        label = index % len(LABELS)
        rows.append({
            "uid": f"train/{index}", "id": str(index), "tokens": words,
            "head": {"name": words[label], "start": label, "end": label + 1, "type": None},
            "tail": {"name": words[-1], "start": len(words) - 1, "end": len(words), "type": None},
            "relation": label, "label_is_clean": index % 3 != 0,
        })
    features = sentence_features(LABELS)
    features["label_is_clean"] = Value("bool")

    dataset_dir = tmp_path / "dataset"
    Dataset.from_list(rows, features=features).to_parquet(str(dataset_dir / "data" / "train-00000-of-00001.parquet"))

    command = [
        sys.executable, str(REPOSITORY / "trainers" / "learning_order.py"), "--dataset_path", str(dataset_dir),
        "--model_name_or_path", str(backbone), "--output_dir", str(tmp_path / "run"), "--num_train_epochs", "2",
        "--per_device_train_batch_size", "8", "--learning_rate", "1e-3", "--use_cpu", "--report_to", "none",
        "--save_strategy", "no", "--correct_column", "label_is_clean", "--upsample_min_percent", "50", "--seed", "3",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "label precision" in completed.stdout and "ROC-AUC" in completed.stdout

    order = load_dataset(str(tmp_path / "run" / "learning_order"), split="train")
    assert order["uid"] == [row["uid"] for row in rows]
    assert set(order.column_names) >= {"tokens", "head", "tail", "relation", "learned_epoch", "learned", "upsampled",
                                       "aum", "confidence", "variability", "forgetting_events", "correct_fraction"}
    assert "ROC-AUC (clean vs wrong label)" in completed.stdout  # every score evaluated against the known truth
    labels, learned = np.asarray(order["relation"]), np.asarray(order["learned_epoch"])
    for label in range(1, len(LABELS)):  # upsampling: every relation class at least 50% learned
        assert (learned[labels == label] >= 0).mean() >= 0.5
    assert all(epoch == 1 for epoch, up in zip(order["learned_epoch"], order["upsampled"]) if up)
    card = (tmp_path / "run" / "learning_order" / "README.md").read_text()
    assert "mode: batch" in card and "seed: 3" in card
    assert "ROC-AUC of each score as a detector of correct labels" in card and "`aum` " in card


DISTRIBUTED_CHILD = textwrap.dedent(
    """
    import pickle, sys
    sys.path.insert(0, {tests_dir!r})
    from pathlib import Path
    import numpy as np
    from test_learning_order import ForwardLog, make_trainer, tiny_dataset

    output_dir = Path(sys.argv[1])
    trainer = make_trainer(output_dir, tiny_dataset(41), num_train_epochs=2, per_device_train_batch_size=4)
    log = ForwardLog(trainer.model)
    trainer.train()
    rank = trainer.args.process_index
    np.save(output_dir / f"order_{{rank}}.npy", trainer.learning_order.learned_epoch)
    np.save(output_dir / f"seen_{{rank}}.npy", trainer.learning_order.seen_in_epoch)
    np.save(output_dir / f"observations_{{rank}}.npy", trainer.learning_order.observations)
    from finecl_hf.learning_order.scores import score_columns
    np.savez(output_dir / f"scores_{{rank}}.npz", **score_columns(trainer.learning_order))
    (output_dir / f"log_{{rank}}.pkl").write_bytes(pickle.dumps(log.records))
    from finecl_hf.distributed import leave_finished_worker
    leave_finished_worker()  # as launched commands end: barrier, teardown, no interpreter shutdown (it can SIGABRT)
    """
)


@pytest.mark.slow
def test_two_processes_record_every_instance_once_per_epoch_and_agree(tmp_path):
    import pickle

    script = tmp_path / "distributed_child.py"
    script.write_text(DISTRIBUTED_CHILD.format(tests_dir=str(TESTS_DIR)))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517", str(script), str(tmp_path)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]

    orders = [np.load(tmp_path / f"order_{rank}.npy") for rank in (0, 1)]
    np.testing.assert_array_equal(orders[0], orders[1])  # every rank holds the gathered state
    assert all(np.load(tmp_path / f"seen_{rank}.npy").all() for rank in (0, 1))
    # The gathered statistics: identical on both ranks, one observation per instance and epoch despite the padding.
    assert all((np.load(tmp_path / f"observations_{rank}.npy") == 2).all() for rank in (0, 1))
    with np.load(tmp_path / "scores_0.npz") as first, np.load(tmp_path / "scores_1.npz") as second:
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    logs = [pickle.loads((tmp_path / f"log_{rank}.pkl").read_bytes()) for rank in (0, 1)]
    assert len(logs[0]) == len(logs[1]) == 2 * 6  # 41 rows, 2 ranks x 4 rows: 6 steps per epoch, 7 padding repeats
    # Expectation by hand: step by step, rank 0's rows then rank 1's; only an instance's first occurrence in an epoch.
    expected, seen = np.full(41, -1), set()
    for step in range(12):
        epoch = step // 6
        if step % 6 == 0:
            seen = set()
        for rank in (0, 1):
            rows, labels, logits = logs[rank][step]
            for row, label, prediction in zip(rows, labels, logits.argmax(-1)):
                if row in seen:
                    continue
                seen.add(row)
                if expected[row] < 0 and prediction == label and label != 0:
                    expected[row] = epoch
    assert (expected >= 0).any()
    np.testing.assert_array_equal(orders[0], expected)
