"""What `finecl reproduce` compares: the pre-training corpora (known noise), the stage-2 arms, and which encoder a
comparison pairs with which.

The corpora are the 500 Re-DocRED documents: with their gold triples (`clean`), with a seeded share of the triples
given a wrong label the way distant supervision errs (`noise_0.3`, `noise_0.5`; `finecl_hf.data.document_noise`), and
distantly labelled with the DocRED-train facts (`natural`: real noise, about 30% wrong, ten times fewer labels).

An arm is one stage-2 pre-training of one corpus: a weighting (`uniform` = ERICA, `paper` = FineCL's eq. 5, the corpus
schemes `posterior` and `truncate`) and where its order comes from (stage 1 on that corpus, ordered by a cleanliness
score, or the oracle: the true noise mask). A design (`DESIGNS`, `--preset`) says which arms run on which corpus with
how many pre-training seeds, and which comparisons are the headline. Adding an arm is one `ARMS` entry; adding a corpus
one `PRETRAINING_CORPORA` entry; adding a design one `DESIGNS` entry.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_PRETRAINING = "none"
STAGE1 = "stage1"
ORACLE = "oracle"
RELABELLED = "relabelled"  # stage 1's order, its label issues relabelled (`finecl label-issues --clean relabel`)
ORACLE_RELABELLED = "oracle_relabelled"  # every corrupted triple given back its original (the true noise mask)


@dataclass(frozen=True)
class PretrainingCorpus:
    """A pre-training corpus of the experiment. `noise_rate` is None for the natural (distantly labelled) corpus,
    whose noise is real and whose mask (`confirmed_by_gold`) only stage 1's analysis reads."""

    name: str
    noise_rate: float | None
    description: str

    @property
    def has_noise_mask(self) -> bool:
        """Whether the corpus was corrupted by us, so that the oracle order (the true mask) exists."""
        return self.noise_rate is not None and self.noise_rate > 0


PRETRAINING_CORPORA: dict[str, PretrainingCorpus] = {
    corpus.name: corpus
    for corpus in (
        PretrainingCorpus("clean", 0.0, "500 Re-DocRED documents, 17,448 gold triples"),
        PretrainingCorpus("noise_0.3", 0.3, "the same triples, 30% given a wrong label (seeded)"),
        PretrainingCorpus("noise_0.5", 0.5, "the same triples, 50% given a wrong label (seeded)"),
        PretrainingCorpus("natural", None, "the same documents distantly labelled with DocRED-train facts (real noise)"),
    )
}


BASELINE_ARM = "erica"  # every arm is compared with it
ORACLE_ARM = "oracle"
CEILING_ARM = "oracle_drop"
NO_RD_ARM = "ed_mlm"
# The arm chosen before any pre-training, on the detector issue's tuning corpora, by what each candidate weighting does
# to the corpus (`benchmarks/choose_weighting.py`; rule and result in README, "Choosing the weighting", and
# docs/results/weighting_choice_2026-12-02): `truncate` on `combined` with q = 0.5 put 0.144 of the RD weight on wrong
# triples (mean of the three tuning corpora; uniform 0.370, the paper's eq. 5 on learned_epoch 0.336) and kept at least
# 0.61 of the clean weight on each.
CHOSEN_ARM = "truncate"
RELABEL_ARM = "relabel"
ORACLE_RELABEL_ARM = "oracle_relabel"
# τ of the `relabel` arm: the least suggested probability a label issue needs to be relabelled, chosen before any
# pre-training on the tuning corpus (noise 0.5 with noise seed 1) by the share of clean triples the relabelled corpus
# would hold (`benchmarks/bench_label_issues.py --choose_threshold`; docs/results/label_issues_2026-12-06): every τ from
# 0 to 0.9 raised it from 0.500, τ = 0 the most (0.664; 0.598 at τ = 0.5).
RELABEL_MIN_PROBABILITY = 0.0


@dataclass(frozen=True)
class ArmDefinition:
    """One way of pre-training a corpus in stage 2: a weighting scheme (`finecl_hf.weighting`), the score it reads
    (`order_by`) and where the scores come from (`order_source`), and any method setting that departs from the
    defaults (`alpha` of eq. 5, `truncation_share` of `truncate`, `rd_loss_weight`; `min_probability`: τ of a
    relabelled order)."""

    name: str
    label: str
    weighting: str
    order_source: str
    order_by: str = "learned_epoch"
    needs_noise_mask: bool = False
    min_probability: float | None = None
    alpha: float | None = None
    truncation_share: float | None = None
    rd_loss_weight: float | None = None

    def pretrain_options(self) -> list[str]:
        """The `finecl pretrain` options that make this arm."""
        options = ["--weighting", self.weighting, "--order_by", self.order_by]
        for flag, value in (
            ("--alpha", self.alpha),
            ("--truncation_share", self.truncation_share),
            ("--rd_loss_weight", self.rd_loss_weight),
        ):
            if value is not None:
                options += [flag, repr(value)]
        return options


ARMS: dict[str, ArmDefinition] = {
    arm.name: arm
    for arm in (
        ArmDefinition(BASELINE_ARM, "ERICA (uniform weights)", "uniform", STAGE1),
        ArmDefinition("finecl", "FineCL (eq. 5, learned_epoch)", "paper", STAGE1),
        ArmDefinition("finecl_confidence", "FineCL (eq. 5, ordered by confidence)", "paper", STAGE1, "confidence"),
        ArmDefinition("finecl_aum", "FineCL (eq. 5, ordered by AUM)", "paper", STAGE1, "aum"),
        ArmDefinition(ORACLE_ARM, "eq. 5 with the true noise mask as order", "paper", ORACLE, needs_noise_mask=True),
        ArmDefinition(CEILING_ARM, "the true noise mask as 0/1 weights (the ceiling of any weighting)", "truncate",
                      ORACLE, needs_noise_mask=True),
        ArmDefinition(NO_RD_ARM, "ED + MLM only (no relation discrimination)", "uniform", STAGE1, rd_loss_weight=0.0),
        ArmDefinition("posterior", "P(clean | combined), two-component mixture", "posterior", STAGE1, "combined"),
        ArmDefinition("truncate", "weight 0 for the lowest-combined half (q = 0.5)", "truncate", STAGE1, "combined",
                      truncation_share=0.5),
        ArmDefinition(RELABEL_ARM, "ERICA on the corpus whose label issues got their suggested relation (≥ τ)",
                      "uniform", RELABELLED, min_probability=RELABEL_MIN_PROBABILITY),
        ArmDefinition(ORACLE_RELABEL_ARM, "ERICA with every corrupted triple given back its original (the ceiling "
                      "of correction)", "uniform", ORACLE_RELABELLED, needs_noise_mask=True),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Design:
    """A whole experiment: which arms run on which corpus with how many pre-training seeds, and its budgets.

    Attributes:
        name: the `--preset` value.
        description: one line for the help text and the report.
        seeds_per_arm: corpus -> arm -> number of pre-training seeds (the first N of `--pretrain_seeds`), in run order.
        pretrain_steps: stage-2 optimizer steps per arm.
        headline: the comparisons `(corpus, probe task, arm a, arm b)` declared before running, reported first.
    """

    name: str
    description: str
    seeds_per_arm: dict[str, dict[str, int]]
    pretrain_steps: int
    headline: tuple[tuple[str, str, str, str], ...]

    @property
    def corpora(self) -> list[str]:
        return list(self.seeds_per_arm)

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(name for arms in self.seeds_per_arm.values() for name in arms))


_NOISE_05_HEADLINE = (
    ("noise_0.5", "wiki80", CHOSEN_ARM, BASELINE_ARM),
    ("noise_0.5", "wiki80", CEILING_ARM, BASELINE_ARM),
    ("noise_0.5", "wiki80", "finecl", BASELINE_ARM),
    ("natural", "wiki80", CHOSEN_ARM, BASELINE_ARM),
)
DESIGNS: dict[str, Design] = {
    design.name: design
    for design in (
        Design(
            "default",
            "`make reproduce`: under two hours on 2 CPU cores; the full design's headline arms at noise 0.5 (two "
            "seeds), ERICA and FineCL on clean and natural (one seed); drops noise 0.3, ed_mlm, oracle, the other "
            "weighting and the chosen arm off noise 0.5",
            # Sized by the step times the full design measured on 2026-12-03 (stage 2 at 1.5-2.1 s/step, 74-116 s a
            # probe, stage 1 5-9 min a corpus): twelve arms at 150 steps and three stage-1 runs come to about 1 h 40
            # min; noise 0.3 (one more stage 1 and two arms, ~20 min) would leave no margin, so only the full design
            # runs it.
            {
                "noise_0.5": {BASELINE_ARM: 2, "finecl": 2, CHOSEN_ARM: 2, CEILING_ARM: 2},
                "clean": {BASELINE_ARM: 1, "finecl": 1},
                "natural": {BASELINE_ARM: 1, "finecl": 1},
            },
            pretrain_steps=150,
            headline=_NOISE_05_HEADLINE[:3],
        ),
        Design(
            "full",
            "issue 19's design: 300 stage-2 steps; at noise 0.5 three seeds of ERICA, FineCL, the chosen weighting "
            "and the 0/1 oracle, one of the eq. 5 oracle, ED+MLM and the other weighting; ERICA and ED+MLM on clean; "
            "ERICA, FineCL and the chosen weighting on noise 0.3 (one seed) and natural (three seeds) (about 7.5 h on 2 CPU cores; "
            "resumes)",
            {
                "noise_0.5": {
                    BASELINE_ARM: 3, "finecl": 3, CHOSEN_ARM: 3, CEILING_ARM: 3,
                    ORACLE_ARM: 1, NO_RD_ARM: 1, "posterior" if CHOSEN_ARM == "truncate" else "truncate": 1,
                    # Issue 31: seed 42 first; seeds 43 and 44 only if relabel − ERICA's interval lies above
                    # truncate − ERICA's (it did: +3.83 [+3.42, +4.25] against +0.71 [−0.14, +1.60]); the ceiling
                    # `oracle_relabel` then on the same three seeds, so that the two are paired seed by seed.
                    RELABEL_ARM: 3, ORACLE_RELABEL_ARM: 3,
                },
                "clean": {BASELINE_ARM: 1, NO_RD_ARM: 1},
                "noise_0.3": {BASELINE_ARM: 1, "finecl": 1, CHOSEN_ARM: 1},
                # Three seeds on natural since issue 28: the paper's one positive result here (FineCL − ERICA) rested
                # on seed 42 alone.
                "natural": {BASELINE_ARM: 3, "finecl": 3, CHOSEN_ARM: 3},
            },  # fmt: skip
            pretrain_steps=300,
            headline=(*_NOISE_05_HEADLINE, ("clean", "wiki80", NO_RD_ARM, BASELINE_ARM),
                      ("natural", "wiki80", "finecl", BASELINE_ARM),
                      # Declared before running (issue 31): does correcting beat dropping?
                      ("noise_0.5", "wiki80", RELABEL_ARM, BASELINE_ARM),
                      ("noise_0.5", "wiki80", ORACLE_RELABEL_ARM, BASELINE_ARM)),
        ),
    )
}


@dataclass(frozen=True)
class Arm:
    """An arm of a corpus with a pre-training seed: one stage-2 checkpoint."""

    corpus: str
    name: str
    seed: int

    @property
    def definition(self) -> ArmDefinition:
        return ARMS[self.name]

    @property
    def key(self) -> str:
        """Folder-safe identifier, e.g. `noise_0.5/finecl/seed-42`."""
        return f"{self.corpus}/{self.name}/seed-{self.seed}"


def plan_arms(design: Design, corpora: list[str], arms: list[str], seeds: list[int]) -> list[Arm]:
    """Every stage-2 run of `design` restricted to `corpora` and `arms`, in the order they run: corpus by corpus (in
    `corpora` order), seed by seed, arm by arm (in the design's order). An arm with N seeds takes the first N of
    `seeds`; an arm that needs the noise mask is skipped on corpora that have none."""
    planned = []
    for corpus in corpora:
        seeds_per_arm = design.seeds_per_arm.get(corpus, {})
        for index, seed in enumerate(seeds):
            for name, count in seeds_per_arm.items():
                if name not in arms or index >= count:
                    continue
                if ARMS[name].needs_noise_mask and not PRETRAINING_CORPORA[corpus].has_noise_mask:
                    continue
                planned.append(Arm(corpus, name, seed))
    return planned


__all__ = [
    "ARMS",
    "BASELINE_ARM",
    "CEILING_ARM",
    "CHOSEN_ARM",
    "DESIGNS",
    "NO_PRETRAINING",
    "NO_RD_ARM",
    "ORACLE",
    "ORACLE_ARM",
    "ORACLE_RELABELLED",
    "ORACLE_RELABEL_ARM",
    "RELABELLED",
    "RELABEL_ARM",
    "RELABEL_MIN_PROBABILITY",
    "PRETRAINING_CORPORA",
    "STAGE1",
    "Arm",
    "ArmDefinition",
    "Design",
    "PretrainingCorpus",
    "plan_arms",
]
