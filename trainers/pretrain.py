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

This script is `finecl pretrain` (`finecl_hf/commands/pretrain.py`); `--help` lists every option.
"""

from finecl_hf.commands import run_command
from finecl_hf.commands.pretrain import main  # noqa: F401

if __name__ == "__main__":
    run_command("pretrain")
