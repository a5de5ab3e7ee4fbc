"""Arguments of stage 1 (learning-order denoising), for `HfArgumentParser`.

`LearningOrderArguments` says what to train on and how to export; `LearningOrderTrainingArguments` is a
`TrainingArguments` with the learning-order options the trainer reads, whose defaults are the paper's (Appendix A.1:
15 epochs, batch 32, lr 4e-5, AdamW, weight decay 0, 10% warm-up); `--recipe tuned` gives the recipe the denoising
benchmark chose for a CPU budget (`finecl_hf.learning_order.recipes`) to every option not given.
"""

from __future__ import annotations

from dataclasses import dataclass, field


from ..training_arguments import FineCLTrainingArguments, ModelArguments
from .recipes import DEFAULT_RECIPE, STAGE1_RECIPES

PAPER = STAGE1_RECIPES[DEFAULT_RECIPE]
LEARNING_ORDER_MODES = ("batch", "epoch")


@dataclass
class LearningOrderArguments(ModelArguments):
    """What stage 1 trains on, which backbone it starts from (`ModelArguments`), and how the learning order is
    exported."""

    dataset_path: str = field(
        metadata={
            "help": "Folder written by the data converters (`load_dataset(path)` must work): a sentence-level dataset "
            "(SemEval, TACRED, Wiki80), or a documents dataset with its `relation_instances` config (e.g. the distant "
            "labeler's output), whose instances are then learned and whose documents are exported alongside."
        },
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config of `dataset_path` holding the instances (default: its default config)."}
    )
    dataset_split: str = field(default="train", metadata={"help": "Split of the instances to learn the order of."})
    label_column: str = field(
        default="relation", metadata={"help": "ClassLabel column holding each instance's (possibly noisy) label."}
    )
    no_relation_label: str | None = field(
        default=None,
        metadata={
            "help": "Name of the no-relation class (default: `no_relation` if the label set has it, else none). "
            "Instances of this class are never counted as learned unless --record_no_relation."
        },
    )
    correct_column: str | None = field(
        default=None,
        metadata={
            "help": "Boolean column telling whether each label is correct (e.g. the distant labeler's "
            "`confirmed_by_gold`, or a noise mask). When present, the precision of every subset A_0..A_k is printed."
        },
    )
    recipe: str = field(
        default=DEFAULT_RECIPE,
        metadata={
            "choices": list(STAGE1_RECIPES),
            "help": "Defaults of the training options not given explicitly: `paper` (Appendix A.1: 15 epochs, batch "
            "32, lr 4e-5, 10%% warm-up) or `tuned` (chosen on the denoising benchmark's tuning corpora for a CPU "
            "budget: 3 epochs, lr 5e-5, no warm-up, all the instances of 4 documents per step).",
        },
    )
    max_length: int = field(default=512, metadata={"help": "Maximum number of sub-word tokens per sentence/document."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N instances (quick experiments, tests)."}
    )
    preprocessing_num_workers: int | None = field(
        default=None,
        metadata={"help": "Processes for tokenizing the instances or documents, for training and for the evidence "
                  "encoder (`datasets.map(num_proc=...)`)."},
    )
    learning_order_dir: str | None = field(
        default=None,
        metadata={"help": "Where the learning-order dataset is written (default: `<output_dir>/learning_order`)."},
    )
    scores: list[str] | None = field(
        default=None,
        metadata={
            "help": "Cleanliness scores to compute and export (finecl_hf/order_scores.py). Default: every "
            "registered score the corpus allows; the others are skipped with a log line (`type_agreement` needs "
            "entity types). A score named here that cannot be computed is an error."
        },
    )
    evidence_encoder: str | None = field(
        default=None,
        metadata={
            "help": "Frozen encoder of the feature-based scores (`neighbour_agreement`, `out_of_sample`): any encoder "
            "folder or FineCL checkpoint. Default: the backbone (--model_name_or_path). `none` skips those scores "
            "(they cost one encoding pass and a few cross-fitted linear classifiers)."
        },
    )
    num_neighbours: int = field(default=10, metadata={"help": "k of `neighbour_agreement`."})
    out_of_sample_folds: int = field(
        default=5, metadata={"help": "Folds (whole documents) of the cross-fitted `out_of_sample` classifiers."}
    )
    issue_share: float | None = field(
        default=None,
        metadata={
            "help": "Share of the labels flagged `label_issue` (the lowest by `combined`; in (0, 1)). Default: the "
            "noise rate a two-component mixture fitted to `combined` estimates."
        },
    )

    def __post_init__(self):
        from ..order_scores import SCORES

        super().__post_init__()
        unknown = [name for name in self.scores or () if name not in SCORES]
        if unknown:
            raise ValueError(f"scores={unknown} is invalid: choose among {', '.join(SCORES)}.")
        if self.num_neighbours < 1:
            raise ValueError(f"num_neighbours={self.num_neighbours} is invalid: it must be at least 1.")
        if self.out_of_sample_folds < 2:
            raise ValueError(f"out_of_sample_folds={self.out_of_sample_folds} is invalid: cross-fitting needs >= 2.")
        if self.issue_share is not None and not 0.0 < self.issue_share < 1.0:
            raise ValueError(f"issue_share={self.issue_share} is invalid: a share of the labels lies in (0, 1).")

    @property
    def uses_features(self) -> bool:
        return self.evidence_encoder is None or self.evidence_encoder.lower() != "none"


@dataclass
class LearningOrderTrainingArguments(FineCLTrainingArguments):
    """`TrainingArguments` with the paper's stage-1 defaults and the learning-order options.

    The benchmark's CPU recipe from Python: `LearningOrderTrainingArguments(output_dir=..., **STAGE1_RECIPES["tuned"])`.

    The trainer overrides what it needs regardless of the values given: `remove_unused_columns=False` (the
    `instance_index` column must reach the collator), `label_names=["labels"]` and `dataloader_drop_last=False`.
    """

    mode: str = field(
        default="batch",
        metadata={
            "choices": list(LEARNING_ORDER_MODES),
            "help": "`batch`: record from the logits of each training forward (paper default, Alg. 1); `epoch`: "
            "record from a no-grad eval-mode pass over the training set at each epoch end (Alg. 2)."
        },
    )
    record_no_relation: bool = field(
        default=False,
        metadata={
            "help": "Count no-relation instances as learned when predicted correctly. Off by default: the original "
            "code only records instances whose label is a relation (label != NA). Turn it on where the no-relation "
            "class is a real class for the noise question (e.g. SemEval's `Other`)."
        },
    )
    upsample_min_percent: float = field(
        default=50.0,
        metadata={
            "help": "Class upsampling (§3.1): every relation class with fewer than P percent of its instances learned after "
            "training gets random unlearned instances moved into the last learned subset until P percent is reached. "
            "0 disables it."
        },
    )
    group_by_document: bool = field(
        default=True,
        metadata={
            "help": "For relation instances of documents (rows with `document_index`): shuffle documents and keep "
            "each document's instances consecutive (seeded per epoch), so a batch encodes few documents."
        },
    )
    documents_per_batch: int = field(
        default=PAPER["documents_per_batch"],
        metadata={
            "help": "0 (the paper): batches of --per_device_train_batch_size instances. N > 0 (the `tuned` recipe: 4), "
            "for relation instances of documents (rows with `document_index`): each step trains on all the instances "
            "of N documents, so each document is encoded once per epoch instead of once per batch its instances fall "
            "into (batch sizes then vary with the documents; benchmarks/bench_learning_order.py --documents measures "
            "the epoch cost). Sentence-level corpora always use batches of instances."
        },
    )
    class_balance: float = field(
        default=PAPER["class_balance"],
        metadata={
            "help": "Class-balanced loss: class c's cross-entropy weight is proportional to count_c ** -B, scaled so that "
            "the weights average 1 over the training instances. 0 (default, the paper): plain cross-entropy; 0.5: "
            "inverse square root of the class frequency; 1: inverse frequency. Rare relations are then learned "
            "earlier instead of never, so their instances' order says more about their labels."
        },
    )
    epoch_pass_batch_size: int = field(
        default=128, metadata={"help": "Batch size of the epoch-mode pass over the training set (no gradients)."}
    )
    num_train_epochs: float = field(default=PAPER["num_train_epochs"], metadata={"help": "Number of epochs k (paper: 15)."})
    per_device_train_batch_size: int = field(
        default=PAPER["per_device_train_batch_size"], metadata={"help": "Instances per batch and device (paper: 32)."}
    )
    learning_rate: float = field(default=PAPER["learning_rate"], metadata={"help": "AdamW learning rate (paper: 4e-5)."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay (paper: 0)."})
    warmup_steps: float = field(
        default=PAPER["warmup_steps"],
        metadata={"help": "Linear warm-up: steps, or a ratio of all steps when in [0, 1) (paper: 0.1, i.e. 10 percent)."},
    )
    save_strategy: str = field(default="epoch", metadata={"help": "When to checkpoint (`no`, `steps`, `epoch`)."})
    save_total_limit: int | None = field(
        default=2, metadata={"help": "Checkpoints kept (each holds the learning-order state of its step)."}
    )
    logging_steps: float = field(default=50, metadata={"help": "Log every N optimizer steps."})

    def __post_init__(self):
        if self.mode not in LEARNING_ORDER_MODES:
            raise ValueError(f"mode={self.mode!r} is invalid: it must be one of {', '.join(LEARNING_ORDER_MODES)}.")
        if not 0 <= self.upsample_min_percent <= 100:
            raise ValueError(f"upsample_min_percent={self.upsample_min_percent} is invalid: it must be in [0, 100].")
        if self.num_train_epochs < 1 and self.max_steps <= 0:
            raise ValueError(f"num_train_epochs={self.num_train_epochs} is invalid: stage 1 needs at least one epoch.")
        if self.documents_per_batch < 0:
            raise ValueError(f"documents_per_batch={self.documents_per_batch} is invalid: it must be >= 0 (0 = off).")
        if not 0 <= self.class_balance <= 1:
            raise ValueError(f"class_balance={self.class_balance} is invalid: it must be in [0, 1] (0 = plain cross-entropy).")
        if self.epoch_pass_batch_size < 1:
            raise ValueError(f"epoch_pass_batch_size={self.epoch_pass_batch_size} is invalid: it must be >= 1.")
        # The instance index column must reach the collator; the model's own columns are chosen by the collator.
        self.remove_unused_columns = False
        super().__post_init__()
