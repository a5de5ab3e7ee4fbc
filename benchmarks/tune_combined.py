#!/usr/bin/env python
"""Choose the `combined` cleanliness score on the tuning corpora only (README, "Denoising benchmark", tuning protocol).

Reads the stage-1 runs that `bench_denoising.py --split tuning --arms stage1` left under `--output_dir` (their exported
learning orders carry every score and the tuning truth), and scores each candidate combination: which training-dynamics
score joins the evidence scores (`type_agreement`, `neighbour_agreement`, `out_of_sample`), and the share of the first
round's lowest-ranked instances the second round leaves out when it recounts the evidence (0: one round). Prints and
writes the ROC-AUC of each candidate on each tuning corpus and their mean; the chosen candidate becomes
`COMBINED_COMPONENTS` and `EvidenceSettings.refine_share`.

```bash
python benchmarks/bench_denoising.py --split tuning --arms stage1     # the tuning corpora's stage-1 runs
python benchmarks/tune_combined.py --output docs/results/denoising_tuning.md
```
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TUNING_RUNS = {  # tuning corpus -> (stage-1 run folder under --output_dir, max_length, instances scored)
    "semeval_uniform_tuning": ("semeval_uniform_tuning/stage1-main", 128, None),
    "semeval_confusable_tuning": ("semeval_confusable_tuning/stage1-main", 128, None),
    "noise_0.3_tuning": ("noise_0.3_tuning/stage1-main", 256, None),
    "noise_0.5_tuning": ("noise_0.5_tuning/stage1-main", 256, None),
    "natural_tuning": ("natural/stage1-main", 256, 250),  # documents 1-250 of the natural run
}
DYNAMICS = (None, "confidence", "variability")
DYNAMICS_WEIGHTS = (1.0, 2.0)  # the training-dynamics score's weight; each evidence score weighs 1
SHARES = (0.0, 0.3, 0.5)
EVIDENCE = ("type_agreement", "neighbour_agreement", "out_of_sample")


def candidate_scores(order, documents, max_length: int) -> dict[tuple[str | None, float, float], np.ndarray]:
    """Every candidate combination's score on one stage-1 export."""
    from finecl_hf.learning_order.arguments import LearningOrderArguments
    from finecl_hf.learning_order.run import corpus_evidence
    from finecl_hf.learning_order.scores import cleanliness, combine_scores
    from finecl_hf.paths import offline_encoder_path

    num_classes = order.features["relation"].num_classes
    evidence = corpus_evidence(
        order, documents, LearningOrderArguments(dataset_path="tuning", max_length=max_length), num_classes,
        offline_encoder_path(),
    )  # fmt: skip
    first_round = {name: cleanliness(name, order) for name in (*EVIDENCE, *filter(None, DYNAMICS)) if name in order.column_names}
    evidence_names = [name for name in EVIDENCE if name in first_round]
    candidates = {}
    for share in SHARES:
        for dynamics in DYNAMICS:
            for weight in DYNAMICS_WEIGHTS if dynamics else (1.0,):
                names = [*evidence_names, *([dynamics] if dynamics else [])]
                weights = {dynamics: weight} if dynamics else None
                parts = {name: first_round[name] for name in names}
                candidates[(dynamics, weight, share)] = combine_scores(parts, evidence, weights, share)
    return candidates


def main() -> None:
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.learning_order.analysis import mann_whitney_auc

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="outputs/bench_denoising", help="bench_denoising.py's --output_dir")
    parser.add_argument("--output", default=None, help="Markdown file for the table")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    for corpus, (folder, max_length, tuning_documents) in TUNING_RUNS.items():
        run = Path(args.output_dir) / folder / "learning_order"
        if not (run / "README.md").is_file():
            print(f"{corpus}: no stage-1 run at {run}; skipped")
            continue
        start = time.perf_counter()
        order = load_dataset_folder(run, "instances", split="train")
        documents = load_dataset_folder(run, "documents", split="train") if (run / "documents").is_dir() else None
        truth = order["label_is_clean"]
        known = np.array([value is not None for value in truth])
        if tuning_documents is not None:
            known &= np.asarray(order["document_index"]) < tuning_documents
        clean = np.array([bool(value) for value in truth])[known]
        candidates = candidate_scores(order, documents, max_length)
        results[corpus] = {key: mann_whitney_auc(values[known], clean) for key, values in candidates.items()}
        print(f"{corpus}: {known.sum()} labels, {time.perf_counter() - start:.0f} s", flush=True)
    keys = list(next(iter(results.values())))
    header = ["dynamics score", "its weight", "second-round share", *results, "mean"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in sorted(keys, key=lambda key: -np.mean([results[corpus][key] for corpus in results])):
        values = [results[corpus][key] for corpus in results]
        lines.append("| " + " | ".join([str(key[0] or "none"), f"{key[1]:g}", f"{key[2]:g}", *(f"{v:.4f}" for v in values), f"**{np.mean(values):.4f}**"]) + " |")
    table = "\n".join(lines)
    print(table)
    if args.output:
        text = ("# Choosing the combined score on the tuning corpora\n\nCommand: `python benchmarks/tune_combined.py "
                f"--output {args.output}`\n\nROC-AUC (clean vs wrong) of each candidate, tuning corpora only.\n\n{table}\n")
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
