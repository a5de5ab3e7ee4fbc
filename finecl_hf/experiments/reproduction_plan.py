"""The plan of `finecl reproduce`: its arguments (`ReproduceArguments`), where each step writes
(`ReproductionLayout`), and every step in the order it runs (`build_steps`). The runner (`reproduction.py`) executes
it and the report (`reproduction_report.py`) reads what it wrote; both import this module, neither imports the other's
internals.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from finecl_hf.errors import UsageError

from .design import (
    ARMS,
    BASELINE_ARM,
    DESIGNS,
    NO_PRETRAINING,
    ORACLE,
    ORACLE_RELABELLED,
    PRETRAINING_CORPORA,
    RELABELLED,
    Arm,
    Design,
    plan_arms,
)
from .steps import (
    RESUME_EARLIER_RUN,
    DemoPaths,
    PipelineArguments,
    dataset_commands,
    finecl_command,
    finetune_command,
    pretrain_command,
    stage1_commands,
    validate_stage_commands,
)

# The Table 2 recipes are scripts of the repository checkout (recipes/), not of the installed package.
RECIPES = Path(__file__).resolve().parents[2] / "recipes"
BUDGET_CURVE_TASK = "wiki80_tuning"
# The arms `--fine_tune_corpora` fine-tunes (with the encoder without relation pre-training).
FINE_TUNED_ARMS = (BASELINE_ARM, "finecl")
# Per-step wall times of every invocation, kept as steps finish so that a run resumed in another session reports the
# time each step took where it ran.
STEP_SECONDS_FILE = "step_seconds.json"


@dataclass
class ReproduceArguments(PipelineArguments):
    """Design and budgets of the experiment; the default preset fits 2 CPU cores in under two hours."""

    preset: str = field(
        default="default",
        metadata={
            "help": "The experiment's design (finecl_hf/experiments/design.py): "
            + "; ".join(f"`{design.name}`: {design.description}" for design in DESIGNS.values()),
            "choices": list(DESIGNS),
        },
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where every artifact goes (default: outputs/reproduce, or "
                                "outputs/reproduce_<preset> for another preset)."}  # fmt: skip
    )
    corpora: list[str] | None = field(
        default=None,
        metadata={"help": f"Run only these of the preset's corpora, in this order ({', '.join(PRETRAINING_CORPORA)})."},
    )
    arms: list[str] | None = field(
        default=None, metadata={"help": f"Run only these of the preset's arms ({', '.join(ARMS)}; design.py)."}
    )
    pretrain_seeds: list[int] = field(
        default_factory=lambda: [42, 43, 44],
        metadata={"help": "Stage-2 seeds: an arm the design runs with N seeds takes the first N."},
    )
    noise_seed: int = field(default=0, metadata={"help": "Seed of the label corruption of the noisy corpora."})
    pretrain_steps: int | None = field(
        default=None, metadata={"help": "Stage-2 optimizer steps per arm (default: the preset's; paper: 6,000)."}
    )
    pretrain_learning_rate: float = field(default=5e-5, metadata={"help": "Stage-2 learning rate."})
    budget_curve_corpus: str = field(
        default="clean", metadata={"help": "Corpus whose first ERICA arm is probed along its pre-training."}
    )
    budget_curve_interval: int = field(
        default=50, metadata={"help": "Checkpoint (and probe) the budget-curve arm every N steps; 0 = no curve."}
    )
    probe_tasks: list[str] = field(
        default_factory=lambda: ["wiki80", "semeval"], metadata={"help": "Probe tasks (finecl_hf.probing.tasks)."}
    )
    probe_shots: int = field(default=8, metadata={"help": "Probe: labelled examples per class in each draw."})
    probe_draws: int = field(default=20, metadata={"help": "Probe: seeded k-shot draws, shared by every encoder."})
    fine_tune_corpora: list[str] = field(
        default_factory=list,
        metadata={"help": "Also fine-tune these corpora's ERICA and FineCL encoders (and none) on SemEval (costly)."},
    )
    train_fractions: list[float] = field(
        default_factory=lambda: [0.01, 0.1], metadata={"help": "SemEval training fractions of --fine_tune_corpora."}
    )
    finetune_epochs_per_fraction: list[float] = field(
        default_factory=lambda: [15, 4],
        metadata={"help": "Stage-3 epochs for each of --train_fractions (small subsets need more epochs)."},
    )
    seeds: list[int] = field(default_factory=lambda: [42, 43, 44], metadata={"help": "Fine-tuning seeds."})
    table2: bool = field(default=False, metadata={"help": "Also run the paper's Table 2 experiment (about 10 min)."})
    table2_sentences: int = field(
        default=2000, metadata={"help": "Table 2: first N SemEval training sentences (30%% labels flipped); 0 = all."}
    )
    table2_epochs: int = field(default=3, metadata={"help": "Table 2: learning-order and classifier epochs."})
    overwrite: bool = field(default=False, metadata={"help": "Redo steps whose output already exists."})

    def __post_init__(self) -> None:
        from finecl_hf.probing.tasks import PROBE_TASKS

        if self.preset not in DESIGNS:
            raise UsageError(f"--preset {self.preset}: choose among {', '.join(DESIGNS)}.")
        design = self.design
        self.output_dir = self.output_dir or (
            "outputs/reproduce" if self.preset == "default" else f"outputs/reproduce_{self.preset}"
        )
        self.corpora = self.corpora or design.corpora
        self.arms = self.arms or design.arms
        self.pretrain_steps = self.pretrain_steps or design.pretrain_steps
        for argument, values, known in (
            ("--corpora", self.corpora, PRETRAINING_CORPORA),
            ("--fine_tune_corpora", self.fine_tune_corpora, PRETRAINING_CORPORA),
            ("--arms", self.arms, ARMS),
            ("--probe_tasks", self.probe_tasks, PROBE_TASKS),
        ):
            unknown = [value for value in values if value not in known]
            if unknown:
                raise UsageError(f"{argument} {unknown}: choose among {', '.join(known)}.")
        if BASELINE_ARM not in self.arms:
            raise UsageError(f"--arms {self.arms}: every comparison is made against `{BASELINE_ARM}`; keep it in the list.")
        if len(self.finetune_epochs_per_fraction) != len(self.train_fractions):
            raise UsageError(
                f"--finetune_epochs_per_fraction has {len(self.finetune_epochs_per_fraction)} values but "
                f"--train_fractions has {len(self.train_fractions)}: give one number of epochs per fraction."
            )
        if not self.seeds or not self.pretrain_seeds:
            raise UsageError("--seeds and --pretrain_seeds need at least one seed each.")

    @property
    def design(self) -> Design:
        return DESIGNS[self.preset]

    def planned_arms(self) -> list[Arm]:
        return plan_arms(self.design, self.corpora, self.arms, self.pretrain_seeds)


@dataclass
class Step:
    """One command of the reproduction and the file that proves it finished.

    `also_done_when`: files whose presence (all of them) also means the step need not run: what the later steps made
    of its output is already there. A stage-2 checkpoint is not needed once its probe is written, nor a stage-1 order
    once every arm of its corpus is probed — so a run resumed from the committed state of an earlier session, on a
    machine without the checkpoints, goes on where it stopped (README, "Running the full design").
    """

    title: str
    command: list[str]
    done_when: Path
    also_done_when: tuple[Path, ...] = ()

    def finished(self) -> bool:
        return self.done_when.exists() or (bool(self.also_done_when) and all(p.exists() for p in self.also_done_when))

    @property
    def marker(self) -> Path:
        """The file that shows the step done (the first alternative when the step itself left nothing here)."""
        return self.done_when if self.done_when.exists() or not self.also_done_when else self.also_done_when[0]


@dataclass
class ReproductionLayout:
    """Where each step of the experiment writes, under `root`."""

    root: Path

    @property
    def demo_paths(self) -> DemoPaths:
        return DemoPaths(self.root)

    def corpus(self, name: str) -> Path:
        """The dataset folder of a pre-training corpus (documents + `relation_instances`)."""
        return self.demo_paths.distant if name == "natural" else self.root / "corpora" / name

    def oracle_order(self, corpus: str) -> Path:
        return self.root / "oracle" / corpus

    def stage1(self, corpus: str) -> Path:
        return self.root / "stage1" / corpus

    def oracle_relabelled_order(self, corpus: str) -> Path:
        return self.root / "oracle_relabelled" / corpus

    def relabelled_order(self, arm: Arm) -> Path:
        return self.root / "relabelled" / arm.corpus / f"min-probability-{arm.definition.min_probability:g}"

    def order_dataset(self, arm: Arm) -> Path:
        source = arm.definition.order_source
        if source == ORACLE:
            return self.oracle_order(arm.corpus)
        if source == ORACLE_RELABELLED:
            return self.oracle_relabelled_order(arm.corpus)
        if source == RELABELLED:
            return self.relabelled_order(arm)
        return self.stage1(arm.corpus) / "learning_order"

    def stage2(self, arm: Arm) -> Path:
        return self.root / "stage2" / arm.key

    def probes(self, encoder: str) -> Path:
        """Probe results of an encoder (`none` or an arm key)."""
        return self.root / "probes" / encoder

    def budget_curve(self, step: int) -> Path:
        return self.root / "budget_curve" / f"step-{step}"

    def fine_tuning(self, encoder: str, fraction: float) -> Path:
        return self.root / "stage3" / encoder / f"fraction-{fraction:g}"


# ------------------------------------------------------------------------------------------------------- steps
def build_steps(args: ReproduceArguments, root: Path, backbone: str, data_dir: Path) -> list[Step]:
    """Every step, in the order it runs: data, the baseline's probe, then corpus by corpus stage 1 and each arm's
    pre-training followed at once by its probe (so an interrupted run has whole arms to report)."""
    layout = ReproductionLayout(root)
    steps = data_steps(args, layout, data_dir)
    steps.append(probe_step(args, layout, NO_PRETRAINING, backbone))
    arms = args.planned_arms()
    for corpus in args.corpora:
        stage1 = stage1_commands(args, layout.corpus(corpus), layout.stage1(corpus), backbone, f", {corpus}",
                                 earlier_run=RESUME_EARLIER_RUN)
        report = layout.stage1(corpus) / "learning_order_report.json"
        probed = tuple(probe_marker(layout, arm.key) for arm in arms if arm.corpus == corpus)
        steps += [
            Step(*stage1[0], layout.stage1(corpus) / "learning_order" / "README.md", (report, *probed)),
            Step(*stage1[1], report),
        ]
        for arm in (arm for arm in arms if arm.corpus == corpus):
            if arm.definition.order_source == RELABELLED:
                steps.append(relabel_step(layout, arm, probed))
            steps += arm_steps(args, layout, arm, backbone, is_curve_arm=arm == budget_curve_arm(args, arms))
    steps += fine_tuning_steps(args, layout, backbone)
    if args.table2:
        steps += table2_steps(args, root, backbone)
    validate_stage_commands((step.title, step.command) for step in steps)
    return steps


def data_steps(args: ReproduceArguments, layout: ReproductionLayout, data_dir: Path) -> list[Step]:
    """SemEval and the distantly labelled documents (`finecl convert`), then the corrupted copies of the gold triples
    with their oracle learning orders."""
    paths = layout.demo_paths
    semeval, distant = dataset_commands(data_dir, paths, args.no_relation_ratio)
    steps = [Step(*semeval, paths.semeval / "README.md"), Step(*distant, paths.distant / "README.md")]
    gold = data_dir / "redocred" / "test_revised.json.gz"
    for name in args.corpora:
        corpus = PRETRAINING_CORPORA[name]
        if corpus.noise_rate is None:
            continue
        command = [
            *finecl_command(), "convert", "document-noise", "--source", f"train={gold}",
            "--output", str(layout.corpus(name)), "--noise_rate", str(corpus.noise_rate),
            "--seed", str(args.noise_seed), "--na_ratio", str(args.no_relation_ratio),
            "--rel_info", str(data_dir / "docred" / "rel_info.json"), "--overwrite",
        ]  # fmt: skip
        steps.append(Step(f"corpus: {name} ({corpus.description})", command, layout.corpus(name) / "README.md"))
        if corpus.has_noise_mask:
            oracle = [
                *finecl_command(), "convert", "oracle-order", "--source", str(layout.corpus(name)),
                "--output", str(layout.oracle_order(name)), "--overwrite",
            ]  # fmt: skip
            steps.append(Step(f"oracle order: {name} (the true noise mask)", oracle, layout.oracle_order(name) / "README.md"))
            if any(arm.corpus == name and arm.definition.order_source == ORACLE_RELABELLED for arm in args.planned_arms()):
                relabelled = layout.oracle_relabelled_order(name)
                relabel = [*oracle[:-3], "--output", str(relabelled), "--overwrite", "--relabel"]
                steps.append(Step(f"oracle relabelled order: {name} (corrupted triples given back their original)",
                                  relabel, relabelled / "README.md"))
    return steps


def relabel_step(layout: ReproductionLayout, arm: Arm, probed: tuple[Path, ...]) -> Step:
    """`finecl label-issues --clean relabel` of the corpus's stage-1 order, with the arm's τ."""
    output = layout.relabelled_order(arm)
    command = [
        *finecl_command(), "label-issues", str(layout.stage1(arm.corpus) / "learning_order"), "--clean", "relabel",
        "--min_probability", repr(arm.definition.min_probability), "--output_dir", str(output), "--overwrite",
    ]  # fmt: skip
    return Step(f"relabelled order: {arm.corpus} (τ = {arm.definition.min_probability:g})", command,
                output / "README.md", probed)


def budget_curve_arm(args: ReproduceArguments, arms: list[Arm]) -> Arm | None:
    if args.budget_curve_interval <= 0:
        return None
    return next((arm for arm in arms if arm.corpus == args.budget_curve_corpus and arm.name == BASELINE_ARM), None)


def budget_curve_steps_taken(args: ReproduceArguments) -> list[int]:
    """The stage-2 steps at which the budget-curve arm is probed (0: the encoder without relation pre-training)."""
    interval = args.budget_curve_interval
    return [0, *range(interval, args.pretrain_steps + 1, interval)] if interval > 0 else []


def arm_steps(args: ReproduceArguments, layout: ReproductionLayout, arm: Arm, backbone: str, is_curve_arm: bool):
    definition = arm.definition
    output_dir = layout.stage2(arm)
    command = pretrain_command(
        args, layout.order_dataset(arm), backbone, output_dir, definition.pretrain_options(), seed=arm.seed,
        save_steps=args.budget_curve_interval if is_curve_arm else None, earlier_run=RESUME_EARLIER_RUN,
    )  # fmt: skip
    probe = probe_step(args, layout, arm.key, str(output_dir))
    curve = []
    if is_curve_arm:
        for step in budget_curve_steps_taken(args):
            encoder = backbone if step == 0 else str(output_dir / f"checkpoint-{step}")
            curve.append(
                probe_step(args, layout, f"budget curve, step {step}", encoder, [BUDGET_CURVE_TASK],
                           layout.budget_curve(step))
            )  # fmt: skip
    # The model card is written last: its presence means the checkpoint folder is complete.
    pretraining = Step(f"stage 2: {arm.key}, {definition.label}", command, output_dir / "README.md",
                       (probe.done_when, *(step.done_when for step in curve)))  # fmt: skip
    return [pretraining, probe, *curve]


def probe_step(
    args: ReproduceArguments,
    layout: ReproductionLayout,
    encoder_id: str,
    encoder: str,
    tasks: list[str] | None = None,
    output_dir: Path | None = None,
) -> Step:
    """`finecl probe` of one encoder; every probe uses the same seed, so the draws are shared (paired)."""
    output_dir = output_dir or layout.probes(encoder_id)
    command = [
        *finecl_command(), "probe", "--model_name_or_path", encoder, "--task", *(tasks or args.probe_tasks),
        "--shots", str(args.probe_shots), "--num_draws", str(args.probe_draws), "--allow_fewer_shots",
        "--seed", "0", "--output_dir", str(output_dir),
    ]  # fmt: skip
    return Step(f"probe: {encoder_id}", command, output_dir / "probe_results.json")


def probe_marker(layout: ReproductionLayout, encoder_id: str) -> Path:
    """The file that shows an encoder probed (`probe_step`'s `done_when`)."""
    return layout.probes(encoder_id) / "probe_results.json"


def fine_tuning_encoders(args: ReproduceArguments, layout: ReproductionLayout, backbone: str) -> dict[str, str]:
    """Encoder id -> checkpoint fine-tuned on SemEval (the costlier view; empty unless --fine_tune_corpora)."""
    if not args.fine_tune_corpora:
        return {}
    encoders = {NO_PRETRAINING: backbone}
    for arm in args.planned_arms():
        if arm.corpus in args.fine_tune_corpora and arm.name in FINE_TUNED_ARMS and arm.seed == args.pretrain_seeds[0]:
            encoders[arm.key] = str(layout.stage2(arm))
    return encoders


def fine_tuning_steps(args: ReproduceArguments, layout: ReproductionLayout, backbone: str) -> list[Step]:
    steps = []
    for name, model in fine_tuning_encoders(args, layout, backbone).items():
        for fraction, epochs in zip(args.train_fractions, args.finetune_epochs_per_fraction):
            output_dir = layout.fine_tuning(name, fraction)
            command = finetune_command(
                args, model, layout.demo_paths.semeval, output_dir, fraction, epochs, seeds=args.seeds
            )
            done_when = output_dir / ("seed_summary.json" if len(args.seeds) > 1 else "all_results.json")
            steps.append(Step(f"stage 3: {name}, SemEval {fraction * 100:g}%", command, done_when))
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
    ]  # fmt: skip
