#!/usr/bin/env python
"""Label issues against the truth: precision of the most suspect labels, accuracy of the suggested relation, against
cleanlab at equal compute; and the choice of τ for the `relabel` arm on a tuning corpus.

Reads stage-1 runs of the denoising benchmark (`benchmarks/bench_denoising.py --arms stage1`, which keeps each run's
learning-order folder and frozen features under `<output_dir>/<corpus>/stage1-main/`), so nothing is trained here.
For each run the label-issue columns are computed by the library exactly as stage 1 writes them
(`finecl_hf.learning_order.label_issues.label_issue_columns`, from the same features, entity types and folds), and:

- **precision@k** (k = 100, 500): share of truly wrong labels among the k labels ranked most suspect, for the flagged
  ranking (`combined`, lowest first), `type_agreement` alone, and cleanlab;
- **suggestion accuracy**: on the truly wrong labels, share whose suggested relation is right — one of the gold
  relations of the instance's (document, head, tail) pair, `no_relation` when it has none (the noise corpora keep
  every gold triple; a reversed triple's right answer is what gold says of the reversed pair). SemEval: the label
  before the noise;
- **cleanlab at equal compute**: `cleanlab.filter.find_label_issues` (ranked by self-confidence) and its suggested
  label (`argmax` of the predicted probabilities, Datalab's `predicted_label`) given the out-of-sample probabilities of
  the *same* cross-fitted classifiers (`out_of_sample`'s first round: every label, folds of documents) — cleanlab's own
  recipe of cross-validated `pred_probs` on the same features, at the cost of the fit our first round makes anyway.

`--choose_threshold`: on a tuning corpus, the share of clean triples the `relabel`-cleaned corpus would hold for each
τ (`--thresholds`); the τ with the highest share is the one `experiments/design.py` uses.

```bash
python benchmarks/bench_label_issues.py --runs noise_0.5 natural semeval_uniform --output_dir outputs/bench_denoising_rerun \
    --results_dir docs/results/label_issues_2026-12-06
python benchmarks/bench_label_issues.py --choose_threshold --runs noise_0.5_tuning --output_dir outputs/bench_denoising_rerun
```
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TOP = (100, 500)
THRESHOLDS = tuple(round(value, 2) for value in np.arange(0.0, 1.0, 0.1))
NATURAL_TUNING_DOCUMENTS = 250  # as the denoising benchmark: documents 1-250 tune, 251-500 are reported


def load_run(run_dir: Path) -> tuple[Any, Any, np.ndarray]:
    """The learning-order instances and documents of a stage-1 run, and its frozen features."""
    from finecl_hf.data.learning_order import load_learning_order_documents, load_learning_order_instances

    order = run_dir / "learning_order"
    features = np.load(run_dir / "evidence_features.npy", mmap_mode="r")
    return load_learning_order_instances(order), load_learning_order_documents(order), features


def evidence_of(instances: Any, documents: Any, features: np.ndarray, seed: int) -> Any:
    """The run's `CorpusEvidence` as stage 1 built it (labels, documents, entity types, features, default settings;
    the folds drawn with the run's training `seed`, as stage 1 draws them)."""
    from finecl_hf.learning_order.evidence import CorpusEvidence, EvidenceSettings
    from finecl_hf.learning_order.run import _entity_type_signatures

    labels = np.asarray(instances["relation"], dtype=np.int64)
    groups = np.asarray(instances["document_index"], dtype=np.int64) if documents is not None else np.arange(labels.size)
    num_classes = len(instances.features["relation"].names)
    return CorpusEvidence(labels, groups, num_classes, _entity_type_signatures(instances, documents),
                          np.asarray(features, dtype=np.float32), EvidenceSettings(seed=seed))  # fmt: skip


def first_round_trust(instances: Any) -> np.ndarray:
    """The instances `combined`'s first round trusts (above its lowest `refine_share`), from the exported columns."""
    from finecl_hf.order_scores import rank_average
    from finecl_hf.learning_order.evidence import EvidenceSettings
    from finecl_hf.order_scores import COMBINED_COMPONENTS, COMBINED_WEIGHTS, cleanliness, finite_or_median

    parts = {name: finite_or_median(cleanliness(name, instances)) for name in COMBINED_COMPONENTS
             if name in instances.column_names}  # fmt: skip
    first = rank_average(parts, COMBINED_WEIGHTS)
    return first >= np.quantile(first, EvidenceSettings().refine_share)


def right_relations(instances: Any, documents: Any, truth: dict[str, int] | None, no_relation: int | None) -> list[set[int]]:
    """The right relation(s) of every instance, or for a sentence corpus the label before the noise (`truth`: uid ->
    relation). A document instance's right relations are the gold relations of its directed pair that no *other*
    instance of the pair carries (a label another instance already has would duplicate that triple);
    `no_relation` (drop it) when none is left."""
    if documents is None:
        return [{truth[uid]} for uid in instances["uid"]]
    gold: dict[tuple[int, int, int], set[int]] = {}
    for index, triples in enumerate(documents["gold_relations"]):
        for triple in triples:
            gold.setdefault((index, triple["head"], triple["tail"]), set()).add(triple["relation"])
    keys = list(zip(instances["document_index"], instances["head"], instances["tail"]))
    labels = instances["relation"]
    carried: dict[tuple[int, int, int], list[int]] = {}
    for key, label in zip(keys, labels):
        carried.setdefault(key, []).append(label)
    right = []
    for key, label in zip(keys, labels):
        others = set(carried[key])
        if carried[key].count(label) == 1:
            others.discard(label)
        right.append((gold.get(key, set()) - others) or {no_relation})
    return right


def label_truth(instances: Any, documents: Any) -> tuple[np.ndarray, np.ndarray]:
    """`(clean, known)` per instance: the benchmark's `label_is_clean` column, else the documents' `confirmed_by_gold`
    (a stage-1 run of `finecl reproduce`)."""
    if "label_is_clean" in instances.column_names:
        values = instances["label_is_clean"]
        return np.array([bool(value) for value in values]), np.array([value is not None for value in values])
    from finecl_hf.learning_order.analysis import instance_correctness

    return instance_correctness(instances, documents, "confirmed_by_gold")


def precision_at(scores: np.ndarray, wrong: np.ndarray, k: int) -> float:
    """Share of wrong labels among the k lowest scores (stable order)."""
    chosen = np.argsort(scores, kind="stable")[: min(k, scores.size)]
    return float(wrong[chosen].mean())


def measure_run(name: str, run_dir: Path, truth: dict[str, int] | None, mask_of: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric of one stage-1 run, for each evaluation (name -> instance mask, None: all)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from finecl_hf.constants import find_no_relation_label
    from finecl_hf.learning_order.evidence import out_of_sample_predictions, type_one_hot_codes
    from finecl_hf.order_scores import rank_average
    from finecl_hf.learning_order.label_issues import label_issue_columns, pair_ids, suggest_relations
    from finecl_hf.order_scores import cleanliness

    start = time.perf_counter()
    from finecl_hf.data.learning_order import read_learning_order_metadata

    instances, documents, features = load_run(run_dir)
    evidence = evidence_of(instances, documents, features, int(read_learning_order_metadata(run_dir / "learning_order")["seed"]))
    names = instances.features["relation"].names
    no_relation_name = find_no_relation_label(names)
    no_relation = names.index(no_relation_name) if no_relation_name is not None else None
    labels = evidence.labels
    settings = evidence.settings
    codes = None if evidence.signatures is None else type_one_hot_codes(evidence.signatures)

    def fit(trusted):
        return out_of_sample_predictions(features, labels, evidence.groups, evidence.num_classes, settings.folds,
                                         settings.weight_decay, settings.max_iterations, settings.seed, trusted,
                                         one_hot_codes=codes, keep_probabilities=True)  # fmt: skip

    every_label = fit(None)
    exported = np.asarray(instances["out_of_sample"], dtype=np.float64)
    drift = float(np.nanmax(np.abs(every_label.label_probability - exported)))  # ~1e-7 (float32): the same fit
    if evidence.encoded.size != labels.size:
        raise SystemExit(f"{run_dir}: {labels.size - evidence.encoded.size} instances have no features; not supported.")
    evidence.predictions = fit(first_round_trust(instances))  # what stage 1's second round fits
    combined = cleanliness("combined", instances)
    clean, clean_known = label_truth(instances, documents)
    labelled = clean_known & ((labels != no_relation) if documents is not None else True)
    fit_seconds = time.perf_counter() - start
    issues = label_issue_columns(evidence, pair_ids(instances), combined, labelled)
    # Candidates beside the library's choices, measured on every corpus (chosen on the tuning corpora only): the
    # suggestion without the pair rule, or from the every-label fit; rankings by the refit's label probability and by
    # its margin (p(label) - p(suggested other relation)), alone and rank-averaged with `combined`.
    pairs = pair_ids(instances)
    unskipped = evidence.predictions.top_relations[:, 0]
    from_every_label, _ = suggest_relations(every_label, labels, pairs)
    cleanlab_suggestion = every_label.probabilities.argmax(axis=1)
    refit = evidence.predictions
    label_probability = refit.label_probability
    other = other_relation_probability(refit, labels, pairs)
    margin = label_probability - other

    wrong_all = ~clean & clean_known
    right = right_relations(instances, documents, truth, no_relation)
    rows = []
    for evaluation, mask in mask_of.items():
        scope = labelled & (np.ones(labels.size, dtype=bool) if mask is None else mask)
        rows_in = np.flatnonzero(scope)
        wrong = wrong_all[rows_in]
        probabilities = every_label.probabilities[rows_in]
        present = np.unique(labels[rows_in])
        compact = np.searchsorted(present, labels[rows_in])
        kept = probabilities[:, present] / probabilities[:, present].sum(axis=1, keepdims=True)
        quality = get_label_quality_scores(compact, kept)
        ranked = find_label_issues(compact, kept, return_indices_ranked_by="self_confidence", n_jobs=1)
        cleanlab_ranking = np.full(rows_in.size, np.inf)  # flagged ones first, in cleanlab's order
        cleanlab_ranking[ranked] = np.arange(ranked.size)
        rankings = {
            "combined (label_issue)": combined[rows_in],
            "type_agreement": np.nan_to_num(cleanliness("type_agreement", instances)[rows_in], nan=0.0)
            if "type_agreement" in instances.column_names else None,
            "cleanlab find_label_issues": cleanlab_ranking,
            "cleanlab label quality": quality,
            "refit p(label)": label_probability[rows_in],
            "refit margin": margin[rows_in],
            "combined + refit margin": rank_average({"combined": combined[rows_in], "margin": margin[rows_in]}),
        }
        row: dict[str, Any] = {
            "corpus": evaluation, "labels": int(rows_in.size), "wrong_rate": float(wrong.mean()),
            "flagged": int(issues.label_issue[rows_in].sum()),
            "flagged_precision": float(wrong[issues.label_issue[rows_in]].mean()) if issues.label_issue[rows_in].any() else None,
            "flagged_recall": float(issues.label_issue[rows_in][wrong].mean()) if wrong.any() else None,
            "cleanlab_flagged": int(ranked.size),
            "cleanlab_flagged_precision": float(wrong[ranked].mean()) if ranked.size else None,
            "issue_share": issues.issue_share,
        }
        for ranking, values in rankings.items():
            for k in TOP:
                row[f"precision@{k} {ranking}"] = None if values is None else precision_at(values, wrong, k)
        wrong_rows = rows_in[wrong]
        suggestions = {
            "finecl-hf suggested_relation": issues.suggested_relation,
            "trusted refit, no pair rule": unskipped,
            "every-label fit, pair rule": from_every_label,
            "cleanlab predicted label": cleanlab_suggestion,
        }
        for suggestion, values in suggestions.items():
            row[f"suggestion accuracy {suggestion}"] = float(np.mean([values[i] in right[i] for i in wrong_rows]))
        flagged_wrong = rows_in[wrong & issues.label_issue[rows_in]]
        row["suggestion accuracy on flagged wrong labels"] = (
            float(np.mean([issues.suggested_relation[i] in right[i] for i in flagged_wrong])) if flagged_wrong.size else None
        )
        row["run"] = name
        row["seconds"] = round(fit_seconds, 1)
        row["first_round_max_difference"] = drift
        rows.append(row)
    return rows


def other_relation_probability(predictions: Any, labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Probability of the most probable relation that is neither the label nor carried by another instance of the
    pair (0 when every top relation is)."""
    from finecl_hf.learning_order.evidence import OutOfSamplePredictions
    from finecl_hf.learning_order.label_issues import suggest_relations

    # Hide the label from the top relations by giving it probability -1, then take the best free one.
    top_probabilities = np.where(predictions.top_relations == labels[:, None], -1.0, predictions.top_probabilities)
    order = np.argsort(-top_probabilities, axis=1, kind="stable")
    hidden = OutOfSamplePredictions(predictions.label_probability, np.take_along_axis(predictions.top_relations, order, 1),
                                    np.take_along_axis(top_probabilities, order, 1).astype(np.float32))
    _, probability = suggest_relations(hidden, labels, pairs)
    return np.clip(probability, 0.0, None)


def relabel_threshold_curve(run_dir: Path, thresholds: tuple[float, ...]) -> list[dict[str, Any]]:
    """For each τ, the share of clean triples the `relabel`-cleaned corpus would hold (the exported label-issue
    columns; a triple is clean when gold has it for its pair)."""
    from finecl_hf.constants import find_no_relation_label
    from finecl_hf.learning_order.label_issues import clean_instances

    instances, documents, _ = load_run(run_dir)
    names = instances.features["relation"].names
    no_relation = names.index(find_no_relation_label(names))
    curve = []
    for threshold in (None, *thresholds):
        cleaned = instances if threshold is None else clean_instances(instances, "relabel", threshold)[0]
        relation = np.asarray(cleaned["relation"])
        right = right_relations(cleaned, documents, None, no_relation)
        triples = relation != no_relation
        clean = np.array([label in allowed for label, allowed in zip(relation, right)])
        curve.append({"min_probability": threshold, "triples": int(triples.sum()),
                      "clean_triples": int((clean & triples).sum()), "clean_share": float(clean[triples].mean())})
    return curve


def semeval_truth() -> dict[str, int]:
    from finecl_hf.learning_order.sentence_data import read_semeval_split

    sentences = read_semeval_split("train")
    return dict(zip(sentences["uid"], sentences["relation"]))


def evaluations(name: str, instances_of_run: Any) -> dict[str, Any]:
    if name != "natural":
        return {name: None}
    document = np.asarray(instances_of_run["document_index"])
    return {"natural": document >= NATURAL_TUNING_DOCUMENTS, "natural_tuning": document < NATURAL_TUNING_DOCUMENTS}


def render(report: dict[str, Any]) -> str:
    lines = [f"Command: `{report['command']}`", ""]
    if report.get("rows"):
        rankings = ["combined (label_issue)", "type_agreement", "refit p(label)", "refit margin",
                    "combined + refit margin", "cleanlab find_label_issues", "cleanlab label quality"]
        lines += ["### Precision of the most suspect labels (share truly wrong)", "",
                  "| corpus | labels | wrong | " + " | ".join(f"{r} @{k}" for r in rankings for k in TOP) + " |",
                  "|---|---:|---:|" + "---:|" * (len(rankings) * len(TOP))]
        for row in report["rows"]:
            cells = [f"{row[f'precision@{k} {r}']:.3f}" if row[f"precision@{k} {r}"] is not None else "n/a"
                     for r in rankings for k in TOP]  # fmt: skip
            lines.append(f"| {row['corpus']} | {row['labels']} | {row['wrong_rate']:.3f} | " + " | ".join(cells) + " |")
        suggestions = ["finecl-hf suggested_relation", "trusted refit, no pair rule", "every-label fit, pair rule",
                       "cleanlab predicted label"]
        lines += ["", "### Suggested relation: accuracy on the truly wrong labels", "",
                  "| corpus | " + " | ".join(suggestions) + " | ours, on flagged wrong labels |", "|---|" + "---:|" * 5]
        for row in report["rows"]:
            flagged = row["suggestion accuracy on flagged wrong labels"]
            lines.append(f"| {row['corpus']} | " + " | ".join(f"{row[f'suggestion accuracy {s}']:.3f}" for s in suggestions)
                         + f" | {'n/a' if flagged is None else f'{flagged:.3f}'} |")
        lines += ["", "### Flags", "", "| corpus | share flagged (mixture) | flagged | precision | recall | cleanlab flagged | cleanlab precision |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for row in report["rows"]:
            def number(value):
                return "n/a" if value is None else f"{value:.3f}"
            lines.append(f"| {row['corpus']} | {row['issue_share']:.3f} | {row['flagged']} | {number(row['flagged_precision'])} | "
                         f"{number(row['flagged_recall'])} | {row['cleanlab_flagged']} | {number(row['cleanlab_flagged_precision'])} |")
    if report.get("threshold_curve"):
        lines += ["", f"### τ of the `relabel` arm ({report['threshold_run']})", "",
                  "| τ | triples | clean triples | clean share |", "|---:|---:|---:|---:|"]
        for point in report["threshold_curve"]:
            tau = "before cleaning" if point["min_probability"] is None else f"{point['min_probability']:g}"
            lines.append(f"| {tau} | {point['triples']} | {point['clean_triples']} | {point['clean_share']:.4f} |")
        lines += ["", f"Chosen: τ = {report['chosen_threshold']:g} (highest clean share)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="corpus names of stage-1 runs under --output_dir")
    parser.add_argument("--output_dir", default="outputs/bench_denoising_rerun", help="the denoising benchmark's folder")
    parser.add_argument("--results_dir", default="outputs/bench_label_issues", help="where label_issues.{md,json} go")
    parser.add_argument("--choose_threshold", action="store_true", help="only the τ curve of the (tuning) runs")
    parser.add_argument("--thresholds", nargs="+", type=float, default=list(THRESHOLDS))
    parser.add_argument("--output_name", help="file name (no suffix) of the results (default: label_issues, or "
                        "relabel_threshold with --choose_threshold)")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_label_issues.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {"command": command, "rows": []}
    for name in args.runs:
        run_dir = Path(args.output_dir) / name / "stage1-main"
        if not run_dir.is_dir():  # a stage-1 output folder of `finecl reproduce` (stage1/<corpus>)
            run_dir = Path(args.output_dir) / name
        if args.choose_threshold:
            curve = relabel_threshold_curve(run_dir, tuple(args.thresholds))
            best = max((point for point in curve if point["min_probability"] is not None), key=lambda p: p["clean_share"])
            report.update(threshold_run=name, threshold_curve=curve, chosen_threshold=best["min_probability"])
            continue
        instances, _, _ = load_run(run_dir)
        truth = semeval_truth() if name.startswith("semeval") else None
        report["rows"] += measure_run(name, run_dir, truth, evaluations(name, instances))
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    stem = args.output_name or ("relabel_threshold" if args.choose_threshold else "label_issues")
    (results / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (results / f"{stem}.md").write_text(render(report))
    print(render(report))
    return report


if __name__ == "__main__":
    main()
