"""Kill and resume, every stage: a run SIGKILLed mid-training resumes with nothing lost and nothing redone.

Each stage CLI is started as a child process through `interrupt_cli.py`, which makes it stand still at a known point
(right after a checkpoint, or inside the save of one); the parent SIGKILLs it there, then resumes the run with
`--resume_from_checkpoint` (in this process, on one thread like the child) and compares with the uninterrupted
reference run of `conftest.py`:

- stage 1 (learning order): the exported learning-order dataset is identical, score columns included. The library-level SIGKILL test of
  `tests/test_learning_order_resume.py` already covers a kill right after a checkpoint; here the kill comes *during* a
  save and the CLI resumes with `--resume_from_checkpoint last`, which must skip the half-written folder;
- stage 2 (pre-training) and stage 3 (fine-tuning): the resumed run performs only the remaining steps and reaches the
  same global step with the same optimizer and scheduler state, weights and logged loss at every step after the
  resume point, as the uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_runs import stage1_arguments, stage2_arguments, stage3_arguments
from reliability_helpers import (
    PAUSED,
    STALLED,
    StepCounter,
    add_callback_to_every_trainer,
    kill_when_announced,
    read_config,
    run_cli,
    single_thread,
    start_interruptible,
)
from safetensors.torch import load_file
from transformers import Trainer

from finecl_hf.checkpointing import is_complete, last_complete_checkpoint

pytestmark = pytest.mark.slow

# The learning order and the training-dynamics score columns (finecl_hf.learning_order.scores), compared exactly.
LEARNING_ORDER_COLUMNS = (
    "uid", "learned_epoch", "learned", "upsampled",
    "aum", "confidence", "variability", "forgetting_events", "correct_fraction",
)


def resume(script: str, arguments: list[str]) -> list[int]:
    """Run a stage CLI to completion in this process; return the global steps it really performed."""
    counter = StepCounter()
    original = add_callback_to_every_trainer(counter)
    try:
        with single_thread():
            outcome = run_cli(script, arguments)
    finally:
        Trainer.__init__ = original
    assert outcome.returncode == 0, outcome.describe()
    return counter.steps


def checkpoint_states(checkpoint: Path) -> dict:
    """Everything a resume restores from a checkpoint, loaded safely: weights, optimizer, scheduler, trainer state."""
    trainer_state = json.loads((checkpoint / "trainer_state.json").read_text())
    return {
        "weights": load_file(checkpoint / "model.safetensors"),
        "optimizer": torch.load(checkpoint / "optimizer.pt", weights_only=True),
        "scheduler": torch.load(checkpoint / "scheduler.pt", weights_only=True),
        "global_step": trainer_state["global_step"],
        "log_history": trainer_state["log_history"],
    }


def assert_same(actual, expected, where: str = "") -> None:
    """Recursive exact equality of nested dicts/lists of tensors and numbers (CPU runs are bit for bit)."""
    if isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), f"{where} differs"
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: {len(actual)} != {len(expected)} items"
        for index, (left, right) in enumerate(zip(actual, expected)):
            assert_same(left, right, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def logged_losses(log_history: list[dict], after_step: int) -> dict[int, dict]:
    """Training log lines after `after_step` (loss and its parts; no timings), keyed by step."""
    timing = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos")
    return {
        entry["step"]: {key: value for key, value in entry.items() if key not in timing}
        for entry in log_history
        if entry["step"] > after_step and "loss" in entry
    }


def assert_resumed_like_reference(resumed: Path, reference: Path, kill_step: int, final_step: int) -> None:
    expected = checkpoint_states(reference / f"checkpoint-{final_step}")
    actual = checkpoint_states(resumed / f"checkpoint-{final_step}")
    assert actual["global_step"] == expected["global_step"] == final_step
    for part in ("weights", "optimizer", "scheduler"):
        assert_same(actual[part], expected[part], part)
    expected_losses = logged_losses(expected["log_history"], kill_step)
    assert sorted(expected_losses) == list(range(kill_step + 1, final_step + 1))
    assert_same(logged_losses(actual["log_history"], kill_step), expected_losses, "log_history")


# ----------------------------------------------------------------------------------------------------- stage 1
def test_learning_order_killed_during_a_save_resumes_from_the_last_complete_checkpoint(
    tmp_path, documents_dataset, tiny_backbone, stage1_reference
):
    output_dir = tmp_path / "killed"
    arguments = stage1_arguments(documents_dataset, tiny_backbone, output_dir)
    child = start_interruptible("trainers/learning_order.py", arguments, stall_at=15)
    kill_when_announced(child, f"{STALLED} 15")
    assert not is_complete(output_dir / "checkpoint-15")
    assert last_complete_checkpoint(output_dir) == str(output_dir / "checkpoint-10")

    steps = resume("trainers/learning_order.py", [*arguments, "--resume_from_checkpoint", "last"])
    assert steps[0] == 11, f"resumed at step {steps[0]}, not right after checkpoint-10"
    reference = read_config(stage1_reference / "learning_order", "instances")
    resumed = read_config(output_dir / "learning_order", "instances")
    for column in LEARNING_ORDER_COLUMNS:
        assert resumed[column] == reference[column], column
    assert (np.asarray(reference["learned_epoch"]) >= 0).any()


# ----------------------------------------------------------------------------------------------------- stage 2
def test_pretraining_killed_after_a_checkpoint_resumes_to_the_same_state(
    tmp_path, learning_order_dataset, tiny_backbone, stage2_reference
):
    output_dir = tmp_path / "killed"
    arguments = stage2_arguments(learning_order_dataset, tiny_backbone, output_dir, tmp_path / "cache")
    kill_when_announced(start_interruptible("trainers/pretrain.py", arguments, pause_after=4), f"{PAUSED} 4")
    assert not (output_dir / "checkpoint-6").exists() and not (output_dir / "model.safetensors").exists()

    steps = resume("trainers/pretrain.py", [*arguments, "--resume_from_checkpoint", str(output_dir / "checkpoint-4")])
    assert steps == [5, 6]
    assert_resumed_like_reference(output_dir, stage2_reference, kill_step=4, final_step=6)
    assert_same(load_file(output_dir / "model.safetensors"), load_file(stage2_reference / "model.safetensors"))


# ----------------------------------------------------------------------------------------------------- stage 3
def test_fine_tuning_killed_after_a_checkpoint_resumes_to_the_same_state(
    tmp_path, sentence_dataset, tiny_backbone, stage3_reference
):
    output_dir = tmp_path / "killed"
    arguments = stage3_arguments(sentence_dataset, tiny_backbone, output_dir)
    kill_when_announced(start_interruptible("trainers/finetune.py", arguments, pause_after=4), f"{PAUSED} 4")
    assert not (output_dir / "checkpoint-6").exists()

    steps = resume("trainers/finetune.py", [*arguments, "--resume_from_checkpoint", str(output_dir / "checkpoint-4")])
    assert steps == [5, 6], f"the resumed run performed steps {steps}"
    assert_resumed_like_reference(output_dir, stage3_reference, kill_step=4, final_step=6)
    resumed_results = json.loads((output_dir / "eval_results.json").read_text())
    reference_results = json.loads((stage3_reference / "eval_results.json").read_text())
    assert {k: v for k, v in resumed_results.items() if "runtime" not in k and "per_second" not in k} == {
        k: v for k, v in reference_results.items() if "runtime" not in k and "per_second" not in k
    }


# ----------------------------------------------------------------------------------------------------- markers
@pytest.mark.parametrize("stage", ["stage1_reference", "stage2_reference", "stage3_reference"])
def test_every_stage_checkpoint_is_marked_complete(stage, request):
    output_dir = request.getfixturevalue(stage)
    checkpoints = sorted(output_dir.glob("checkpoint-*"))
    assert checkpoints, f"{stage} kept no checkpoint"
    assert [path.name for path in checkpoints if not is_complete(path)] == []
