"""`finecl reproduce`: does learning-order weighting make a better encoder when labels are wrong? A controlled,
CPU-sized experiment (`make reproduce`, under two hours on 2 cores), resumable step by step.

1. corpora: the 500 Re-DocRED documents with their 17,448 gold triples (`clean`), seeded copies with 30% and 50% of
   the triples given a wrong label the way distant supervision errs (`noise_0.3`, `noise_0.5`, with the true noise
   mask kept; `finecl_hf.data.document_noise`), and the same documents distantly labelled with the DocRED-train facts
   (`natural`: real noise, about 30% wrong);
2. stage 1 on each corpus: the learning order and every cleanliness score, each scored as a detector of the wrong
   labels (`confirmed_by_gold`);
3. stage 2 on each corpus, one checkpoint per arm and pre-training seed, as the design (`--preset`,
   `finecl_hf.experiments.design.DESIGNS`) says: ERICA (`--weighting uniform`), FineCL (eq. 5 on stage 1's
   `learned_epoch`), the weighting chosen on tuning corpora before any pre-training (`CHOSEN_ARM`), the ceiling
   (`oracle_drop`: the true noise mask as 0/1 weights), and in the full design the eq. 5 oracle, ED + MLM without
   relation discrimination (`ed_mlm`) and the other corpus weighting;
4. a representation probe of every encoder, and of MiniLM without relation pre-training (`finecl_hf.probing`):
   8-shot linear classifiers on frozen [e_head; e_tail] features, 20 seeded draws shared by every encoder, on Wiki80
   (test: its 5,600 dev sentences; the aligned task) and SemEval-2010 Task 8 (test: the official 2,717 sentences);
5. paired comparisons, every arm − ERICA and ERICA − none per corpus and probe, with bootstrap 95% CIs over draws,
   test examples and pre-training seeds where an arm has several, the headline comparisons (declared in the design
   before running) first, and the share of the noise cost (clean ERICA − noisy ERICA) each arm wins back; the budget
   curve (probe accuracy against stage-2 steps for ERICA on the clean corpus, on the held-out `wiki80_tuning` split,
   never on a reported test set).

Two designs: `--preset default` (`make reproduce`, under two hours on 2 CPU cores) and `--preset full` (issue 19's
design, 300 steps and three seeds, about six hours (6 h 12 min measured): it resumes where it stopped, so it may span
working sessions).

Opt-in, costlier views: `--fine_tune_corpora` fine-tunes the corpus's ERICA and FineCL encoders (and the encoder
without relation pre-training) on SemEval at `--train_fractions`; `--table2` runs the paper's Table 2 experiment
(a classifier trained on all noisy SemEval labels vs on the first-learned subset A_0).

Writes `results.md`, `results.json` (every number; `comparisons` holds one object per paired comparison) and PNG plots
to `--output_dir`. A step whose output is complete is not run again (`--overwrite` redoes everything).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from finecl_hf.errors import UsageError

from .steps import run_step, stage_environment
from .reproduction_plan import (  # noqa: F401 - the plan's names are this command's API too
    BUDGET_CURVE_TASK,
    RECIPES,
    STEP_SECONDS_FILE,
    ReproduceArguments,
    ReproductionLayout,
    Step,
    build_steps,
    probe_marker,
)

ARGUMENTS_FOLDER = "arguments"  # each stage step's argument file (finecl <command> <file> runs it again)


def run_steps(
    steps: list[Step],
    overwrite: bool,
    timings_file: Path | None = None,
    environment: dict[str, str] | None = None,
    arguments_folder: Path | None = None,
) -> dict[str, float]:
    """Run every unfinished step; returns seconds per step title.

    A step already done reports the time it took when it ran, if `timings_file` recorded it (0 otherwise); the file
    is rewritten after every step, so an interrupted run keeps the times of the steps it finished. A step that has a
    recorded time but runs again (its output was lost, e.g. a stage 1 whose dataset a fresh machine lacks) adds its
    new time to the old, so the total is the time the run really took; with `overwrite` the new time replaces it.
    """
    recorded = json.loads(timings_file.read_text()) if timings_file is not None and timings_file.is_file() else {}
    seconds = {}
    for number, step in enumerate(steps, start=1):
        if step.finished() and not overwrite:
            print(f"[{number}/{len(steps)}] {step.title}: already done ({step.marker}), skipped", flush=True)
            seconds[step.title] = recorded.get(step.title, 0.0)
            continue
        earlier = 0.0 if overwrite else recorded.get(step.title, 0.0)
        seconds[step.title] = recorded[step.title] = earlier + run_step(
            number, len(steps), step.title, step.command, environment, arguments_folder
        )
        if timings_file is not None:
            timings_file.parent.mkdir(parents=True, exist_ok=True)
            timings_file.write_text(json.dumps(recorded, indent=1) + "\n")
    return seconds


def check_reproduce_arguments(args: ReproduceArguments) -> None:
    """What the parser cannot check: `--table2` needs the recipes of a checkout."""
    if args.table2 and not RECIPES.is_dir():
        raise UsageError(f"--table2 runs the scripts of {RECIPES}, which is missing (finecl-hf installed without "
                         "its repository?): run it from a checkout.")


def run_reproduction(args: ReproduceArguments, corpus: Path, backbone: str) -> None:
    """Run every step not yet done (`build_steps`), then write the report from whatever has finished."""
    from .reproduction_report import write_report

    root = Path(args.output_dir).resolve()
    if args.overwrite and root.exists():
        shutil.rmtree(root)
    steps = build_steps(args, root, backbone, corpus)
    seconds = run_steps(
        steps, args.overwrite, root / STEP_SECONDS_FILE, stage_environment(corpus), root / ARGUMENTS_FOLDER
    )
    write_report(args, ReproductionLayout(root), backbone, seconds)
