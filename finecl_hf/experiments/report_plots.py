"""The plots of `finecl reproduce`'s report: probe score against noise, paired differences, share won back, the budget
curve; from the collected results (`report_collection`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .design import ARMS, BASELINE_ARM, NO_PRETRAINING, PRETRAINING_CORPORA
from .report_collection import headline_metric

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



__all__ = ["plot_results"]
