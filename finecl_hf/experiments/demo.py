"""`finecl demo`: FineCL end to end on the embedded default (`make demo`).

1. builds Hub-ready datasets from `$FINECL_DATA_DIR` (SemEval-2010 Task 8; the 500 Re-DocRED documents distantly
   labelled with the DocRED-train facts, whose gold labels tell which distant labels are right);
2. stage 1: learning order on the distant relation instances with the offline MiniLM;
3. stage 2: a short FineCL pre-training from that learning-order dataset;
4. stage 3: fine-tunes the pre-trained checkpoint on a SemEval subset and evaluates on the official test set;
5. prints where every artifact is and how to load it.

Each stage runs the same command a user would type (printed before it runs), so the demo doubles as a recipe. Every
path and budget is a flag: `finecl demo --help`. The same pipeline on real data is in the README
("Scaling up").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path


from .steps import (
    DemoPaths,
    PipelineArguments,
    dataset_commands,
    finetune_command,
    learning_order_commands,
    pretrain_command,
    run_step,
    stage_environment,
    validate_stage_commands,
)

@dataclass
class DemoArguments(PipelineArguments):
    """Paths and budgets of the demo; the defaults fit 2 CPU cores in about ten minutes."""

    finetune_train_fraction: float = field(default=0.1, metadata={"help": "Share of SemEval train used in stage 3."})
    finetune_epochs: float = field(default=5, metadata={"help": "Stage-3 epochs (paper at 10%%: 20)."})
    finetune_max_eval_samples: int | None = field(
        default=None,
        metadata={"help": "Score only the first N dev and test sentences (quick runs; default: 300 dev, all 2,717 test)."},
    )
    example_sentence: str = field(
        default="The <e1>fire</e1> was caused by a <e2>short circuit</e2> in the kitchen wiring.",
        metadata={"help": "Sentence (with <e1>/<e2> markers) that the summary classifies with the inference API."},
    )


def build_commands(args: DemoArguments, paths: DemoPaths, backbone: str, data_dir: Path) -> list[tuple[str, list[str]]]:
    """Every step of the demo, in order, as (title, command line); each stage's command is checked by its parser."""
    steps = [
        *dataset_commands(data_dir, paths, args.no_relation_ratio),
        *learning_order_commands(args, paths, backbone),
        ("stage 2: FineCL pre-training", pretrain_command(args, paths.learning_order_dataset, backbone, paths.pretrained)),
        ("stage 3: fine-tuning on SemEval and official evaluation",
         finetune_command(args, str(paths.pretrained), paths.semeval, paths.finetuned, args.finetune_train_fraction,
                          args.finetune_epochs, max_test_sentences=args.finetune_max_eval_samples)),
    ]
    validate_stage_commands(steps)
    return steps


def run_demo(args: DemoArguments, corpus: Path, backbone: str) -> None:
    """Run every step (`build_commands`) as the `finecl` process a user would type, then print where everything is."""
    paths = DemoPaths(Path(args.output_dir).resolve())
    started = time.perf_counter()
    steps = build_commands(args, paths, backbone, corpus)
    environment = stage_environment(corpus)
    for number, (title, command) in enumerate(steps, start=1):
        run_step(number, len(steps), title, command, environment, paths.root / "arguments")
    print_summary(args, paths, time.perf_counter() - started)


def print_summary(args: DemoArguments, paths: DemoPaths, seconds: float) -> None:
    from transformers import pipeline

    results = json.loads((paths.finetuned / "all_results.json").read_text())
    extractor = pipeline("relation-extraction", model=str(paths.finetuned))
    prediction = extractor(args.example_sentence)
    print(f"\nFineCL demo finished in {seconds / 60:.1f} min. Artifacts:")
    print(f"  SemEval dataset          {paths.semeval}")
    print(f"  distant Re-DocRED        {paths.distant}")
    print(f"  learning-order dataset   {paths.learning_order_dataset}")
    print(f"  learning-order plot      {paths.learning_order_plot}")
    print(f"  FineCL checkpoint        {paths.pretrained}")
    print(f"  fine-tuned classifier    {paths.finetuned}")
    report = json.loads(paths.learning_order_report.read_text())
    learned = ", ".join(f"A_{k} {share:.1f}%" for k, share in enumerate(report["percent_learned_per_epoch"]))
    print(f"Stage 1 on {report['instances']} distant instances: {learned}")
    precision = ", ".join(f"{name} {value['precision']:.2f} (n={value['size']})"
                          for name, value in report["subset_precision"].items())
    print(f"  label precision against gold: {precision}; ROC-AUC {report['clean_label_auc']:.3f}")
    print(f"  {best_score_line(report)}")
    headline = ("test_macro_f1_official", "test_micro_f1", "test_accuracy")
    print("SemEval official test set: " + ", ".join(f"{k[5:]}={results[k]:.4f}" for k in headline if k in results))
    print("\nLoad them:")
    print(f'  load_dataset("{paths.learning_order_dataset}")["train"]')
    print(f'  AutoModelForPreTraining.from_pretrained("{paths.pretrained}", trust_remote_code=True)')
    print(f'  pipeline("relation-extraction", model="{paths.finetuned}")("{args.example_sentence}")')
    print(f"  -> {prediction}")


def best_score_line(report: dict) -> str:
    """The best cleanliness score of stage 1 next to the paper's learning order (ROC-AUC, clean vs wrong labels)."""
    scores = report.get("scores") or {}
    if not scores:
        return "no training-dynamics scores in this learning-order dataset (written by an older stage 1)"
    best = max(scores, key=lambda name: scores[name]["roc_auc"])
    paper = scores.get("learned_epoch", {}).get("roc_auc", report.get("clean_label_auc"))
    return (f"best cleanliness score: {best} ROC-AUC {scores[best]['roc_auc']:.3f}, top-25% precision "
            f"{scores[best]['top_25_precision']:.2f} (the paper's learned_epoch: ROC-AUC {paper:.3f})")
