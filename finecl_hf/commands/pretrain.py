"""`finecl pretrain`: stage 2 of FineCL, contrastive pre-training (ED + learning-order-weighted RD + MLM).

    finecl pretrain --learning_order_dataset runs/order/learning_order --model_name_or_path roberta-base \
        --output_dir runs/finecl-roberta-base
    finecl pretrain --config recipe.yaml --max_steps 10      # a recipe file, one value overridden

Several processes (DDP; on a CPU-only machine add `--use_cpu`), or DeepSpeed (configs in trainers/configs/):

    accelerate launch --multi_gpu --num_processes 2 -m finecl_hf.commands.pretrain --learning_order_dataset ...
    accelerate launch --config_file trainers/configs/deepspeed_zero3.yaml -m finecl_hf.commands.pretrain ...

The output folder is push-to-hub ready: safetensors weights, config with `auto_map` and the modelling code,
tokenizer, a README.md model card, and trainer_state.json / train_results.json with the full log history.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .front_door import check_dataset_folder, check_earlier_run, check_model_arguments, check_output_dir, run_guarded

NAME = "pretrain"
LEARNING_ORDER_CONFIGS = ("instances", "documents")


def build_parser():
    from finecl_hf.pretraining.arguments import FineCLPreTrainingArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser(FineCLPreTrainingArguments, prog=f"finecl {NAME}")


def parse_arguments(argv: Sequence[str]):
    """`FineCLPreTrainingArguments` from the command line (over a `--config FILE`), or from a single `.json`/`.yaml`
    file argument."""
    (args,) = build_parser().parse(argv)
    return args


def check_inputs(args) -> None:
    """Cheap checks, before the model or the dataset is loaded: the learning-order folder first, so that a missing
    one is reported before the backbone is looked up."""
    if not args.learning_order_dataset:
        from .front_door import UsageError

        raise UsageError("--learning_order_dataset is required: the learning-order dataset folder (or Hub id) "
                         "written by `finecl learning-order`.")
    check_dataset_folder(
        "--learning_order_dataset", args.learning_order_dataset, configs=LEARNING_ORDER_CONFIGS,
        expected="a learning-order dataset written by `finecl learning-order` (its <output_dir>/learning_order)",
    )
    check_model_arguments(args)
    check_output_dir("--output_dir", args.output_dir)
    check_earlier_run("--output_dir", args.output_dir, overwrite=args.overwrite_output_dir,
                      resume=args.resume_from_checkpoint)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        args = parse_arguments(argv)
        check_inputs(args)
        return args

    return run_guarded(f"finecl {NAME}", parse, run)


def run(args) -> None:
    from finecl_hf.pretraining.run import run_pretraining

    run_pretraining(args)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
