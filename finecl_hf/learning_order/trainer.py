"""`LearningOrderTrainer`: train a relation classifier and record when each training instance is first learned.

Paper §3.1 and Appendix A.1. An instance is *learned* in epoch k when, for the first time, the classifier's argmax
over all classes (no-relation included) equals the instance's label. Two ways of observing predictions:

- `mode="batch"` (Alg. 1, the paper's default): the logits of the training forward itself (dropout on, before the
  optimizer step) are read in `compute_loss`; no second forward.
- `mode="epoch"` (Alg. 2): at each epoch end, a no-grad, eval-mode pass over the whole training set
  (`LearningOrderCallback`).

The same logits also feed the training-dynamics statistics of every instance (assigned-label margin and probability,
correctness, forgetting events; see `LearningOrderState` and `finecl_hf.learning_order.scores`), so the cleanliness
scores cost no extra forward.

Instances are identified by their row index in the training dataset (`instance_index`); the exported dataset keeps the
string `uid` column next to the recorded epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import seed_worker
from transformers.utils import logging

from ..checkpointing import AtomicCheckpointMixin, resolve_resume_checkpoint
from ..constants import IGNORE_INDEX, INSTANCE_INDEX_COLUMN

from .state import MAX_RECORDABLE_EPOCH, LearningOrderState

logger = logging.get_logger(__name__)



class InstanceIndexCollator:
    """Wrap a collator so that `instance_index` is taken out of every feature and returned as one tensor.

    The wrapped collator never sees the column, and the trainer pops `instance_index` from the batch before the model
    forward, so the model never receives it.
    """

    def __init__(self, collator: Callable[[list[dict[str, Any]]], dict[str, Any]]):
        self.collator = collator

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        indices, stripped = [], []
        for position, feature in enumerate(features):
            if INSTANCE_INDEX_COLUMN not in feature:
                raise ValueError(f"feature {position} of the batch has no {INSTANCE_INDEX_COLUMN!r} field.")
            feature = dict(feature)
            indices.append(int(feature.pop(INSTANCE_INDEX_COLUMN)))
            stripped.append(feature)
        batch = dict(self.collator(stripped))
        batch[INSTANCE_INDEX_COLUMN] = torch.tensor(indices, dtype=torch.long)
        return batch


class _IndexedDataset(TorchDataset):
    """A map-style dataset whose items (dicts) gain their position as `instance_index`."""

    def __init__(self, dataset: Sequence[dict[str, Any]]):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.dataset[index], INSTANCE_INDEX_COLUMN: index}


def add_instance_index(dataset: Any) -> Any:
    """Give every row its position as `instance_index` (a 🤗 `Dataset` column, or a wrapper for other datasets).

    An existing `instance_index` column must equal the row positions: the learning-order state is indexed by them.
    """
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a hard dependency of finecl-hf
        datasets = None
    if datasets is not None and isinstance(dataset, datasets.Dataset):
        if INSTANCE_INDEX_COLUMN in dataset.column_names:
            existing = np.asarray(dataset[INSTANCE_INDEX_COLUMN])
            mismatch = np.flatnonzero(existing != np.arange(len(dataset)))
            if mismatch.size:
                row = int(mismatch[0])
                raise ValueError(
                    f"training dataset record {row + 1} (index {row}): field {INSTANCE_INDEX_COLUMN!r} is {int(existing[row])}, expected "
                    f"{row}; the column must hold each row's position (drop it to have it recomputed)."
                )
            return dataset
        return dataset.add_column(INSTANCE_INDEX_COLUMN, np.arange(len(dataset), dtype=np.int64))
    return _IndexedDataset(dataset)


def class_balance_weights(labels: Sequence[int], num_classes: int, power: float) -> torch.Tensor:
    """Per-class loss weights proportional to `count ** -power`, averaging 1 over the instances labelled `labels`.

    `power` 0 gives all ones (plain cross-entropy); classes absent from `labels` get weight 0 (no instance uses it).
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    weights = np.zeros(num_classes)
    present = counts > 0
    weights[present] = counts[present] ** -power
    weights *= counts.sum() / float((weights * counts).sum())
    return torch.tensor(weights, dtype=torch.float32)


def correct_predictions(
    logits: torch.Tensor,
    labels: torch.Tensor,
    no_relation_id: int | None = None,
    record_no_relation: bool = False,
) -> torch.Tensor:
    """Which predictions count as learned: argmax over all classes equals the label.

    Labels `-100` never count. Unless `record_no_relation`, instances labelled `no_relation_id` never count either
    (the original code's rule: only relation instances are learned).

    Args:
        logits: `[instances, classes]`.
        labels: `[instances]` class ids (single-label).
    """
    if labels.dim() != 1:
        raise ValueError(
            f"labels must hold one class id per instance (shape [instances]), got shape {tuple(labels.shape)}: "
            "learning order is recorded for single-label instances (one row per (head, tail, relation))."
        )
    correct = (logits.argmax(dim=-1) == labels) & (labels != IGNORE_INDEX)
    if no_relation_id is not None and not record_no_relation:
        correct &= labels != no_relation_id
    return correct


def assigned_label_statistics(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per instance: the assigned label's margin and softmax probability, and whether the argmax is that label.

    margin = logit of the label minus the largest other logit (Pleiss et al. 2020). Rows labelled `-100` get 0 and
    `False` (the trainer drops them before recording).

    Args:
        logits: `[instances, classes]`.
        labels: `[instances]` class ids.

    Returns:
        `(margin float32 [instances], probability float32 [instances], argmax_correct bool [instances])`.
    """
    logits = logits.detach().float()
    valid = labels != IGNORE_INDEX
    label_index = torch.where(valid, labels, torch.zeros_like(labels)).unsqueeze(-1)
    assigned = logits.gather(-1, label_index).squeeze(-1)
    others = logits.scatter(-1, label_index, float("-inf")).amax(dim=-1)
    probability = (assigned - torch.logsumexp(logits, dim=-1)).exp()
    argmax_correct = (logits.argmax(dim=-1) == labels) & valid
    zero = torch.zeros_like(assigned)
    return torch.where(valid, assigned - others, zero), torch.where(valid, probability, zero), argmax_correct


class DocumentGroupedSampler(Sampler[int]):
    """Random order in which the instances of one document are consecutive, so a batch encodes few documents.

    Each epoch shuffles the documents, and the instances inside each document, with a generator seeded by
    `seed + epoch`: the order depends only on (seed, epoch), so a resumed run skips exactly the batches it had seen.
    The original FineCL code also batched relation instances document by document.
    """

    def __init__(self, document_index: Sequence[int], seed: int):
        self.document_index = np.asarray(document_index, dtype=np.int64)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return int(self.document_index.size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        # A random key per instance orders instances inside a document; a random key per document orders documents.
        documents, inverse = np.unique(self.document_index, return_inverse=True)
        document_keys = rng.permutation(documents.size)[inverse]
        instance_keys = rng.random(self.document_index.size)
        yield from np.lexsort((instance_keys, document_keys)).tolist()


class DocumentBatchSampler(Sampler[list[int]]):
    """Batches made of *all* the instances of `documents_per_batch` documents, so each document is encoded once per
    epoch (the collator encodes each distinct document of a batch once and pools all its pairs from that pass).

    Documents are shuffled per epoch exactly like `DocumentGroupedSampler` (seeded by `seed + epoch`), which this
    sampler exposes as `.sampler`: the Trainer and accelerate reach `sampler.set_epoch` through every wrapper
    (resume's batch skipping, multi-process sharding), so a resumed run sees the same batches. Batch sizes vary with
    the number of instances of the documents.
    """

    def __init__(self, document_index: Sequence[int], documents_per_batch: int, seed: int):
        if documents_per_batch < 1:
            raise ValueError(f"documents_per_batch={documents_per_batch} is invalid: it must be >= 1.")
        self.sampler = DocumentGroupedSampler(document_index, seed)
        self.documents_per_batch = documents_per_batch
        self.num_documents = int(np.unique(self.sampler.document_index).size)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return math.ceil(self.num_documents / self.documents_per_batch)

    def __iter__(self):
        order = np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        documents = self.sampler.document_index[order]
        document_starts = np.flatnonzero(np.r_[True, documents[1:] != documents[:-1]])
        batch_starts = np.r_[document_starts[:: self.documents_per_batch], order.size]
        for start, end in zip(batch_starts[:-1], batch_starts[1:]):
            yield order[start:end].tolist()


class LearningOrderTrainer(AtomicCheckpointMixin, Trainer):
    """A `Trainer` that records the learning order of its training instances (paper §3.1, Alg. 1 and 2).

    Train a `FineCLForRelationExtraction(relation_level="sentence")` (or any model returning `loss` and `logits[P, R]`
    with one prediction per instance, in batch order) and read `trainer.learning_order.learned_epoch` afterwards:
    the 0-based epoch in which each training row was first predicted correctly, `-1` if never; the training-dynamics
    scores (AUM, confidence, variability, forgetting events, correct fraction) come from
    `finecl_hf.learning_order.scores.score_columns(trainer.learning_order)`.

    The trainer sets the arguments it depends on: `remove_unused_columns=False` (the `instance_index` column must reach
    the collator), `label_names=["labels"]` and `dataloader_drop_last=False` (every instance is seen every epoch).
    The learning-order state is written into every checkpoint (`learning_order.npz`) and restored by
    `train(resume_from_checkpoint=...)`.

    Args:
        model: the classifier.
        args: [`LearningOrderTrainingArguments`] (a plain `TrainingArguments` means `mode="batch"`,
            `record_no_relation=False`).
        train_dataset: the instances; a 🤗 `Dataset` gains an `instance_index` column (row position) when it has none.
        data_collator: turns a list of rows into a model batch (one prediction per row, in row order); it is wrapped so
            that `instance_index` never reaches it nor the model.
        no_relation_id: class id of no-relation; default: `model.config.label2id[model.config.no_relation_label]` when
            that label exists, else no class is treated as no-relation.
        **kwargs: passed to `Trainer` (`callbacks`, `processing_class`, `eval_dataset`, ...).

    Example:

    ```python
    >>> from finecl_hf import FineCLForRelationExtraction
    >>> from finecl_hf.learning_order import LearningOrderTrainer, LearningOrderTrainingArguments
    >>> model = FineCLForRelationExtraction.from_backbone("roberta-base", num_labels=19, relation_level="sentence")
    >>> args = LearningOrderTrainingArguments(output_dir="runs/order", mode="batch", num_train_epochs=15)
    >>> trainer = LearningOrderTrainer(model=model, args=args, train_dataset=instances, data_collator=collator)
    >>> trainer.train()
    >>> trainer.learning_order.learned_epoch  # int16, -1 = never learned
    ```
    """

    # Our models compute their own mean loss and take no loss kwargs: the Trainer must divide by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model: torch.nn.Module,
        args: TrainingArguments,
        train_dataset: Any,
        data_collator: Callable[[list[dict[str, Any]]], dict[str, Any]],
        no_relation_id: int | None = None,
        class_weights: torch.Tensor | None = None,
        **kwargs: Any,
    ):
        if train_dataset is None:
            raise ValueError("LearningOrderTrainer needs a train_dataset: the learning order is recorded over it.")
        if data_collator is None:
            raise ValueError("LearningOrderTrainer needs a data_collator that builds model batches from rows.")
        _set_required_arguments(args)
        self.mode = getattr(args, "mode", "batch")
        self.record_no_relation = bool(getattr(args, "record_no_relation", False))
        self.no_relation_id = _resolve_no_relation_id(model, no_relation_id)
        # Class-balanced cross-entropy (`class_balance`) replaces the model's own mean loss when given.
        self.class_weights = class_weights
        train_dataset = add_instance_index(train_dataset)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            data_collator=InstanceIndexCollator(data_collator),
            **kwargs,
        )
        self.model_accepts_loss_kwargs = False
        self.learning_order = LearningOrderState(len(train_dataset))
        self.add_callback(LearningOrderCallback(self))

    @property
    def num_epochs(self) -> int:
        """Number of epochs k the run trains for (known exactly once training started, also under `max_steps`)."""
        planned = getattr(self.state, "num_train_epochs", 0) or self.args.num_train_epochs
        return int(math.ceil(planned))

    def _get_train_sampler(self, train_dataset: Any = None) -> Sampler | None:
        """Group the instances of a document together when `group_by_document` is on and rows have `document_index`."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        columns = getattr(dataset, "column_names", None) or []
        if getattr(self.args, "group_by_document", False) and "document_index" in columns:
            return DocumentGroupedSampler(dataset["document_index"], seed=self.args.seed)
        return super()._get_train_sampler(train_dataset)

    def get_train_dataloader(self) -> DataLoader:
        """With `documents_per_batch > 0` and instances of documents (rows with `document_index`): batches of whole
        documents (`DocumentBatchSampler`); else the Trainer's batches of `per_device_train_batch_size` rows."""
        documents_per_batch = int(getattr(self.args, "documents_per_batch", 0) or 0)
        dataset = self.train_dataset
        columns = getattr(dataset, "column_names", None) or []
        if documents_per_batch <= 0 or "document_index" not in columns:
            return super().get_train_dataloader()
        document_index = dataset["document_index"]
        loader = DataLoader(
            dataset,
            batch_sampler=DocumentBatchSampler(document_index, documents_per_batch, seed=self.args.seed),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            worker_init_fn=partial(seed_worker, num_workers=self.args.dataloader_num_workers, rank=self.args.process_index),
        )
        return self.accelerator.prepare(loader)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any):
        """`Trainer.train`, restoring the learning-order state saved in the checkpoint it resumes from."""
        if self.num_epochs > MAX_RECORDABLE_EPOCH:
            raise ValueError(f"num_train_epochs={self.args.num_train_epochs} exceeds the {MAX_RECORDABLE_EPOCH} epochs int16 stores.")
        # `True`/"last" resume from the last *complete* checkpoint (see finecl_hf.checkpointing).
        resume_from_checkpoint = resolve_resume_checkpoint(resume_from_checkpoint, self.args.output_dir)
        if resume_from_checkpoint is not None:
            self.learning_order = LearningOrderState.load(resume_from_checkpoint, len(self.train_dataset))
            logger.info(f"Restored the learning order of {self.learning_order.num_instances} instances from {resume_from_checkpoint}.")
        else:
            self.learning_order = LearningOrderState(len(self.train_dataset))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        """Forward + loss; in batch mode, also record which instances of the batch the logits predict correctly.

        `num_items_in_batch` is not used: the model returns a mean loss and `loss_is_scaled_for_ga = False` lets the
        Trainer divide it by the number of accumulated batches (equal-size micro-batches then give exactly the gradient
        of one large batch).
        """
        instance_index = inputs.pop(INSTANCE_INDEX_COLUMN, None)
        outputs = model(**inputs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs[0]
        if self.class_weights is not None and model.training:
            weights = self.class_weights.to(outputs["logits"].device)
            loss = torch.nn.functional.cross_entropy(outputs["logits"].float(), inputs["labels"], weight=weights)
        if self.mode == "batch" and model.training:
            if instance_index is None:
                raise ValueError(f"the training batch has no {INSTANCE_INDEX_COLUMN!r}: use the trainer's own collator.")
            self._record(instance_index, outputs["logits"], inputs["labels"])
        return (loss, outputs) if return_outputs else loss

    def _record(self, instance_index: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Gather the observations of a batch from every process and record them for the current epoch."""
        if logits.size(0) != instance_index.size(0):
            raise ValueError(
                f"the model returned {logits.size(0)} predictions for a batch of {instance_index.size(0)} instances: "
                "the collator must yield exactly one (head, tail) pair per row, in row order."
            )
        observations = self._observe(instance_index, logits.detach(), labels)
        # `state.epoch` is `epoch + finished_steps / steps_in_epoch`, strictly below `epoch + 1` inside the epoch.
        epoch = int(math.floor(self.state.epoch or 0.0))
        self.learning_order.record(epoch, **self._gather_records(observations))

    def _observe(self, instance_index: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """What one prediction per instance contributes to the state (rows labelled `-100` become padding)."""
        margin, probability, argmax_correct = assigned_label_statistics(logits, labels)
        instance_index = instance_index.to(logits.device)
        return {
            "instance_index": torch.where(labels != IGNORE_INDEX, instance_index, torch.full_like(instance_index, -1)),
            "correct": correct_predictions(logits, labels, self.no_relation_id, self.record_no_relation),
            "argmax_correct": argmax_correct,
            "margin": margin,
            "probability": probability,
        }

    def _gather_records(self, observations: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Concatenate the observations of all processes, rank by rank; padding rows get instance `-1`.

        The columns travel as one float64 tensor (instance indices are exact below 2**53): one collective and one
        device-to-host copy per batch.
        """
        names = list(observations)
        columns = [observations[name] for name in names]
        if columns[0].device.type == "mps":  # no float64 on Apple GPUs (single process only there)
            columns = [column.cpu() for column in columns]
        payload = torch.stack([column.to(torch.float64) for column in columns], dim=1)
        if self.accelerator.num_processes > 1:
            payload = self.accelerator.pad_across_processes(payload, dim=0, pad_index=-1)
            payload = self.accelerator.gather(payload)
        columns = dict(zip(names, payload.cpu().numpy().T))
        columns["instance_index"] = columns["instance_index"].astype(np.int64)
        for name in ("correct", "argmax_correct"):
            columns[name] = columns[name] > 0
        return columns

    def _save_checkpoint_extras(self, checkpoint: str) -> None:
        """The learning-order state goes into every checkpoint, before it is marked complete (atomic write)."""
        self.learning_order.save(checkpoint)

    @torch.no_grad()
    def run_epoch_pass(self, epoch: int) -> int:
        """Alg. 2: predict every training instance with the current model (eval mode, no grad) and record `epoch`.

        Instances are sorted by length (longest first; instances of one document stay together) and cut into batches
        of `epoch_pass_batch_size`; process r of W takes batches r, r+W, ... Batches are built directly (no
        DataLoader), so the pass draws nothing from the random generators and a resumed run stays identical.

        Returns:
            The number of instances newly learned.
        """
        model = self.model
        was_training = model.training
        model.eval()
        batch_size = getattr(self.args, "epoch_pass_batch_size", self.args.per_device_eval_batch_size)
        order = _epoch_pass_order(self.train_dataset)
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        local_batches = batches[self.accelerator.process_index :: self.accelerator.num_processes]
        observations: list[dict[str, torch.Tensor]] = []
        progress = tqdm(
            local_batches, desc=f"learning order, epoch {epoch}", leave=False,
            disable=self.args.disable_tqdm or not self.is_local_process_zero(),
        )
        try:
            for rows in progress:
                batch = self._prepare_inputs(self.data_collator(_rows(self.train_dataset, rows)))
                instance_index = batch.pop(INSTANCE_INDEX_COLUMN)
                labels = batch.pop("labels")
                with self.compute_loss_context_manager():
                    logits = model(**batch)["logits"]
                observations.append(self._observe(instance_index, logits, labels))
        finally:
            model.train(was_training)
        if observations:
            local = {name: torch.cat([batch[name] for batch in observations]) for name in observations[0]}
        else:
            local = self._observe(
                torch.empty(0, dtype=torch.long, device=self.args.device),
                torch.empty(0, 1, device=self.args.device),
                torch.empty(0, dtype=torch.long, device=self.args.device),
            )
        newly_learned = self.learning_order.record(epoch, **self._gather_records(local))
        self.learning_order.evaluated_epochs = epoch + 1
        return newly_learned


class LearningOrderCallback(TrainerCallback):
    """Epoch-end work of `LearningOrderTrainer`: the epoch-mode pass (Alg. 2) and logging of percent learned.

    On resume, the pass of the epoch the checkpoint closes is run at train begin when it had not run before the
    checkpoint was written (checkpoints saved at the last step of an epoch precede `on_epoch_end`).
    """

    def __init__(self, trainer: LearningOrderTrainer):
        self.trainer = trainer

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.trainer.mode != "epoch":
            return
        completed_epochs = int(math.floor((state.epoch or 0.0) + 1e-9))
        if completed_epochs > self.trainer.learning_order.evaluated_epochs:
            logger.info(f"Running the epoch-end pass of epoch {completed_epochs - 1}, which the checkpoint precedes.")
            self.trainer.run_epoch_pass(completed_epochs - 1)

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        epoch = int(round(state.epoch or 0.0)) - 1
        if self.trainer.mode == "epoch":
            self.trainer.run_epoch_pass(epoch)
        learned = self.trainer.learning_order.learned_epoch
        if epoch >= 0 and learned.size:
            percent = 100.0 * float(np.count_nonzero((learned >= 0) & (learned <= epoch))) / learned.size
            logger.info(f"epoch {epoch}: {percent:.2f}% of {learned.size} instances learned so far")
            self.trainer.log({"learned_percent": round(percent, 4)})


def _set_required_arguments(args: TrainingArguments) -> None:
    """Set what recording depends on, whatever the user passed."""
    if args.dataloader_drop_last:
        logger.warning("dataloader_drop_last=True would leave instances unseen in some epochs; setting it to False.")
    args.dataloader_drop_last = False
    args.remove_unused_columns = False
    args.label_names = ["labels"]


def _resolve_no_relation_id(model: torch.nn.Module, no_relation_id: int | None) -> int | None:
    if no_relation_id is not None:
        return int(no_relation_id)
    config = getattr(model, "config", None)
    name = getattr(config, "no_relation_label", None)
    label2id = getattr(config, "label2id", None) or {}
    return int(label2id[name]) if name in label2id else None


def _epoch_pass_order(dataset: Any) -> np.ndarray:
    """Row order of the epoch pass: longest first (less padding per batch), documents kept together."""
    column_names = getattr(dataset, "column_names", None) or []
    if "input_ids" in column_names and hasattr(dataset, "with_format"):
        lengths = np.asarray(pc.list_value_length(dataset.with_format("arrow")["input_ids"]), dtype=np.int64)
        return np.argsort(-lengths, kind="stable")
    if "document_index" in column_names:
        return np.argsort(np.asarray(dataset["document_index"]), kind="stable")
    return np.arange(len(dataset))


def _rows(dataset: Any, rows: np.ndarray) -> list[dict[str, Any]]:
    """Rows of `dataset` as a list of dicts (one Arrow read for a 🤗 `Dataset`)."""
    if hasattr(dataset, "column_names"):
        columns = dataset[rows.tolist()]
        return [dict(zip(columns, values)) for values in zip(*columns.values())]
    return [dataset[int(row)] for row in rows]
