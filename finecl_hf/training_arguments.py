"""The shared bases of every stage's arguments: `ModelArguments` (the model a stage starts from, one default rule) and
`FineCLTrainingArguments` (`transformers.TrainingArguments` with what every finecl-hf stage adds to it).

Each stage declares one argument class over them (`LearningOrderArguments`, `FineCLPreTrainingArguments`,
`RelationExtractionArguments`; the probe, which compares several encoders, takes a list under the same name and rule),
so that `--model_name_or_path` and `--tokenizer_name` are documented here once.

transformers 5 dropped `--overwrite_output_dir`; finecl-hf's stages keep it, because they refuse an `--output_dir`
that already holds an earlier run (a second `finecl finetune` into the same folder would otherwise replace its
weights, results and card without a word). The stages' own argument classes (`LearningOrderTrainingArguments`,
`FineCLPreTrainingArguments`) subclass this one, and `finecl finetune` parses it in place of `TrainingArguments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from .paths import DEFAULT_MODEL_HELP, model_or_offline_default


@dataclass(kw_only=True)
class ModelArguments:
    """The model a stage starts from.

    Attributes:
        model_name_or_path: an encoder folder or Hub id (any `AutoModel` encoder: BERT, RoBERTa, MiniLM) or a FineCL
            checkpoint. Without one, the offline MiniLM (`finecl_hf.paths.model_or_offline_default`), in every stage.
        tokenizer_name: the tokenizer, when it differs from the one saved with the model.
    """

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Encoder folder or Hub id (any `AutoModel` encoder) or FineCL checkpoint to start from. "
                  + DEFAULT_MODEL_HELP},
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer to use when it differs from the one saved with the model."}
    )

    def __post_init__(self) -> None:
        self.model_name_or_path = model_or_offline_default(self.model_name_or_path)
        parent = getattr(super(), "__post_init__", None)  # TrainingArguments' checks, in a training-arguments class
        if parent is not None:
            parent()


@dataclass
class FineCLTrainingArguments(TrainingArguments):
    """`TrainingArguments` plus `overwrite_output_dir` (see the module)."""

    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Write into an --output_dir that holds an earlier run: its checkpoint-N folders are removed first "
            "and its files replaced. Without it (or --resume_from_checkpoint) the command refuses such a folder."
        },
    )


__all__ = ["FineCLTrainingArguments", "ModelArguments"]
