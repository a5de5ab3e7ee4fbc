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
"""

from __future__ import annotations

import sys

from transformers import HfArgumentParser

from finecl_hf.learning_order import LearningOrderArguments, LearningOrderTrainingArguments
from finecl_hf.learning_order.run import LearningOrderResult, run_learning_order


def main(argv: list[str] | None = None) -> LearningOrderResult:
    parser = HfArgumentParser((LearningOrderArguments, LearningOrderTrainingArguments))
    if argv is None and len(sys.argv) == 2 and sys.argv[1].endswith((".json", ".yaml", ".yml")):
        data_args, training_args = (
            parser.parse_json_file(sys.argv[1]) if sys.argv[1].endswith(".json") else parser.parse_yaml_file(sys.argv[1])
        )
    else:
        data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    return run_learning_order(data_args, training_args)


if __name__ == "__main__":
    main()
