"""`finecl reproduce`: the paper's comparison at a CPU-sized scale (`make reproduce`; flags scale it up to the real reproduction).

Same data everywhere, one command:

1. datasets: SemEval-2010 Task 8 and the shipped Re-DocRED documents distantly labelled with DocRED-train facts;
2. stage 1: learning order on the distant instances, with its denoising table (label precision of every learned
   subset A_k against the gold labels, ROC-AUC of "learned earlier" as a clean-label detector);
3. stage 2: pre-training from that learning order, once per weighting: `uniform` (ERICA, the paper's baseline),
   `paper` (FineCL, eq. 5) and optionally `reference` (the original code's weighting);
4. stage 3: every encoder, plus the encoder with no relation pre-training, fine-tuned on SemEval at each training
   fraction (1% and 10% by default) with several seeds, scored on the official test set (macro-F1, micro-F1);
5. the Table 2 experiment (paper §4.1): a classifier trained on all noisy labels vs one trained on the first-epoch
   subset A_0 only (`recipes/table2_noisy_semeval.py` + `recipes/table2.py`: SemEval train with 30% of its labels
   flipped stands in for distant data, because the gold test set then tells which subset trains better).

Writes `results.md` (Markdown tables, mean ± sample std over seeds), `results.json` (every number) and PNG plots
(percent learned per epoch, per-class learned share, F1 bars per setting) to `--output_dir`. A step whose output is
already complete is not run again, so an interrupted reproduction continues where it stopped (`--overwrite` redoes
everything).

At this scale (a 6-layer MiniLM, minutes of pre-training, 500 documents) FineCL is not expected to beat ERICA; the
point is a faithful, repeatable experiment. The real reproduction is the same command with bigger flags (README,
"Scaling up").
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from finecl_hf.commands.errors import UsageError, run_guarded

from .pipeline import (
    DemoPaths,
    PipelineArguments,
    dataset_commands,
    finetune_command,
    learning_order_commands,
    pretrain_command,
    resolve_inputs,
    run_step,
)

NAME = "reproduce"
# The Table 2 recipes are scripts of the repository checkout (recipes/), not of the installed package.
RECIPES = Path(__file__).resolve().parents[2] / "recipes"

NO_PRETRAINING = "none"
ENCODER_NAMES = {
    NO_PRETRAINING: "no relation pre-training",
    "uniform": "ERICA (--weighting uniform)",
    "paper": "FineCL (--weighting paper)",
    "reference": "FineCL, original code's weighting (--weighting reference)",
}


def encoder_name(weighting: str) -> str:
    """Table row name of an encoder; a weighting registered in `finecl_hf.weighting` without a name here gets one."""
    return ENCODER_NAMES.get(weighting, f"pre-training with --weighting {weighting}")
HEADLINE_METRICS = {"test_macro_f1_official": "official macro-F1", "test_micro_f1": "micro-F1"}


@dataclass
class ReproduceArguments(PipelineArguments):
    """Budgets of the reproduction; the defaults fit 2 CPU cores in under two hours."""

    output_dir: str = field(default="outputs/reproduce", metadata={"help": "Where every artifact goes."})
    learning_order_epochs: int = field(default=3, metadata={"help": "Stage-1 epochs k (paper: 15)."})
    pretrain_steps: int = field(default=60, metadata={"help": "Stage-2 optimizer steps per weighting (paper: 6,000)."})
    weightings: list[str] = field(
        default_factory=lambda: ["uniform", "paper"],
        metadata={"help": "Stage-2 weightings compared: `uniform` (ERICA), `paper` (FineCL), `reference`."},
    )
    train_fractions: list[float] = field(
        default_factory=lambda: [0.01, 0.1],
        metadata={"help": "SemEval training fractions (the paper's 0.01 0.1 1.0)."},
    )
    finetune_epochs_per_fraction: list[float] = field(
        default_factory=lambda: [15, 4],
        metadata={"help": "Stage-3 epochs for each of --train_fractions (small subsets need more epochs)."},
    )
    seeds: list[int] = field(default_factory=lambda: [42, 43, 44], metadata={"help": "Fine-tuning seeds."})
    table2_sentences: int = field(
        default=2000, metadata={"help": "Table 2: first N SemEval training sentences (30%% labels flipped); 0 = all."}
    )
    table2_epochs: int = field(default=3, metadata={"help": "Table 2: learning-order and classifier epochs."})
    skip_table2: bool = field(default=False, metadata={"help": "Do not run the Table 2 experiment."})
    overwrite: bool = field(default=False, metadata={"help": "Redo steps whose output already exists."})

    def __post_init__(self) -> None:
        from finecl_hf.weighting import WEIGHTING_SCHEMES

        unknown = sorted(set(self.weightings) - set(WEIGHTING_SCHEMES) - {NO_PRETRAINING})
        if unknown:
            raise UsageError(f"--weightings {unknown}: choose among {', '.join(WEIGHTING_SCHEMES)}.")
        if len(self.finetune_epochs_per_fraction) != len(self.train_fractions):
            raise UsageError(
                f"--finetune_epochs_per_fraction has {len(self.finetune_epochs_per_fraction)} values but "
                f"--train_fractions has {len(self.train_fractions)}: give one number of epochs per fraction."
            )
        if not self.seeds:
            raise UsageError("--seeds needs at least one seed.")


@dataclass
class Step:
    """One command of the reproduction and the file that proves it finished."""

    title: str
    command: list[str]
    done_when: Path


def fraction_name(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def fraction_folder(fraction: float) -> str:
    return f"fraction-{fraction:g}"


def encoders(args: ReproduceArguments, root: Path, backbone: str) -> dict[str, str]:
    """Encoder name -> checkpoint fine-tuned in stage 3."""
    return {NO_PRETRAINING: backbone, **{weighting: str(root / "stage2" / weighting) for weighting in args.weightings}}


def build_steps(args: ReproduceArguments, root: Path, backbone: str, corpus: Path) -> list[Step]:
    paths = DemoPaths(root)
    titles_and_commands = dataset_commands(corpus, paths, args.no_relation_ratio)
    steps = [
        Step(*titles_and_commands[0], paths.semeval / "README.md"),
        Step(*titles_and_commands[1], paths.distant / "README.md"),
    ]
    stage1, analysis = learning_order_commands(args, paths, backbone)
    steps += [Step(*stage1, paths.learning_order_dataset / "README.md"), Step(*analysis, paths.learning_order_report)]
    for weighting in args.weightings:
        output_dir = root / "stage2" / weighting
        command = pretrain_command(args, paths.learning_order_dataset, backbone, output_dir, weighting)
        # The model card is written last: its presence means the checkpoint folder is complete.
        steps.append(Step(f"stage 2: pre-training, {encoder_name(weighting)}", command, output_dir / "README.md"))
    for name, model in encoders(args, root, backbone).items():
        for fraction, epochs in zip(args.train_fractions, args.finetune_epochs_per_fraction):
            output_dir = root / "stage3" / name / fraction_folder(fraction)
            command = finetune_command(args, model, paths.semeval, output_dir, fraction, epochs, seeds=args.seeds)
            done_when = output_dir / ("seed_summary.json" if len(args.seeds) > 1 else "all_results.json")
            steps.append(Step(f"stage 3: {encoder_name(name)}, SemEval {fraction_name(fraction)}", command, done_when))
    if not args.skip_table2:
        steps += table2_steps(args, root, backbone)
    return steps


def table2_steps(args: ReproduceArguments, root: Path, backbone: str) -> list[Step]:
    noisy = root / "table2" / "noisy_semeval"
    return [
        Step("Table 2: learning order on SemEval train with 30% of the labels flipped", [
            sys.executable, str(RECIPES / "table2_noisy_semeval.py"), "--output_dir", str(noisy),
            "--model_name_or_path", backbone, "--num_sentences", str(args.table2_sentences),
            "--num_train_epochs", str(args.table2_epochs), "--seed", "13",
        ], noisy / "learning_order" / "README.md"),
        Step("Table 2: all noisy labels vs the first-epoch subset A_0, scored on the gold test set", [
            sys.executable, str(RECIPES / "table2.py"), "--learning_order_dir", str(noisy / "learning_order"),
            "--output_dir", str(root / "table2"), "--model_name_or_path", backbone,
            "--num_train_epochs", str(args.table2_epochs), "--match_steps", "--seed", str(args.seed),
        ], root / "table2" / "table2.json"),
    ]


def run_steps(steps: list[Step], overwrite: bool) -> dict[str, float]:
    """Run every unfinished step; returns seconds per step title (0 for a step already done)."""
    seconds = {}
    for number, step in enumerate(steps, start=1):
        if step.done_when.exists() and not overwrite:
            print(f"[{number}/{len(steps)}] {step.title}: already done ({step.done_when}), skipped", flush=True)
            seconds[step.title] = 0.0
            continue
        seconds[step.title] = run_step(number, len(steps), step.title, step.command)
    return seconds


def with_earlier_timings(seconds: dict[str, float], results_file: Path) -> dict[str, float]:
    """Steps skipped because an earlier invocation ran them keep the time that invocation measured."""
    if not results_file.exists():
        return seconds
    earlier = json.loads(results_file.read_text()).get("seconds_per_step", {})
    return {title: value or earlier.get(title, 0.0) for title, value in seconds.items()}


# --------------------------------------------------------------------------------------------------- collection
def collect(args: ReproduceArguments, root: Path, backbone: str, seconds: dict[str, float]) -> dict[str, Any]:
    """Every number of the reproduction in one JSON-able dict."""
    paths = DemoPaths(root)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "arguments": asdict(args),
        "backbone": backbone,
        "seconds_per_step": seconds,
        "learning_order": json.loads(paths.learning_order_report.read_text()),
        "pretraining": {weighting: final_pretraining_losses(root / "stage2" / weighting) for weighting in args.weightings},
        "fine_tuning": {},
    }
    for name in encoders(args, root, backbone):
        for fraction in args.train_fractions:
            folder = root / "stage3" / name / fraction_folder(fraction)
            results["fine_tuning"].setdefault(name, {})[fraction_name(fraction)] = fine_tuning_scores(folder, args.seeds)
    if not args.skip_table2:
        results["table2"] = json.loads((root / "table2" / "table2.json").read_text())["results"]
        results["table2_noise_detection"] = json.loads(
            (root / "table2" / "noisy_semeval" / "noise_detection.json").read_text()
        )
    return results


def fine_tuning_scores(folder: Path, seeds: list[int]) -> dict[str, dict[str, Any]]:
    """`{metric: {mean, std, n, values}}` of the headline test metrics."""
    if len(seeds) > 1:
        summary = json.loads((folder / "seed_summary.json").read_text())["metrics"]
        return {metric: summary[metric] for metric in HEADLINE_METRICS}
    metrics = json.loads((folder / "all_results.json").read_text())
    return {metric: {"mean": metrics[metric], "std": 0.0, "n": 1, "values": {str(seeds[0]): metrics[metric]}}
            for metric in HEADLINE_METRICS}


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


# ------------------------------------------------------------------------------------------------------ report
def mean_std(score: dict[str, Any]) -> str:
    return f"{100 * score['mean']:.2f} ± {100 * score['std']:.2f}"


def render_markdown(results: dict[str, Any]) -> str:
    args = results["arguments"]
    fractions = [fraction_name(fraction) for fraction in args["train_fractions"]]
    header = ["encoder"] + [f"{fraction} {label}" for fraction in fractions for label in HEADLINE_METRICS.values()]
    rows = []
    for name, by_fraction in results["fine_tuning"].items():
        rows.append([encoder_name(name)] + [mean_std(by_fraction[fraction][metric])
                                             for fraction in fractions for metric in HEADLINE_METRICS])
    sections = [
        f"# FineCL reproduction at CPU scale ({results['date']})",
        f"Command: `{results['command']}`; backbone `{'/'.join(Path(results['backbone']).parts[-2:])}`; "
        f"seeds {', '.join(map(str, args['seeds']))}; total {sum(results['seconds_per_step'].values()) / 60:.0f} min.",
        "## SemEval-2010 Task 8, official test set (2,717 sentences)",
        f"Mean ± sample std over {len(args['seeds'])} seeds, in percent. Stage 2: {args['pretrain_steps']} steps of "
        f"{args['pretrain_batch_size']} documents from the learning order of the distant Re-DocRED instances.",
        markdown_table(header, rows),
        "## Stage 1: learning order as a denoiser (distant Re-DocRED instances, gold = Re-DocRED annotation)",
        denoising_markdown(results["learning_order"]),
    ]
    losses = results["pretraining"]
    if any(losses.values()):
        components = sorted({key for values in losses.values() for key in values})
        sections += ["## Stage 2: last logged pre-training losses",
                     "The relation-discrimination losses of different weightings are weighted differently, so their "
                     "values are not comparable across rows; the MLM head is new (MiniLM ships none).",
                     markdown_table(["weighting"] + components,
                                    [[encoder_name(w)] + [f"{values.get(c, float('nan')):.4f}" for c in components]
                                     for w, values in losses.items()])]
    if "table2" in results:
        sections += ["## Table 2: all noisy labels vs the first-epoch subset A_0 (SemEval, 30% labels flipped)",
                     table2_markdown(results)]
    return "\n\n".join(sections) + "\n"


def denoising_markdown(report: dict[str, Any]) -> str:
    per_epoch = report["percent_learned_per_epoch"]
    rows = []
    for name, value in report["subset_precision"].items():
        share = per_epoch[int(name[2:])] if name.startswith("A_") else float("nan")
        rows.append([name, value["size"], f"{share:.1f}" if not math.isnan(share) else "", f"{value['precision']:.3f}"])
    return (markdown_table(["subset", "instances", "% learned", "label precision"], rows)
            + f"\n\nROC-AUC of learning order as a clean-label detector: {report['clean_label_auc']:.3f}")


def table2_markdown(results: dict[str, Any]) -> str:
    rows = [[name, value["instances"], f"{value['label_precision']:.3f}", f"{100 * value['macro_f1_official']:.2f}",
             f"{100 * value['micro_f1']:.2f}"] for name, value in results["table2"].items()]
    detection = results["table2_noise_detection"]
    return (markdown_table(["training set", "instances", "label precision", "official macro-F1", "micro-F1"], rows)
            + f"\n\nLearning order as a clean-label detector on these sentences: ROC-AUC "
            f"{detection['clean_label_auc']:.3f}, A_0 precision {detection['subset_precision']['A_0']['precision']:.3f}.")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


# ------------------------------------------------------------------------------------------------------- plots
def plot_results(results: dict[str, Any], root: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    from finecl_hf.learning_order.analysis import plot_percent_learned

    report = results["learning_order"]
    written = [plot_percent_learned(report["percent_learned_per_epoch"], root / "percent_learned_per_epoch.png",
                                    title="Distant Re-DocRED instances learned per epoch")]
    if "percent_learned_per_class" in report:
        written.append(plot_per_class(report["percent_learned_per_class"], root / "percent_learned_per_class.png"))
    written.append(plot_f1_bars(results, root / "semeval_f1.png"))
    return written


def plot_per_class(per_class: dict[str, list[float]], path: Path) -> Path:
    """Horizontal stacked bars: for each relation, the share of its instances first learned in each epoch."""
    import matplotlib.pyplot as plt
    import numpy as np

    # Relations of which nothing was learned would be empty bars: they are counted in the title instead.
    names = sorted((name for name in per_class if sum(per_class[name]) > 0), key=lambda name: -sum(per_class[name]))
    values = np.asarray([per_class[name] for name in names]).reshape(len(names), -1)
    figure, axis = plt.subplots(figsize=(7, max(3.0, 0.3 * len(names) + 1.5)))
    left = np.zeros(len(names))
    for epoch in range(values.shape[1]):
        axis.barh(names, values[:, epoch], left=left, label=f"A_{epoch}")
        left += values[:, epoch]
    axis.invert_yaxis()
    axis.tick_params(axis="y", labelsize=6)
    axis.set(xlabel="% of the class's instances learned", xlim=(0, 100),
             title=f"Learned share per relation and epoch\n({len(names)} of {len(per_class)} classes learned at all)")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_f1_bars(results: dict[str, Any], path: Path) -> Path:
    """Grouped bars of official macro-F1 (mean ± std over seeds) per encoder and training fraction."""
    import matplotlib.pyplot as plt
    import numpy as np

    fractions = [fraction_name(fraction) for fraction in results["arguments"]["train_fractions"]]
    names = list(results["fine_tuning"])
    width = 0.8 / len(names)
    figure, axis = plt.subplots(figsize=(2 + 2 * len(fractions), 4))
    for index, name in enumerate(names):
        scores = [results["fine_tuning"][name][fraction]["test_macro_f1_official"] for fraction in fractions]
        axis.bar(np.arange(len(fractions)) + index * width, [100 * s["mean"] for s in scores], width,
                 yerr=[100 * s["std"] for s in scores], capsize=3, label=encoder_name(name))
    axis.set_xticks(np.arange(len(fractions)) + width * (len(names) - 1) / 2, fractions)
    axis.set(xlabel="share of SemEval train", ylabel="official macro-F1 (%)", title="SemEval test, mean ± std over seeds")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def build_parser():
    from transformers import HfArgumentParser

    return HfArgumentParser(ReproduceArguments, prog=f"finecl {NAME}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        (args,) = build_parser().parse_args_into_dataclasses(args=argv)
        if not args.skip_table2 and not RECIPES.is_dir():
            raise UsageError(f"The Table 2 experiment runs the scripts of {RECIPES}, which is missing (finecl-hf "
                             "installed without its repository?): pass --skip_table2, or run from a checkout.")
        return args, *resolve_inputs(args)

    run_guarded(f"finecl {NAME}", parse, run)


def run(parsed) -> None:
    args, corpus, backbone = parsed
    root = Path(args.output_dir).resolve()
    if args.overwrite and root.exists():
        shutil.rmtree(root)
    seconds = run_steps(build_steps(args, root, backbone, corpus), args.overwrite)
    results = collect(args, root, backbone, with_earlier_timings(seconds, root / "results.json"))
    (root / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render_markdown(results)
    (root / "results.md").write_text(markdown)
    plots = plot_results(results, root)
    print("\n" + markdown)
    print("Written: " + ", ".join(str(path) for path in [root / "results.md", root / "results.json", *plots]))


if __name__ == "__main__":
    from finecl_hf.commands import run_command

    run_command(NAME)
