"""The learning-order state: for every training instance, the epoch in which it was first predicted correctly.

The state is a compact NumPy array indexed by instance (row of the training dataset): `int16`, `-1` = not learned yet,
so the 1.5M instances of DocRED's distant training set cost 3 MB. It is written atomically into every Trainer checkpoint
and read back by `resume_from_checkpoint`, so an interrupted run ends with exactly the learning order of an
uninterrupted one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..constants import NOT_LEARNED

STATE_FILE_NAME = "learning_order.npz"
# int16 stores epochs 0..32767; the paper uses 15.
MAX_RECORDABLE_EPOCH = int(np.iinfo(np.int16).max)


class LearningOrderState:
    """Epoch of first correct prediction for each of `num_instances` instances, plus what is needed to resume.

    Attributes:
        learned_epoch: `int16 [num_instances]`, 0-based epoch of the first correct prediction, `-1` if none yet.
        seen_in_epoch: `bool [num_instances]`, instances already recorded during `current_epoch`. Distributed samplers
            pad the last batches with repeats of the epoch's first instances; only an instance's first occurrence in an
            epoch counts, so every instance is recorded exactly once per epoch.
        current_epoch: the epoch `seen_in_epoch` refers to (`-1` before the first record).
        evaluated_epochs: number of completed epoch-end passes (epoch mode), so a resumed run knows whether the pass of
            the epoch it resumes after still has to run.
    """

    def __init__(self, num_instances: int):
        if num_instances < 0:
            raise ValueError(f"num_instances={num_instances} is invalid: it must be >= 0.")
        self.learned_epoch = np.full(num_instances, NOT_LEARNED, dtype=np.int16)
        self.seen_in_epoch = np.zeros(num_instances, dtype=bool)
        self.current_epoch = -1
        self.evaluated_epochs = 0

    @property
    def num_instances(self) -> int:
        return int(self.learned_epoch.shape[0])

    def record(self, epoch: int, instance_index: np.ndarray, correct: np.ndarray) -> int:
        """Record the predictions of one batch made during `epoch`.

        Only the first occurrence of an instance in an epoch counts (see `seen_in_epoch`); an instance predicted
        correctly that was not learned before gets `learned_epoch = epoch`.

        Args:
            epoch: 0-based epoch of the predictions.
            instance_index: `[n]` row indices of the predicted instances, in the order they were processed (rank-major
                after a gather); entries `< 0` are padding and ignored.
            correct: `[n]` whether each prediction counts as correct.

        Returns:
            The number of instances newly learned by this batch.
        """
        if not 0 <= epoch <= MAX_RECORDABLE_EPOCH:
            raise ValueError(f"epoch={epoch} is outside the recordable range [0, {MAX_RECORDABLE_EPOCH}].")
        instance_index = np.asarray(instance_index, dtype=np.int64).reshape(-1)
        correct = np.asarray(correct, dtype=bool).reshape(-1)
        if instance_index.shape != correct.shape:
            raise ValueError(
                f"instance_index has {instance_index.size} entries but correct has {correct.size}: one each per prediction."
            )
        if epoch != self.current_epoch:
            self.start_epoch(epoch)
        keep = instance_index >= 0
        instance_index, correct = instance_index[keep], correct[keep]
        if instance_index.size and instance_index.max() >= self.num_instances:
            raise ValueError(
                f"instance_index {int(instance_index.max())} is out of range for a state of {self.num_instances} instances."
            )
        # First occurrence inside this batch, then first occurrence inside the epoch.
        _, first = np.unique(instance_index, return_index=True)
        first.sort()
        instance_index, correct = instance_index[first], correct[first]
        fresh = ~self.seen_in_epoch[instance_index]
        instance_index, correct = instance_index[fresh], correct[fresh]
        self.seen_in_epoch[instance_index] = True
        newly_learned = instance_index[correct & (self.learned_epoch[instance_index] == NOT_LEARNED)]
        self.learned_epoch[newly_learned] = epoch
        return int(newly_learned.size)

    def start_epoch(self, epoch: int) -> None:
        """Forget which instances were seen: a new epoch starts."""
        self.current_epoch = epoch
        self.seen_in_epoch[:] = False

    def percent_learned_per_epoch(self, num_epochs: int) -> list[float]:
        """Percent of all instances first learned in each epoch 0..num_epochs-1."""
        return percent_learned_per_epoch(self.learned_epoch, num_epochs)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the state to `directory/learning_order.npz` atomically (temporary file + `os.replace`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / STATE_FILE_NAME
        descriptor, temporary = tempfile.mkstemp(prefix=".learning_order.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(
                    handle,
                    learned_epoch=self.learned_epoch,
                    seen_in_epoch=self.seen_in_epoch,
                    current_epoch=np.int64(self.current_epoch),
                    evaluated_epochs=np.int64(self.evaluated_epochs),
                )
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike, num_instances: int | None = None) -> LearningOrderState:
        """Read the state saved by `save` in `directory`; `num_instances`, when given, must match the saved size."""
        path = Path(directory) / STATE_FILE_NAME
        if not path.is_file():
            raise ValueError(
                f"{path} is missing: the checkpoint was not written by LearningOrderTrainer, so its learning order "
                "cannot be resumed."
            )
        with np.load(path) as saved:
            learned_epoch = saved["learned_epoch"]
            if learned_epoch.dtype != np.int16 or learned_epoch.ndim != 1:
                raise ValueError(f"{path}: field 'learned_epoch' must be a 1-D int16 array, got {learned_epoch.dtype}.")
            if num_instances is not None and learned_epoch.shape[0] != num_instances:
                raise ValueError(
                    f"{path}: field 'learned_epoch' holds {learned_epoch.shape[0]} instances but the training dataset "
                    f"has {num_instances}: resume with the dataset the checkpoint was trained on."
                )
            state = cls(learned_epoch.shape[0])
            state.learned_epoch[:] = learned_epoch
            state.seen_in_epoch[:] = saved["seen_in_epoch"]
            state.current_epoch = int(saved["current_epoch"])
            state.evaluated_epochs = int(saved["evaluated_epochs"])
        return state


def percent_learned_per_epoch(learned_epoch: np.ndarray, num_epochs: int) -> list[float]:
    """Percent of all instances whose `learned_epoch` equals each epoch 0..num_epochs-1 (paper Fig. 2)."""
    learned_epoch = np.asarray(learned_epoch)
    if learned_epoch.size == 0:
        return [0.0] * num_epochs
    counts = np.bincount(learned_epoch[learned_epoch >= 0].astype(np.int64), minlength=num_epochs)[:num_epochs]
    return (100.0 * counts / learned_epoch.size).tolist()
