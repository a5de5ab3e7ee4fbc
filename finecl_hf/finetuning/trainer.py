"""The `transformers.Trainer` of relation-extraction fine-tuning (the run around it: `finecl_hf.finetuning.run`).

`RelationExtractionTrainer` is a small `Trainer` subclass: it removes the batch metadata that only evaluation needs
before the forward pass, returns only the logits at evaluation (not the entity embeddings) and, at document level,
regroups the pair logits by document (`group_by_document`) so that evaluation can map them back to entity pairs.
"""

from __future__ import annotations

from typing import Any

import torch
from datasets import Dataset
from torch import nn
from torch.utils.data import Sampler, SequentialSampler
from transformers import Trainer
from transformers.trainer_utils import has_length

from ..checkpointing import AtomicCheckpointMixin
from ..constants import IGNORE_INDEX
from ..data.data_collator import split_model_inputs


class RelationExtractionTrainer(AtomicCheckpointMixin, Trainer):
    """`Trainer` for `FineCLForRelationExtraction` batches (see the module docstring).

    The collators of `finecl_hf.data` read columns that the model's forward does not take (`head_token_span`,
    `mention_token_spans`, ...), so `remove_unused_columns` is turned off.

    Args:
        relation_level: `"sentence"` or `"document"`; at document level, `prediction_step` returns logits
            `[documents, max pairs, labels]` and, in place of labels, the `[documents, max pairs, 2]` (head, tail)
            entity indices of each scored pair, both padded with -100.
    """

    def __init__(self, *args, relation_level: str = "sentence", **kwargs):
        super().__init__(*args, **kwargs)
        self.relation_level = relation_level
        self.args.remove_unused_columns = False

    def _get_eval_sampler(self, eval_dataset: Dataset) -> Sampler | None:
        # Evaluation outputs are matched to rows by position, so rows must be visited in order even when training
        # batches are grouped by length (`train_sampling_strategy="group_by_length"` also reorders evaluation).
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def compute_loss(self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None):
        model_inputs, _ = split_model_inputs(inputs)
        return super().compute_loss(model, model_inputs, return_outputs, num_items_in_batch)

    def prediction_step(self, model: nn.Module, inputs: dict[str, Any], prediction_loss_only: bool,
                        ignore_keys: list[str] | None = None):
        model_inputs, metadata = split_model_inputs(self._prepare_inputs(inputs))
        with torch.no_grad():
            outputs = model(**model_inputs)
        loss = outputs.loss.detach().mean() if outputs.loss is not None else None
        if prediction_loss_only:
            return loss, None, None
        logits = outputs.logits.detach()
        if self.relation_level == "sentence":
            return loss, logits, model_inputs.get("labels")
        rows, num_documents = metadata["pair_document_index"], model_inputs["input_ids"].size(0)
        return (
            loss,
            group_by_document(logits, rows, num_documents),
            group_by_document(metadata["pair_local_entity_ids"], rows, num_documents),
        )


def group_by_document(values: torch.Tensor, rows: torch.Tensor, num_documents: int) -> torch.Tensor:
    """Scatter per-pair `values [pairs, ...]` into `[documents, max pairs per document, ...]`, padded with -100.

    Pairs keep their order within each document.
    """
    counts = torch.bincount(rows, minlength=num_documents)
    width = int(counts.max()) if counts.numel() else 0
    grouped = values.new_full((num_documents, width, *values.shape[1:]), IGNORE_INDEX)
    starts = torch.cumsum(counts, 0) - counts
    order = torch.argsort(rows, stable=True)
    sorted_rows = rows[order]
    positions = torch.arange(len(rows), device=rows.device) - starts[sorted_rows]
    grouped[sorted_rows, positions] = values[order]
    return grouped


__all__ = ["RelationExtractionTrainer", "group_by_document"]
