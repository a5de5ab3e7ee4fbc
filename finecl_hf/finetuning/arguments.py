"""Command-line arguments of relation-extraction fine-tuning.

`RelationExtractionArguments` holds what `transformers.TrainingArguments` does not: the model and dataset, the
relation level, the data-reduction setting and the seeds. With `--recipe paper`, `trainers/finetune.py` installs the
paper's Appendix A.3 settings (`finecl_hf.finetuning.tasks.paper_recipe`) as parser defaults, so any flag given on the
command line still wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..configuration import DOCUMENT_LOSSES, ENTITY_POOLING_METHODS, RELATION_LEVELS
from ..training_arguments import ModelArguments
from .tasks import TASK_CHOICES

RECIPES = ("paper", "none")
ENTITY_MARKER_STYLES = ("none", "text", "punct", "special")


@dataclass
class RelationExtractionArguments(ModelArguments):
    """What to fine-tune (`ModelArguments`: a FineCL checkpoint, the output of stage 2, or any encoder; loaded with
    `FineCLForRelationExtraction.from_backbone`), on which data and how the data is reduced (optimiser settings:
    `TrainingArguments`)."""

    dataset_path: str = field(
        metadata={
            "help": "A dataset folder made by the `finecl_hf.data` converters: a Hub dataset folder "
            "(`load_dataset(DIR)`) or a `save_to_disk` folder. Sentence level: one row per (sentence, head, tail); "
            "document level: DocRED-format documents."
        }
    )
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Configuration of the dataset folder to load (`load_dataset(DIR, NAME)`)."}
    )
    relation_level: str = field(
        default="sentence",
        metadata={
            "help": "`sentence`: one (head, tail) pair per row, single-label cross-entropy; `document`: every entity "
            "pair of a document, multi-label.",
            "choices": list(RELATION_LEVELS),
        },
    )
    task: str = field(
        default="auto",
        metadata={
            "help": "Which benchmark's metrics to report. `auto` recognises SemEval-2010 Task 8 by its 19 labels, "
            "document-level data as DocRED, a sentence dataset with a no-relation label as TACRED-style (micro-F1 "
            "without no-relation) and one without as Wiki80-style (accuracy).",
            "choices": TASK_CHOICES,
        },
    )
    recipe: str = field(
        default="paper",
        metadata={
            "help": "`paper`: default every optimisation setting not given on the command line to the paper's "
            "Appendix A.3 (sentence: batch 64, max length 100, lr 5e-5, 500 warm-up steps, weight decay 1e-5, "
            "80/20/8 epochs and dropout 0.2/0.1/0.35 for 1, 10 and 100 percent of the data; document: batch 32, "
            "max length 512, lr 4e-5, 200 epochs) and evaluate/save every epoch keeping the best dev checkpoint. "
            "`none`: keep the `TrainingArguments` defaults.",
            "choices": list(RECIPES),
        },
    )
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    validation_split: str = field(
        default="validation",
        metadata={"help": "Dev split for checkpoint selection (and the document-level threshold)."},
    )
    test_split: str | None = field(
        default="test", metadata={"help": "Split evaluated once with the best checkpoint; skipped when absent."}
    )
    validation_size: float = field(
        default=0.1,
        metadata={
            "help": "When the dataset has no dev split (SemEval), hold out this share (< 1) or number (>= 1) of "
            "training rows as dev, class-stratified and seeded by `subset_seed`, before the training subset is drawn."
        },
    )
    train_fraction: float = field(
        default=1.0,
        metadata={
            "help": "Share of the training split to train on (the paper's 0.01 / 0.1 / 1.0). The subset is "
            "class-stratified and depends only on `subset_seed`, so every model compared sees the same rows; "
            "smaller fractions are subsets of larger ones."
        },
    )
    subset_seed: int = field(
        default=0,
        metadata={"help": "Seed of the training subset and of held-out dev rows; independent of the training seeds."},
    )
    seeds: list[int] | None = field(
        default=None,
        metadata={
            "help": "Training seeds, e.g. `--seeds 42 43 44 45 46` (the paper's): one run per seed under "
            "`output_dir/seed-<seed>`, then mean ± std over seeds. Default: the single `--seed`."
        },
    )
    doc_loss: str = field(
        default="bce",
        metadata={
            "help": "Document-level loss: `bce` (the paper; decision threshold tuned on dev) or `adaptive_threshold` "
            "(ATLOP; the no-relation logit is the threshold).",
            "choices": list(DOCUMENT_LOSSES),
        },
    )
    entity_pooling: str | None = field(
        default=None,
        metadata={
            "help": "How an entity pools its mentions: `mean` (the paper) or `logsumexp` (ATLOP). Default: `mean`, "
            "or `logsumexp` with `--doc_loss adaptive_threshold`.",
            "choices": list(ENTITY_POOLING_METHODS),
        },
    )
    entity_markers: str = field(
        default="none",
        metadata={
            "help": "Sentence level: words put around the head and tail before tokenization. `none` (the paper's "
            "description: entity tokens are mean-pooled), `text` (`<e1> head </e1>`, `<e2> tail </e2>` as ordinary "
            "text), `punct` (`@ head @`, `# tail #`, Zhou & Chen 2022) or `special` (the `<e1>`... markers as new "
            "special tokens; the embeddings are resized). Stored in the model config for inference.",
            "choices": list(ENTITY_MARKER_STYLES),
        },
    )
    document_projection_size: int | None = field(
        default=None,
        metadata={
            "help": "Document level: size of the head/tail projections before the bilinear classifier (the "
            "`FineCLConfig` default, 128, when not given)."
        },
    )
    max_length: int | None = field(
        default=None,
        metadata={"help": "Maximum sub-word length; longer inputs are cut (the recipe: 100 sentence, 512 document)."},
    )
    classifier_dropout: float | None = field(
        default=None, metadata={"help": "Dropout before the relation classifier (the recipe sets it per fraction)."}
    )
    train_facts: str | None = field(
        default=None,
        metadata={
            "help": "Training facts for DocRED Ign F1: a `*.fact.json[.gz]` file of [head name, tail name, relation], "
            "or `train` to build them from the training split. Default: DocRED's train_annotated facts in the corpus "
            "folder (`docred/train_annotated.fact.json.gz`)."
        },
    )
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "Keep the `checkpoint-*` folders; by default they are removed once the best model is saved at the "
            "top of the output folder, which is then ready for `push_to_hub`."
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N rows of the training subset (quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N rows of the dev split (quick runs)."}
    )
    max_predict_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N rows of the test split (quick runs)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"--train_fraction={self.train_fraction} must be in (0, 1].")
        if self.validation_size <= 0:
            raise ValueError(f"--validation_size={self.validation_size} must be > 0.")
        if self.classifier_dropout is not None and not 0 <= self.classifier_dropout < 1:
            raise ValueError(f"--classifier_dropout={self.classifier_dropout} must be in [0, 1).")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"--max_length={self.max_length} is too short to hold two entities.")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"--seeds {self.seeds} repeats a seed.")
        if self.entity_markers != "none" and self.relation_level == "document":
            raise ValueError("--entity_markers applies to sentence-level data only.")
        if self.entity_pooling is None:
            self.entity_pooling = "logsumexp" if self.doc_loss == "adaptive_threshold" else "mean"


__all__ = [
    "ENTITY_MARKER_STYLES",
    "RECIPES",
    "RelationExtractionArguments",
]
