"""Learning order as a label-noise detector (paper §4.1) on SemEval-2010 Task 8 with synthetic label noise.

30% of the training labels are flipped to a *different* random label (seeded); a classifier is trained with
`LearningOrderTrainer` and we measure how well "learned earlier" separates clean from flipped labels: the label
precision of every subset A_0..A_k and of the never-learned set, and the ROC-AUC of `-learned_epoch` (never learned =
lowest score) as a clean-label detector.

SemEval's `Other` is a real class here (the noise question is about every label), so the run sets
`record_no_relation=True`: an `Other` sentence predicted `Other` counts as learned.

Example (CPU, a few minutes):

```bash
python recipes/table2_noisy_semeval.py --num_sentences 3000 --num_train_epochs 4 --max_length 96 \
    --output_dir /tmp/noisy_semeval
```
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from finecl_hf import FineCLForRelationExtraction
from finecl_hf.learning_order import LearningOrderTrainer, LearningOrderTrainingArguments
from finecl_hf.learning_order.analysis import clean_label_auc, format_table, subset_precision
from finecl_hf.data.learning_order import LearningOrderRunInfo, export_learning_order
from finecl_hf.learning_order.sentence_data import load_semeval_split, read_semeval_split, sentence_collator
from finecl_hf.learning_order.state import percent_learned_per_epoch
from finecl_hf.paths import offline_encoder_path

logger = logging.getLogger("table2_noisy_semeval")


def flip_labels(labels: np.ndarray, num_labels: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip `fraction` of the labels (chosen with `seed`) to a different label drawn uniformly.

    Returns:
        `(noisy_labels, is_clean)`.
    """
    rng = np.random.default_rng(seed)
    flipped = rng.choice(labels.size, size=int(round(fraction * labels.size)), replace=False)
    noisy = labels.copy()
    # Adding 1..num_labels-1 modulo num_labels draws uniformly among the *other* labels.
    noisy[flipped] = (labels[flipped] + rng.integers(1, num_labels, size=flipped.size)) % num_labels
    return noisy, noisy == labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="/tmp/noisy_semeval")
    parser.add_argument("--model_name_or_path", default=None, help="default: the offline MiniLM")
    parser.add_argument("--num_sentences", type=int, default=3000, help="first N training sentences (0 = all 8,000)")
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--num_train_epochs", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=4e-5)
    parser.add_argument("--max_length", type=int, default=96)
    parser.add_argument("--mode", default="batch", choices=["batch", "epoch"])
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    model_path = args.model_name_or_path or offline_encoder_path()
    dataset, tokenizer = load_semeval_split("train", model_path, args.max_length)
    if args.num_sentences:
        dataset = dataset.select(range(min(args.num_sentences, len(dataset))))
    names = dataset.features["relation"].names
    noisy, is_clean = flip_labels(np.asarray(dataset["relation"]), len(names), args.noise, args.seed)
    label_feature = dataset.features["relation"]
    dataset = dataset.rename_column("relation", "gold_relation").add_column("relation", noisy.tolist(), feature=label_feature)
    dataset = dataset.add_column("label_is_clean", is_clean.tolist())
    logger.info(f"{len(dataset)} sentences, {int((~is_clean).sum())} labels flipped ({args.noise:.0%})")

    model = FineCLForRelationExtraction.from_backbone(
        model_path, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        relation_level="sentence", no_relation_label="Other",
    )
    training_args = LearningOrderTrainingArguments(
        output_dir=args.output_dir, mode=args.mode, record_no_relation=True, num_train_epochs=args.num_train_epochs,
        per_device_train_batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        save_strategy="no", logging_steps=25, use_cpu=True, dataloader_num_workers=0, report_to="none",
        disable_tqdm=True,
    )
    trainer = LearningOrderTrainer(model=model, args=training_args, train_dataset=dataset,
                                   data_collator=sentence_collator(tokenizer))
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start

    learned = trainer.learning_order.learned_epoch
    precision = subset_precision(learned, is_clean, args.num_train_epochs)
    auc = clean_label_auc(learned, is_clean)
    print(format_table(["subset", "size", "label precision"], [[k, v["size"], v["precision"]] for k, v in precision.items()]))
    print(f"ROC-AUC (clean-label detector): {auc:.4f}  | training time {elapsed / 60:.1f} min")
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    summary = {"args": vars(args), "subset_precision": precision, "clean_label_auc": auc, "train_seconds": elapsed}
    (Path(args.output_dir) / "noise_detection.json").write_text(json.dumps(summary, indent=2))
    # The learning-order dataset (input of recipes/table2.py): the words-level rows plus the recorded order.
    words = read_semeval_split("train")
    by_uid = {uid: row for row, uid in enumerate(words["uid"])}
    words = words.select([by_uid[uid] for uid in dataset["uid"]]).rename_column("relation", "gold_relation")
    words = words.add_column("relation", noisy.tolist(), feature=label_feature).add_column("label_is_clean", is_clean.tolist())
    run_info = LearningOrderRunInfo(
        model_name_or_path=model_path, num_epochs=args.num_train_epochs, mode=args.mode, seed=args.seed,
        percent_learned_per_epoch=percent_learned_per_epoch(learned, args.num_train_epochs), record_no_relation=True,
        source_dataset=f"SemEval-2010 Task 8 train, first {len(dataset)} sentences, {args.noise:.0%} labels flipped",
        subset_precision=precision, clean_label_auc=auc,
    )
    export_learning_order(words, learned, np.zeros(learned.size, dtype=bool), Path(args.output_dir) / "learning_order", run_info)


if __name__ == "__main__":
    main()
