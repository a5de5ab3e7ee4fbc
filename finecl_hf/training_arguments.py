"""`FineCLTrainingArguments`: `transformers.TrainingArguments` with what every finecl-hf stage adds to it.

transformers 5 dropped `--overwrite_output_dir`; finecl-hf's stages keep it, because they refuse an `--output_dir`
that already holds an earlier run (a second `finecl finetune` into the same folder would otherwise replace its
weights, results and card without a word). The stages' own argument classes (`LearningOrderTrainingArguments`,
`FineCLPreTrainingArguments`) subclass this one, and `finecl finetune` parses it in place of `TrainingArguments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


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


__all__ = ["FineCLTrainingArguments"]
