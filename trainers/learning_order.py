#!/usr/bin/env python
"""Stage 1 of FineCL: learning-order denoising (paper §3.1, Appendix A.1).

Trains a relation classifier on (distantly labelled) instances, records the epoch in which each instance is first
predicted correctly, upsamples under-learned classes and writes the Hub-ready learning-order dataset (Parquet + card)
under `<output_dir>/learning_order` (or `--learning_order_dir`), the input of stage 2.

Single process:

```bash
python trainers/learning_order.py --dataset_path data/semeval --output_dir runs/order \
    --mode batch --upsample_min_percent 50
```

Several processes (one per GPU):

```bash
accelerate launch --num_processes 4 trainers/learning_order.py --dataset_path data/redocred_distant \
    --model_name_or_path roberta-base --output_dir runs/order --correct_column confirmed_by_gold
```

Every `TrainingArguments` option is accepted (`--num_train_epochs`, `--save_steps`, `--resume_from_checkpoint`, ...);
defaults follow the paper: 15 epochs, batch 32, lr 4e-5, AdamW, weight decay 0, 10% warmup.

This script is `finecl learning-order` (`finecl_hf/commands/learning_order.py`); `--help` lists every option.
"""

from finecl_hf.commands import run_command
from finecl_hf.commands.learning_order import main  # noqa: F401

if __name__ == "__main__":
    run_command("learning-order")
