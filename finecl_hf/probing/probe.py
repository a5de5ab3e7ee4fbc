"""The representation probe: how linearly separable are relations in a frozen encoder's [e_head; e_tail]?

For each of `num_draws` seeded draws, `shots` examples of every class are drawn from the shot split, a linear
classifier (`finecl_hf.representations.classifier`) is fitted on their frozen features, and the fixed test split is
scored.
Draws depend only on the labels, the number of shots and the seed, never on the encoder, so two encoders probed with
the same settings see the same shots and the same test set: `compare_probes` reports their paired difference.

The experiment calls, per encoder and task::

    result = probe_task_encoder("runs/stage2/paper", "wiki80", settings=ProbeSettings(shots=8, num_draws=20))
    result.summary["accuracy"]          # Interval(estimate, low, high) in points
    compare_probes(result, baseline)    # PairedComparison: difference with its 95% CI
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import ClassLabel, Dataset, DatasetDict
from safetensors.numpy import load_file, save_file
from transformers.utils import logging

from ..errors import UsageError
from ..representations.classifier import DEFAULT_MAX_ITERATIONS, DEFAULT_WEIGHT_DECAY, fit_linear_probe
from ..representations.encoder import FrozenRelationEncoder, load_frozen_encoder
from ..representations.features import TokenizationSettings, encode_split, split_fingerprint
from .scoring import (
    ACCURACY,
    DEFAULT_NUM_RESAMPLES,
    Interval,
    bootstrap_weights,
    metric_groups,
    resampled_means,
    score_draws,
)
from .tasks import probe_task

logger = logging.get_logger(__name__)

RESULT_FILE = "probe_result.json"
ARRAYS_FILE = "probe_arrays.safetensors"
_BOOTSTRAP_STREAM = 1  # the draws use stream 0 of the seed, the bootstrap stream 1: adding draws moves no resample
_SEED_STREAM = 2  # resampling of pre-training seeds (compare_probe_groups)


@dataclass
class ProbeSettings:
    """How a probe is run. Two probes are comparable (paired) when their settings are equal.

    Args:
        shots: labelled examples per class in each draw.
        num_draws: seeded k-shot draws (at least 20 for a reported number).
        seed: seed of the draws and of the bootstrap.
        weight_decay: L2 penalty of the logistic regression (fixed, see `finecl_hf.representations.classifier`).
        max_iterations: L-BFGS iterations per fit.
        num_resamples: bootstrap resamples for the confidence intervals.
        confidence_level: of the intervals.
        max_length: sub-word budget per sentence (fine-tuning's sentence-level default).
        entity_markers: `none`, `text` or `punct` (as fine-tuning's `--entity_markers`; `special` would add
            untrained embeddings to a frozen encoder).
        allow_fewer_shots: a class with fewer than `shots` examples in the shot split contributes all of them
            instead of stopping the probe with an error (SemEval train has a single `Entity-Destination(e2,e1)`).
    """

    shots: int = 8
    num_draws: int = 20
    seed: int = 0
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    num_resamples: int = DEFAULT_NUM_RESAMPLES
    confidence_level: float = 0.95
    max_length: int = 100
    entity_markers: str = "none"
    allow_fewer_shots: bool = False

    def __post_init__(self) -> None:
        for name in ("shots", "num_draws", "max_iterations", "num_resamples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1.")
        if not 0 < self.confidence_level < 1:
            raise ValueError(f"confidence_level={self.confidence_level} must lie strictly between 0 and 1.")
        if self.entity_markers not in ("none", "text", "punct"):
            raise ValueError(
                f"entity_markers={self.entity_markers!r} must be 'none', 'text' or 'punct' for a frozen encoder "
                "('special' adds marker embeddings that the frozen encoder never learned)."
            )

    @property
    def tokenization(self) -> TokenizationSettings:
        return TokenizationSettings(self.max_length, self.entity_markers)


@dataclass
class ProbeResult:
    """What one probe of one encoder measured. Metric values are in points (percent).

    Attributes:
        encoder: the encoder folder.
        encoder_fingerprint: hash of its files.
        dataset: task name or dataset folder.
        shot_split, test_split: the splits used.
        test_fingerprint: hash of the test split's inputs (pairing check).
        label_names: class names by id.
        settings: the `ProbeSettings`.
        shot_rows: `[draws, shots per draw]` rows of the shot split drawn for each draw (classes · shots, less
            where `allow_fewer_shots` let a short class give all it has).
        references: `[test examples]` gold class ids.
        predictions: `[draws, test examples]` predicted class ids (-1: the tokenizer could not represent the row).
        per_draw: metric -> `[draws]` score of each draw on the whole test set (points).
        summary: metric -> mean over draws with its bootstrap confidence interval (points).
        timings: seconds spent encoding the test and shot rows (0 when cached) and fitting.
        dropped: rows without features (`test`, `shots`: drawn shots left out of their fit).
    """

    encoder: str
    encoder_fingerprint: str
    dataset: str
    shot_split: str
    test_split: str
    test_fingerprint: str
    label_names: list[str]
    settings: ProbeSettings
    shot_rows: np.ndarray
    references: np.ndarray
    predictions: np.ndarray
    per_draw: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Interval] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-example arrays)."""
        return {
            "encoder": self.encoder,
            "encoder_fingerprint": self.encoder_fingerprint,
            "dataset": self.dataset,
            "shot_split": self.shot_split,
            "test_split": self.test_split,
            "test_fingerprint": self.test_fingerprint,
            "num_test_examples": int(self.references.shape[0]),
            "num_classes": len(self.label_names),
            "settings": asdict(self.settings),
            "summary": {metric: asdict(interval) for metric, interval in self.summary.items()},
            "per_draw": {metric: [round(float(v), 4) for v in values] for metric, values in self.per_draw.items()},
            "timings": self.timings,
            "dropped": self.dropped,
            "label_names": self.label_names,
        }

    def save(self, directory: str | Path) -> Path:
        """Write `probe_result.json` and the arrays (`probe_arrays.safetensors`) that `compare_probes` needs."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"shot_rows": self.shot_rows, "references": self.references, "predictions": self.predictions}
        # The smallest integer type that holds the values: a probe's arrays are kept with experiment results.
        save_file({name: np.ascontiguousarray(_compact(value)) for name, value in arrays.items()},
                  str(directory / ARRAYS_FILE))  # fmt: skip
        (directory / RESULT_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ProbeResult:
        directory = Path(directory)
        data = json.loads((directory / RESULT_FILE).read_text(encoding="utf-8"))
        arrays = load_file(str(directory / ARRAYS_FILE))
        return cls(
            encoder=data["encoder"],
            encoder_fingerprint=data["encoder_fingerprint"],
            dataset=data["dataset"],
            shot_split=data["shot_split"],
            test_split=data["test_split"],
            test_fingerprint=data["test_fingerprint"],
            label_names=data["label_names"],
            settings=ProbeSettings(**data["settings"]),
            shot_rows=arrays["shot_rows"],
            references=arrays["references"],
            predictions=arrays["predictions"],
            per_draw={metric: np.asarray(values) for metric, values in data["per_draw"].items()},
            summary={metric: Interval(**interval) for metric, interval in data["summary"].items()},
            timings=data["timings"],
            dropped=data["dropped"],
        )

    def __repr__(self) -> str:
        scores = ", ".join(f"{metric} {interval}" for metric, interval in self.summary.items())
        return (
            f"ProbeResult(encoder={self.encoder!r}, dataset={self.dataset!r}, shots={self.settings.shots}, "
            f"draws={self.settings.num_draws}, {scores})"
        )


@dataclass
class PairedComparison:
    """`a − b` of one metric on the same draws and test set, in points, with its bootstrap CI.

    `n` is the number of paired draws (summed over seeds for `compare_probe_groups`, whose `a`/`b` then list the
    encoders); `num_test_examples` the size of the test set both were scored on; `per_seed` each seed's own difference
    and CI (over draws and test examples) when the comparison pools several seeds, empty otherwise.
    """

    a: str | list[str]
    b: str | list[str]
    metric: str
    difference: Interval
    n: int
    num_test_examples: int
    per_seed: list[Interval] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "difference": self.difference.estimate,
            "ci_low": self.difference.low,
            "ci_high": self.difference.high,
            "n": self.n,
            "num_test_examples": self.num_test_examples,
        }

    def __repr__(self) -> str:
        return f"PairedComparison({self.a!r} − {self.b!r}, {self.metric} {self.difference}, n={self.n})"


def class_labels(rows: Dataset, argument: str) -> tuple[np.ndarray, list[str]]:
    """The `relation` ids of a sentence split and its label names."""
    feature = rows.features.get("relation")
    if not isinstance(feature, ClassLabel):
        raise UsageError(
            f"{argument}: field 'relation' must be a ClassLabel column of relation labels (columns: {rows.column_names})."
        )
    return np.asarray(rows["relation"], dtype=np.int64), list(feature.names)


def check_probe_inputs(
    shot_labels: np.ndarray,
    test_labels: np.ndarray,
    label_names: list[str],
    shots: int,
    shot_split: str,
    test_split: str,
    allow_fewer_shots: bool = False,
) -> np.ndarray:
    """The classes of the probe (those of the shot split); raises `ValueError` naming the argument and value when a
    class has fewer than `shots` examples (unless `allow_fewer_shots`), or the test split holds a class the shot split
    lacks."""
    counts = np.bincount(shot_labels, minlength=len(label_names))
    classes = np.flatnonzero(counts)
    unseen = sorted(set(np.unique(test_labels).tolist()) - set(classes.tolist()))
    if unseen:
        names = ", ".join(repr(label_names[label]) for label in unseen[:5])
        raise UsageError(
            f"test_split={test_split!r} holds {len(unseen)} class(es) that shot_split={shot_split!r} lacks ({names}"
            f"{', ...' if len(unseen) > 5 else ''}): a linear probe cannot predict a class it never saw, so these "
            "test examples could only count as errors. Probe on splits with the same classes; nothing was written."
        )
    short = classes[counts[classes] < shots]
    if short.size and not allow_fewer_shots:
        worst = short[np.argmin(counts[short])]
        raise UsageError(
            f"shots={shots} is more than class {label_names[worst]!r} has in shot_split={shot_split!r} "
            f"({counts[worst]} examples; {short.size} class(es) have fewer than {shots}): draws of k examples per "
            f"class need k <= {int(counts[classes].min())} here. Lower shots, or let such classes contribute all "
            "their examples (allow_fewer_shots); nothing was written."
        )
    return classes


def draw_shots(labels: np.ndarray, classes: np.ndarray, shots: int, num_draws: int, seed: int) -> np.ndarray:
    """`[num_draws, shots per draw]` row indices: draw d takes `shots` rows of each class without replacement (all of
    a class's rows when it has fewer), with its own generator (seed, 0, d), so draw d is the same whatever
    `num_draws` is."""
    rows_of_class = [np.flatnonzero(labels == label) for label in classes]
    draws = []
    for draw in range(num_draws):
        rng = np.random.default_rng([seed, 0, draw])
        draws.append(
            np.concatenate([rng.choice(rows, size=min(shots, rows.size), replace=False) for rows in rows_of_class])
        )
    return np.stack(draws)


def probe_encoder(
    encoder: str | FrozenRelationEncoder,
    shot_rows: Dataset,
    test_rows: Dataset,
    settings: ProbeSettings = ProbeSettings(),
    *,
    dataset: str = "dataset",
    shot_split: str = "train",
    test_split: str = "test",
    cache_dir: str | Path | bool | None = None,
    batch_size: int = 64,
) -> ProbeResult:
    """Probe one encoder (a folder, or a loaded `FrozenRelationEncoder`) on a shot split and a test split.

    Inputs are checked (shots per class, classes of the test set, the encoder folder) before anything is encoded or
    written. `cache_dir`: feature cache folder (`None`: `$HF_HOME/finecl_hf/probe_features`; `False`: no cache).
    """
    shot_labels, label_names = class_labels(shot_rows, f"shot_split={shot_split!r}")
    test_labels, test_label_names = class_labels(test_rows, f"test_split={test_split!r}")
    if test_label_names != label_names:
        raise UsageError(
            f"test_split={test_split!r} and shot_split={shot_split!r} have different label sets; they must share "
            "one ClassLabel (convert them together)."
        )
    classes = check_probe_inputs(
        shot_labels, test_labels, label_names, settings.shots, shot_split, test_split, settings.allow_fewer_shots
    )
    if isinstance(encoder, FrozenRelationEncoder):
        frozen = encoder
    else:
        frozen = load_frozen_encoder(encoder)
    drawn = draw_shots(shot_labels, classes, settings.shots, settings.num_draws, settings.seed)
    encode = {"settings": settings.tokenization, "batch_size": batch_size, "cache_dir": cache_dir}
    test = encode_split(frozen, test_rows, None, description=f"{dataset} {test_split}", **encode)
    shots = encode_split(frozen, shot_rows, drawn.ravel(), description=f"{dataset} {shot_split} shots", **encode)

    start = time.perf_counter()
    predictions, dropped_shots = _fit_and_predict(test, shots, drawn, shot_labels, classes, settings)
    fit_seconds = time.perf_counter() - start
    result = ProbeResult(
        encoder=frozen.name_or_path,
        encoder_fingerprint=frozen.fingerprint,
        dataset=dataset,
        shot_split=shot_split,
        test_split=test_split,
        test_fingerprint=split_fingerprint(test_rows),
        label_names=label_names,
        settings=settings,
        shot_rows=drawn,
        references=test_labels,
        predictions=predictions,
        timings={
            "encode_test_seconds": round(test.encode_seconds, 3),
            "encode_shots_seconds": round(shots.encode_seconds, 3),
            "fit_seconds": round(fit_seconds, 3),
        },
        dropped={"test": int((~test.encoded).sum()), "shots": dropped_shots},
    )
    _summarise(result)
    logger.info(repr(result))
    return result


def _fit_and_predict(test, shots, drawn, shot_labels, classes, settings) -> tuple[np.ndarray, int]:
    class_index = np.full(int(classes.max()) + 1, -1, dtype=np.int64)
    class_index[classes] = np.arange(classes.size)
    test_rows = np.flatnonzero(test.encoded)
    test_features = torch.from_numpy(test.features[test_rows])
    predictions = np.full((drawn.shape[0], test.features.shape[0]), -1, dtype=np.int64)
    dropped = 0
    for draw, rows in enumerate(drawn):
        usable = rows[shots.encoded[rows]]
        dropped += rows.size - usable.size
        probe = fit_linear_probe(
            torch.from_numpy(shots.features[usable]),
            torch.from_numpy(class_index[shot_labels[usable]]),
            classes.size,
            weight_decay=settings.weight_decay,
            max_iterations=settings.max_iterations,
        )
        predictions[draw, test_rows] = classes[probe.predict(test_features).numpy()]
    return predictions, dropped


def _summarise(result: ProbeResult) -> None:
    settings = result.settings
    draw_weights, example_weights = bootstrap_weights(
        settings.num_draws, result.references.shape[0], settings.num_resamples, seed=_bootstrap_seed(settings)
    )
    for metric, groups in metric_groups(result.label_names).items():
        per_draw = score_draws(result.predictions, result.references, metric, groups)
        resamples = resampled_means(result.predictions, result.references, metric, groups, draw_weights, example_weights)
        result.per_draw[metric] = 100 * per_draw
        interval = Interval.from_resamples(float(per_draw.mean()), resamples, settings.confidence_level)
        result.summary[metric] = interval.scaled(100)


def _bootstrap_seed(settings: ProbeSettings) -> list[int]:
    return [settings.seed, _BOOTSTRAP_STREAM]


def compare_probes(a: ProbeResult, b: ProbeResult, metric: str = ACCURACY) -> PairedComparison:
    """`a − b` of `metric` with a bootstrap CI over draws and test examples, both resampled identically.

    Raises `ValueError` when the two probes did not use the same draws, test set and settings.
    """
    return compare_probe_groups([a], [b], metric)


def compare_probe_groups(
    a: list[ProbeResult], b: list[ProbeResult], metric: str = ACCURACY, seed: int | None = None
) -> PairedComparison:
    """`mean over seeds of (a_s − b_s)` for encoders pre-trained with several seeds, the CI also carrying the seed
    spread: each bootstrap resample draws the seeds (pairs `(a[s], b[s])`) with replacement besides the draws and the
    test examples. `b` may hold one result (a baseline without seeds, e.g. no relation pre-training) shared by every
    seed. With one result each this is `compare_probes`. `seed` seeds the resampling of seeds (default: the probes').
    """
    if not a or len(b) not in (1, len(a)):
        raise ValueError(f"compare_probe_groups needs one or more results in a and 1 or len(a) in b, got {len(a)}, {len(b)}.")
    b = b * len(a) if len(b) == 1 else b
    for left, right in [*zip(a, b), *((a[0], other) for other in a[1:])]:
        _check_paired(left, right)
    groups = metric_groups(a[0].label_names)
    if metric not in groups:
        raise ValueError(f"metric={metric!r} is not computed for this label set; choose one of {list(groups)}.")
    settings = a[0].settings
    draw_weights, example_weights = bootstrap_weights(
        settings.num_draws, a[0].references.shape[0], settings.num_resamples, seed=_bootstrap_seed(settings)
    )
    differences = np.stack([
        resampled_means(left.predictions, left.references, metric, groups[metric], draw_weights, example_weights)
        - resampled_means(right.predictions, right.references, metric, groups[metric], draw_weights, example_weights)
        for left, right in zip(a, b)
    ], axis=1)  # fmt: skip
    estimates = [float(np.mean(left.per_draw[metric] - right.per_draw[metric])) for left, right in zip(a, b)]
    per_seed = [Interval.from_resamples(estimate / 100, differences[:, index], settings.confidence_level).scaled(100)
                for index, estimate in enumerate(estimates)]  # fmt: skip
    if len(a) > 1:
        rng = np.random.default_rng([settings.seed if seed is None else seed, _SEED_STREAM])
        seed_weights = rng.multinomial(len(a), np.full(len(a), 1 / len(a)), size=settings.num_resamples)
        resamples = (differences * seed_weights).sum(1) / len(a)
        interval = Interval.from_resamples(float(np.mean(estimates)) / 100, resamples, settings.confidence_level)
        interval = interval.scaled(100)
    else:
        interval, per_seed = per_seed[0], []
    name = lambda results: results[0].encoder if len(results) == 1 else [result.encoder for result in results]  # noqa: E731
    return PairedComparison(name(a), name(b), metric, interval, settings.num_draws * len(a),
                            int(a[0].references.shape[0]), per_seed)  # fmt: skip


def _compact(values: np.ndarray) -> np.ndarray:
    """Integer `values` in the smallest signed type that holds them (others unchanged)."""
    values = np.asarray(values)
    if values.dtype.kind not in "iu" or values.size == 0:
        return values
    for dtype in (np.int8, np.int16, np.int32):
        limits = np.iinfo(dtype)
        if limits.min <= values.min() and values.max() <= limits.max:
            return values.astype(dtype)
    return values


def _check_paired(a: ProbeResult, b: ProbeResult) -> None:
    for name, left, right in (
        ("dataset", a.dataset, b.dataset),
        ("test_fingerprint", a.test_fingerprint, b.test_fingerprint),
        ("label_names", a.label_names, b.label_names),
        ("settings", asdict(a.settings), asdict(b.settings)),
    ):
        if left != right:
            raise ValueError(f"compare_probes: the probes differ in {name} ({left!r} vs {right!r}); they are not paired.")
    if not (np.array_equal(a.shot_rows, b.shot_rows) and np.array_equal(a.references, b.references)):
        raise ValueError("compare_probes: the probes did not draw the same shots or score the same references.")


def probe_task_encoder(
    model_name_or_path: str | FrozenRelationEncoder,
    task: str,
    *,
    dataset_path: str | None = None,
    settings: ProbeSettings = ProbeSettings(),
    cache_dir: str | Path | bool | None = None,
    batch_size: int = 64,
    dataset: DatasetDict | None = None,
) -> ProbeResult:
    """Probe an encoder on a named task (`wiki80`, `semeval`; see `finecl_hf.probing.tasks`).

    `dataset` (a loaded `DatasetDict` of the task) saves converting the corpus again for every encoder.
    """
    definition = probe_task(task)
    dataset = dataset if dataset is not None else definition.load(dataset_path)
    for argument, split in (("shot_split", definition.shot_split), ("test_split", definition.test_split)):
        if split not in dataset:
            raise UsageError(f"{argument}={split!r} is not a split of the {task} dataset (splits: {list(dataset)}).")
    return probe_encoder(
        model_name_or_path,
        dataset[definition.shot_split],
        dataset[definition.test_split],
        settings,
        dataset=task,
        shot_split=definition.shot_split,
        test_split=definition.test_split,
        cache_dir=cache_dir,
        batch_size=batch_size,
    )


__all__ = [
    "PairedComparison",
    "ProbeResult",
    "ProbeSettings",
    "check_probe_inputs",
    "class_labels",
    "compare_probe_groups",
    "compare_probes",
    "draw_shots",
    "probe_encoder",
    "probe_task_encoder",
]
