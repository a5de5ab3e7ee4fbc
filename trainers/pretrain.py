#!/usr/bin/env python
"""Stage 2 of FineCL: contrastive pre-training (ED + learning-order-weighted RD + MLM) from a learning-order dataset.

Single process (CPU or one GPU):

    python trainers/pretrain.py --learning_order_dataset outputs/learning_order \
        --model_name_or_path roberta-base --output_dir outputs/finecl-roberta-base

Several processes (DDP; on a CPU-only machine add `--use_cpu`):

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \
        trainers/pretrain.py --learning_order_dataset ... --output_dir ...

DeepSpeed ZeRO-2 / ZeRO-3 (configs in trainers/configs/):

    accelerate launch --config_file trainers/configs/deepspeed_zero3.yaml trainers/pretrain.py ...

Every option: `python trainers/pretrain.py --help`. The output folder is push-to-hub ready: safetensors weights,
config with `auto_map` and the modelling code, tokenizer, a README.md model card, and trainer_state.json /
train_results.json with the full log history.
"""

from __future__ import annotations

import sys

import transformers
from transformers import set_seed

from finecl_hf.checkpointing import resolve_resume_checkpoint
from finecl_hf.pretraining import build_pretrainer, finish_distributed, parse_arguments, save_pretrained_checkpoint


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    transformers.utils.logging.set_verbosity(args.get_process_log_level())
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()
    # `last` resumes from the last completely written checkpoint; a half-written one is refused before data preparation.
    resume_from_checkpoint = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
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
    main()
