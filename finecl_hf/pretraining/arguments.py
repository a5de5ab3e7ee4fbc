"""`FineCLPreTrainingArguments`: the `TrainingArguments` of stage 2, with FineCL's hyper-parameters and the paper's
defaults (Appendix A.2), for `HfArgumentParser` (TRL style: every method hyper-parameter is a field with help text).

Batch size. The paper trains with 768 documents per optimizer step. Here one step sees
`per_device_train_batch_size × gradient_accumulation_steps × processes` documents; `total_batch_size` (default 768)
sets `gradient_accumulation_steps` from the other two, e.g. 16 per device × 48 steps × 1 process, or 16 × 16 × 3 GPUs
as in the original code. Pass `--total_batch_size 0` to use `--gradient_accumulation_steps` as given.
Each document appears twice in a step's compute: once MLM-masked for relation discrimination, once with its
entity-discrimination prefix.

Ordering by another cleanliness score (`--order_by`). Eq. 5 weighs an instance by its learning epoch k:
f(k) = α^((k_max−k)/(k_max−k_min)). By default (`--order_by learned_epoch`) k is stage 1's `learned_epoch` column,
exactly the paper. Any other score of `finecl_hf.order_scores` (e.g. `aum`, `confidence`) is mapped onto
eq. 5 through its rank: the relation instances (no-relation pairs keep k = −1, i.e. weight 1 as never learned) are
ranked from cleanest to noisiest, each gets its mid-rank c (0-based, ties share the average), and its pseudo-epoch is
k = k_min + ⌊c · B / n⌋ with n instances ranked and B = k_max − k_min + 1 epochs: the cleanest 1/B of the instances
get k_min (the highest weight, α), the noisiest 1/B get k_max (weight 1), as if each epoch had learned an equal share.
k_min = 0 and k_max = (stage-1 epochs − 1), from the dataset card (`finecl.num_epochs`; without it, the largest
`learned_epoch`, at least 1). With `--order_by_within_relation` the ranking is done within each relation class, so
every relation spreads over the whole [k_min, k_max] range (a rare relation is not pushed to the bottom).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field


from ..configuration import FineCLConfig
from ..constants import NO_RELATION
from ..order_scores import SCORES
from ..training_arguments import FineCLTrainingArguments, ModelArguments
from ..weighting import describe_weightings, get_weighting

# The `FineCLConfig` fields that have a command-line argument of the same name.
CONFIG_FIELDS = (
    "weighting",
    "temperature",
    "alpha",
    "num_negatives",
    "mlm_probability",
    "ed_loss_weight",
    "rd_loss_weight",
    "mlm_loss_weight",
    "entity_pooling",
    "reference_epoch_cap",
    "reference_no_relation_weight",
    "truncation_share",
)


@dataclass
class FineCLPreTrainingArguments(ModelArguments, FineCLTrainingArguments):
    """Arguments of `finecl pretrain` and `FineCLPreTrainer` (see the module docstring for the batch size); the model it
    starts from: `ModelArguments`."""

    learning_order_dataset: str | None = field(
        default=None,
        metadata={
            "help": "Learning-order dataset written by stage 1 (a folder or Hub id; `load_dataset` must load its "
            "`instances` config with `learned_epoch` and its `documents` config)."
        },
    )
    dataset_split: str = field(default="train", metadata={"help": "Split of the learning-order dataset to train on."})
    dataset_cache_dir: str | None = field(
        default=None, metadata={"help": "`datasets` cache folder for the loaded and tokenized data."}
    )
    no_relation_label: str = field(
        default=NO_RELATION, metadata={"help": "Name of the no-relation class of the dataset's `relation` labels."}
    )
    relation_names_file: str | None = field(
        default=None,
        metadata={
            "help": "JSON object mapping relation labels to natural-language names for the entity-discrimination query "
            "(e.g. DocRED's rel_info.json, P17 -> country). Default: names in the dataset card, else the labels."
        },
    )
    weighting: str = field(
        default="paper",
        metadata={
            "help": f"Learning-order weighting of relation discrimination (finecl_hf.weighting): {describe_weightings()}.",
        },  # no `choices`: a scheme registered after this import is valid too (checked against the live registry)
    )
    order_by: str = field(
        default="learned_epoch",
        metadata={
            "help": "Cleanliness score that orders the instances for the weighting (any column of "
            "finecl_hf.order_scores: learned_epoch, aum, confidence, ...). `learned_epoch` is the paper; "
            "another score is mapped to a pseudo-epoch in [k_min, k_max] through its rank (see the module docstring). "
            "Recommended: `combined` for document-level (distantly supervised) data, the best detector of wrong labels "
            "there in the denoising benchmark; on sentence corpora without entity types `variability` or `confidence` "
            "did slightly better (README, 'Denoising benchmark').",
        },  # no `choices`: checked in __post_init__ against the live score registry
    )
    order_by_within_relation: bool = field(
        default=False,
        metadata={"help": "With an --order_by score other than learned_epoch: rank instances within each relation."},
    )
    temperature: float = field(default=0.05, metadata={"help": "Temperature τ of the ED and RD losses (paper: 0.05)."})
    alpha: float = field(
        default=math.e, metadata={"help": "Base α of the weight f(k) = α^((k_max−k)/(k_max−k_min)) (paper: e)."}
    )
    num_negatives: int = field(
        default=64, metadata={"help": "Maximum negatives per relation-discrimination anchor (paper: 64)."}
    )
    mlm_probability: float = field(
        default=0.15,
        metadata={"help": "Share of non-entity, non-special tokens masked for MLM (80/10/10; paper: 0.15)."},
    )
    ed_loss_weight: float = field(
        default=1.0, metadata={"help": "Weight of the entity-discrimination loss (paper: 1)."}
    )
    rd_loss_weight: float = field(
        default=1.0, metadata={"help": "Weight of the relation-discrimination loss (paper: 1)."}
    )
    mlm_loss_weight: float = field(default=1.0, metadata={"help": "Weight of the MLM loss (paper: 1)."})
    entity_pooling: str = field(
        default="mean",
        metadata={
            "help": "How mentions form an entity: `mean` (paper eq. 4) or `logsumexp` (ATLOP).",
            "choices": ["mean", "logsumexp"],
        },
    )
    reference_epoch_cap: int = field(
        default=5, metadata={"help": "With --weighting reference: epochs at or above this weigh 1 (original code: 5)."}
    )
    reference_no_relation_weight: float = field(
        default=math.exp(0.5),
        metadata={"help": "With --weighting reference: weight of no-relation pairs (original: e^0.5)."},
    )
    truncation_share: float | None = field(
        default=None,
        metadata={
            "help": "With --weighting truncate: the share q in [0, 1) of the relation instances, lowest --order_by "
            "score first, that get weight 0. Default: the noise rate estimated by the `posterior` mixture."
        },
    )
    max_length: int = field(
        default=512, metadata={"help": "Maximum sub-word tokens per document (longer ones are cut; drops are counted)."}
    )
    max_no_relation_pairs_per_document: int = field(
        default=32,
        metadata={"help": "No-relation pairs sampled per document for relation discrimination (original: 32)."},
    )
    total_batch_size: int = field(
        default=768,
        metadata={
            "help": "Documents per optimizer step (paper: 768); sets gradient_accumulation_steps = total / "
            "(per_device_train_batch_size × processes). 0 keeps --gradient_accumulation_steps."
        },
    )
    pad_to_multiple_of: int | None = field(
        default=8, metadata={"help": "Pad sequence lengths to a multiple of this (tensor cores); 0 or none disables."}
    )
    preprocessing_num_workers: int | None = field(
        default=None, metadata={"help": "Processes for tokenizing the documents (`datasets.map(num_proc=...)`)."}
    )

    # Paper defaults (Appendix A.2) for inherited fields.
    learning_rate: float = field(default=3e-5, metadata={"help": "AdamW learning rate (paper: 3e-5)."})
    weight_decay: float = field(default=1e-5, metadata={"help": "AdamW weight decay (paper: 1e-5)."})
    warmup_steps: float = field(default=500, metadata={"help": "Linear warm-up steps (paper: 500)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm (paper: 1.0)."})
    max_steps: int = field(default=6000, metadata={"help": "Optimizer steps (paper: 6,000)."})
    per_device_train_batch_size: int = field(
        default=16,
        metadata={"help": "Documents per device and micro-batch (even: documents come in pairs; original: 16)."},
    )
    logging_steps: float = field(default=10, metadata={"help": "Log the loss and its ED/RD/MLM parts every N steps."})
    save_steps: float = field(default=1000, metadata={"help": "Checkpoint every N steps."})
    # Same annotation as TrainingArguments.report_to: HfArgumentParser reads the first non-None member of the union.
    report_to: None | str | list[str] = field(  # noqa: RUF036
        default="all",
        metadata={"help": "Where to report logs: `all` installed integrations (e.g. TensorBoard), or `none`."},
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False,
        metadata={"help": "DDP's unused-parameter search; off: every batch uses the encoder and the MLM head."},
    )

    def _resolve_registry_entries(self) -> None:
        """`weighting_scheme` and `order_score`: the registry entries of `--weighting` and `--order_by`, resolved here,
        once, and passed on (data preparation weighs and orders with them, the card describes them; the model resolves
        its own config's `weighting`, the name it is saved with)."""
        self.weighting_scheme = get_weighting(self.weighting)
        self.order_score = SCORES[self.order_by]

    def __getstate__(self) -> dict:
        # The entries hold functions that need not pickle (the Trainer pickles its arguments): a copy resolves them
        # again from the names.
        return {key: value for key, value in self.__dict__.items() if key not in ("weighting_scheme", "order_score")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._resolve_registry_entries()

    def __post_init__(self):
        # Bad method hyper-parameters fail here, before hours of data preparation: FineCLConfig checks them all.
        FineCLConfig(**self.config_overrides())
        if self.per_device_train_batch_size < 2 or self.per_device_train_batch_size % 2:
            raise ValueError(
                f"per_device_train_batch_size={self.per_device_train_batch_size} is invalid: it must be even, since "
                "documents come in pairs that share a relation (see RelationPairSampler)."
            )
        if self.order_by not in SCORES:
            raise ValueError(f"order_by={self.order_by!r} is invalid: it must be one of {', '.join(SCORES)}.")
        self._resolve_registry_entries()
        if self.order_by_within_relation and self.weighting_scheme.weighs_corpus:
            raise ValueError(
                f"--order_by_within_relation ranks pseudo-epochs within each relation, but --weighting "
                f"{self.weighting} weighs the whole corpus's --order_by scores: drop one of the two."
            )
        if self.truncation_share is not None and self.weighting != "truncate":
            raise ValueError(
                f"--truncation_share {self.truncation_share} is read by --weighting truncate only (got --weighting "
                f"{self.weighting})."
            )
        if self.total_batch_size < 0:
            raise ValueError(f"total_batch_size={self.total_batch_size} is invalid: it must be >= 0.")
        if self.pad_to_multiple_of == 0:
            self.pad_to_multiple_of = None
        # The collator builds model inputs from the dataset's items; no column may be dropped on the way.
        self.remove_unused_columns = False
        # Set before the parent's __post_init__, which hands gradient_accumulation_steps to a DeepSpeed config.
        launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
        if self.total_batch_size:
            self.gradient_accumulation_steps = self._accumulation_steps(launched_processes)
        super().__post_init__()
        if self.total_batch_size and self.world_size != launched_processes:
            self.gradient_accumulation_steps = self._accumulation_steps(self.world_size)

    def _accumulation_steps(self, processes: int) -> int:
        per_step = self.per_device_train_batch_size * processes
        if self.total_batch_size % per_step:
            raise ValueError(
                f"total_batch_size={self.total_batch_size} is not a multiple of per_device_train_batch_size "
                f"({self.per_device_train_batch_size}) × processes ({processes}); change one of them, or pass "
                "--total_batch_size 0 and set --gradient_accumulation_steps yourself."
            )
        return self.total_batch_size // per_step

    @property
    def documents_per_step(self) -> int:
        """Documents per optimizer step over all processes."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps * self.world_size

    def config_overrides(self) -> dict:
        """The `FineCLConfig` fields these arguments set."""
        return {name: getattr(self, name) for name in CONFIG_FIELDS} | {"no_relation_label": self.no_relation_label}


__all__ = ["FineCLPreTrainingArguments"]
