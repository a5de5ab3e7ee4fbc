"""`FineCLPreTrainer`: the HF `Trainer` for FineCL pre-training, with per-component loss logging and loss accounting
that does not depend on the number of processes.

Loss accounting. Each micro-batch's loss is a mean over its own anchors (RD), queries (ED) and masked tokens (MLM),
as in the original code. An optimizer step averages it over its micro-batches: the Trainer divides each micro-batch
loss by the gradient-accumulation steps, and DDP/DeepSpeed average gradients over processes. So a run with N
processes and a run with 1 process accumulating the same N micro-batches compute the same loss and gradients.
What breaks this is the Trainer's token-count path: with `average_tokens_across_devices=True` and a model that
(seemingly) accepts `num_items_in_batch`, it multiplies the loss by the number of processes, expecting the model to
divide by the global token count, which `FineCLForPreTraining` does not do (its loss has three parts with three
different counts). This trainer therefore never passes `num_items_in_batch` and never rescales the loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import Trainer
from transformers.utils import logging

from ..checkpointing import AtomicCheckpointMixin
from ..modeling import FineCLPreTrainingOutput
from .sampling import RelationPairSampler

logger = logging.get_logger(__name__)

LOSS_COMPONENTS = ("ed_loss", "rd_loss", "mlm_loss")
ANCHORS_LOG_NAME = "rd_anchors"


class FineCLPreTrainer(AtomicCheckpointMixin, Trainer):
    """`Trainer` for `FineCLForPreTraining`.

    - Logs `ed_loss`, `rd_loss` and `mlm_loss` next to `loss` (and `rd_anchors`, the mean number of RD anchors per
      micro-batch), each averaged over the micro-batches of the logging interval on all processes.
    - Draws documents with `train_sampler` (a `RelationPairSampler`), so RD anchors find positives inside batches.
    - Keeps the loss a per-micro-batch mean (see the module docstring), so logged losses and gradients are the same
      with any number of processes for the same global batch.
    - Writes complete-or-ignored checkpoints (`finecl_hf.checkpointing.AtomicCheckpointMixin`).

    Args:
        train_sampler: the sampler of the training documents; required with `FineCLPreTrainingDataset`.
        *args, **kwargs: as for `Trainer`.
    """

    # compute_loss returns a per-micro-batch mean: the Trainer divides it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, train_sampler: RelationPairSampler | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_sampler = train_sampler
        # Never hand num_items_in_batch to the model nor rescale by the process count (module docstring).
        self.model_accepts_loss_kwargs = False
        # [ed, rd, mlm, anchors] summed over the micro-batches of the logging interval (on the device, no sync), and
        # how many micro-batches had each part (on the host).
        self._component_sums: torch.Tensor | None = None
        self._component_counts = [0] * (len(LOSS_COMPONENTS) + 1)

    def _get_train_sampler(self, train_dataset=None) -> torch.utils.data.Sampler | None:
        if self.train_sampler is not None:
            return self.train_sampler
        return super()._get_train_sampler(train_dataset)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, FineCLPreTrainingOutput]:
        """The model's loss as is (a per-micro-batch mean); `num_items_in_batch` is deliberately unused."""
        outputs = model(**inputs)
        if model.training:
            self._record_components(outputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _record_components(self, outputs: FineCLPreTrainingOutput) -> None:
        values = [getattr(outputs, name) for name in LOSS_COMPONENTS] + [outputs.num_anchors]
        if self._component_sums is None:
            device = outputs.loss.device
            self._component_sums = torch.zeros(len(values), dtype=_accumulator_dtype(device), device=device)
        for position, value in enumerate(values):
            if value is not None:  # a micro-batch may lack a part (e.g. no ED query): it is then not averaged in
                self._component_sums[position] += value.detach().to(self._component_sums.dtype)
                self._component_counts[position] += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the interval's mean ED/RD/MLM losses (gathered over processes) to the training logs."""
        if "loss" in logs:
            logs.update(self._pop_component_means())
        super().log(logs, start_time)

    def _pop_component_means(self) -> dict[str, float]:
        # Training logs happen at the same step on every process, so this collective is matched on all of them.
        sums = self._component_sums
        if sums is None:
            device = self.args.device
            sums = torch.zeros(len(self._component_counts), dtype=_accumulator_dtype(device), device=device)
        counts = torch.tensor(self._component_counts, dtype=sums.dtype, device=sums.device)
        totals = torch.stack([sums, counts])
        if self.args.world_size > 1:
            totals = self.accelerator.reduce(totals, reduction="sum")
        self._component_sums = None
        self._component_counts = [0] * len(self._component_counts)
        sums, counts = totals.tolist()
        names = (*LOSS_COMPONENTS, ANCHORS_LOG_NAME)
        return {name: total / count for name, total, count in zip(names, sums, counts) if count > 0}


def _accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for the running sums, except on MPS, which has no float64."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


__all__ = ["LOSS_COMPONENTS", "FineCLPreTrainer"]
