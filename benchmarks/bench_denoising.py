#!/usr/bin/env python
"""Denoising benchmark: how well each cleanliness score tells clean labels from wrong ones, against cleanlab.

Corpora with known truth (`--corpora`):

- `semeval_uniform`: the first `--num_sentences` SemEval-2010 training sentences, `--uniform_rate` (30%) of the labels
  replaced by a different label drawn uniformly (`finecl_hf.data.label_noise.uniform_label_noise`, `--noise_seed`);
- `semeval_confusable`: the same sentences, `--confusable_rate` (40%) of the labels confused as annotators do: direction
  swapped, `Other`, or (a minority) a random label (`confusable_label_noise`, mixture in its docstring);
- `noise_0.3`, `noise_0.5`: the 17,448 gold triples of the 500 Re-DocRED documents with 30% / 50% of them given a
  wrong label the way distant supervision errs (`finecl_hf.data.document_noise`, the corpora of `make reproduce`;
  truth = the noise mask);
- `natural`: the 500 Re-DocRED documents distantly labelled with the DocRED-train facts (as `make demo` does,
  `dataset_scripts/distant_supervision.py`): real distant-supervision noise, truth = `confirmed_by_gold`, scored on
  documents 251-500 (`natural`) and on all 500 (`natural_all`). Sampled no-relation pairs are trained on but not
  scored (their truth is unknown).

**Tuning protocol** (`--split tuning`): choices are made on tuning corpora only, which share no label noise with the
reported ones: the noisy corpora drawn with `--tuning_noise_seed` (1) instead of `--noise_seed` (0), and for real
noise the labels of documents 1-250 (`natural_tuning`). The reported corpora (`--split reported`, the default) are
run once the choices are fixed. A tuning seed equal to the reported one is refused.

Detectors (arms), every one scored on the same instances:

- `stage1`: the project's stage 1 (`finecl_hf.learning_order.run.run_learning_order`, batch mode, class upsampling
  off) trained once on the noisy labels for `--num_train_epochs`; it yields the paper's `learned_epoch` and every score
  of the score registry (`finecl_hf.order_scores`), each oriented higher = cleaner: the training dynamics,
  the evidence scores that need no classifier (`type_agreement`, `neighbour_agreement`, `out_of_sample`: the frozen
  backbone's features) and their rank average `combined`;
- `cleanlab`: K-fold (`--cleanlab_folds`) out-of-sample probabilities from the *same* stage-1 run (same classifier and
  recipe) trained on K-1 folds and applied to the held-out fold (SemEval: folds of sentences; Re-DocRED: folds of
  documents), then `cleanlab.rank.get_label_quality_scores` (self-confidence, continuous) and
  `cleanlab.filter.find_label_issues` (a binary flag: clean = not flagged). **Equal compute:** each fold model trains
  `num_train_epochs / (K - 1)` epochs on `(K-1)/K` of the instances, so the K models together make exactly the
  `num_train_epochs × n` instance passes (and the same number of optimizer steps, to rounding) that the single stage-1
  run makes; cleanlab also pays one inference pass over the held-out instances, which its wall time includes;
- `random`: uniform random scores (seeded): the floor.

Metrics (over instances of known truth): ROC-AUC of the score for clean vs wrong (with a 95% bootstrap interval),
average precision of the *reversed* score for finding wrong labels, label precision (share of clean labels) of the
25% and 50% of instances the score ranks cleanest (ties broken at random, in expectation), and wall and CPU time:
the training-dynamics scores share the stage-1 training; an evidence score's wall time is its own extra work (the one
encoding pass counts where it first ran, `neighbour_agreement`); `combined`'s is the whole stage-1 run.

`--recipes` repeats the stage-1 arm with other recipes (learning rate, batch, warm-up, epochs, mode), each reported
in the recipe table. `--quick` shrinks everything for the test suite (use a tiny `--model_name_or_path`).

```bash
make bench-denoising                                     # the README table (MiniLM, ~30 min on 2 CPU cores)
python benchmarks/bench_denoising.py --corpora semeval_uniform --num_sentences 1000 --num_train_epochs 2
python benchmarks/bench_denoising.py --quick --model_name_or_path tiny-model --output_dir /tmp/bench --results_dir /tmp/bench
```

Needs the optional extra `denoising` (`pip install -e ".[denoising]"`: scikit-learn, cleanlab).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

logger = logging.getLogger("bench_denoising")

CORPORA = ("semeval_uniform", "semeval_confusable", "noise_0.3", "noise_0.5", "natural")
SPLITS = ("reported", "tuning")
NATURAL_TUNING_DOCUMENTS = 250  # natural: documents 1-250 tune, 251-500 are reported
CLEAN_COLUMN = "label_is_clean"  # bool per instance; null where the truth is unknown (sampled no-relation pairs)
TOP_FRACTIONS = (0.25, 0.5)
ARMS = ("stage1", "cleanlab")


@dataclass
class BenchmarkArguments:
    """What the denoising benchmark runs (see the module docstring)."""

    corpora: list[str] = field(default_factory=lambda: list(CORPORA), metadata={"help": f"Any of {', '.join(CORPORA)}."})
    model_name_or_path: str | None = field(default=None, metadata={"help": "Backbone (default: the offline MiniLM)."})
    num_sentences: int = field(default=4000, metadata={"help": "SemEval training sentences used (the first N)."})
    uniform_rate: float = field(default=0.3, metadata={"help": "Share of SemEval labels flipped uniformly."})
    confusable_rate: float = field(default=0.4, metadata={"help": "Share of SemEval labels confused."})
    split: str = field(default="reported", metadata={"help": "`reported` corpora, or the `tuning` ones (module docstring)."})
    noise_seed: int = field(default=0, metadata={"help": "Seed of the noise generators of the reported corpora."})
    tuning_noise_seed: int = field(default=1, metadata={"help": "Seed of the noise generators of the tuning corpora."})
    max_documents: int | None = field(default=None, metadata={"help": "Re-DocRED: only the first N documents."})
    na_ratio: float = field(default=1.0, metadata={"help": "Re-DocRED: no-relation pairs per positive (as `make demo`)."})
    documents_per_batch: int = field(
        default=4, metadata={"help": "Stage-1 batches of the document corpora: all instances of N documents (0: --per_device_train_batch_size instances)."}
    )
    sentence_max_length: int = field(default=128, metadata={"help": "Sub-word tokens per SemEval sentence."})
    document_max_length: int = field(default=256, metadata={"help": "Sub-word tokens per Re-DocRED document (demo: 256)."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Stage-1 epochs; cleanlab gets the same budget."})
    per_device_train_batch_size: int = field(default=16, metadata={"help": "Stage-1 batch size."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Stage-1 learning rate."})
    warmup_steps: float = field(default=0.0, metadata={"help": "Stage-1 warm-up: steps, or a ratio of all steps if < 1."})
    mode: str = field(default="batch", metadata={"help": "Stage-1 recording mode (`batch` or `epoch`)."})
    class_balance: float = field(default=0.0, metadata={"help": "Stage-1 class-balanced loss exponent (0: plain)."})
    recipes: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Extra stage-1 recipes to compare, each `name:key=value,...` with keys lr, batch, warmup, epochs, "
            "mode, docs, balance (e.g. `defaults:lr=4e-5,batch=32,warmup=0.1`); only the stage-1 arm is run for them."
        },
    )
    cleanlab_folds: int = field(default=4, metadata={"help": "K of the K-fold out-of-sample probabilities (>= 2)."})
    arms: list[str] = field(
        default_factory=lambda: list(ARMS), metadata={"help": f"Detectors to run, any of {', '.join(ARMS)} (random always runs)."}
    )
    bootstrap: int = field(default=200, metadata={"help": "Bootstrap resamples for the ROC-AUC interval (0: none)."})
    seed: int = field(default=42, metadata={"help": "Seed of training and of the random baseline."})
    output_dir: str = field(default="outputs/bench_denoising", metadata={"help": "Runs, datasets and the arm cache."})
    results_dir: str = field(default="outputs/bench_denoising/results", metadata={"help": "Where denoising_results.{md,json} and the PNG go (a run to publish: a new folder under docs/results/)."})
    quick: bool = field(default=False, metadata={"help": "Tiny sizes for tests: 160 sentences, 12 documents, 2 epochs."})
    overwrite_cache: bool = field(default=False, metadata={"help": "Recompute arms even when cached."})

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"--split {self.split!r} is invalid: choose from {', '.join(SPLITS)}.")
        if self.split == "tuning" and self.tuning_noise_seed == self.noise_seed:
            raise ValueError(
                f"--tuning_noise_seed {self.tuning_noise_seed} equals --noise_seed {self.noise_seed}: the tuning corpora "
                "would be the reported ones; choose another seed. Nothing was written."
            )
        unknown = sorted(set(self.corpora) - set(CORPORA))
        if unknown:
            raise ValueError(f"--corpora {unknown} is invalid: choose from {', '.join(CORPORA)}.")
        if set(self.arms) - set(ARMS):
            raise ValueError(f"--arms {sorted(set(self.arms) - set(ARMS))} is invalid: choose from {', '.join(ARMS)}.")
        if self.cleanlab_folds < 2:
            raise ValueError(f"--cleanlab_folds {self.cleanlab_folds} is invalid: K-fold needs K >= 2.")
        if self.quick:
            self.num_sentences = min(self.num_sentences, 160)
            self.max_documents = min(self.max_documents or 16, 16)
            self.num_train_epochs = min(self.num_train_epochs, 2.0)
            self.cleanlab_folds = 2
            self.bootstrap = min(self.bootstrap, 20)


@dataclass(frozen=True)
class Recipe:
    """A stage-1 training recipe."""

    name: str
    learning_rate: float
    batch_size: int
    warmup: float
    epochs: float
    mode: str = "batch"
    documents_per_batch: int = 0
    class_balance: float = 0.0

    @classmethod
    def parse(cls, text: str, base: Recipe) -> Recipe:
        """`name:lr=4e-5,batch=32,warmup=0.1,epochs=3,mode=batch,docs=4,balance=0.5`; missing keys come from `base`."""
        name, _, settings = text.partition(":")
        keys = {"lr": ("learning_rate", float), "batch": ("batch_size", int), "warmup": ("warmup", float),
                "epochs": ("epochs", float), "mode": ("mode", str), "docs": ("documents_per_batch", int),
                "balance": ("class_balance", float)}
        values = {**asdict(base), "name": name}
        for item in filter(None, settings.split(",")):
            key, _, value = item.partition("=")
            if key not in keys or not value:
                raise ValueError(f"--recipes {text!r}: {item!r} is invalid; use key=value with keys {', '.join(keys)}.")
            field_name, convert = keys[key]
            values[field_name] = convert(value)
        return cls(**values)

    def describe(self) -> str:
        batches = f"batch {self.batch_size}" + (f" (documents: {self.documents_per_batch} per batch)" if self.documents_per_batch else "")
        balance = f", class-balanced loss (count ** -{self.class_balance:g})" if self.class_balance else ""
        return f"lr {self.learning_rate:g}, {batches}, warm-up {self.warmup:g}, {self.epochs:g} epochs, {self.mode} mode{balance}"


@dataclass
class Corpus:
    """Instances with a (possibly noisy) `relation` label and `label_is_clean`, and the documents they refer to."""

    name: str
    instances: Any  # datasets.Dataset
    documents: Any | None
    no_relation: str
    record_no_relation: bool
    max_length: int
    description: str
    evaluations: dict[str, Any] = field(default_factory=dict)  # row name -> bool mask of the instances scored (None: all)

    @property
    def truth(self) -> tuple[np.ndarray, np.ndarray]:
        """`(uids, clean)` of the instances whose truth is known."""
        return self.truth_of(None)

    def truth_of(self, mask: Any) -> tuple[np.ndarray, np.ndarray]:
        """`(uids, clean)` of the instances in `mask` (None: all) whose truth is known."""
        values = self.instances[CLEAN_COLUMN]
        known = np.array([value is not None for value in values])
        if mask is not None:
            known &= np.asarray(mask, dtype=bool)
        uids = np.asarray(self.instances["uid"], dtype=object)[known]
        return uids, np.array([bool(value) for value in values], dtype=bool)[known]


# --------------------------------------------------------------------------------------------------- metrics


def precision_at_top(scores: np.ndarray, clean: np.ndarray, fraction: float) -> float:
    """Share of clean labels among the `fraction` of instances with the highest scores.

    Instances tied at the cut count with their group's mean cleanliness: the expected precision under random
    tie-breaking, so an integer score (`learned_epoch`) or a binary flag is not favoured by the row order.
    """
    count = max(1, int(round(fraction * scores.size)))
    threshold = np.sort(scores)[::-1][count - 1]
    above = scores > threshold
    tied = scores == threshold
    from_ties = count - int(above.sum())
    return float((clean[above].sum() + from_ties * clean[tied].mean()) / count)


def detection_metrics(scores: np.ndarray, clean: np.ndarray, bootstrap: int, seed: int,
                      groups: np.ndarray | None = None) -> dict[str, float]:
    """ROC-AUC (clean vs wrong) with two 95% bootstrap intervals, AP of finding wrong labels, precision of the top
    25%/50%. `roc_auc_low/high` resample `groups` (the documents of a document corpus: its labels share text,
    entities and labeller errors; a sentence is its own group), `roc_auc_label_low/high` single labels (the intervals
    reported before 2026-12-06)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from finecl_hf.learning_order.analysis import auc_interval

    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite.")
    metrics = {"roc_auc": float(roc_auc_score(clean, scores)), "average_precision": float(average_precision_score(~clean, -scores))}
    low, high = auc_interval(scores, clean, groups, bootstrap, seed)
    label_low, label_high = auc_interval(scores, clean, None, bootstrap, seed)
    metrics.update(roc_auc_low=low, roc_auc_high=high, roc_auc_label_low=label_low, roc_auc_label_high=label_high)
    for fraction in TOP_FRACTIONS:
        metrics[f"precision_top_{int(fraction * 100)}"] = precision_at_top(scores, clean, fraction)
    return metrics


# --------------------------------------------------------------------------------------------------- corpora


def semeval_corpus(args: BenchmarkArguments, noise: str) -> Corpus:
    """The first `num_sentences` SemEval training sentences with seeded noise."""
    from finecl_hf.data.label_noise import confusable_label_noise, uniform_label_noise
    from finecl_hf.data.schema import SEMEVAL_NO_RELATION
    from finecl_hf.learning_order.sentence_data import read_semeval_split

    sentences = read_semeval_split("train")
    sentences = sentences.select(range(min(args.num_sentences, len(sentences))))
    names = sentences.features["relation"].names
    clean = np.asarray(sentences["relation"])
    seed = active_noise_seed(args)
    if noise == "uniform":
        noisy = uniform_label_noise(clean, len(names), args.uniform_rate, seed)
        description = f"SemEval train, first {len(clean)} sentences, {args.uniform_rate:.0%} uniform label flips (seed {seed})"
    else:
        noisy = confusable_label_noise(clean, names, args.confusable_rate, seed, SEMEVAL_NO_RELATION)
        mix = ", ".join(f"{kind} {count}" for kind, count in noisy.kind_counts().items())
        description = f"SemEval train, first {len(clean)} sentences, {args.confusable_rate:.0%} confusable noise ({mix}; seed {seed})"
    features = sentences.features.copy()
    sentences = sentences.map(
        lambda row, index: {"relation": int(noisy.labels[index]), CLEAN_COLUMN: not bool(noisy.corrupted[index])},
        with_indices=True,
        desc="applying label noise",
    ).cast(_with_clean_column(features))
    # SemEval's `Other` is a class like the others here: its labels can be right or wrong.
    name = corpus_name(f"semeval_{noise}", args)
    return Corpus(name, sentences, None, SEMEVAL_NO_RELATION, True, args.sentence_max_length, description, {name: None})


def active_noise_seed(args: BenchmarkArguments) -> int:
    return args.tuning_noise_seed if args.split == "tuning" else args.noise_seed


def corpus_name(name: str, args: BenchmarkArguments) -> str:
    return f"{name}_tuning" if args.split == "tuning" else name


def _with_clean_column(features: Any) -> Any:
    from datasets import Value

    features = features.copy()
    features[CLEAN_COLUMN] = Value("bool")
    return features


def natural_corpus(args: BenchmarkArguments, work_dir: Path) -> Corpus:
    """The distant Re-DocRED instances (as `make demo` builds them), truth = the triple's `confirmed_by_gold`."""
    from finecl_hf.data.distant_supervision import label_distantly
    from finecl_hf.paths import data_dir

    corpus_dir = data_dir()
    folder = work_dir / f"redocred_distant_na{args.na_ratio:g}"
    if not (folder / "README.md").is_file():
        label_distantly(
            [_redocred_source()], corpus_dir / "docred" / "train_annotated.fact.json.gz", folder,
            rel_info_file=corpus_dir / "docred" / "rel_info.json", na_ratio=args.na_ratio, overwrite=True,
        )  # fmt: skip
    corpus = _document_corpus("natural", folder, args, "distant Re-DocRED")
    document = np.asarray(corpus.instances["document_index"])
    # The first 250 documents tune; a --quick run (16 documents) splits its documents in halves the same way.
    tuning = document < min(NATURAL_TUNING_DOCUMENTS, len(corpus.documents) // 2)
    if args.split == "tuning":
        corpus.evaluations = {"natural_tuning": tuning}
    else:
        corpus.evaluations = {"natural": ~tuning, "natural_all": None}
    return corpus


def noise_corpus(name: str, args: BenchmarkArguments, work_dir: Path) -> Corpus:
    """Gold Re-DocRED triples with a seeded share given a wrong label (`finecl_hf.data.document_noise`)."""
    from finecl_hf.data.document_noise import write_noisy_corpus
    from finecl_hf.paths import data_dir

    rate, seed = float(name.removeprefix("noise_")), active_noise_seed(args)
    folder = work_dir / f"{name}_seed{seed}_na{args.na_ratio:g}"
    if not (folder / "README.md").is_file():
        write_noisy_corpus(
            [_redocred_source()], folder, noise_rate=rate, rel_info_file=data_dir() / "docred" / "rel_info.json",
            seed=seed, na_ratio=args.na_ratio, overwrite=True,
        )  # fmt: skip
    corpus = _document_corpus(corpus_name(name, args), folder, args, f"Re-DocRED gold triples, {rate:.0%} corrupted (seed {seed})")
    corpus.evaluations = {corpus.name: None}
    return corpus


def _redocred_source() -> Any:
    from finecl_hf.data.conversion import SplitSource
    from finecl_hf.paths import data_dir

    return SplitSource("train", data_dir() / "redocred" / "test_revised.json.gz")


def _document_corpus(name: str, folder: Path, args: BenchmarkArguments, what: str) -> Corpus:
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.data.schema import NO_RELATION
    from finecl_hf.learning_order.analysis import instance_correctness

    documents = load_dataset_folder(folder, split="train")
    instances = load_dataset_folder(folder, "relation_instances", split="train")
    if args.max_documents is not None and args.max_documents < len(documents):
        documents = documents.select(range(args.max_documents))
        instances = instances.filter(lambda index: index < args.max_documents, input_columns="document_index")
    correct, known = instance_correctness(instances, documents, "confirmed_by_gold")
    values = [bool(value) if is_known else None for value, is_known in zip(correct, known)]
    instances = instances.add_column(CLEAN_COLUMN, values, feature=_with_clean_column(instances.features)[CLEAN_COLUMN])
    description = (
        f"{what}, {len(documents)} documents, {int(known.sum())} labels ({correct[known].mean():.1%} right) "
        f"+ {int((~known).sum())} sampled no-relation pairs"
    )
    return Corpus(name, instances, documents, NO_RELATION, False, args.document_max_length, description)


def write_corpus_folder(corpus: Corpus, instances: Any, folder: Path) -> Path:
    """A dataset folder stage 1 loads: `train.parquet` (sentences), or documents + `relation_instances` configs."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if corpus.documents is None:
        instances.to_parquet(str(folder / "train.parquet"))
        return folder
    corpus.documents.to_parquet(str(folder / "documents" / "train.parquet"))
    instances.to_parquet(str(folder / "relation_instances" / "train.parquet"))
    (folder / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: default\n  data_files:\n  - split: train\n    path: documents/train.parquet\n"
        "- config_name: relation_instances\n  data_files:\n  - split: train\n    path: relation_instances/train.parquet\n"
        f"no_relation_label: {corpus.no_relation}\n---\n"
    )
    return folder


def load_corpus(name: str, args: BenchmarkArguments, work_dir: Path) -> Corpus:
    if name == "natural":
        return natural_corpus(args, work_dir)
    if name.startswith("noise_"):
        return noise_corpus(name, args, work_dir)
    return semeval_corpus(args, name.removeprefix("semeval_"))


# --------------------------------------------------------------------------------------------------- arms


def stage1_arguments(corpus: Corpus, recipe: Recipe, args: BenchmarkArguments, dataset: Path, run_dir: Path,
                     epochs: float, save: bool, scores: list[str] | None = None) -> tuple[Any, Any]:
    """The data and training arguments of one stage-1 run (class upsampling off: it only serves pre-training).

    `scores`: the cleanliness scores to compute (default: every one the corpus allows)."""
    from finecl_hf.learning_order import LearningOrderArguments, LearningOrderTrainingArguments

    data_args = LearningOrderArguments(
        dataset_path=str(dataset), model_name_or_path=args.model_name_or_path, max_length=corpus.max_length,
        no_relation_label=corpus.no_relation, correct_column=CLEAN_COLUMN,
        learning_order_dir=str(run_dir / "learning_order"), scores=scores,
    )
    training_args = LearningOrderTrainingArguments(
        output_dir=str(run_dir), num_train_epochs=epochs, per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate, warmup_steps=recipe.warmup, mode=recipe.mode,
        record_no_relation=corpus.record_no_relation, upsample_min_percent=0.0, seed=args.seed,
        documents_per_batch=recipe.documents_per_batch if corpus.documents is not None else 0,
        class_balance=recipe.class_balance, save_strategy="epoch" if save else "no", save_total_limit=1, use_cpu=True, report_to="none",
        disable_tqdm=True, logging_steps=50,  # the printed loss every 50 steps is the progress report
    )
    return data_args, training_args


def oriented_scores(order: Any) -> dict[str, np.ndarray]:
    """Every cleanliness score of an exported learning-order dataset, oriented higher = cleaner.

    The scores of the registry (`finecl_hf.order_scores.cleanliness`), `learned_epoch` first; without the
    registry (older checkouts), `learned_epoch` alone: earlier = cleaner, never learned last (`analysis.clean_label_auc`).
    """
    try:
        from finecl_hf.order_scores import SCORES, cleanliness
    except ImportError:
        epochs = np.asarray(order["learned_epoch"], dtype=np.float64)
        return {"learned_epoch": np.where(epochs < 0, -(epochs.max(initial=0) + 1), -epochs)}
    return {name: cleanliness(name, order) for name in SCORES if name in order.column_names}


def run_stage1_arm(corpus: Corpus, recipe: Recipe, args: BenchmarkArguments, work_dir: Path) -> dict[str, Any]:
    """One stage-1 run on all instances: `{"uids", "scores": {name: oriented score}, "wall_s", "cpu_s"}`."""
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.learning_order.run import run_learning_order

    run_dir = work_dir / corpus.name / f"stage1-{recipe.name}"
    dataset = write_corpus_folder(corpus, corpus.instances, run_dir / "dataset")
    data_args, training_args = stage1_arguments(corpus, recipe, args, dataset, run_dir, recipe.epochs, save=False)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_learning_order(data_args, training_args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    order = load_dataset_folder(result.output_dir, "instances", split="train")
    scores = oriented_scores(order)
    return {"uids": list(order["uid"]), "scores": {k: v.tolist() for k, v in scores.items()}, "wall_s": wall, "cpu_s": cpu,
            "stage1_clean_label_auc": result.clean_label_auc, "score_seconds": result.score_seconds or {}}


def fold_of_instances(corpus: Corpus, folds: int, seed: int) -> np.ndarray:
    """Fold id per instance: random folds of sentences, or of documents (a document's instances share a fold)."""
    rng = np.random.default_rng(seed)
    if corpus.documents is None:
        return rng.permutation(len(corpus.instances)) % folds
    document_fold = rng.permutation(len(corpus.documents)) % folds
    return document_fold[np.asarray(corpus.instances["document_index"])]


def held_out_probabilities(model_dir: Path, corpus: Corpus, instances: Any, args: BenchmarkArguments) -> tuple[list[str], np.ndarray]:
    """Softmax probabilities of a trained stage-1 classifier on `instances`, tokenized exactly as stage 1 does."""
    import torch
    from transformers import AutoTokenizer

    from finecl_hf.data.data_collator import split_model_inputs
    from finecl_hf.learning_order.arguments import LearningOrderArguments
    from finecl_hf.learning_order.run import _tokenized_training_data
    from finecl_hf.modeling import FineCLForRelationExtraction

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = FineCLForRelationExtraction.from_pretrained(model_dir).eval()
    data_args = LearningOrderArguments(dataset_path="", max_length=corpus.max_length)
    rows, collator = _tokenized_training_data(instances, corpus.documents, tokenizer, data_args)
    uids, probabilities = [], []
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            batch = rows[start : start + 64]
            features = [dict(zip(batch, values)) for values in zip(*batch.values())]
            inputs, _ = split_model_inputs(collator(features))
            probabilities.append(torch.softmax(model(**inputs)["logits"].float(), dim=-1).numpy())
            uids += batch["uid"]
    return uids, np.concatenate(probabilities)


def run_cleanlab_arm(corpus: Corpus, recipe: Recipe, args: BenchmarkArguments, work_dir: Path) -> dict[str, Any]:
    """K-fold out-of-sample probabilities from stage-1 runs at the same total budget, then cleanlab."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from finecl_hf.learning_order.run import run_learning_order

    folds = args.cleanlab_folds
    fold = fold_of_instances(corpus, folds, args.seed)
    epochs_per_fold = recipe.epochs / (folds - 1)  # K models × (K-1)/K of the data × this = the stage-1 budget
    wall, cpu = time.perf_counter(), time.process_time()
    uids, probabilities = [], []
    for k in range(folds):
        run_dir = work_dir / corpus.name / f"cleanlab-{recipe.name}-fold{k}"
        train = corpus.instances.select(np.flatnonzero(fold != k))
        dataset = write_corpus_folder(corpus, train, run_dir / "dataset")
        data_args, training_args = stage1_arguments(
            corpus, recipe, args, dataset, run_dir, epochs_per_fold, save=True, scores=["learned_epoch"]
        )
        run_learning_order(data_args, training_args)
        checkpoint = max(run_dir.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[-1]))
        fold_uids, fold_probabilities = held_out_probabilities(checkpoint, corpus, corpus.instances.select(np.flatnonzero(fold == k)), args)
        uids += fold_uids
        probabilities.append(fold_probabilities)
        shutil.rmtree(checkpoint)  # a MiniLM per fold is 90 MB
    probabilities = np.concatenate(probabilities)
    label_of = dict(zip(corpus.instances["uid"], corpus.instances["relation"]))
    labels = np.array([label_of[uid] for uid in uids])
    # cleanlab needs every class it is given to occur among the labels: keep the classes that do, renormalised.
    present = np.unique(labels)
    compact = np.searchsorted(present, labels)
    kept = probabilities[:, present]
    kept = kept / kept.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(compact, kept)
    issues = find_label_issues(compact, kept)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "uids": uids,
        "scores": {"cleanlab_label_quality": quality.tolist(), "cleanlab_find_label_issues": (~issues).astype(float).tolist()},
        "wall_s": wall, "cpu_s": cpu, "epochs_per_fold": epochs_per_fold,
    }


def cached(path: Path, compute, overwrite: bool) -> dict[str, Any]:
    """`compute()`'s JSON result, kept at `path` so an interrupted benchmark resumes arm by arm."""
    if path.is_file() and not overwrite:
        logger.info(f"reusing {path}")
        return json.loads(path.read_text())
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def arm_key(corpus: Corpus, args: BenchmarkArguments, recipe: Recipe, arm: str, extra: str = "") -> str:
    """Cache key of an arm: everything its result depends on."""
    parts = [arm, corpus.description, args.model_name_or_path or "minilm", str(corpus.max_length), repr(recipe), str(args.seed), extra]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------- benchmark


def score_rows(corpus: Corpus, arms: dict[str, dict[str, Any]], args: BenchmarkArguments) -> tuple[list[dict], dict]:
    """Metrics of every score of every arm on the instances of known truth that every arm scored, for each of the
    corpus's evaluations (row name -> instances scored); curves of the first."""
    from finecl_hf.learning_order.analysis import document_groups

    rows, curves = [], {}
    for evaluation, mask in (corpus.evaluations or {corpus.name: None}).items():
        truth_uids, truth = corpus.truth_of(mask)
        common = set(truth_uids)
        for result in arms.values():
            common &= set(result["uids"])
        keep = np.array([uid in common for uid in truth_uids])
        uids, clean = truth_uids[keep], truth[keep]
        groups = document_groups(uids)  # intervals resample documents (a sentence is its own)
        for arm, result in arms.items():
            position = {uid: index for index, uid in enumerate(result["uids"])}
            order = np.array([position[uid] for uid in uids])
            for name, values in result["scores"].items():
                scores = np.asarray(values, dtype=np.float64)[order]
                metrics = detection_metrics(scores, clean, args.bootstrap, args.seed, groups)
                rows.append({"corpus": evaluation, "score": name, "arm": arm, "instances": int(clean.size),
                             "clean_rate": float(clean.mean()), **metrics, "wall_s": score_wall_time(result, name),
                             "cpu_s": result["cpu_s"]})
                if evaluation not in curves:
                    curves.setdefault(f"_{evaluation}", {})[name] = scores
        curves[evaluation] = {"clean": clean, "scores": curves.pop(f"_{evaluation}")}
    first = next(iter(curves))
    return rows, curves[first]


def score_wall_time(result: dict[str, Any], name: str) -> float:
    """A score's wall time: evidence scores their own extra work; `combined` the whole run; training-dynamics scores
    the run without the evidence scores' extra work."""
    from finecl_hf.order_scores import SCORES

    seconds = result.get("score_seconds") or {}
    evidence = {score: value for score, value in seconds.items() if score in SCORES and SCORES[score].needs != "dynamics"}
    if name == "combined" or name not in SCORES:
        return result["wall_s"]
    if name in evidence:
        return evidence[name]
    return result["wall_s"] - sum(evidence.values())


def run_benchmark(args: BenchmarkArguments, command: str = "") -> dict[str, Any]:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_warning()
    work_dir = Path(args.output_dir).resolve()
    base = Recipe("main", args.learning_rate, args.per_device_train_batch_size, args.warmup_steps, args.num_train_epochs,
                  args.mode, args.documents_per_batch, args.class_balance)
    recipes = [Recipe.parse(text, base) for text in args.recipes]
    report: dict[str, Any] = {"command": command, "arguments": asdict(args), "recipe": base.describe(), "rows": [],
                              "recipes": [], "corpora": {}}
    curves = {}
    for name in args.corpora:
        corpus = load_corpus(name, args, work_dir / "datasets")
        logger.info(f"{corpus.name}: {corpus.description}")
        for evaluation in corpus.evaluations or {corpus.name: None}:
            report["corpora"][evaluation] = corpus.description + _evaluation_note(evaluation)
        cache = work_dir / "cache" / name
        arms = {}
        stage1_extra = _registry_fingerprint()
        if "stage1" in args.arms:
            arms["stage1"] = cached(cache / f"stage1-{arm_key(corpus, args, base, 'stage1', stage1_extra)}.json",
                                    lambda: run_stage1_arm(corpus, base, args, work_dir), args.overwrite_cache)
        if "cleanlab" in args.arms:
            arms["cleanlab"] = cached(
                cache / f"cleanlab-{arm_key(corpus, args, base, 'cleanlab', str(args.cleanlab_folds))}.json",
                lambda: run_cleanlab_arm(corpus, base, args, work_dir), args.overwrite_cache)
        truth_uids, _ = corpus.truth
        rng = np.random.default_rng(args.seed)
        arms["random"] = {"uids": list(truth_uids), "scores": {"random": rng.random(truth_uids.size).tolist()}, "wall_s": 0.0, "cpu_s": 0.0}
        rows, curves[corpus.name] = score_rows(corpus, arms, args)
        report["rows"] += rows
        logger.info("\n" + format_rows(rows))
        for recipe in recipes:
            result = cached(cache / f"stage1-{arm_key(corpus, args, recipe, 'stage1', stage1_extra)}.json",
                            lambda: run_stage1_arm(corpus, recipe, args, work_dir), args.overwrite_cache)
            recipe_rows, _ = score_rows(corpus, {"stage1": result}, args)
            report["recipes"] += [{**row, "recipe": recipe.name, "recipe_settings": recipe.describe()} for row in recipe_rows]
    write_results(report, curves, Path(args.results_dir))
    return report


def _evaluation_note(evaluation: str) -> str:
    notes = {"natural": "; scored on documents 251-500", "natural_all": "; scored on all documents",
             "natural_tuning": "; scored on documents 1-250"}
    return notes.get(evaluation, "")


def _registry_fingerprint() -> str:
    """Names of the registered scores, the combined score's components and the evidence settings: a stage-1 arm cached
    before any of them changed is recomputed."""
    try:
        from finecl_hf.learning_order.evidence import EvidenceSettings
        from finecl_hf.order_scores import COMBINED_COMPONENTS, COMBINED_WEIGHTS, SCORES
    except ImportError:
        return ""
    return "|".join([",".join(SCORES), ",".join(COMBINED_COMPONENTS), repr(COMBINED_WEIGHTS), repr(EvidenceSettings())])


# --------------------------------------------------------------------------------------------------- output

TABLE_HEADER = ["corpus", "score", "arm", "ROC-AUC [95% CI, documents]", "[95% CI, labels]", "AP (wrong)", "prec. top 25%", "prec. top 50%", "wall s", "CPU s"]


def format_rows(rows: list[dict], recipe_column: bool = False) -> str:
    header = (["recipe"] if recipe_column else []) + TABLE_HEADER
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [row["recipe"]] if recipe_column else []
        cells += [
            row["corpus"], row["score"], row["arm"],
            f"{row['roc_auc']:.3f} [{row['roc_auc_low']:.3f}, {row['roc_auc_high']:.3f}]",
            f"[{row['roc_auc_label_low']:.3f}, {row['roc_auc_label_high']:.3f}]" if "roc_auc_label_low" in row else "–",
            f"{row['average_precision']:.3f}", f"{row['precision_top_25']:.3f}", f"{row['precision_top_50']:.3f}",
            f"{row['wall_s']:.0f}", f"{row['cpu_s']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    parts = ["# Denoising benchmark", "", f"Command: `{report['command']}`", "",
             f"Stage-1 recipe: {report['recipe']}; cleanlab: {report['arguments']['cleanlab_folds']}-fold, same budget.", ""]
    parts += [f"- `{name}`: {description}" for name, description in report["corpora"].items()]
    by_corpus: dict[str, list[dict]] = {}
    for row in report["rows"]:
        by_corpus.setdefault(row["corpus"], []).append(row)
    for name, rows in by_corpus.items():
        rows = sorted(rows, key=lambda row: -row["roc_auc"])
        parts += ["", f"## {name} ({rows[0]['instances']} labels, {rows[0]['clean_rate']:.1%} clean)", "", format_rows(rows)]
    if report["recipes"]:
        parts += ["", "## Stage-1 recipes", ""]
        parts += [f"- `{name}`: {settings}" for name, settings in
                  dict.fromkeys((row["recipe"], row["recipe_settings"]) for row in report["recipes"])]
        parts += ["", format_rows(report["recipes"], recipe_column=True)]
    return "\n".join(parts) + "\n"


def plot_curves(curves: dict[str, dict], path: Path) -> None:
    """Per corpus: ROC curves (clean vs wrong) and label precision of the top-q cleanest instances against q."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    figure, axes = plt.subplots(2, len(curves), figsize=(5 * len(curves), 9), squeeze=False)
    fractions = np.linspace(0.05, 1.0, 20)
    for column, (name, data) in enumerate(curves.items()):
        clean = data["clean"]
        for score, values in data["scores"].items():
            false_positive, true_positive, _ = roc_curve(clean, values)
            style = {"linestyle": "--"} if score.startswith(("cleanlab", "random")) else {}
            if score == "combined":  # the detector the benchmark is about: black and thick, never a recycled colour
                style = {"color": "black", "linewidth": 2}
            style = {"linewidth": 1, **style}
            axes[0, column].plot(false_positive, true_positive, label=score, **style)
            axes[1, column].plot(fractions, [precision_at_top(values, clean, q) for q in fractions], label=score, **style)
        axes[0, column].set(title=f"{name}: ROC (clean = positive)", xlabel="false positive rate", ylabel="true positive rate")
        axes[1, column].axhline(clean.mean(), color="grey", linewidth=0.5)
        axes[1, column].set(title=f"{name}: label precision of the cleanest q", xlabel="q (share kept)", ylabel="share of clean labels")
        axes[0, column].legend(fontsize=6)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(report: dict[str, Any], curves: dict[str, dict], results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "denoising_results.json").write_text(json.dumps(report, indent=1))
    (results_dir / "denoising_results.md").write_text(render_markdown(report))
    plot_curves(curves, results_dir / "denoising_curves.png")
    print(render_markdown(report))
    print(f"written: {results_dir / 'denoising_results.md'}, {results_dir / 'denoising_results.json'}, {results_dir / 'denoising_curves.png'}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import shlex

    from transformers import HfArgumentParser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    (args,) = HfArgumentParser(BenchmarkArguments).parse_args_into_dataclasses(args=argv)
    started = time.perf_counter()
    report = run_benchmark(args, command=shlex.join(["python", "benchmarks/bench_denoising.py", *argv]))
    logger.info(f"benchmark finished in {(time.perf_counter() - started) / 60:.1f} min")
    return report


if __name__ == "__main__":
    main()
