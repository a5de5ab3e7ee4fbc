"""The learning-order state: for every training instance, the epoch in which it was first predicted correctly, and the
running sums of its training dynamics.

The state is a few compact NumPy arrays indexed by instance (row of the training dataset): `learned_epoch` (`int16`,
`-1` = not learned yet) and the running statistics the cleanliness scores of `finecl_hf.order_scores` are
computed from (sums of the assigned-label margin and probability, counts of observations, of correct predictions and
of forgetting events): about 34 bytes per instance whatever the number of epochs (1.5M instances: 51 MB). It is
written atomically into every Trainer checkpoint and read back by `resume_from_checkpoint`, so an interrupted run ends
with exactly the learning order and statistics of an uninterrupted one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from transformers.utils import logging

logger = logging.get_logger(__name__)

from ..constants import NOT_LEARNED
from ..errors import DataError, UsageError

STATE_FILE_NAME = "learning_order.npz"
# Arrays of the training-dynamics statistics (dtype); checkpoints written before they existed lack them.
DYNAMICS_ARRAYS = {
    "observations": np.int16,
    "correct_count": np.int16,
    "forgetting_events": np.int16,
    "last_correct": np.bool_,
    "margin_sum": np.float64,
    "probability_sum": np.float64,
    "probability_square_sum": np.float64,
}
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

    Training-dynamics statistics (one *observation* = the first prediction of an instance in an epoch, the same one
    `learned_epoch` reads; the scores of `finecl_hf.learning_order.scores` are computed from them):

        observations: `int16`, number of observations.
        margin_sum: `float64`, sum of the assigned-label margins (assigned logit minus the largest other logit).
        probability_sum, probability_square_sum: `float64`, sums of the assigned label's softmax probability and of
            its square.
        correct_count: `int16`, observations whose argmax equals the assigned label (any label, no-relation included).
        forgetting_events: `int16`, transitions correct -> incorrect between consecutive observations.
        last_correct: `bool`, whether the latest observation was correct.
        has_dynamics: `False` when the state was restored from a checkpoint written before these statistics existed:
            they then miss the earlier epochs, and `score_columns` leaves them out.
    """

    def __init__(self, num_instances: int):
        if num_instances < 0:
            raise ValueError(f"num_instances={num_instances} is invalid: it must be >= 0.")
        self.learned_epoch = np.full(num_instances, NOT_LEARNED, dtype=np.int16)
        self.seen_in_epoch = np.zeros(num_instances, dtype=bool)
        self.current_epoch = -1
        self.evaluated_epochs = 0
        for name, dtype in DYNAMICS_ARRAYS.items():
            setattr(self, name, np.zeros(num_instances, dtype=dtype))
        self.has_dynamics = True

    def __repr__(self) -> str:
        learned = int(np.count_nonzero(self.learned_epoch >= 0))
        return (
            f"{type(self).__name__}(num_instances={self.num_instances}, learned={learned}, "
            f"current_epoch={self.current_epoch}, has_dynamics={self.has_dynamics})"
        )

    @property
    def num_instances(self) -> int:
        return int(self.learned_epoch.shape[0])

    def record(
        self,
        epoch: int,
        instance_index: np.ndarray,
        correct: np.ndarray,
        margin: np.ndarray | None = None,
        probability: np.ndarray | None = None,
        argmax_correct: np.ndarray | None = None,
    ) -> int:
        """Record the predictions of one batch made during `epoch`.

        Only the first occurrence of an instance in an epoch counts (see `seen_in_epoch`); an instance predicted
        correctly that was not learned before gets `learned_epoch = epoch`, and its statistics are updated.

        Args:
            epoch: 0-based epoch of the predictions.
            instance_index: `[n]` row indices of the predicted instances, in the order they were processed (rank-major
                after a gather); entries `< 0` are padding and ignored.
            correct: `[n]` whether each prediction counts as learned (the paper's rule, see `correct_predictions`).
            margin: `[n]` assigned-label margins; `None` (with `probability`) leaves the margin/probability sums
                unchanged (tests of the order alone).
            probability: `[n]` softmax probabilities of the assigned labels.
            argmax_correct: `[n]` whether the argmax equals the assigned label, no-relation included (default:
                `correct`); counts correct predictions and forgetting events.

        Returns:
            The number of instances newly learned by this batch.
        """
        if not 0 <= epoch <= MAX_RECORDABLE_EPOCH:
            raise ValueError(f"epoch={epoch} is outside the recordable range [0, {MAX_RECORDABLE_EPOCH}].")
        instance_index = np.asarray(instance_index, dtype=np.int64).reshape(-1)
        observed = {"correct": correct, "argmax_correct": correct if argmax_correct is None else argmax_correct}
        if (margin is None) != (probability is None):
            raise ValueError("margin and probability are recorded together: pass both or neither.")
        if margin is not None:
            observed |= {"margin": margin, "probability": probability}
        for name, values in observed.items():
            values = np.asarray(values, dtype=np.float64 if name in ("margin", "probability") else bool).reshape(-1)
            if values.shape != instance_index.shape:
                raise ValueError(
                    f"instance_index has {instance_index.size} entries but {name} has {values.size}: one each per "
                    "prediction."
                )
            observed[name] = values
        if epoch != self.current_epoch:
            self.start_epoch(epoch)
        keep = instance_index >= 0
        instance_index = instance_index[keep]
        if instance_index.size and instance_index.max() >= self.num_instances:
            raise ValueError(
                f"instance_index {int(instance_index.max())} is out of range for a state of {self.num_instances} instances."
            )
        # First occurrence inside this batch, then first occurrence inside the epoch.
        _, first = np.unique(instance_index, return_index=True)
        first.sort()
        fresh = ~self.seen_in_epoch[instance_index[first]]
        rows = np.flatnonzero(keep)[first[fresh]]  # positions in the batch of the observations that count
        instance_index = instance_index[first[fresh]]
        observed = {name: values[rows] for name, values in observed.items()}
        self.seen_in_epoch[instance_index] = True
        newly_learned = instance_index[observed["correct"] & (self.learned_epoch[instance_index] == NOT_LEARNED)]
        self.learned_epoch[newly_learned] = epoch
        self._accumulate(instance_index, observed)
        return int(newly_learned.size)

    def _accumulate(self, instance_index: np.ndarray, observed: dict[str, np.ndarray]) -> None:
        """Add one observation per (distinct) instance to the running statistics."""
        argmax_correct = observed["argmax_correct"]
        self.observations[instance_index] += 1
        self.correct_count[instance_index] += argmax_correct.astype(np.int16)
        self.forgetting_events[instance_index] += (self.last_correct[instance_index] & ~argmax_correct).astype(np.int16)
        self.last_correct[instance_index] = argmax_correct
        if "margin" in observed:
            probability = observed["probability"]
            self.margin_sum[instance_index] += observed["margin"]
            self.probability_sum[instance_index] += probability
            self.probability_square_sum[instance_index] += probability * probability

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
                    has_dynamics=np.bool_(self.has_dynamics),
                    **{name: getattr(self, name) for name in DYNAMICS_ARRAYS},
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
        """Read the state saved by `save` in `directory`; `num_instances`, when given, must match the saved size.

        A checkpoint written before the training-dynamics statistics existed still resumes the learning order: its
        statistics restart at zero, `has_dynamics` is `False` (saved as such in later checkpoints) and a warning says
        that the score columns will not be exported.
        """
        path = Path(directory) / STATE_FILE_NAME
        if not path.is_file():
            raise UsageError(
                f"{path} is missing: the checkpoint was not written by LearningOrderTrainer, so its learning order "
                "cannot be resumed."
            )
        with np.load(path) as saved:
            learned_epoch = saved["learned_epoch"]
            if learned_epoch.dtype != np.int16 or learned_epoch.ndim != 1:
                raise DataError(f"{path}: field 'learned_epoch' must be a 1-D int16 array, got {learned_epoch.dtype}.")
            if num_instances is not None and learned_epoch.shape[0] != num_instances:
                raise UsageError(
                    f"{path}: field 'learned_epoch' holds {learned_epoch.shape[0]} instances but the training dataset "
                    f"has {num_instances}: resume with the dataset the checkpoint was trained on."
                )
            state = cls(learned_epoch.shape[0])
            state.learned_epoch[:] = learned_epoch
            state.seen_in_epoch[:] = saved["seen_in_epoch"]
            state.current_epoch = int(saved["current_epoch"])
            state.evaluated_epochs = int(saved["evaluated_epochs"])
            present = [name for name in DYNAMICS_ARRAYS if name in saved.files]
            if not present:
                state.has_dynamics = False
                logger.warning(
                    f"{path} predates the training-dynamics statistics (aum, confidence, ...): the learning order "
                    "resumes, but those statistics miss the epochs before this checkpoint and are not exported."
                )
                return state
            if len(present) != len(DYNAMICS_ARRAYS):
                missing = sorted(set(DYNAMICS_ARRAYS) - set(present))
                raise DataError(f"{path}: field(s) {missing} missing; the file is damaged (it has {saved.files}).")
            for name, dtype in DYNAMICS_ARRAYS.items():
                values = saved[name]
                if values.dtype != dtype or values.shape != learned_epoch.shape:
                    raise DataError(
                        f"{path}: field {name!r} must be a {np.dtype(dtype).name} array of {learned_epoch.shape[0]} "
                        f"entries, got {values.dtype} of shape {values.shape}."
                    )
                getattr(state, name)[:] = values
            state.has_dynamics = bool(saved["has_dynamics"]) if "has_dynamics" in saved.files else True
        return state


def percent_learned_per_epoch(learned_epoch: np.ndarray, num_epochs: int) -> list[float]:
    """Percent of all instances whose `learned_epoch` equals each epoch 0..num_epochs-1 (paper Fig. 2)."""
    learned_epoch = np.asarray(learned_epoch)
    if learned_epoch.size == 0:
        return [0.0] * num_epochs
    counts = np.bincount(learned_epoch[learned_epoch >= 0].astype(np.int64), minlength=num_epochs)[:num_epochs]
    return (100.0 * counts / learned_epoch.size).tolist()
