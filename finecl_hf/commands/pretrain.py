"""`finecl pretrain`: stage 2 of FineCL, contrastive pre-training (ED + learning-order-weighted RD + MLM).

    finecl pretrain --learning_order_dataset runs/order/learning_order --model_name_or_path roberta-base \
        --output_dir runs/finecl-roberta-base

Several processes (DDP; on a CPU-only machine add `--use_cpu`), or DeepSpeed (configs in trainers/configs/):

    accelerate launch --multi_gpu --num_processes 2 -m finecl_hf.commands.pretrain --learning_order_dataset ...
    accelerate launch --config_file trainers/configs/deepspeed_zero3.yaml -m finecl_hf.commands.pretrain ...

The output folder is push-to-hub ready: safetensors weights, config with `auto_map` and the modelling code,
tokenizer, a README.md model card, and trainer_state.json / train_results.json with the full log history.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .errors import check_dataset_folder, check_earlier_run, check_model_source, check_output_dir, run_guarded

NAME = "pretrain"
LEARNING_ORDER_CONFIGS = ("instances", "documents")


def build_parser():
    from finecl_hf.pretraining.arguments import FineCLPreTrainingArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser(FineCLPreTrainingArguments, prog=f"finecl {NAME}")


def parse_arguments(argv: Sequence[str]):
    """`FineCLPreTrainingArguments` from the command line, or from a single `.json`/`.yaml` file argument."""
    (args,) = build_parser().parse(argv)
    return args


def check_inputs(args) -> None:
    """Cheap checks, before the model or the dataset is loaded: the learning-order folder first, so that a missing
    one is reported before the default backbone (roberta-base) is looked up."""
    if not args.learning_order_dataset:
        from .errors import UsageError

        raise UsageError("--learning_order_dataset is required: the learning-order dataset folder (or Hub id) "
                         "written by `finecl learning-order`.")
    check_dataset_folder(
        "--learning_order_dataset", args.learning_order_dataset, configs=LEARNING_ORDER_CONFIGS,
        expected="a learning-order dataset written by `finecl learning-order` (its <output_dir>/learning_order)",
    )
    check_model_source("--model_name_or_path", args.model_name_or_path)
    check_output_dir("--output_dir", args.output_dir)
    check_earlier_run("--output_dir", args.output_dir, overwrite=args.overwrite_output_dir,
                      resume=args.resume_from_checkpoint)
    if args.tokenizer_name:
        check_model_source("--tokenizer_name", args.tokenizer_name, tokenizer=True)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        args = parse_arguments(argv)
        check_inputs(args)
        return args

    return run_guarded(f"finecl {NAME}", parse, run)


def run(args) -> None:
    import transformers
    from transformers import set_seed

    from finecl_hf.checkpointing import clear_earlier_run, resolve_resume_checkpoint
    from finecl_hf.pretraining import build_pretrainer, finish_distributed, save_pretrained_checkpoint

    transformers.utils.logging.set_verbosity(args.get_process_log_level())
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    # `last` resumes from the last completely written checkpoint; a half-written one is refused before data preparation.
    resume_from_checkpoint = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
    clear_earlier_run(args)
    set_seed(args.seed)
    trainer, data = build_pretrainer(args)
    train_result = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    output_dir = save_pretrained_checkpoint(trainer, data)
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()  # trainer_state.json: the full log history (loss, ed_loss, rd_loss, mlm_loss per interval)
    if trainer.is_world_process_zero():
        print(f"Saved the FineCL checkpoint, its tokenizer and model card to {output_dir}")
    finish_distributed()


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
