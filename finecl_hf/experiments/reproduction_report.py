"""What `finecl reproduce` reports: every probe and paired comparison (`results.json`), the Markdown tables
(`results.md`) and the plots, built from whatever steps have finished (an interrupted run reports its whole arms).

Comparisons are made in points on each probe's headline metric (`HEADLINE_METRICS`: accuracy on Wiki80, the official
macro-F1 on SemEval) and always paired: the same k-shot draws and test examples for both encoders, and for arms with
several pre-training seeds the difference of each seed's pair, the seeds resampled too (`compare_probe_groups`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .design import ARMS, BASELINE_ARM, DESIGNS, NO_PRETRAINING, ORACLE_ARM, PRETRAINING_CORPORA, Arm
from .reproduction_plan import (
    BUDGET_CURVE_TASK,
    ReproduceArguments,
    ReproductionLayout,
    budget_curve_steps_taken,
    fine_tuning_encoders,
)

HEADLINE_METRICS = {"wiki80": "accuracy", "semeval": "macro_f1_official", BUDGET_CURVE_TASK: "accuracy"}
FINE_TUNING_METRICS = {"test_macro_f1_official": "official macro-F1", "test_micro_f1": "micro-F1"}


def headline_metric(task: str) -> str:
    return HEADLINE_METRICS.get(task, "accuracy")


# ------------------------------------------------------------------------------------------------------ loading
def load_probe(folder: Path, task: str):
    """The saved `ProbeResult` of one encoder on one task, or None when that probe has not run."""
    from finecl_hf.probing import ProbeResult

    saved = sorted((folder / task).glob("0-*")) if (folder / task).is_dir() else []
    return ProbeResult.load(saved[0]) if saved else None


def load_probes(args: ReproduceArguments, layout: ReproductionLayout) -> dict[str, dict[str, Any]]:
    """`{encoder id: {task: ProbeResult}}` for every finished probe (`none` and every arm key)."""
    probes = {}
    for encoder in [NO_PRETRAINING, *(arm.key for arm in args.planned_arms())]:
        found = {task: load_probe(layout.probes(encoder), task) for task in args.probe_tasks}
        found = {task: result for task, result in found.items() if result is not None}
        if found:
            probes[encoder] = found
    return probes


# -------------------------------------------------------------------------------------------------- comparisons
def paired_comparisons(args: ReproduceArguments, probes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """ERICA − none and every other arm − ERICA, per corpus and probe task, on the headline metric (points).

    Seeds pair up: arm A with seed s is compared with ERICA with seed s; only seeds both have are used.
    """
    from finecl_hf.probing import compare_probe_groups

    comparisons = []

    def compare(corpus: str, task: str, a_name: str, b_name: str, seeds: list[int], a: list, b: list) -> None:
        if not a or None in a or None in b:  # an arm or its partner not probed (yet) on this task
            return
        comparison = compare_probe_groups(a, b, headline_metric(task))
        comparisons.append({
            "corpus": corpus, "probe": task, "a": a_name, "b": b_name, "metric": headline_metric(task),
            **difference_fields(comparison.difference), "n": comparison.n, "seeds": seeds,
            "num_test_examples": comparison.num_test_examples,
        })  # fmt: skip
        if comparison.per_seed:  # with three seeds the pooled CI's seed resampling is coarse: show each seed's too
            comparisons[-1]["per_seed"] = [{"seed": seed, **difference_fields(interval)}
                                           for seed, interval in zip(seeds, comparison.per_seed)]  # fmt: skip

    arms = [arm for arm in args.planned_arms() if arm.key in probes]
    for corpus in ordered_corpora(args):
        by_name: dict[str, dict[int, Arm]] = {}
        for arm in (arm for arm in arms if arm.corpus == corpus):
            by_name.setdefault(arm.name, {})[arm.seed] = arm
        for task in args.probe_tasks:
            results = {name: {seed: probes[arm.key].get(task) for seed, arm in by_seed.items()}
                       for name, by_seed in by_name.items()}  # fmt: skip
            baseline = results.get(BASELINE_ARM, {})
            seeds = sorted(baseline)
            none = probes.get(NO_PRETRAINING, {}).get(task)
            compare(corpus, task, BASELINE_ARM, NO_PRETRAINING, seeds, [baseline[seed] for seed in seeds], [none])
            for name, by_seed in results.items():
                if name != BASELINE_ARM:
                    seeds = sorted(set(by_seed) & set(baseline))
                    compare(corpus, task, name, BASELINE_ARM, seeds, [by_seed[seed] for seed in seeds],
                            [baseline[seed] for seed in seeds])  # fmt: skip
    return comparisons


def difference_fields(interval) -> dict[str, float]:
    """A difference's estimate and 95% CI (an `Interval`, in points) as report fields."""
    return {"difference": round(interval.estimate, 4), "ci_low": round(interval.low, 4),
            "ci_high": round(interval.high, 4)}  # fmt: skip


def noise_costs(args: ReproduceArguments, probes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """What the wrong labels cost ERICA: clean ERICA − noisy ERICA per noisy corpus and probe task (points), with the
    CI over draws, test examples and the noisy corpus's seeds (the clean arm's first seed is shared by every seed)."""
    from finecl_hf.probing import compare_probe_groups

    erica = {}
    for arm in args.planned_arms():
        if arm.name == BASELINE_ARM and arm.key in probes:
            erica.setdefault(arm.corpus, []).append(probes[arm.key])
    costs = []
    for corpus in ordered_corpora(args):
        if corpus == "clean" or corpus not in erica or "clean" not in erica:
            continue
        for task in args.probe_tasks:
            noisy = [by_task.get(task) for by_task in erica[corpus]]
            clean = erica["clean"][0].get(task)
            if clean is None or None in noisy:
                continue
            lost = compare_probe_groups(noisy, [clean], headline_metric(task)).difference  # noisy − clean
            costs.append({"corpus": corpus, "probe": task, "metric": headline_metric(task),
                          "cost": round(-lost.estimate, 4), "ci_low": round(-lost.high, 4),
                          "ci_high": round(-lost.low, 4)})  # fmt: skip
    return costs


def won_back(comparisons: list[dict[str, Any]], costs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each arm − ERICA difference as a share of its corpus's noise cost (where the cost is positive)."""
    cost_of = {(item["corpus"], item["probe"]): item for item in costs}
    shares = []
    for item in comparisons:
        cost = cost_of.get((item["corpus"], item["probe"]))
        if item["b"] != BASELINE_ARM or cost is None or cost["cost"] <= 0:
            continue
        shares.append({"corpus": item["corpus"], "probe": item["probe"], "arm": item["a"],
                       "difference": item["difference"], "cost": cost["cost"],
                       "share": round(item["difference"] / cost["cost"], 4)})  # fmt: skip
    return shares


def headline_comparisons(args: ReproduceArguments, comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The comparisons the design declared as its headline before running, in its order (those measured so far)."""
    by_key = {(item["corpus"], item["probe"], item["a"], item["b"]): item for item in comparisons}
    return [by_key[key] for key in DESIGNS[args.preset].headline if key in by_key]


def ordered_corpora(args: ReproduceArguments) -> list[str]:
    """The corpora in the registry's order (by noise), whatever order they ran in."""
    return [name for name in PRETRAINING_CORPORA if name in args.corpora]


# ------------------------------------------------------------------------------------------------------ collect
def collect(
    args: ReproduceArguments, layout: ReproductionLayout, backbone: str, seconds: dict[str, float]
) -> dict[str, Any]:
    """Every number of the experiment in one JSON-able dict."""
    probes = load_probes(args, layout)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "arguments": asdict(args),
        "backbone": backbone,
        "seconds_per_step": seconds,
        "learning_order": {},
        "probes": {
            encoder: {task: {metric: asdict(interval) for metric, interval in result.summary.items()}
                      for task, result in by_task.items()}
            for encoder, by_task in probes.items()
        },  # fmt: skip
        "comparisons": paired_comparisons(args, probes),
        "noise_costs": noise_costs(args, probes),
        "budget_curve": budget_curve(args, layout),
        "pretraining": {},
    }
    for corpus in ordered_corpora(args):
        report = layout.stage1(corpus) / "learning_order_report.json"
        if report.exists():
            results["learning_order"][corpus] = json.loads(report.read_text())
    for arm in args.planned_arms():
        losses = final_pretraining_losses(layout.stage2(arm))
        if losses:
            results["pretraining"][arm.key] = losses
    results["headline"] = headline_comparisons(args, results["comparisons"])
    results["won_back"] = won_back(results["comparisons"], results["noise_costs"])
    fine_tuning = collect_fine_tuning(args, layout, backbone)
    if fine_tuning:
        results["fine_tuning"] = fine_tuning
    table2 = layout.root / "table2" / "table2.json"
    if args.table2 and table2.exists():
        results["table2"] = json.loads(table2.read_text())["results"]
    return results


def budget_curve(args: ReproduceArguments, layout: ReproductionLayout) -> list[dict[str, Any]]:
    """Probe accuracy on the held-out tuning split against stage-2 steps, for the budget-curve arm."""
    curve = []
    for step in budget_curve_steps_taken(args):
        result = load_probe(layout.budget_curve(step), BUDGET_CURVE_TASK)
        if result is not None:
            curve.append({"step": step, **asdict(result.summary[headline_metric(BUDGET_CURVE_TASK)])})
    return curve


def final_pretraining_losses(checkpoint: Path) -> dict[str, float]:
    """The last logged value of the total loss and of each component (L_ED, L_RD, L_MLM)."""
    candidates = [checkpoint / "trainer_state.json", *checkpoint.glob("checkpoint-*/trainer_state.json")]
    states = [json.loads(path.read_text()) for path in candidates if path.exists()]
    if not states:
        return {}
    last: dict[str, float] = {}
    for entry in max(states, key=lambda state: state["global_step"])["log_history"]:
        last.update({key: value for key, value in entry.items() if "loss" in key and isinstance(value, float)})
    return last


def collect_fine_tuning(args: ReproduceArguments, layout: ReproductionLayout, backbone: str) -> dict[str, Any]:
    """`{encoder: {fraction: {metric: {mean, std, n, values}}}}` of the finished SemEval fine-tuning runs."""
    scores: dict[str, Any] = {}
    for name in fine_tuning_encoders(args, layout, backbone):
        for fraction in args.train_fractions:
            folder = layout.fine_tuning(name, fraction)
            if len(args.seeds) > 1 and (folder / "seed_summary.json").exists():
                summary = json.loads((folder / "seed_summary.json").read_text())["metrics"]
                values = {metric: summary[metric] for metric in FINE_TUNING_METRICS}
            elif len(args.seeds) == 1 and (folder / "all_results.json").exists():
                metrics = json.loads((folder / "all_results.json").read_text())
                values = {metric: {"mean": metrics[metric], "std": 0.0, "n": 1} for metric in FINE_TUNING_METRICS}
            else:
                continue
            scores.setdefault(name, {})[f"{fraction * 100:g}%"] = values
    return scores


# ----------------------------------------------------------------------------------------------------- markdown
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


# -------------------------------------------------------------------------------------------------------- plots
Point = tuple[str, float, float, float]  # (corpus, estimate, CI low, CI high)


def plot_noise_curves(results: dict[str, Any], path: Path) -> Path:
    """Probe score against the corpus's noise rate, one line per arm (mean over seeds), 95% CIs as bands (widened to
    cover every seed's CI); the encoder without relation pre-training as a dashed line; the natural corpus as
    separate markers at its measured noise rate."""

    def draw(axis, task: str) -> None:
        metric = headline_metric(task)
        for index, name in enumerate(ARMS):
            draw_points(axis, results, arm_points(results, name, task, metric), f"C{index}", ARMS[name].label, index)
        baseline = results["probes"].get(NO_PRETRAINING, {}).get(task, {}).get(metric)
        if baseline:
            axis.axhline(baseline["estimate"], color="grey", linestyle="--", label="no relation pre-training")
            axis.axhspan(baseline["low"], baseline["high"], color="grey", alpha=0.1)
        axis.set(ylabel=f"{task} {metric} (points)", title=f"{task}: {results['arguments']['probe_shots']}-shot probe")

    return plot_against_noise(results, path, draw)


def plot_paired_differences(results: dict[str, Any], path: Path) -> Path:
    """Each arm's paired difference from ERICA (and ERICA's from no relation pre-training) against the noise rate,
    with its 95% CI as a band: the comparisons of `results.json`, which carry the pairing the per-encoder CIs lack."""

    def draw(axis, task: str) -> None:
        pairs = sorted({(item["a"], item["b"]) for item in results["comparisons"] if item["probe"] == task})
        for index, (a, b) in enumerate(pairs):
            by_corpus = {item["corpus"]: item for item in results["comparisons"]
                         if (item["probe"], item["a"], item["b"]) == (task, a, b)}  # fmt: skip
            points = [(corpus, item["difference"], item["ci_low"], item["ci_high"])
                      for corpus in PRETRAINING_CORPORA if (item := by_corpus.get(corpus))]  # fmt: skip
            draw_points(axis, results, points, f"C{index}", f"{a} − {b}", index)
        axis.axhline(0, color="black", linewidth=0.8)
        axis.set(ylabel=f"paired difference, {task} {headline_metric(task)} (points)",
                 title=f"{task}: a − b with 95% CI (draws, test examples, seeds)")  # fmt: skip

    return plot_against_noise(results, path, draw)


def plot_won_back(results: dict[str, Any], path: Path) -> Path:
    """One bar per arm and noisy corpus: the share of the noise cost (clean ERICA − noisy ERICA) it wins back, with the
    arm's 95% CI over ERICA divided by the same cost; one panel per probe task."""
    import matplotlib.pyplot as plt

    tasks = results["arguments"]["probe_tasks"]
    comparisons = {(item["corpus"], item["probe"], item["a"]): item for item in results["comparisons"]
                   if item["b"] == BASELINE_ARM}  # fmt: skip
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        items = [item for item in results["won_back"] if item["probe"] == task]
        labels = [f"{item['corpus']}: {item['arm']}" for item in items]
        shares = [100 * item["share"] for item in items]
        errors = [[100 * (item["difference"] - comparisons[(item["corpus"], task, item["arm"])]["ci_low"]) / item["cost"]
                   for item in items],
                  [100 * (comparisons[(item["corpus"], task, item["arm"])]["ci_high"] - item["difference"]) / item["cost"]
                   for item in items]]  # fmt: skip
        axis.barh(range(len(items)), shares, xerr=errors, color="C0", capsize=3)
        axis.set_yticks(range(len(items)), labels, fontsize=7)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.axvline(100, color="grey", linestyle="--", linewidth=0.8)
        axis.set(xlabel="share of the noise cost won back (%), 95% CI", title=f"{task} {headline_metric(task)}")
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_against_noise(results: dict[str, Any], path: Path, draw) -> Path:
    """One panel per probe task, x = share of wrong labels in the pre-training corpus; `draw(axis, task)` fills it."""
    import matplotlib.pyplot as plt

    tasks = results["arguments"]["probe_tasks"]
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        draw(axis, task)
        axis.set(xlabel="share of wrong labels in the pre-training corpus (squares: natural distant labels)",
                 xlim=(-0.03, 0.56))
        axis.xaxis.label.set_size(8)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def draw_points(axis, results: dict[str, Any], points: list[Point], color: str, label: str, index: int) -> None:
    """The corrupted corpora as a line with its CI band; the natural corpus as a square with error bars at its
    measured noise rate (shifted by `index` so that series do not hide each other)."""
    synthetic = [point for point in points if PRETRAINING_CORPORA[point[0]].noise_rate is not None]
    if synthetic:
        x = [PRETRAINING_CORPORA[corpus].noise_rate for corpus, *_ in synthetic]
        axis.plot(x, [point[1] for point in synthetic], marker="o", color=color, label=label)
        axis.fill_between(x, [point[2] for point in synthetic], [point[3] for point in synthetic], color=color, alpha=0.15)
    for _corpus, estimate, low, high in (point for point in points if point not in synthetic):
        axis.errorbar([natural_noise_rate(results) + 0.01 * index], [estimate], yerr=[[estimate - low], [high - estimate]],
                      marker="s", color=color, capsize=3, linestyle="none")  # fmt: skip


def arm_points(results: dict[str, Any], name: str, task: str, metric: str) -> list[Point]:
    """(corpus, mean over seeds, lowest CI bound, highest CI bound) of one arm, per corpus in noise order."""
    points = []
    for corpus in PRETRAINING_CORPORA:
        intervals = [by_task[task][metric] for encoder, by_task in results["probes"].items()
                     if encoder.startswith(f"{corpus}/{name}/") and task in by_task]  # fmt: skip
        if intervals:
            points.append((corpus, float(sum(i["estimate"] for i in intervals) / len(intervals)),
                           min(i["low"] for i in intervals), max(i["high"] for i in intervals)))  # fmt: skip
    return points


def natural_noise_rate(results: dict[str, Any]) -> float:
    """Share of wrong distant labels of the natural corpus, from its stage-1 report (0.3 if it has not run)."""
    report = results["learning_order"].get("natural", {})
    precision = report.get("subset_precision", {}).get("all", {}).get("precision")
    return 1 - precision if isinstance(precision, float) and not math.isnan(precision) else 0.3


def plot_budget_curve(results: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    curve = results["budget_curve"]
    figure, axis = plt.subplots(figsize=(5, 3.5))
    steps = [point["step"] for point in curve]
    axis.plot(steps, [point["estimate"] for point in curve], marker="o")
    axis.fill_between(steps, [point["low"] for point in curve], [point["high"] for point in curve], alpha=0.2)
    axis.set(xlabel="stage-2 steps (ERICA, clean corpus)", ylabel="wiki80_tuning accuracy (points)",
             title="Budget curve (held-out tuning split)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_results(results: dict[str, Any], root: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    written = [plot_noise_curves(results, root / "probe_vs_noise.png")]
    if results["comparisons"]:
        written.append(plot_paired_differences(results, root / "paired_differences.png"))
    if results.get("won_back"):
        written.append(plot_won_back(results, root / "noise_cost_won_back.png"))
    if results["budget_curve"]:
        written.append(plot_budget_curve(results, root / "budget_curve.png"))
    return written


# -------------------------------------------------------------------------------------------------------- write
def strict_json(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None, so that results.json is valid JSON for any reader (a
    ROC-AUC of a corpus without wrong labels is undefined)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def write_report(
    args: ReproduceArguments, layout: ReproductionLayout, backbone: str, seconds: dict[str, float]
) -> dict[str, Any]:
    root = layout.root
    results = collect(args, layout, backbone, seconds)
    (root / "results.json").write_text(json.dumps(strict_json(results), indent=2, allow_nan=False) + "\n")
    markdown = render_markdown(results)
    (root / "results.md").write_text(markdown)
    plots = plot_results(results, root)
    print("\n" + markdown)
    print("Written: " + ", ".join(str(path) for path in [root / "results.md", root / "results.json", *plots]))
    return results


__all__ = ["HEADLINE_METRICS", "collect", "paired_comparisons", "render_markdown", "write_report"]
