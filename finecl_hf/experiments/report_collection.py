"""What `finecl reproduce` collects: every finished probe, the paired comparisons of the arms, the cost of noise and
the share of it each arm wins back, the budget curve and the fine-tuning results (the `results.json` of the report).

Comparisons are made in points on each probe's headline metric (`HEADLINE_METRICS`: accuracy on Wiki80, the official
macro-F1 on SemEval) and always paired: the same k-shot draws and test examples for both encoders, and for arms with
several pre-training seeds the difference of each seed's pair, the seeds resampled too (`compare_probe_groups`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .design import BASELINE_ARM, DESIGNS, NO_PRETRAINING, PRETRAINING_CORPORA, Arm
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



__all__ = [
    "FINE_TUNING_METRICS",
    "HEADLINE_METRICS",
    "collect",
    "headline_metric",
    "load_probes",
    "noise_costs",
    "ordered_corpora",
    "paired_comparisons",
    "won_back",
]
