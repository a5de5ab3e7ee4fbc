#!/usr/bin/env python
"""Fine-tune a FineCL checkpoint or any encoder for relation extraction (FineCL stage 3).

Examples (see trainers/README.md):

    # SemEval-2010 Task 8, 10% of the training data, the paper's recipe, 5 seeds
    python trainers/finetune.py --model_name_or_path roberta-base --dataset_path data/semeval \
        --train_fraction 0.1 --seeds 42 43 44 45 46 --output_dir runs/semeval-10

    # DocRED, on several GPUs
    accelerate launch trainers/finetune.py --model_name_or_path runs/finecl-pretrained \
        --dataset_path data/docred --relation_level document --output_dir runs/docred

Every `TrainingArguments` flag is accepted; with `--recipe paper` (the default) the ones not given on the command
line (or in the JSON/YAML file) default to the paper's Appendix A.3 settings.

This script is `finecl finetune` (`finecl_hf/commands/finetune.py`); `--help` lists every option.
"""

from finecl_hf.commands import run_command
from finecl_hf.commands.finetune import main, parse_arguments  # noqa: F401 - the script's API (tests use it)

if __name__ == "__main__":
    run_command("finetune")
