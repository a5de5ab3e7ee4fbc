#!/usr/bin/env python
"""Choose stage 2's weighting before any pre-training, on the tuning corpora only (issue 19; README, "Choosing the
weighting").

Reads the document-level stage-1 runs that `bench_denoising.py --split tuning --arms stage1` left under `--output_dir`
(their exported learning orders carry every cleanliness score and the tuning truth `label_is_clean`) and weighs each
corpus as stage 2 would (`finecl_hf.pretraining.ordering`: pseudo-epochs + f(k) for eq. 5, `corpus_weights` for the
corpus schemes), with every candidate of `CANDIDATES`. Over the relation instances whose truth is known, each weight
divided by the largest weight the scheme gives:

- `wrong share`: the share of the total RD weight that falls on wrong triples (uniform weights: the noise rate);
- `clean kept`: the clean triples' mean weight (uniform: 1); 1 − it is the share of clean weight lost.

**Rule, fixed before running:** among the candidates that keep at least `MIN_CLEAN_KEPT` (0.5) of the clean weight
on every tuning corpus, the lowest mean `wrong share` over the tuning corpora wins. The best `posterior` and the best
`truncate` candidate both become arms (`finecl_hf/experiments/design.py`); the winner is `CHOSEN_ARM` (three seeds in
the full design), the other runs with one seed.

```bash
python benchmarks/bench_denoising.py --split tuning --corpora noise_0.3 noise_0.5 natural --arms stage1
python benchmarks/choose_weighting.py --output docs/results/weighting_choice.md
```
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TUNING_RUNS = {  # tuning corpus -> (stage-1 run folder under --output_dir, documents scored: the first N, None = all)
    "noise_0.3_tuning": ("noise_0.3_tuning/stage1-main", None),
    "noise_0.5_tuning": ("noise_0.5_tuning/stage1-main", None),
    "natural_tuning": ("natural/stage1-main", 250),  # documents 1-250 of the natural run
}
MIN_CLEAN_KEPT = 0.5


@dataclass(frozen=True)
class Candidate:
    weighting: str
    order_by: str
    alpha: float = math.e
    truncation_share: float | None = None

    @property
    def name(self) -> str:
        setting = ""
        if self.weighting == "paper":
            setting = f", α = e^{math.log(self.alpha):g}"
        elif self.weighting == "truncate":
            setting = ", q = mixture estimate" if self.truncation_share is None else f", q = {self.truncation_share:g}"
        return f"{self.weighting} on {self.order_by}{setting}"


CANDIDATES = (
    Candidate("uniform", "learned_epoch"),
    Candidate("paper", "learned_epoch"),
    *(Candidate("paper", "combined", alpha=math.exp(power)) for power in (1, 2, 4)),
    *(Candidate("posterior", score) for score in ("combined", "variability")),
    *(Candidate("truncate", score, truncation_share=share) for score in ("combined", "variability")
      for share in (None, 0.3, 0.5)),
)  # fmt: skip


def candidate_weights(candidate: Candidate, order, card_metadata: dict, source: str) -> tuple[np.ndarray, float | None]:
    """Stage 2's weight of every instance under `candidate`, and a corpus scheme's estimated noise rate."""
    import torch

    from finecl_hf.losses import learning_order_weights
    from finecl_hf.pretraining.ordering import corpus_weights, eq5_epoch_bounds, eq5_epochs
    from finecl_hf.weighting import get_weighting

    relation = np.asarray(order["relation"])
    no_relation = order.features["relation"].names.index("no_relation")
    if get_weighting(candidate.weighting).weighs_corpus:
        weights, fit = corpus_weights(
            order, candidate.weighting, candidate.order_by, relation, no_relation, candidate.truncation_share, source
        )
        return weights, fit.estimated_noise_rate
    epochs, pseudo_range = eq5_epochs(
        order, candidate.order_by, np.asarray(order["learned_epoch"]), relation, no_relation, card_metadata, False, source
    )
    min_epoch, max_epoch = eq5_epoch_bounds(epochs, pseudo_range)
    weights = learning_order_weights(
        torch.from_numpy(epochs.astype(np.int64)), weighting=candidate.weighting, alpha=candidate.alpha,
        min_epoch=min_epoch, max_epoch=max_epoch,
    )  # fmt: skip
    return weights.numpy(), None


def weight_metrics(weights: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    relative = weights / weights.max()
    return {"wrong_share": float(relative[~clean].sum() / relative.sum()), "clean_kept": float(relative[clean].mean())}


def main() -> None:
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.data.learning_order import read_learning_order_metadata

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="outputs/bench_denoising", help="bench_denoising.py's --output_dir")
    parser.add_argument("--output", default=None, help="Markdown file for the table (a .json beside it)")
    args = parser.parse_args()
    results: dict[str, dict[str, dict]] = {}
    for corpus, (folder, tuning_documents) in TUNING_RUNS.items():
        run = Path(args.output_dir) / folder / "learning_order"
        if not (run / "README.md").is_file():
            raise SystemExit(f"{corpus}: no stage-1 run at {run}; run bench_denoising.py --split tuning first.")
        start = time.perf_counter()
        order = load_dataset_folder(run, "instances", split="train")
        truth = order["label_is_clean"]
        known = np.array([value is not None for value in truth])
        known &= np.asarray(order["relation"]) != order.features["relation"].names.index("no_relation")
        if tuning_documents is not None:
            known &= np.asarray(order["document_index"]) < tuning_documents
        clean = np.array([bool(value) for value in truth])[known]
        results[corpus] = {}
        for candidate in CANDIDATES:
            weights, noise_rate = candidate_weights(candidate, order, read_learning_order_metadata(run), str(run))
            results[corpus][candidate.name] = {**weight_metrics(weights[known], clean), "estimated_noise_rate": noise_rate}
        print(f"{corpus}: {known.sum()} relation labels ({1 - clean.mean():.3f} wrong), "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    corpora = list(results)
    summary = []
    for candidate in CANDIDATES:
        rows = [results[corpus][candidate.name] for corpus in corpora]
        summary.append({
            "candidate": candidate.name, "weighting": candidate.weighting, "order_by": candidate.order_by,
            "alpha": candidate.alpha, "truncation_share": candidate.truncation_share,
            "mean_wrong_share": float(np.mean([row["wrong_share"] for row in rows])),
            "min_clean_kept": float(min(row["clean_kept"] for row in rows)),
            "eligible": min(row["clean_kept"] for row in rows) >= MIN_CLEAN_KEPT,
        })  # fmt: skip
    eligible = [row for row in summary if row["eligible"]]
    chosen = min(eligible, key=lambda row: row["mean_wrong_share"])
    best_of = {family: min((row for row in eligible if row["weighting"] == family), key=lambda row: row["mean_wrong_share"],
                           default=None) for family in ("posterior", "truncate")}  # fmt: skip
    header = ["candidate", *(f"{corpus}: wrong share / clean kept" for corpus in corpora), "mean wrong share",
              f"clean kept ≥ {MIN_CLEAN_KEPT} everywhere"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in sorted(summary, key=lambda row: row["mean_wrong_share"]):
        cells = [f"{results[corpus][row['candidate']]['wrong_share']:.3f} / {results[corpus][row['candidate']]['clean_kept']:.3f}"
                 for corpus in corpora]  # fmt: skip
        name = f"**{row['candidate']}**" if row is chosen else row["candidate"]
        lines.append("| " + " | ".join([name, *cells, f"{row['mean_wrong_share']:.3f}", "yes" if row["eligible"] else "no"]) + " |")
    estimates = ", ".join(f"{corpus} {results[corpus][best_of['posterior']['candidate']]['estimated_noise_rate']:.3f}"
                          for corpus in corpora) if best_of["posterior"] else "–"  # fmt: skip
    text = "\n".join([
        "# Choosing stage 2's weighting on the tuning corpora (before any pre-training)", "",
        f"Command: `python benchmarks/choose_weighting.py --output {args.output}`", "",
        "Weights divided by the scheme's largest weight, over the relation instances of known truth. `wrong share`: "
        "share of the total weight on wrong triples; `clean kept`: clean triples' mean weight (1 − the share of clean "
        f"weight lost). Rule (fixed before running): lowest mean wrong share among the candidates that keep ≥ "
        f"{MIN_CLEAN_KEPT} of the clean weight on every tuning corpus.", "",
        *lines, "",
        f"Chosen: **{chosen['candidate']}**. Best posterior: {best_of['posterior'] and best_of['posterior']['candidate']}; "
        f"best truncate: {best_of['truncate'] and best_of['truncate']['candidate']}.",
        f"Noise rate estimated by the posterior's mixture: {estimates}.", "",
    ])  # fmt: skip
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        Path(args.output).with_suffix(".json").write_text(
            json.dumps({"per_corpus": results, "summary": summary, "chosen": chosen, "best_of": best_of}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
