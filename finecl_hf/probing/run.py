"""What `finecl probe` runs (the parser is `finecl_hf.commands.probe`).

    finecl probe --model_name_or_path ENCODER [ENCODER ...] --task wiki80 semeval [--output_dir DIR]

Probes every encoder on every task, prints a Markdown table (mean over draws with its 95% CI, in points) and, with
several encoders, the paired difference of each with the first. Bad input ends with one paragraph on stderr, exit 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..representations.encoder import load_frozen_encoder
from .arguments import ProbeArguments
from .probe import ProbeResult, check_probe_inputs, class_labels, compare_probes, probe_encoder
from .scoring import metric_groups
from .tasks import probe_task

RESULTS_FILE = "probe_results.json"


def run_probes(args: ProbeArguments) -> dict[str, Any]:
    """Probe every encoder on every task; returns (and writes, with `--output_dir`) results and paired comparisons.

    Every input (tasks, splits, shots, encoder folders) is checked before the first sentence is encoded, so bad input
    leaves neither the feature cache nor `--output_dir` touched.
    """
    settings = args.settings()
    cache_dir = False if args.no_feature_cache else args.feature_cache_dir
    splits = {name: _checked_splits(args, name, settings) for name in args.task}
    for encoder in args.model_name_or_path:
        load_frozen_encoder(encoder)  # raises, naming the argument, for a folder that is not an encoder
    results: dict[str, list[ProbeResult]] = {name: [] for name in args.task}
    for encoder in args.model_name_or_path:
        frozen = load_frozen_encoder(encoder)
        for name, (shot_split, test_split, shot_rows, test_rows) in splits.items():
            results[name].append(
                probe_encoder(
                    frozen, shot_rows, test_rows, settings, dataset=name, shot_split=shot_split,
                    test_split=test_split, cache_dir=cache_dir, batch_size=args.batch_size,
                )
            )  # fmt: skip
    comparisons = []
    for name, (baseline, *others) in results.items():
        for other in others:
            for metric in metric_groups(baseline.label_names):
                comparisons.append({"probe": name, **compare_probes(other, baseline, metric).to_dict()})
    report = {
        "settings": vars(settings),
        "results": [result.to_dict() for task_results in results.values() for result in task_results],
        "comparisons": comparisons,
    }
    if args.output_dir is not None:
        output = Path(args.output_dir)
        for name, task_results in results.items():
            for index, result in enumerate(task_results):
                result.save(output / name / f"{index}-{_slug(result.encoder)}")
        (output / RESULTS_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(render_report(results, comparisons))
    return report


def _checked_splits(args: ProbeArguments, name: str, settings):
    task = probe_task(name)
    dataset = task.load(args.dataset_path)
    shot_split, test_split = args.shot_split or task.shot_split, args.test_split or task.test_split
    for argument, split in (("shot_split", shot_split), ("test_split", test_split)):
        if split not in dataset:
            raise UsageError(f"{argument}={split!r} is not a split of the {name} dataset (splits: {list(dataset)}).")
    shot_labels, label_names = class_labels(dataset[shot_split], f"shot_split={shot_split!r}")
    test_labels, _ = class_labels(dataset[test_split], f"test_split={test_split!r}")
    check_probe_inputs(
        shot_labels, test_labels, label_names, settings.shots, shot_split, test_split, settings.allow_fewer_shots
    )
    return shot_split, test_split, dataset[shot_split], dataset[test_split]


def _slug(path: str) -> str:
    return re.sub(r"[^\w.-]+", "_", Path(path).name or "encoder")[:60]


def render_report(results: dict[str, list[ProbeResult]], comparisons: list[dict]) -> str:
    lines = []
    for task_name, task_results in results.items():
        metrics = list(task_results[0].summary)
        settings = task_results[0].settings
        lines += [
            f"\n### {task_name}: {settings.shots}-shot linear probe, {settings.num_draws} draws, "
            f"{task_results[0].references.shape[0]} test examples (points, mean [95% CI])\n",
            "| encoder | " + " | ".join(metrics) + " | encode s (test/shots) |",
            "|---" * (len(metrics) + 2) + "|",
        ]
        for result in task_results:
            scores = " | ".join(str(result.summary[metric]) for metric in metrics)
            timing = f"{result.timings['encode_test_seconds']:.0f}/{result.timings['encode_shots_seconds']:.0f}"
            lines.append(f"| {result.encoder} | {scores} | {timing} |")
    if comparisons:
        lines += ["\n### Paired differences (a − b, points, 95% CI over draws and test examples)\n",
                  "| probe | a | b | metric | difference | 95% CI |", "|---|---|---|---|---|---|"]
        for item in comparisons:
            lines.append(
                f"| {item['probe']} | {item['a']} | {item['b']} | {item['metric']} | {item['difference']:+.2f} | "
                f"[{item['ci_low']:+.2f}, {item['ci_high']:+.2f}] |"
            )
    return "\n".join(lines)


__all__ = ["RESULTS_FILE", "render_report", "run_probes"]
