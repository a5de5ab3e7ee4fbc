"""`finecl learning-order`: stage 1 of FineCL, learning-order denoising (paper §3.1, Appendix A.1).

Trains a relation classifier on (distantly labelled) instances, records the epoch in which each instance is first
predicted correctly, upsamples under-learned classes and writes the Hub-ready learning-order dataset (Parquet + card)
under `<output_dir>/learning_order` (or `--learning_order_dir`), the input of stage 2.

    finecl learning-order --dataset_path data/semeval --output_dir runs/order --mode batch --upsample_min_percent 50
    accelerate launch --num_processes 4 -m finecl_hf.commands.learning_order --dataset_path data/redocred_distant \
        --model_name_or_path roberta-base --output_dir runs/order --correct_column confirmed_by_gold

Every `TrainingArguments` option is accepted; a single `.json`/`.yaml` argument is read as the arguments' file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .front_door import check_dataset_folder, check_earlier_run, check_model_arguments, check_output_dir, run_guarded

NAME = "learning-order"


def build_parser():
    from finecl_hf.learning_order import LearningOrderArguments, LearningOrderTrainingArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser((LearningOrderArguments, LearningOrderTrainingArguments), prog=f"finecl {NAME}")


def parse_arguments(argv: Sequence[str]) -> tuple[Any, Any]:
    """`(LearningOrderArguments, LearningOrderTrainingArguments)` from the command line or one .json/.yaml file.

    `--recipe` sets the defaults of the training options not given (`finecl_hf.learning_order.recipes`): the
    dataclasses' own defaults are the paper's; another recipe's values are installed as parser defaults and the
    arguments parsed again, so an option given explicitly always wins.
    """
    from finecl_hf.learning_order.recipes import DEFAULT_RECIPE, STAGE1_RECIPES

    parser = build_parser()
    data_args, training_args = parser.parse(argv)
    if data_args.recipe == DEFAULT_RECIPE:
        return data_args, training_args
    parser.set_defaults(**STAGE1_RECIPES[data_args.recipe])
    return parser.parse(argv)


def check_inputs(data_args, training_args) -> None:
    """Cheap checks, before the model or the dataset is loaded."""
    check_dataset_folder("--dataset_path", data_args.dataset_path,
                         expected="a dataset folder written by `finecl convert`")
    check_model_arguments(data_args)
    check_output_dir("--output_dir", training_args.output_dir)
    check_output_dir("--learning_order_dir", data_args.learning_order_dir)
    for argument, folder in (("--output_dir", training_args.output_dir),
                             ("--learning_order_dir", data_args.learning_order_dir)):  # fmt: skip
        check_earlier_run(argument, folder, overwrite=training_args.overwrite_output_dir,
                          resume=training_args.resume_from_checkpoint)


def main(argv: Sequence[str] | None = None):
    argv = sys.argv[1:] if argv is None else argv

    def parse():
        data_args, training_args = parse_arguments(argv)
        check_inputs(data_args, training_args)
        return data_args, training_args

    def run(parsed):
        from finecl_hf.checkpointing import clear_earlier_run
        from finecl_hf.learning_order.run import run_learning_order

        from .logs import show_info_logs

        show_info_logs(main_process=parsed[1].process_index == 0)
        clear_earlier_run(parsed[1])
        return run_learning_order(*parsed)

    return run_guarded(f"finecl {NAME}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
