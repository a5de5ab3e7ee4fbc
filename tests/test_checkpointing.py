"""Atomic checkpoints (`finecl_hf.checkpointing`): complete-or-ignored folders, resume resolution, rotation that keeps
the last complete checkpoint, and a training process SIGKILLed in the middle of a save."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from finecl_hf.checkpointing import (
    COMPLETE_MARKER,
    AtomicCheckpointMixin,
    is_complete,
    last_complete_checkpoint,
    mark_complete,
    resolve_resume_checkpoint,
    write_atomically,
)

TESTS_DIR = Path(__file__).resolve().parent
REPOSITORY = TESTS_DIR.parent
SAVE_STEPS = 2
MAX_STEPS = 6


# ------------------------------------------------------------------------------------------------ a tiny trainer
class TinyRegressor(nn.Module):
    """y = w·x + b with a squared loss: a model `Trainer` can train and save (as `model.safetensors`)."""

    def __init__(self, num_features: int = 4):
        super().__init__()
        self.linear = nn.Linear(num_features, 1)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        prediction = self.linear(features).squeeze(-1)
        output = {"logits": prediction}
        if labels is not None:
            output["loss"] = ((prediction - labels) ** 2).mean()
        return output


class AtomicTrainer(AtomicCheckpointMixin, Trainer):
    """The mixin as every FineCL trainer uses it: before `Trainer` in the bases."""


def regression_rows(num_rows: int = 48, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(num_rows, 4, generator=generator)
    labels = features @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(num_rows, generator=generator)
    return [{"features": row, "labels": label} for row, label in zip(features, labels)]


def tiny_arguments(output_dir: Path, **overrides) -> TrainingArguments:
    values = dict(
        output_dir=str(output_dir), max_steps=MAX_STEPS, save_strategy="steps", save_steps=SAVE_STEPS,
        per_device_train_batch_size=4, learning_rate=0.05, lr_scheduler_type="linear", warmup_steps=1,
        use_cpu=True, report_to="none", disable_tqdm=True, seed=0, logging_steps=1, dataloader_num_workers=0,
    )  # fmt: skip
    return TrainingArguments(**{**values, **overrides})


def tiny_trainer(output_dir: Path, callbacks: list[TrainerCallback] | None = None, **overrides) -> AtomicTrainer:
    torch.manual_seed(0)
    return AtomicTrainer(
        model=TinyRegressor(), args=tiny_arguments(output_dir, **overrides), train_dataset=regression_rows(),
        callbacks=callbacks,
    )


def plant_checkpoint(output_dir: Path, step: int, complete: bool, mtime: float | None = None) -> Path:
    """A `checkpoint-<step>` folder holding a (truncated) weights file, marked complete or not."""
    folder = output_dir / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"\x00" * 16)
    if complete:
        mark_complete(folder, step)
    if mtime is not None:
        os.utime(folder, (mtime, mtime))
    return folder


# ------------------------------------------------------------------------------------------------ unit tests
def test_write_atomically_replaces_the_whole_file_or_leaves_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    write_atomically(target, b"old")
    write_atomically(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["state.json"]  # no temporary left behind

    def killed_before_the_rename(source, destination):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", killed_before_the_rename)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"half-written")
    assert target.read_bytes() == b"new content"


def test_mark_complete_writes_the_step_and_is_complete_reads_it(tmp_path):
    folder = tmp_path / "checkpoint-7"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    assert not is_complete(folder)
    mark_complete(folder, 7)
    assert is_complete(folder)
    assert json.loads((folder / COMPLETE_MARKER).read_text()) == {"global_step": 7}


def test_last_complete_checkpoint_skips_incomplete_folders_and_orders_by_step(tmp_path, caplog):
    assert last_complete_checkpoint(tmp_path / "missing") is None
    assert last_complete_checkpoint(tmp_path) is None
    plant_checkpoint(tmp_path, 9, complete=True)
    plant_checkpoint(tmp_path, 10, complete=True)  # 10 > 9 numerically, though "10" < "9" as text
    plant_checkpoint(tmp_path, 12, complete=False)  # killed while saving
    (tmp_path / "checkpoint-99").write_text("a file, not a folder")
    (tmp_path / "checkpoint-final").mkdir()
    (tmp_path / "checkpoint-100.tmp").mkdir()
    with caplog.at_level(logging.WARNING, logger="finecl_hf.checkpointing"):
        assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert "checkpoint-12" in caplog.text and "not completely written" in caplog.text
    # What plain transformers would resume from: the half-written folder.
    assert get_last_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-12")


@pytest.mark.parametrize("value", [None, False, "", "False", "false", "no"])
def test_resolve_resume_checkpoint_off(value, tmp_path):
    plant_checkpoint(tmp_path, 2, complete=True)
    assert resolve_resume_checkpoint(value, str(tmp_path)) is None


@pytest.mark.parametrize("value", [True, "True", "true", "auto", "last"])
def test_resolve_resume_checkpoint_last_picks_the_last_complete_one(value, tmp_path):
    assert resolve_resume_checkpoint(value, str(tmp_path)) is None  # nothing yet: start from scratch, with a warning
    plant_checkpoint(tmp_path, 2, complete=True)
    plant_checkpoint(tmp_path, 4, complete=False)
    assert resolve_resume_checkpoint(value, str(tmp_path)) == str(tmp_path / "checkpoint-2")


def test_resolve_resume_checkpoint_explicit_folder(tmp_path):
    complete = plant_checkpoint(tmp_path, 2, complete=True)
    incomplete = plant_checkpoint(tmp_path, 4, complete=False)
    assert resolve_resume_checkpoint(str(complete), str(tmp_path)) == str(complete)
    with pytest.raises(ValueError, match=rf"{incomplete}.*{COMPLETE_MARKER}.*--resume_from_checkpoint last"):
        resolve_resume_checkpoint(str(incomplete), str(tmp_path))
    with pytest.raises(ValueError, match=rf"{tmp_path / 'checkpoint-8'}: no such folder"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-8"), str(tmp_path))


# ------------------------------------------------------------------------------------------------ the mixin
class CompleteCheckpointsAtEverySave(TrainerCallback):
    """After each save, record the complete checkpoints on disk and the last complete one."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        self.seen: list[tuple[int, list[str], str | None]] = []

    def on_save(self, args, state, control, **kwargs):
        complete = sorted(path.name for path in self.output_dir.glob("checkpoint-*") if is_complete(path))
        self.seen.append((state.global_step, complete, last_complete_checkpoint(self.output_dir)))


def test_mixin_marks_every_checkpoint_and_rotation_keeps_the_newest_complete_one(tmp_path):
    output_dir = tmp_path / "run"
    # Leftovers of a killed run: an incomplete checkpoint with a higher step than any this run writes.
    plant_checkpoint(output_dir, 100, complete=False, mtime=time.time() - 3600)
    watcher = CompleteCheckpointsAtEverySave(output_dir)
    tiny_trainer(output_dir, callbacks=[watcher], save_total_limit=1).train()

    assert [step for step, _, _ in watcher.seen] == [2, 4, 6]
    for step, complete, last in watcher.seen:
        assert last == str(output_dir / f"checkpoint-{step}")  # the checkpoint just saved is complete and kept
        assert complete == [f"checkpoint-{step}"]  # save_total_limit=1 applies to complete checkpoints
    marker = json.loads((output_dir / "checkpoint-6" / COMPLETE_MARKER).read_text())
    assert marker == {"global_step": 6}
    saved = load_file(output_dir / "checkpoint-6" / "model.safetensors")
    assert set(saved) == {"linear.weight", "linear.bias"}


def test_rotation_never_deletes_the_checkpoint_just_completed_whatever_the_folder_mtimes(tmp_path):
    output_dir = tmp_path / "run"
    # Written by a node whose clock is ahead: an older complete checkpoint and a half-written one, both "in the future".
    plant_checkpoint(output_dir, 1, complete=True, mtime=time.time() + 3600)
    plant_checkpoint(output_dir, 3, complete=False, mtime=time.time() + 3600)
    watcher = CompleteCheckpointsAtEverySave(output_dir)
    tiny_trainer(output_dir, callbacks=[watcher], save_total_limit=1, max_steps=2).train()
    assert watcher.seen[-1][2] == str(output_dir / "checkpoint-2")
    assert last_complete_checkpoint(output_dir) == str(output_dir / "checkpoint-2")


def test_save_total_limit_is_restored_after_each_save(tmp_path):
    trainer = tiny_trainer(tmp_path / "run", save_total_limit=2)
    trainer.train()
    assert trainer.args.save_total_limit == 2
    assert sorted(path.name for path in (tmp_path / "run").glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]


# ------------------------------------------------------------------------------------------------ kill during a save
CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests_dir!r})
    from pathlib import Path
    from test_checkpointing import AtomicTrainer, tiny_trainer

    output_dir, stall_at = Path(sys.argv[1]), int(sys.argv[2])
    original = AtomicTrainer._save_optimizer_and_scheduler

    def slow_save(self, checkpoint_dir):
        # The weights of this checkpoint are on disk; the optimizer, scheduler and trainer state are not yet.
        if self.state.global_step == stall_at:
            print("SAVING", stall_at, flush=True)
            time.sleep(600)
        return original(self, checkpoint_dir)

    AtomicTrainer._save_optimizer_and_scheduler = slow_save
    tiny_trainer(output_dir).train()
    """
)


def final_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in trainer.model.state_dict().items()}


@pytest.mark.slow
def test_a_run_killed_while_saving_resumes_from_the_previous_complete_checkpoint(tmp_path):
    output_dir = tmp_path / "killed"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests_dir=str(TESTS_DIR)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, str(script), str(output_dir), "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY, env=env,
    )  # fmt: skip
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("SAVING"):
                break
        assert output and output[-1].startswith("SAVING"), "".join(output)[-3000:]
    finally:
        process.kill()
        process.wait(timeout=60)

    half_written = output_dir / "checkpoint-4"
    assert (half_written / "model.safetensors").is_file() and not is_complete(half_written)
    assert not (half_written / "trainer_state.json").exists()
    assert is_complete(output_dir / "checkpoint-2")
    assert get_last_checkpoint(str(output_dir)) == str(half_written)  # plain transformers would pick it
    checkpoint = resolve_resume_checkpoint("last", str(output_dir))
    assert checkpoint == str(output_dir / "checkpoint-2")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the child's kernels, so that the weights match bit for bit
    try:
        resumed = tiny_trainer(output_dir)
        resumed.train(resume_from_checkpoint=checkpoint)
        reference = tiny_trainer(tmp_path / "uninterrupted")
        reference.train()
    finally:
        torch.set_num_threads(threads)
    assert resumed.state.global_step == reference.state.global_step == MAX_STEPS
    for name, tensor in final_state(reference).items():
        torch.testing.assert_close(final_state(resumed)[name], tensor, rtol=0, atol=0)
    assert is_complete(half_written) and (half_written / "trainer_state.json").is_file()  # rewritten in full
