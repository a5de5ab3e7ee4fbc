"""Scoring fine-tuned relation extraction models: `compute_metrics` for `Trainer`, prediction files, seed summaries.

Which scores a task reports is its entry's `score` in `finecl_hf.finetuning.tasks`; this module applies it. Sentence
level (one (head, tail) pair per row): SemEval-2010 Task 8 gets the official macro-F1 *and* the paper code's micro-F1,
each under its own name; TACRED-style corpora the micro-F1 without the no-relation label; Wiki80-style corpora (no
no-relation label) accuracy, micro- and macro-F1.

Document level (DocRED format): the evaluation receives, per document, the logits of every scored entity pair and
the (head, tail) entity indices of those pairs (see `RelationExtractionTrainer.prediction_step`). With the BCE loss a
relation is predicted when its probability exceeds a threshold that is tuned on dev and then applied unchanged to
test (never the best threshold of the evaluated split); with the adaptive-threshold loss when its logit exceeds the
no-relation logit. Scores: F1, Ign F1, F1-macro, F1-macro-weighted (`finecl_hf.metrics.compute_docred_f1`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset, Features
from transformers import EvalPrediction

from ..constants import IGNORE_INDEX, find_no_relation_label
from ..errors import UsageError
from ..metrics import docred_train_facts_path, load_train_facts, tune_threshold
from .tasks import get_task, resolve_task

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5  # BCE decision threshold when none could be tuned


# --------------------------------------------------------------------------------------------------- task and labels
def relation_label_names(dataset: Dataset | Features) -> list[str]:
    """The relation class names of a sentence-level (`relation`) or document-level (`relations[].relation`) dataset
    (or of its features)."""
    features = dataset if isinstance(dataset, Features) else dataset.features
    if "relation" in features and isinstance(features["relation"], ClassLabel):
        return list(features["relation"].names)
    if "relations" in features:
        triple = features["relations"]
        triple = getattr(triple, "feature", triple[0] if isinstance(triple, list) else triple)
        if isinstance(triple.get("relation"), ClassLabel):
            return list(triple["relation"].names)
    raise UsageError(
        f"The dataset has no ClassLabel relation column (columns: {list(features)}); convert it with the "
        "finecl_hf.data converters, which store the label names."
    )


# ---------------------------------------------------------------------------------------------------- sentence level
def dropped_row_prediction(label_names: Sequence[str]) -> int:
    """Class id scored for a row the tokenizer dropped: no-relation, or -1 (always wrong) without such a class."""
    no_relation = find_no_relation_label(label_names)
    return list(label_names).index(no_relation) if no_relation is not None else -1


class SentenceMetrics:
    """`compute_metrics` for sentence-level `Trainer` evaluation: argmax over the logits, then the task's `score`.

    Args:
        task: a registered sentence-level task (`semeval`, `tacred`, `wiki80`, ...).
        label_names: class names by id.
        dropped_references: gold class ids of the evaluated split's rows that tokenization dropped (head and tail
            too far apart for `max_length`); they are scored as `dropped_row_prediction`, so the scores cover the
            whole split.
    """

    def __init__(self, task: str, label_names: Sequence[str], dropped_references: Sequence[int] = ()):
        if get_task(task).relation_level != "sentence":
            raise ValueError(f"task={task!r} is not a sentence-level task.")
        self.task = task
        self.label_names = list(label_names)
        self.dropped_references = list(dropped_references)

    def __call__(self, prediction: EvalPrediction) -> dict[str, float]:
        logits = _first(prediction.predictions)
        references = np.asarray(prediction.label_ids)
        kept = references != IGNORE_INDEX
        predictions = logits.argmax(-1)[kept].tolist()
        references = references[kept].tolist()
        fallback = dropped_row_prediction(self.label_names)
        predictions += [fallback] * len(self.dropped_references)
        references += self.dropped_references
        return get_task(self.task).score(predictions, references, self.label_names)


def _first(predictions: Any) -> np.ndarray:
    return np.asarray(predictions[0] if isinstance(predictions, (tuple, list)) else predictions)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def sentence_prediction_records(
    raw: Dataset,
    scored_uids: Sequence[str],
    logits: np.ndarray,
    label_names: Sequence[str],
    references: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """One record per raw row: `uid`, `id`, `gold`, `predicted`, `score` (softmax probability).

    Args:
        raw: the split's converter rows.
        scored_uids: uids of the rows the model scored, aligned with `logits`; the other rows (dropped by the
            tokenizer) get `predicted: null`, `score: null`.
        logits: `[scored rows, labels]`.
        label_names: class names by id.
        references: the gold class ids that came with `logits` (the evaluation's `label_ids`); checked against the
            rows, so that predictions are never written next to the wrong sentence.
    """
    if len(scored_uids) != len(logits):
        raise ValueError(f"{len(logits)} predictions for {len(scored_uids)} scored rows.")
    probabilities = softmax(np.asarray(logits, dtype=np.float64))
    row_of_uid = {uid: index for index, uid in enumerate(scored_uids)}
    records = []
    for row in raw:
        record = {"uid": row["uid"], "id": row.get("id"), "gold": label_names[row["relation"]], "predicted": None,
                  "score": None}
        index = row_of_uid.get(row["uid"])
        if index is not None and references is not None and int(references[index]) != row["relation"]:
            raise ValueError(
                f"Row {row['uid']!r}: the prediction at position {index} came with gold id {int(references[index])}, "
                f"but the row's relation is {row['relation']}: predictions are not in dataset order."
            )
        if index is not None:
            best = int(probabilities[index].argmax())
            record.update(predicted=label_names[best], score=round(float(probabilities[index, best]), 6))
        records.append(record)
    return records


# ---------------------------------------------------------------------------------------------------- document level
def document_reference(row: Mapping[str, Any], label_names: Sequence[str]) -> dict[str, Any]:
    """A document row (finecl_hf schema) as the reference record of `compute_docred_f1`."""
    no_relation = find_no_relation_label(label_names)
    return {
        "title": row.get("title", row.get("uid", "")),
        "entity_names": [[mention["name"] for mention in entity["mentions"]] for entity in row["entities"]],
        "labels": [
            {"h": triple["head"], "t": triple["tail"], "r": label_names[triple["relation"]]}
            for triple in row["relations"]
            if label_names[triple["relation"]] != no_relation
        ],
    }


def resolve_train_facts(train_facts: str | None, train_dataset: Dataset | None, label_names: Sequence[str]):
    """The training facts for Ign F1: a file, `"train"` (built from `train_dataset`) or DocRED's shipped file.

    Returns `None` (Ign F1 not reported, with a warning) when the default file is missing.
    """
    if train_facts == "train":
        if train_dataset is None:
            raise ValueError("train_facts='train' needs the training split.")
        facts = set()
        for row in train_dataset:
            reference = document_reference(row, label_names)
            for label in reference["labels"]:
                for head in reference["entity_names"][label["h"]]:
                    for tail in reference["entity_names"][label["t"]]:
                        facts.add((head, tail, label["r"]))
        return frozenset(facts)
    path = Path(train_facts) if train_facts else docred_train_facts_path()
    if not path.is_file():
        if train_facts:
            raise UsageError(f"--train_facts {train_facts}: no such file.")
        logger.warning("%s is missing: Ign F1 will not be reported (pass --train_facts).", path)
        return None
    return load_train_facts(path)


@dataclass
class DocumentDecoder:
    """Turns one document's pair logits into predicted facts.

    Args:
        document_loss: `bce` (probability > `threshold`) or `adaptive_threshold` (logit > no-relation logit).
        threshold: the BCE decision threshold; required to decode with `bce`.
    """

    document_loss: str = "bce"
    threshold: float | None = None

    def relation_scores(self, logits: np.ndarray) -> np.ndarray:
        """`[pairs, relations - 1]` scores of the real relations: probabilities (bce) or margins over no-relation."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.document_loss == "adaptive_threshold":
            return logits[:, 1:] - logits[:, :1]
        return 1.0 / (1.0 + np.exp(-logits[:, 1:]))

    def decode(self, logits: np.ndarray, pairs: np.ndarray, label_names: Sequence[str]) -> list[dict[str, Any]]:
        """Predicted facts `{"h", "t", "r", "score"}` of one document (pairs: `[pairs, 2]` entity indices)."""
        scores = self.relation_scores(logits)
        if self.document_loss == "adaptive_threshold":
            cut = 0.0
        elif self.threshold is None:
            raise ValueError("DocumentDecoder.threshold is unset: tune it on dev first (bce loss).")
        else:
            cut = self.threshold
        pair_rows, relation_columns = np.nonzero(scores > cut)
        return [
            {
                "h": int(pairs[pair, 0]),
                "t": int(pairs[pair, 1]),
                "r": label_names[column + 1],
                "score": round(float(scores[pair, column]), 6),
            }
            for pair, column in zip(pair_rows.tolist(), relation_columns.tolist())
        ]


def iter_document_outputs(predictions: Any, pair_tables: Any) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """Yield `(logits [pairs, R], pairs [pairs, 2])` per document, dropping the `-100` padding.

    Accepts the concatenated arrays (`[documents, max pairs, ...]`) or, with `eval_do_concat_batches=False`, lists
    of such arrays, one per batch.
    """
    batches = zip(predictions, pair_tables) if isinstance(predictions, list) else [(predictions, pair_tables)]
    for batch_logits, batch_pairs in batches:
        batch_logits, batch_pairs = _first(batch_logits), np.asarray(batch_pairs)
        for logits, pairs in zip(batch_logits, batch_pairs):
            kept = pairs[:, 0] != IGNORE_INDEX
            yield logits[kept], pairs[kept]


class DocumentMetrics:
    """`compute_metrics` for document-level evaluation (see the module docstring).

    Args:
        dataset: the evaluated documents, in the order the evaluation visits them.
        label_names: relation names by id, column 0 being no-relation.
        decoder: how logits become facts. With `bce` and no threshold, the threshold is tuned on the evaluated
            data and reported as `threshold` (only ever do that on dev); set `decoder.threshold` before test.
        train_facts: training facts for Ign F1 (`resolve_train_facts`), or `None`.
        task: a registered document-level task, whose `score` rates the decoded facts.
    """

    def __init__(
        self,
        dataset: Dataset,
        label_names: Sequence[str],
        decoder: DocumentDecoder,
        train_facts: frozenset | None = None,
        task: str = "docred",
    ):
        if get_task(task).relation_level != "document":
            raise ValueError(f"task={task!r} is not a document-level task.")
        self.task = task
        self.label_names = list(label_names)
        self.references = [document_reference(row, self.label_names) for row in dataset]
        self.decoder = decoder
        self.train_facts = train_facts
        self._relation_ids = {name: index for index, name in enumerate(self.label_names)}

    def __call__(self, prediction: EvalPrediction) -> dict[str, float]:
        documents = list(iter_document_outputs(prediction.predictions, prediction.label_ids))
        if len(documents) != len(self.references):
            raise ValueError(f"{len(documents)} evaluated documents for {len(self.references)} reference documents.")
        decoder = self.decoder
        metrics: dict[str, float] = {}
        if decoder.document_loss == "bce" and decoder.threshold is None:
            tuned = DocumentDecoder("bce", self.tune_threshold(documents))
            metrics["threshold"] = tuned.threshold
            decoder = tuned
        elif decoder.document_loss == "bce":
            metrics["threshold"] = decoder.threshold
        predicted = [decoder.decode(logits, pairs, self.label_names) for logits, pairs in documents]
        metrics.update(get_task(self.task).score(predicted, self.references, self.train_facts))
        return metrics

    def tune_threshold(self, documents: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
        """The BCE threshold maximising micro-F1 over these documents (gold facts of unscored pairs count as missed)."""
        scores, labels = [], []
        for (logits, pairs), reference in zip(documents, self.references):
            scores.append(self.decoder.relation_scores(logits))
            labels.append(self._gold_table(pairs, reference))
        num_gold = sum(len({(f["h"], f["t"], f["r"]) for f in reference["labels"]}) for reference in self.references)
        if num_gold == 0:
            logger.warning(f"The evaluated documents hold no relation: no threshold to tune; using {DEFAULT_THRESHOLD}")
            return DEFAULT_THRESHOLD
        return tune_threshold(np.concatenate(scores), np.concatenate(labels), num_gold=num_gold)

    def _gold_table(self, pairs: np.ndarray, reference: Mapping[str, Any]) -> np.ndarray:
        """`[pairs, R - 1]` 0/1 table of the gold facts of one document."""
        table = np.zeros((len(pairs), len(self.label_names) - 1), dtype=np.int64)
        row_of_pair = {(int(head), int(tail)): row for row, (head, tail) in enumerate(pairs)}
        for fact in reference["labels"]:
            row = row_of_pair.get((fact["h"], fact["t"]))
            if row is not None:
                table[row, self._relation_ids[fact["r"]] - 1] = 1
        return table


def document_prediction_records(
    dataset: Dataset, predictions: Any, pair_tables: Any, label_names: Sequence[str], decoder: DocumentDecoder
) -> list[dict[str, Any]]:
    """One record per document: `uid`, `title`, `gold` facts and `predicted` facts (each with a `score`)."""
    records = []
    documents = list(iter_document_outputs(predictions, pair_tables))
    if len(documents) != len(dataset):
        raise ValueError(f"{len(documents)} predicted documents for {len(dataset)} rows.")
    for row, (logits, pairs) in zip(dataset, documents):
        reference = document_reference(row, label_names)
        records.append(
            {
                "uid": row.get("uid"),
                "title": reference["title"],
                "gold": reference["labels"],
                "predicted": decoder.decode(logits, pairs, label_names),
            }
        )
    return records


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write one JSON object per line (UTF-8, non-ASCII kept)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------------------------------------------ seed summary
def summarize_seeds(results_by_seed: Mapping[int, Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean, sample standard deviation (ddof=1; 0 for one seed), n and per-seed values of every numeric metric.

    Args:
        results_by_seed: seed -> {metric name: value}, e.g. the `test_*` entries of each run's `all_results.json`.
    """
    if not results_by_seed:
        raise ValueError("No seed results to summarize.")
    names = sorted(set.intersection(*(set(_numeric(values)) for values in results_by_seed.values())))
    summary = {}
    for name in names:
        values = np.array([float(results[name]) for results in results_by_seed.values()])
        summary[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values),
            "values": {str(seed): float(results[name]) for seed, results in results_by_seed.items()},
        }
    return summary


def by_split(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{"validation": {...}, "test": {...}}` from `eval_*` / `test_*` keys (prefixes removed, empty splits omitted)."""
    grouped = {}
    for split, prefix in (("validation", "eval_"), ("test", "test_")):
        values = {key[len(prefix):]: value for key, value in metrics.items() if key.startswith(prefix)}
        if values:
            grouped[split] = values
    return grouped


def _numeric(values: Mapping[str, Any]) -> dict[str, float]:
    return {
        name: value for name, value in values.items() if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def seed_summary_markdown(summary: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], title: str = "") -> str:
    """A Markdown table `metric | mean ± std | seed values`, scores in percent (counts and losses as they are)."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| metric | mean ± std | per seed |", "|---|---:|---|"]
    for name in metrics:
        if name not in summary:
            continue
        stats = summary[name]
        scale = 1.0 if _is_raw(name) else 100.0
        per_seed = ", ".join(f"{seed}: {scale * value:.2f}" for seed, value in stats["values"].items())
        lines.append(f"| {name} | {scale * stats['mean']:.2f} ± {scale * stats['std']:.2f} | {per_seed} |")
    return "\n".join(lines) + "\n"


def _is_raw(name: str) -> bool:
    """Metrics reported as they are rather than in percent."""
    return any(part in name for part in ("loss", "num_", "runtime", "per_second", "threshold", "epoch"))


__all__ = [
    "DEFAULT_THRESHOLD",
    "DocumentDecoder",
    "DocumentMetrics",
    "SentenceMetrics",
    "by_split",
    "document_prediction_records",
    "document_reference",
    "dropped_row_prediction",
    "iter_document_outputs",
    "relation_label_names",
    "resolve_task",
    "resolve_train_facts",
    "seed_summary_markdown",
    "sentence_prediction_records",
    "summarize_seeds",
    "write_jsonl",
]
