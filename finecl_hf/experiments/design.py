"""What `finecl reproduce` compares: the pre-training corpora (known noise), the stage-2 arms, and which encoder a
comparison pairs with which.

The corpora are the 500 Re-DocRED documents: with their gold triples (`clean`), with a seeded share of the triples
given a wrong label the way distant supervision errs (`noise_0.3`, `noise_0.5`; `finecl_hf.data.document_noise`), and
distantly labelled with the DocRED-train facts (`natural`: real noise, about 30% wrong, ten times fewer labels).

An arm is one stage-2 pre-training of one corpus: a weighting (`uniform` = ERICA, `paper` = FineCL's eq. 5) and where
its order comes from (stage 1 on that corpus, ordered by a cleanliness score, or the oracle: the true noise mask).
Adding an arm is one `ARMS` entry; adding a corpus one `PRETRAINING_CORPORA` entry.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_PRETRAINING = "none"
STAGE1 = "stage1"
ORACLE = "oracle"


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


@dataclass(frozen=True)
class ArmDefinition:
    """One way of pre-training a corpus in stage 2."""

    name: str
    label: str
    weighting: str
    order_source: str
    order_by: str = "learned_epoch"
    needs_noise_mask: bool = False


ARMS: dict[str, ArmDefinition] = {
    arm.name: arm
    for arm in (
        ArmDefinition(BASELINE_ARM, "ERICA (uniform weights)", "uniform", STAGE1),
        ArmDefinition("finecl", "FineCL (eq. 5, learned_epoch)", "paper", STAGE1),
        ArmDefinition("finecl_confidence", "FineCL (eq. 5, ordered by confidence)", "paper", STAGE1, "confidence"),
        ArmDefinition("finecl_aum", "FineCL (eq. 5, ordered by AUM)", "paper", STAGE1, "aum"),
        ArmDefinition(ORACLE_ARM, "eq. 5 with the true noise mask as order", "paper", ORACLE, needs_noise_mask=True),
    )
}
# Run on every corpus; the other arms only where asked (`extra_arms_corpora`): they are costly, and they answer
# questions asked at high noise (how much of the oracle's gain a better order wins back).
CORE_ARMS = (BASELINE_ARM, "finecl")


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


def plan_arms(
    corpora: list[str], arms: list[str], seeds: list[int], multi_seed_corpora: list[str], extra_arms_corpora: list[str]
) -> list[Arm]:
    """Every stage-2 run, in the order they run: corpus by corpus (in `corpora` order), seed by seed, arm by arm.

    A corpus gets every seed if it is in `multi_seed_corpora`, else the first; an arm that needs the noise mask runs
    only on corpora that have one; arms beyond `CORE_ARMS` run only on `extra_arms_corpora`.
    """
    planned = []
    for corpus in corpora:
        for seed in seeds if corpus in multi_seed_corpora else seeds[:1]:
            for name in arms:
                definition = ARMS[name]
                if definition.needs_noise_mask and not PRETRAINING_CORPORA[corpus].has_noise_mask:
                    continue
                if name not in CORE_ARMS and corpus not in extra_arms_corpora:
                    continue
                planned.append(Arm(corpus, name, seed))
    return planned


__all__ = [
    "ARMS",
    "BASELINE_ARM",
    "CORE_ARMS",
    "PRETRAINING_CORPORA",
    "NO_PRETRAINING",
    "ORACLE",
    "ORACLE_ARM",
    "STAGE1",
    "Arm",
    "ArmDefinition",
    "PretrainingCorpus",
    "plan_arms",
]
