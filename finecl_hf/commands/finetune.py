"""`finecl finetune`: fine-tune a FineCL checkpoint or any encoder for relation extraction (FineCL stage 3).

    # SemEval-2010 Task 8, 10% of the training data, the paper's recipe, 5 seeds
    finecl finetune --model_name_or_path roberta-base --dataset_path data/semeval \
        --train_fraction 0.1 --seeds 42 43 44 45 46 --output_dir runs/semeval-10

    # DocRED, on several GPUs
    accelerate launch -m finecl_hf.commands.finetune --model_name_or_path runs/finecl-pretrained \
        --dataset_path data/docred --relation_level document --output_dir runs/docred

Every `TrainingArguments` flag is accepted; with `--recipe paper` (the default) the ones not given on the command
line (or in the JSON/YAML file) default to the paper's Appendix A.3 settings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from .front_door import check_dataset_folder, check_earlier_run, check_model_arguments, check_output_dir, run_guarded

NAME = "finetune"


def build_parser():
    from finecl_hf.finetuning import RelationExtractionArguments
    from finecl_hf.training_arguments import FineCLTrainingArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser((RelationExtractionArguments, FineCLTrainingArguments), prog=f"finecl {NAME}")


def parse_arguments(argv: Sequence[str], check_model: bool = False) -> tuple[Any, Any]:
    """Parse the command line (or one .json/.yaml file), applying the recipe to the values not given explicitly.

    Returns the two argument dataclasses. The recipe depends on the task, resolved from the dataset's label names,
    which are read from its card (or `save_to_disk` metadata) without loading a row; the cheap checks of
    `--dataset_path` (and, with `check_model`, of `--model_name_or_path`) run first. The dataset is loaded by the run.
    """
    from finecl_hf.finetuning import paper_recipe
    from finecl_hf.finetuning.evaluation import relation_label_names, resolve_task
    from finecl_hf.data.loading import relation_dataset_features

    argv = list(argv)
    parser = build_parser()
    # The recipe's defaults depend on the task, read from the dataset: a first parse finds the dataset; the second,
    # below, applies the recipe as parser defaults (to argument files too) and checks every option and value.
    preliminary, preliminary_training = parser.parse(argv)
    check_dataset_folder("--dataset_path", preliminary.dataset_path,
                         expected="a dataset folder written by `finecl convert`")
    check_output_dir("--output_dir", preliminary_training.output_dir)
    check_earlier_run("--output_dir", preliminary_training.output_dir,
                      overwrite=preliminary_training.overwrite_output_dir,
                      resume=preliminary_training.resume_from_checkpoint)
    if check_model:
        check_model_arguments(preliminary)
    if preliminary.recipe == "paper":
        features = relation_dataset_features(
            preliminary.dataset_path, preliminary.dataset_config_name, preliminary.train_split
        )
        label_names = relation_label_names(features)
        task = resolve_task(preliminary.task, preliminary.relation_level, label_names)
        training_defaults, extraction_defaults = paper_recipe(
            preliminary.relation_level, preliminary.train_fraction, task
        )
        parser.set_defaults(**training_defaults, **extraction_defaults)
    return parser.parse(argv)


def main(argv: Sequence[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        from transformers.utils import logging

        logging.set_verbosity_info()
        return parse_arguments(argv, check_model=True)

    return run_guarded(f"finecl {NAME}", parse, run)


def run(parsed) -> Any:
    from transformers.utils import logging

    from finecl_hf.checkpointing import clear_earlier_run
    from finecl_hf.finetuning import run_fine_tuning

    logger = logging.get_logger("finecl_hf.finetune")
    extraction_args, training_args = parsed
    clear_earlier_run(training_args)
    result = run_fine_tuning(extraction_args, training_args)
    if training_args.process_index == 0:
        for run_ in result.runs:
            shown = {key: value for key, value in run_.metrics.items() if key.startswith(("eval_", "test_"))}
            logger.info("seed %d: %s", run_.seed, json.dumps(shown, indent=1))
        logger.info("Done in %.1f min; outputs in %s", result.wall_clock_seconds / 60, training_args.output_dir)
    return result


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
