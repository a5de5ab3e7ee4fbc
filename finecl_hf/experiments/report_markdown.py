"""The Markdown of `finecl reproduce`'s report (`results.md`): probe tables, paired comparisons with their intervals and
per-seed differences, the detectors, the fine-tuning results; from the collected results (`report_collection`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .design import ARMS, BASELINE_ARM, NO_PRETRAINING, ORACLE_ARM
from .report_collection import FINE_TUNING_METRICS, headline_metric


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def interval_text(interval: dict[str, float]) -> str:
    return f"{interval['estimate']:.2f} [{interval['low']:.2f}, {interval['high']:.2f}]"


def render_markdown(results: dict[str, Any]) -> str:
    args = results["arguments"]
    tasks = args["probe_tasks"]
    total_minutes = sum(results["seconds_per_step"].values()) / 60
    sections = [
        f"# Does learning-order weighting make a better encoder under label noise? ({results['date']})",
        f"Command: `{results['command']}`; backbone `{'/'.join(Path(results['backbone']).parts[-2:])}`; "
        f"{total_minutes:.0f} min of steps. Stage 2: {args['pretrain_steps']} steps × {args['pretrain_batch_size']} "
        f"documents, lr {args['pretrain_learning_rate']:g}, max_length {args['pretrain_max_length']}. Probe: "
        f"{args['probe_shots']}-shot linear probe on frozen [e_head; e_tail], {args['probe_draws']} draws shared by "
        "every encoder; points, mean over draws [95% bootstrap CI over draws and test examples].",
        "## Headline comparisons (declared in the design before running)",
        comparison_table(results.get("headline", [])) if results.get("headline") else "Not measured yet.",
        "## Probe of every encoder",
        probe_table(results, tasks),
        "## Paired comparisons",
        "Difference a − b in points (Wiki80: accuracy; SemEval: official macro-F1), 95% CI over draws and test "
        "examples, and over pre-training seeds where an arm has several (`seeds`, resampled with replacement; "
        "`each seed` gives every seed's own difference, since three seeds make that resampling coarse).",
        comparison_table(results["comparisons"]),
    ]
    if results.get("won_back"):
        sections += [
            "## Share of the noise cost won back",
            "Noise cost = clean ERICA − noisy ERICA (points, 95% CI); each arm's difference over ERICA as a share of it.",
            markdown_table(["corpus", "probe", "noise cost [95% CI]"],
                           [[item["corpus"], item["probe"], f"{item['cost']:+.2f} [{item['ci_low']:+.2f}, "
                             f"{item['ci_high']:+.2f}]"] for item in results["noise_costs"]]),
            markdown_table(["corpus", "probe", "arm", "arm − ERICA", "share won back"],
                           [[item["corpus"], item["probe"], item["arm"], f"{item['difference']:+.2f}",
                             f"{100 * item['share']:.0f}%"] for item in results["won_back"]]),
        ]  # fmt: skip
    recovered = oracle_share_text(results["comparisons"])
    if recovered:
        sections.append(recovered)
    if results["budget_curve"]:
        sections += [
            "## Budget curve (held-out `wiki80_tuning` split, never reported elsewhere)",
            f"ERICA on the `{args['budget_curve_corpus']}` corpus, probed every {args['budget_curve_interval']} steps.",
            markdown_table(["stage-2 step", "accuracy [95% CI]"],
                           [[point["step"], interval_text(point)] for point in results["budget_curve"]]),
        ]  # fmt: skip
    if results["learning_order"]:
        sections += ["## Stage 1: every cleanliness score as a detector of the wrong labels (ROC-AUC)",
                     detector_table(results["learning_order"])]
    if results.get("fine_tuning"):
        sections += ["## SemEval fine-tuning (official test set, mean ± std over seeds)", fine_tuning_table(results)]
    if results.get("table2"):
        rows = [[name, value["instances"], f"{value['label_precision']:.3f}", f"{100 * value['macro_f1_official']:.2f}"]
                for name, value in results["table2"].items()]
        sections += ["## Table 2: all noisy labels vs the first-epoch subset A_0 (SemEval, 30% labels flipped)",
                     markdown_table(["training set", "instances", "label precision", "official macro-F1"], rows)]
    return "\n\n".join(sections) + "\n"


def probe_table(results: dict[str, Any], tasks: list[str]) -> str:
    header = ["encoder", "arm", *(f"{task} {headline_metric(task)}" for task in tasks)]
    rows = []
    for encoder, by_task in results["probes"].items():
        arm = "no relation pre-training" if encoder == NO_PRETRAINING else ARMS[encoder.split("/")[1]].label
        rows.append([encoder, arm, *(interval_text(by_task[task][headline_metric(task)]) if task in by_task else "–"
                                     for task in tasks)])
    return markdown_table(header, rows)


def comparison_table(comparisons: list[dict[str, Any]]) -> str:
    rows = [[item["corpus"], item["probe"], f"{item['a']} − {item['b']}", f"{item['difference']:+.2f}",
             f"[{item['ci_low']:+.2f}, {item['ci_high']:+.2f}]", ", ".join(map(str, item["seeds"])),
             per_seed_text(item), item["n"], "yes" if item["ci_low"] > 0 or item["ci_high"] < 0 else "no"]
            for item in comparisons]  # fmt: skip
    header = ["corpus", "probe", "a − b", "difference", "95% CI", "seeds", "each seed", "n draws", "CI excludes 0"]
    return markdown_table(header, rows)


def per_seed_text(comparison: dict[str, Any]) -> str:
    """Each seed's own difference, e.g. `+0.68, +1.02, +0.31` (– with one seed)."""
    return ", ".join(f"{item['difference']:+.2f}" for item in comparison.get("per_seed", [])) or "–"


def oracle_share_text(comparisons: list[dict[str, Any]]) -> str:
    """For each corpus and probe with an oracle arm: the share of the oracle's gain over ERICA each arm wins back."""
    lines = []
    for item in comparisons:
        if item["a"] != ORACLE_ARM or item["difference"] <= 0:
            continue
        for other in comparisons:
            if (other["corpus"], other["probe"], other["b"]) == (item["corpus"], item["probe"], BASELINE_ARM) and \
                    other["a"] not in (ORACLE_ARM, BASELINE_ARM):
                share = other["difference"] / item["difference"]
                lines.append(f"- {item['corpus']}, {item['probe']}: `{other['a']}` wins back {100 * share:.0f}% of the "
                             f"oracle's {item['difference']:+.2f} points over ERICA.")
    return "Share of the oracle's gain:\n\n" + "\n".join(lines) if lines else ""


def detector_table(reports: dict[str, Any]) -> str:
    names = sorted({name for report in reports.values() for name in report.get("scores", {})})
    rows = []
    for corpus, report in reports.items():
        scores = report.get("scores", {})
        # A corpus without wrong labels (clean) has no ROC-AUC: shown as "–", not NaN.
        rows.append([corpus, *(auc_text(scores[name]["roc_auc"]) if name in scores else "–" for name in names)])
    return markdown_table(["corpus", *names], rows)


def auc_text(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def fine_tuning_table(results: dict[str, Any]) -> str:
    fractions = [f"{fraction * 100:g}%" for fraction in results["arguments"]["train_fractions"]]
    header = ["encoder"] + [f"{fraction} {label}" for fraction in fractions for label in FINE_TUNING_METRICS.values()]
    rows = []
    for name, by_fraction in results["fine_tuning"].items():
        cells = []
        for fraction in fractions:
            for metric in FINE_TUNING_METRICS:
                score = by_fraction.get(fraction, {}).get(metric)
                cells.append(f"{100 * score['mean']:.2f} ± {100 * score['std']:.2f}" if score else "–")
        rows.append([name, *cells])
    return markdown_table(header, rows)



__all__ = ["markdown_table", "per_seed_text", "render_markdown"]
