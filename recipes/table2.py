"""The paper's Table 2 experiment (§4.1): is the first-epoch-learned subset A_0 a better training set than all the
noisy data?

Two relation classifiers (`FineCLForRelationExtraction`, sentence level, cross-entropy) are trained with the same
settings, one on every instance of a learning-order dataset (the "distant" labels, T) and one on A_0 only (T'), and
both are evaluated on gold data. The paper (DocRED distant → DocRED dev, roberta-base) reports 46.6 F1 for A_0 (45%
of the data) above the full set.

Gold split used here, the simplest the shipped data allows: **SemEval-2010 Task 8**. Its training sentences with 30%
of the labels flipped at random stand in for distantly supervised data (`recipes/table2_noisy_semeval.py` trains the
learning order on them and writes the learning-order dataset this recipe reads); the official test set (2,717
sentences, gold labels) is the evaluation set. (DocRED's distant training set is not shipped, and the 500 shipped
Re-DocRED documents are too few to both learn an order and train document-level classifiers on a CPU.)

Both classifiers train for `--num_train_epochs` epochs (as in the paper). At small scale A_0 is a few hundred sentences
and gets only a handful of optimizer steps that way, which measures under-training rather than label quality;
`--match_steps` gives the A_0 classifier as many optimizer steps as the full-data one (more epochs over fewer
sentences). `--max_instances` keeps the first N instances of the learning order (T and its A_0) to bound CPU time.

F1s printed: SemEval's official macro-F1 (9 relations, direction-aware, `Other` excluded) and the FineCL code's
micro-F1 over the 18 directed labels (`finecl_hf.metrics.compute_semeval_f1`).

```bash
python recipes/table2_noisy_semeval.py --num_sentences 3000 --num_train_epochs 5 --output_dir /tmp/noisy_semeval
python recipes/table2.py --learning_order_dir /tmp/noisy_semeval/learning_order --output_dir /tmp/table2
```
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, load_dataset
from transformers import AutoTokenizer, Trainer, TrainingArguments, set_seed

from finecl_hf import FineCLForRelationExtraction
from finecl_hf.data.data_collator import SentenceRelationCollator
from finecl_hf.data.tokenization import tokenize_sentences
from finecl_hf.learning_order.analysis import format_table
from finecl_hf.learning_order.sentence_data import read_semeval_split
from finecl_hf.metrics import compute_semeval_f1
from finecl_hf.paths import offline_encoder_path

logger = logging.getLogger("table2")


def train_classifier(
    train: Dataset, args: argparse.Namespace, model_path: str, tokenizer, output_dir: Path, max_steps: int = -1
) -> Trainer:
    """A sentence-level classifier trained on `train` (tokenized rows) with the run's settings and seed; `max_steps`
    (when > 0) replaces the number of epochs."""
    names = train.features["relation"].names
    set_seed(args.seed)
    model = FineCLForRelationExtraction.from_backbone(
        model_path, num_labels=len(names), id2label=dict(enumerate(names)),
        label2id={name: index for index, name in enumerate(names)}, relation_level="sentence", no_relation_label="Other",
    )
    training_args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=args.num_train_epochs, max_steps=max_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=128, learning_rate=args.learning_rate, warmup_steps=0.1, weight_decay=0.0,
        seed=args.seed, save_strategy="no", report_to="none", logging_steps=50, disable_tqdm=True,
        remove_unused_columns=False, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train, data_collator=SentenceRelationCollator(tokenizer))
    trainer.train()
    return trainer


def evaluate_on_gold(trainer: Trainer, test: Dataset) -> dict[str, float]:
    """SemEval scores of the classifier's predictions on the gold test set."""
    logits = trainer.predict(test).predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    names = test.features["relation"].names
    predictions = [names[index] for index in np.asarray(logits).argmax(-1)]
    references = [names[index] for index in test["relation"]]
    return compute_semeval_f1(predictions, references)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learning_order_dir", required=True, help="learning-order dataset over SemEval train sentences")
    parser.add_argument("--output_dir", default="/tmp/table2")
    parser.add_argument("--model_name_or_path", default=None, help="default: the offline MiniLM")
    parser.add_argument("--num_train_epochs", type=float, default=3)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--max_length", type=int, default=96)
    parser.add_argument("--num_test_sentences", type=int, default=0, help="first N gold test sentences (0 = all 2,717)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--match_steps", action="store_true", help="train on A_0 for as many steps as on all data")
    parser.add_argument("--max_instances", type=int, default=0, help="first N instances of the order (0 = all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    model_path = args.model_name_or_path or offline_encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    order = load_dataset(args.learning_order_dir, split="train")
    if args.max_instances:
        order = order.select(range(min(args.max_instances, len(order))))
    everything, _ = tokenize_sentences(order, tokenizer, max_length=args.max_length)
    first_epoch = everything.filter(lambda row: row["learned_epoch"] == 0 and not row["upsampled"])
    test = read_semeval_split("test")
    if args.num_test_sentences:
        test = test.select(range(min(args.num_test_sentences, len(test))))
    test, _ = tokenize_sentences(test, tokenizer, max_length=args.max_length)

    rows, results = [], {}
    full_steps = math.ceil(len(everything) / args.batch_size) * math.ceil(args.num_train_epochs)
    for name, train in (("T: all noisy labels", everything), ("T': A_0 (first-epoch learned)", first_epoch)):
        max_steps = full_steps if args.match_steps and train is first_epoch else -1
        trainer = train_classifier(train, args, model_path, tokenizer, Path(args.output_dir) / name.split(":")[0], max_steps)
        scores = evaluate_on_gold(trainer, test)
        precision = float(np.mean(train["label_is_clean"])) if "label_is_clean" in train.column_names else float("nan")
        results[name] = {"instances": len(train), "label_precision": precision, **scores}
        rows.append([name, len(train), precision, 100 * scores["macro_f1_official"], 100 * scores["micro_f1"]])
    print(format_table(["training set", "instances", "label precision", "official macro-F1", "micro-F1"], rows))
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "table2.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
