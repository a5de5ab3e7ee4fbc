"""Stage 2: FineCL contrastive pre-training from a learning-order dataset (paper §3.2, Appendix A.2).

- `FineCLPreTrainingArguments`: `TrainingArguments` with FineCL's hyper-parameters and the paper's defaults.
- `prepare_pretraining_data`: learning-order dataset → tokenized documents (Arrow) + `RelationInstanceIndex` (NumPy).
- `RelationPairSampler`, `sample_contrastive_pairs`: how RD anchors get positives and negatives inside a batch.
- `FineCLPreTrainingCollator`: documents → the exact `FineCLForPreTraining.forward` inputs (RD + MLM, ED).
- `FineCLPreTrainer`: the `Trainer` that logs ED/RD/MLM losses and keeps loss accounting process-count independent.
- `run_pretraining` (`build_pretrainer`, then `save_pretrained_checkpoint`): what `finecl pretrain` runs.

Names are imported on first use, so the collator and sampler work where `datasets` is not installed (e.g. a GPU
benchmark machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .arguments import FineCLPreTrainingArguments
    from .data import FineCLPreTrainingDataset, PreTrainingData, prepare_pretraining_data
    from .data_collator import FineCLPreTrainingCollator, SequenceLayout
    from .model_card import render_pretrained_model_card, summarize_loss_curve
    from .run import build_pretrainer, run_pretraining, save_pretrained_checkpoint
    from .sampling import RelationInstanceIndex, RelationPairSampler, sample_contrastive_pairs
    from .trainer import FineCLPreTrainer

_EXPORTS = {
    "FineCLPreTrainingArguments": "arguments",
    "FineCLPreTrainingDataset": "data",
    "PreTrainingData": "data",
    "prepare_pretraining_data": "data",
    "FineCLPreTrainingCollator": "data_collator",
    "SequenceLayout": "data_collator",
    "render_pretrained_model_card": "model_card",
    "summarize_loss_curve": "model_card",
    "build_pretrainer": "run",
    "run_pretraining": "run",
    "save_pretrained_checkpoint": "run",
    "RelationInstanceIndex": "sampling",
    "RelationPairSampler": "sampling",
    "sample_contrastive_pairs": "sampling",
    "FineCLPreTrainer": "trainer",
}

__all__ = [
    "FineCLPreTrainer",
    "FineCLPreTrainingArguments",
    "FineCLPreTrainingCollator",
    "FineCLPreTrainingDataset",
    "PreTrainingData",
    "RelationInstanceIndex",
    "RelationPairSampler",
    "SequenceLayout",
    "build_pretrainer",
    "prepare_pretraining_data",
    "render_pretrained_model_card",
    "run_pretraining",
    "sample_contrastive_pairs",
    "save_pretrained_checkpoint",
    "summarize_loss_curve",
]

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())
