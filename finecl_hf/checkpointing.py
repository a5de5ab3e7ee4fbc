"""Checkpoints that survive being killed: complete-or-ignored, and resume from the last complete one.

`transformers.Trainer` writes `checkpoint-N/` file by file and then deletes old checkpoints; a job killed in between
leaves a folder that looks like a checkpoint but fails to load, and `get_last_checkpoint` picks it. Every FineCL trainer
mixes in `AtomicCheckpointMixin`, which marks a checkpoint complete (atomically, after all its files are written and
flushed) before old ones are rotated away, and `last_complete_checkpoint` only ever returns marked checkpoints.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging

from .errors import DataError, UsageError

logger = logging.get_logger(__name__)

COMPLETE_MARKER = "checkpoint_complete.json"
_CHECKPOINT_PATTERN = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one, never a prefix."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _fsync_tree(folder: Path) -> None:
    for file in folder.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


def mark_complete(checkpoint: str | os.PathLike, global_step: int) -> None:
    """Flush every file of `checkpoint` to disk, then atomically write its completion marker."""
    checkpoint = Path(checkpoint)
    _fsync_tree(checkpoint)
    write_atomically(checkpoint / COMPLETE_MARKER, f'{{"global_step": {global_step}}}\n'.encode())


def is_complete(checkpoint: str | os.PathLike) -> bool:
    return (Path(checkpoint) / COMPLETE_MARKER).is_file()


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The highest-step `checkpoint-N` folder of `output_dir` that was completely written, or `None`.

    Incomplete checkpoints (a job killed while saving) are skipped with a warning naming them.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    candidates = sorted(
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (match := _CHECKPOINT_PATTERN.match(path.name))
    )
    for step, path in reversed(candidates):
        if is_complete(path):
            return str(path)
        logger.warning(f"Ignoring {path}: it was not completely written (the job stopped while saving it).")
    return None


def remove_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Delete every `checkpoint-N` folder of `output_dir` and of its sub-folders (one level: fine-tuning's `seed-N`
    runs), left by an earlier run written over with `--overwrite_output_dir`: they would otherwise be rotated against
    the new run's by step, and `--resume_from_checkpoint last` could pick one. Returns the folders removed, each logged.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return []
    runs = [root, *(path for path in root.iterdir() if path.is_dir() and not _CHECKPOINT_PATTERN.match(path.name))]
    removed = sorted(path for run in runs for path in run.iterdir()
                     if path.is_dir() and _CHECKPOINT_PATTERN.match(path.name))  # fmt: skip
    for path in removed:
        shutil.rmtree(path)
        logger.warning(f"--overwrite_output_dir: removed {path} of the earlier run.")
    return removed


def clear_earlier_run(training_args) -> None:
    """With `--overwrite_output_dir` (and no resume), remove the earlier run's checkpoints on the main process, before
    any new one is written (`remove_checkpoints`)."""
    if getattr(training_args, "overwrite_output_dir", False) and not training_args.resume_from_checkpoint \
            and training_args.process_index == 0:
        remove_checkpoints(training_args.output_dir)


def resolve_resume_checkpoint(resume_from_checkpoint: str | bool | None, output_dir: str) -> str | None:
    """Turn `--resume_from_checkpoint` into a folder: `True`/`"auto"`/`"last"` mean the last complete checkpoint."""
    if resume_from_checkpoint in (None, False, "", "False", "false", "no"):
        return None
    if resume_from_checkpoint in (True, "True", "true", "auto", "last"):
        checkpoint = last_complete_checkpoint(output_dir)
        if checkpoint is None:
            logger.warning(f"No complete checkpoint in {output_dir}: starting from scratch.")
        return checkpoint
    checkpoint = Path(resume_from_checkpoint)
    if not checkpoint.is_dir():
        raise UsageError(f"--resume_from_checkpoint {checkpoint}: no such folder.")
    if not is_complete(checkpoint):
        raise DataError(
            f"--resume_from_checkpoint {checkpoint}: this checkpoint was not completely written ({COMPLETE_MARKER} is "
            f"missing); resume from the last complete one with --resume_from_checkpoint last."
        )
    return str(checkpoint)


class AtomicCheckpointMixin:
    """Mix into a `transformers.Trainer` subclass (before `Trainer`) to make checkpoints complete-or-ignored.

    The checkpoint is written with rotation switched off, marked complete, and only then are old checkpoints rotated,
    so a kill at any moment leaves at least one complete checkpoint once one was ever completed.
    """

    def _save_checkpoint_extras(self, checkpoint: str) -> None:
        """Write trainer-specific state into `checkpoint` (main process) before it is marked complete."""

    def _save_checkpoint(self, model, trial) -> None:
        save_total_limit = self.args.save_total_limit
        self.args.save_total_limit = None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = save_total_limit
        run_dir = self._get_output_dir(trial=trial)
        checkpoint = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save:
            self._save_checkpoint_extras(checkpoint)
            mark_complete(checkpoint, self.state.global_step)
            rotate_complete_checkpoints(run_dir, save_total_limit, keep=self.state.best_model_checkpoint)


def rotate_complete_checkpoints(output_dir: str | os.PathLike, save_total_limit: int | None, keep: str | None = None) -> None:
    """Delete the oldest *complete* checkpoints beyond `save_total_limit`, ordered by step (never by mtime).

    Incomplete folders are never counted, so they cannot push out a complete checkpoint; `keep` (the best checkpoint)
    is never deleted.
    """
    if not save_total_limit:
        return
    complete = sorted(
        (int(match.group(1)), path)
        for path in Path(output_dir).iterdir()
        if path.is_dir() and (match := _CHECKPOINT_PATTERN.match(path.name)) and is_complete(path)
    )
    keep_path = Path(keep).resolve() if keep else None
    surplus = len(complete) - save_total_limit
    for _, path in complete:
        if surplus <= 0:
            break
        if keep_path is not None and path.resolve() == keep_path:
            continue
        logger.info(f"Deleting older checkpoint {path} (save_total_limit={save_total_limit}).")
        shutil.rmtree(path, ignore_errors=True)
        surplus -= 1
