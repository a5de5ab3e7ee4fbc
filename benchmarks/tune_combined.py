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

`--swap_natural` is the two-way swap of the natural corpus: every candidate is scored on documents 1-250 and on
documents 251-500 of one natural stage-1 run (ROC-AUC with document-resampled 95% intervals); the candidate the first
half would choose is reported on the second and the reverse, beside the shipped choice, so a reader sees how much a
choice made on one half carries to the other.

```bash
python benchmarks/tune_combined.py --swap_natural --output_dir outputs/bench_denoising_rerun \
    --output docs/results/denoising_documents_2026-12-06/natural_swap.md
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
    from finecl_hf.order_scores import cleanliness, combine_scores
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


def shipped_candidate() -> tuple[str | None, float, float]:
    """The candidate finecl-hf ships: `COMBINED_COMPONENTS` beyond the evidence scores, its weight, the refine share."""
    from finecl_hf.learning_order.evidence import EvidenceSettings
    from finecl_hf.order_scores import COMBINED_COMPONENTS, COMBINED_WEIGHTS

    dynamics = next((name for name in COMBINED_COMPONENTS if name not in EVIDENCE), None)
    return dynamics, COMBINED_WEIGHTS.get(dynamics, 1.0) if dynamics else 1.0, EvidenceSettings().refine_share


def swap_natural(output_dir: Path, output: str | None) -> None:
    """The two-way swap of the natural corpus (module docstring)."""
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.learning_order.analysis import auc_interval, document_groups, mann_whitney_auc

    folder, max_length, half = TUNING_RUNS["natural_tuning"]
    run = output_dir / folder / "learning_order"
    order = load_dataset_folder(run, "instances", split="train")
    documents = load_dataset_folder(run, "documents", split="train")
    truth = order["label_is_clean"]
    known = np.array([value is not None for value in truth])
    clean = np.array([bool(value) for value in truth])
    first = np.asarray(order["document_index"]) < half
    halves = {"documents 1-250": known & first, "documents 251-500": known & ~first}
    groups = document_groups(order["uid"])
    candidates = candidate_scores(order, documents, max_length)
    auc = {name: {key: mann_whitney_auc(values[mask], clean[mask]) for key, values in candidates.items()}
           for name, mask in halves.items()}

    def cell(key, name) -> str:
        mask = halves[name]
        low, high = auc_interval(candidates[key][mask], clean[mask], groups[mask], 1000, 0)
        return f"{auc[name][key]:.3f} [{low:.3f}, {high:.3f}]"

    def label(key) -> str:
        return f"{key[0] or 'no dynamics score'} (weight {key[1]:g}), second-round share {key[2]:g}"

    names = list(halves)
    rows = []
    for chosen_on, reported_on in ((names[0], names[1]), (names[1], names[0])):
        best = max(auc[chosen_on], key=auc[chosen_on].get)
        rows.append(f"| {chosen_on} | {reported_on} | {label(best)} | {cell(best, chosen_on)} | {cell(best, reported_on)} | "
                    f"{cell(max(auc[reported_on], key=auc[reported_on].get), reported_on)} |")
    shipped = shipped_candidate()
    table = "\n".join([
        "| chosen on | reported on | candidate chosen | ROC-AUC where chosen | ROC-AUC where reported | best candidate where reported |",
        "|---|---|---|---|---|---|", *rows,
        f"| (shipped: chosen on the five tuning corpora) | both | {label(shipped)} | – | {cell(shipped, names[0])} (1-250); "
        f"{cell(shipped, names[1])} (251-500) | – |",
    ])  # fmt: skip
    print(table)
    if output:
        Path(output).write_text(
            "# The natural corpus's two-way swap\n\nCommand: `python benchmarks/tune_combined.py --swap_natural "
            f"--output_dir {output_dir} --output {output}`\n\nEvery candidate of the `combined` grid "
            f"({len(candidates)}) scored on each half of one natural stage-1 run ({int(halves[names[0]].sum())} and "
            f"{int(halves[names[1]].sum())} labels of known truth); 95% intervals resample documents.\n\n{table}\n"
        )


def main() -> None:
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.learning_order.analysis import mann_whitney_auc

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="outputs/bench_denoising", help="bench_denoising.py's --output_dir")
    parser.add_argument("--output", default=None, help="Markdown file for the table")
    parser.add_argument("--swap_natural", action="store_true", help="the natural corpus's two-way swap (module docstring)")
    args = parser.parse_args()
    if args.swap_natural:
        swap_natural(Path(args.output_dir), args.output)
        return
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
