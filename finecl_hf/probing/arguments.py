"""Arguments of the representation probe, for `HfArgumentParser` (`finecl probe`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..paths import DEFAULT_MODEL_HELP, model_or_offline_default
from ..representations.classifier import DEFAULT_MAX_ITERATIONS, DEFAULT_WEIGHT_DECAY
from .probe import ProbeSettings
from .scoring import DEFAULT_NUM_RESAMPLES
from .tasks import PROBE_TASKS


@dataclass
class ProbeArguments:
    """Which encoders to probe, on what, and how."""

    model_name_or_path: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Encoder folder(s): a plain BERT/RoBERTa/MiniLM checkpoint or a FineCL pre-training or "
            "fine-tuning checkpoint. With several, each is also compared (paired) with the first. " + DEFAULT_MODEL_HELP
        },
    )
    task: list[str] = field(
        default_factory=lambda: ["wiki80"],
        metadata={
            "help": f"Probe task(s) among {', '.join(PROBE_TASKS)}: wiki80 (shots: train_0.1, test: dev) and "
            "semeval (shots: train, test: official test), converted from $FINECL_DATA_DIR."
        },
    )
    dataset_path: str | None = field(
        default=None,
        metadata={
            "help": "An already converted sentence-level dataset folder to use instead of converting the task's "
            "corpus (one task only); its splits must be named as the task's (--shot_split/--test_split)."
        },
    )
    shot_split: str | None = field(
        default=None, metadata={"help": "Split the k shots are drawn from (default: the task's)."}
    )
    test_split: str | None = field(default=None, metadata={"help": "The fixed test split (default: the task's)."})
    shots: int = field(default=8, metadata={"help": "Labelled examples per class in each draw (k)."})
    allow_fewer_shots: bool = field(
        default=False,
        metadata={
            "help": "Let a class with fewer than --shots examples in the shot split contribute all of them instead "
            "of stopping (needed for SemEval: its train split has a single Entity-Destination(e2,e1))."
        },
    )
    num_draws: int = field(default=20, metadata={"help": "Seeded k-shot draws (at least 20 for a reported number)."})
    seed: int = field(default=0, metadata={"help": "Seed of the draws and of the bootstrap."})
    weight_decay: float = field(
        default=DEFAULT_WEIGHT_DECAY,
        metadata={"help": "L2 penalty of the logistic regression on standardised features (fixed; see README)."},
    )
    max_iterations: int = field(default=DEFAULT_MAX_ITERATIONS, metadata={"help": "L-BFGS iterations per fit."})
    num_resamples: int = field(
        default=DEFAULT_NUM_RESAMPLES,
        metadata={"help": "Bootstrap resamples (over draws and test examples) for the confidence intervals."},
    )
    confidence_level: float = field(default=0.95, metadata={"help": "Level of the confidence intervals."})
    max_length: int = field(
        default=100, metadata={"help": "Sub-word budget per sentence (fine-tuning's sentence-level default)."}
    )
    entity_markers: str = field(
        default="none",
        metadata={"choices": ["none", "text", "punct"], "help": "Entity markers, as fine-tuning's --entity_markers."},
    )
    batch_size: int = field(default=64, metadata={"help": "Sentences per encoder forward."})
    feature_cache_dir: str | None = field(
        default=None,
        metadata={"help": "Feature cache folder (default: $HF_HOME/finecl_hf/probe_features)."},
    )
    no_feature_cache: bool = field(default=False, metadata={"help": "Encode without reading or writing the cache."})
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where to write probe_results.json (every summary and paired comparison) and, per task and "
            "encoder, the predictions `compare_probes` needs. Nothing is written when unset."
        },
    )

    def __post_init__(self) -> None:
        self.model_name_or_path = list(self.model_name_or_path) or [model_or_offline_default(None)]
        unknown = [name for name in self.task if name not in PROBE_TASKS]
        if unknown:
            raise ValueError(f"--task {unknown}: not a probe task; choose among {', '.join(PROBE_TASKS)}.")
        if self.dataset_path is not None and len(self.task) != 1:
            raise ValueError(f"--dataset_path {self.dataset_path} applies to one task, got --task {self.task}.")
        self.settings()  # checks the numbers now, with the argument's name

    def settings(self) -> ProbeSettings:
        return ProbeSettings(
            shots=self.shots,
            num_draws=self.num_draws,
            seed=self.seed,
            weight_decay=self.weight_decay,
            max_iterations=self.max_iterations,
            num_resamples=self.num_resamples,
            confidence_level=self.confidence_level,
            max_length=self.max_length,
            entity_markers=self.entity_markers,
            allow_fewer_shots=self.allow_fewer_shots,
        )


__all__ = ["ProbeArguments"]
