#!/usr/bin/env python
"""Print the README's results table from the results files it cites (tests/test_docs.py checks every number).

    python benchmarks/readme_results_table.py     # paste between the README's table markers

Rows: the full design's headline comparisons (Wiki80 accuracy, points, 95% CI, seeds, each seed's difference) from
docs/results/reproduce_full/results.json, and the detector's ROC-AUC (`combined` and the paper's `learned_epoch`,
95% intervals resampling documents) from the denoising results named in `DETECTOR`.
"""

from __future__ import annotations

import json
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
REPRODUCTION = "docs/results/reproduce_full/results.json"
# corpus -> the results file of its detector row: document corpora with document-resampled intervals; sentence corpora
# from the 2026-12-02 run (a sentence is its own document there, so its label intervals are the same thing).
DETECTOR = {
    "noise_0.5": "docs/results/denoising_documents_2026-12-06/denoising_results.json",
    "natural": "docs/results/denoising_documents_2026-12-06/denoising_results.json",
    "semeval_uniform": "docs/results/denoising_2026-12-02/denoising_results.json",
    "semeval_confusable": "docs/results/denoising_2026-12-02/denoising_results.json",
}
# corpus -> the results file of its label-issue row
LABEL_ISSUES = {
    "noise_0.5": "docs/results/label_issues_2026-12-06/label_issues.json",
    "noise_0.3": "docs/results/label_issues_2026-12-06/label_issues_more.json",
    "natural": "docs/results/label_issues_2026-12-06/label_issues.json",
    "semeval_uniform": "docs/results/label_issues_2026-12-06/label_issues.json",
}
# What a label-issue row prints for finecl-hf and for cleanlab: precision of the 100 and 500 most suspect labels, and
# the accuracy of the suggested relation on the truly wrong labels.
LABEL_ISSUE_FIGURES = {
    "finecl-hf": ("precision@100 combined (label_issue)", "precision@500 combined (label_issue)",
                  "suggestion accuracy finecl-hf suggested_relation"),
    "cleanlab": ("precision@100 cleanlab find_label_issues", "precision@500 cleanlab find_label_issues",
                 "suggestion accuracy cleanlab predicted label"),
}
COMPARISONS = (  # corpus, a, b: the design's headline comparisons first, then the rest of the FineCL − ERICA story
    ("natural", "finecl", "erica"),
    ("natural", "truncate", "erica"),
    ("noise_0.5", "finecl", "erica"),
    ("noise_0.5", "truncate", "erica"),
    ("noise_0.5", "oracle_drop", "erica"),
    ("noise_0.5", "relabel", "erica"),
    ("noise_0.5", "oracle_relabel", "erica"),
    ("noise_0.3", "finecl", "erica"),
    ("clean", "ed_mlm", "erica"),
)


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def table() -> str:
    comparisons = json.loads((REPOSITORY / REPRODUCTION).read_text())["comparisons"]
    lines = ["| result | value [95% CI] | seeds | each seed | source |", "|---|---|---|---|---|"]
    for corpus, a, b in COMPARISONS:
        (row,) = [row for row in comparisons if (row["corpus"], row["probe"], row["a"], row["b"]) == (corpus, "wiki80", a, b)]
        each = ", ".join(signed(seed["difference"]) for seed in row.get("per_seed", [])) or "–"
        lines.append(f"| `{corpus}`: `{a}` − `{b}` | {signed(row['difference'])} [{signed(row['ci_low'])}, "
                     f"{signed(row['ci_high'])}] | {len(row['seeds'])} | {each} | [results.json]({REPRODUCTION}) |")
    for corpus, source in DETECTOR.items():
        rows = json.loads((REPOSITORY / source).read_text())["rows"]
        by_score = {row["score"]: row for row in rows if row["corpus"] == corpus}
        cells = [f"`{score}` {by_score[score]['roc_auc']:.3f} [{by_score[score]['roc_auc_low']:.3f}, "
                 f"{by_score[score]['roc_auc_high']:.3f}]" for score in ("combined", "learned_epoch")]
        lines.append(f"| detector: `{corpus}` (ROC-AUC) | {'; '.join(cells)} | – | – | [denoising_results.json]({source}) |")
    for corpus, source in LABEL_ISSUES.items():
        (row,) = [row for row in json.loads((REPOSITORY / source).read_text())["rows"] if row["corpus"] == corpus]
        cells = [f"{tool} " + ", ".join(f"{row[key]:.3f}" for key in keys) for tool, keys in LABEL_ISSUE_FIGURES.items()]
        lines.append(f"| label issues: `{corpus}` (precision @100, @500; suggestion accuracy) | {'; '.join(cells)} | – | – "
                     f"| [{Path(source).name}]({source}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
