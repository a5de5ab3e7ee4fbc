"""A pre-training corpus whose label noise is known and controllable: gold DocRED-format triples, a seeded share of
them given a wrong label the way distant supervision errs.

From gold-labelled documents (the 500 Re-DocRED documents shipped with the project: 17,448 triples), `noise_rate`
of all triples (exactly ``round(noise_rate × #triples)``, chosen uniformly over the corpus with `seed`) are
corrupted; each corrupted triple gets one of three errors, drawn with the probabilities of `mixture` (default: a
third each):

- ``other_pair``: the relation of another labelled pair of the same document (a triple of the document chosen
  uniformly among those of another pair whose relation is not a gold relation of this pair) — distant supervision
  labels a pair with a fact about its neighbours;
- ``frequent``: a relation drawn by its frequency among the corpus's gold triples (relations that are gold for the
  pair excluded) — the frequent relations of a knowledge base match most often;
- ``reversed``: the same relation on the same entity pair in the wrong direction, (tail, head, relation) — a fact
  matched with head and tail swapped.

A corrupted label is always wrong: the new (head, tail, relation) is never a gold triple of the document, nor a triple
already written for it (triple uids stay unique). When the drawn error is impossible, the next one in its fallback
order is used (`FALLBACKS`): ``reversed`` → ``other_pair`` → ``frequent`` (``reversed`` fails for symmetric facts
whose reverse is also gold; ``other_pair`` fails in documents with a single labelled pair); ``frequent`` →
``other_pair``. The type actually used is recorded; a triple for which no error is possible stays clean and is
counted (`NoiseStatistics.unassignable`, never seen on the shipped corpus).

The output folder has the layout and schema of the distant-supervision converter's folder
(`finecl_hf.data.distant_supervision`): `relations` holds the (partly corrupted) labels with `match` (``gold`` or
``corrupted``) and `confirmed_by_gold` (false exactly for corrupted labels, so stage 1's
``--correct_column confirmed_by_gold`` analysis measures the noise mask), plus `is_noisy`, `noise_type` (null when
clean) and the triple's `original_head`, `original_tail` and `original_relation`; `gold_relations` keeps the gold
triples; the ``relation_instances`` config (what stage 1 trains on) is built from the noisy labels. Noise rate 0
writes the clean corpus in the same format.

`finecl convert document-noise --noise_rate R --output DIR` writes such a folder (`convert_noisy_corpus`, an entry of
the corpus registry); `finecl convert oracle-order --source DIR --output OUT` (`finecl_hf.data.oracle_order`) turns it
into a learning-order dataset without stage 1 (the true noise mask as the order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Features, List, Value
from transformers.utils import logging

from ..errors import UsageError
from .conversion import ConversionReport, SplitSource, describe_input
from .docred import DOCRED_CORPUS, DocumentFolder, docred_corpus_info, docred_documents, docred_label_names
from .docred import read_rel_info, write_document_folder
from .invalid_records import SkippedRecords
from .relation_instances import DEFAULT_NA_RATIO, DEFAULT_SEED
from .schema import relation_triple_feature, triple_uid

logger = logging.get_logger(__name__)

OTHER_PAIR = "other_pair"
FREQUENT = "frequent"
REVERSED = "reversed"
NOISE_TYPES = (OTHER_PAIR, FREQUENT, REVERSED)
DEFAULT_MIXTURE = {OTHER_PAIR: 1 / 3, FREQUENT: 1 / 3, REVERSED: 1 / 3}
FALLBACKS = {REVERSED: (OTHER_PAIR, FREQUENT), OTHER_PAIR: (FREQUENT,), FREQUENT: (OTHER_PAIR,)}
GOLD_MATCH = "gold"
CORRUPTED_MATCH = "corrupted"

NOISY_DESCRIPTION = (
    "One row per document, as in the documents schema of the distant-supervision converter: `relations` holds the "
    "labels of this corpus, a seeded share of them corrupted (`is_noisy`, `noise_type`, and the triple's "
    "`original_head`/`original_tail`/`original_relation`; `confirmed_by_gold` is false exactly for corrupted labels) "
    "and `gold_relations` the gold triples."
)


@dataclass
class NoiseStatistics:
    """What the corruption did (also written into the card).

    Attributes:
        triples: gold triples in the corpus.
        noisy: triples given a wrong label.
        requested_noise_rate: the rate asked for.
        by_type: noisy triples per error type actually used.
        fallbacks: ``"drawn->used"`` counts of errors replaced by their fallback.
        unassignable: triples chosen for corruption that no error type could corrupt (left clean).
    """

    triples: int = 0
    noisy: int = 0
    requested_noise_rate: float = 0.0
    by_type: Counter = field(default_factory=Counter)
    fallbacks: Counter = field(default_factory=Counter)
    unassignable: int = 0

    @property
    def noise_rate(self) -> float:
        """The realised share of corrupted triples."""
        return self.noisy / self.triples if self.triples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "gold_triples": self.triples,
            "noisy_triples": self.noisy,
            "requested_noise_rate": self.requested_noise_rate,
            "realised_noise_rate": round(self.noise_rate, 6),
            "noise_types": {name: self.by_type.get(name, 0) for name in NOISE_TYPES},
            "noise_fallbacks": dict(sorted(self.fallbacks.items())),
            "unassignable": self.unassignable,
        }


def check_noise_rate(noise_rate: float, argument: str = "noise_rate") -> None:
    """Raise `ValueError` naming the argument unless 0 <= `noise_rate` < 1."""
    if not isinstance(noise_rate, (int, float)) or not 0 <= noise_rate < 1:
        raise UsageError(
            f"{argument}={noise_rate!r} is outside [0, 1): it is the share of gold triples given a wrong label "
            "(0 writes the clean corpus; 1 would leave no correct label to learn from). Nothing was written."
        )


def check_mixture(mixture: Mapping[str, float]) -> dict[str, float]:
    """The mixture normalised to sum 1; raises `ValueError` naming an unknown type or a negative/empty mixture."""
    unknown = sorted(set(mixture) - set(NOISE_TYPES))
    if unknown:
        raise UsageError(f"mixture has unknown error type(s) {unknown}; the types are {list(NOISE_TYPES)}.")
    total = sum(mixture.values())
    if any(value < 0 for value in mixture.values()) or total <= 0:
        raise UsageError(f"mixture={dict(mixture)} must hold non-negative probabilities with a positive sum.")
    return {name: mixture.get(name, 0.0) / total for name in NOISE_TYPES}


def noisy_document_features(label_names: Sequence[str]) -> Features:
    """The distant documents schema whose `relations` also carry the noise mask and the original triple."""
    relations = relation_triple_feature(label_names, distant=True)
    relations.update(
        {
            "is_noisy": Value("bool"),
            "noise_type": Value("string"),
            "original_head": Value("int32"),
            "original_tail": Value("int32"),
            "original_relation": ClassLabel(names=list(label_names)),
        }
    )
    return Features(
        {
            "uid": Value("string"),
            "title": Value("string"),
            "sents": List(List(Value("string"))),
            "entities": List({"type": Value("string"), "mentions": List({
                "name": Value("string"), "sent_id": Value("int32"), "start": Value("int32"), "end": Value("int32"),
            })}),
            "relations": List(relations),
            "gold_relations": List(relation_triple_feature(label_names)),
        }
    )  # fmt: skip


class NoiseGenerator:
    """Corrupts the triples of documents, one document at a time, with one seeded generator.

    Args:
        selected: per document uid, the positions (in its `relations`) of the triples to corrupt.
        relation_frequencies: `[num_labels]` gold counts over the corpus (the ``frequent`` error's distribution).
        label_names: relation names by id (for triple uids).
        mixture: probability of each error type (normalised).
        rng: the generator (shared with the selection, so one seed decides everything).
        statistics: where the counts of what was corrupted, and how, are added.
    """

    def __init__(
        self,
        selected: Mapping[str, set[int]],
        relation_frequencies: np.ndarray,
        label_names: Sequence[str],
        mixture: Mapping[str, float],
        rng: np.random.Generator,
        statistics: NoiseStatistics,
    ):
        self.selected = selected
        self.frequencies = relation_frequencies.astype(np.float64)
        self.label_names = list(label_names)
        self.types = list(mixture)
        self.probabilities = np.array([mixture[name] for name in self.types])
        self.rng = rng
        self.statistics = statistics

    def corrupt(self, row: dict) -> dict:
        """A documents-schema row with gold `relations` -> the noisy row (see the module docstring)."""
        gold = row["relations"]
        gold_keys = {(t["head"], t["tail"], t["relation"]) for t in gold}
        written = set(gold_keys)  # every output triple; noisy ones are added as they are made
        chosen = self.selected.get(row["uid"], set())
        relations = []
        for position, triple in enumerate(gold):
            if position not in chosen:
                relations.append(_labelled(triple, triple, None, GOLD_MATCH))
                continue
            drawn = self.types[int(self.rng.choice(len(self.types), p=self.probabilities))]
            for kind in (drawn, *FALLBACKS[drawn]):
                new = self._wrong_label(kind, triple, gold, written)
                if new is not None:
                    break
            if new is None:
                self.statistics.unassignable += 1
                relations.append(_labelled(triple, triple, None, GOLD_MATCH))
                continue
            if kind != drawn:
                self.statistics.fallbacks[f"{drawn}->{kind}"] += 1
            self.statistics.by_type[kind] += 1
            self.statistics.noisy += 1
            written.add(new)
            head, tail, relation = new
            noisy = {
                "uid": triple_uid(row["uid"], head, tail, self.label_names[relation]),
                "head": head,
                "tail": tail,
                "relation": relation,
                "evidence": [],
            }
            relations.append(_labelled(noisy, triple, kind, CORRUPTED_MATCH))
        self.statistics.triples += len(gold)
        return {**row, "relations": relations, "gold_relations": gold}

    def _wrong_label(self, kind: str, triple: dict, gold: list[dict], written: set) -> tuple[int, int, int] | None:
        head, tail, relation = triple["head"], triple["tail"], triple["relation"]
        if kind == REVERSED:
            return (tail, head, relation) if (tail, head, relation) not in written else None
        if kind == OTHER_PAIR:
            candidates = [
                other["relation"]
                for other in gold
                if (other["head"], other["tail"]) != (head, tail) and (head, tail, other["relation"]) not in written
            ]
            if not candidates:
                return None
            return head, tail, int(candidates[int(self.rng.integers(len(candidates)))])
        weights = self.frequencies.copy()
        weights[0] = 0.0  # never no_relation
        for label in range(1, len(weights)):
            if (head, tail, label) in written:
                weights[label] = 0.0
        if weights.sum() <= 0:
            return None
        return head, tail, int(self.rng.choice(len(weights), p=weights / weights.sum()))


def _labelled(triple: dict, original: dict, noise_type: str | None, match: str) -> dict:
    return {
        "uid": triple["uid"],
        "head": triple["head"],
        "tail": triple["tail"],
        "relation": triple["relation"],
        "evidence": list(triple.get("evidence") or []),
        "match": match,
        "confirmed_by_gold": noise_type is None,
        "is_noisy": noise_type is not None,
        "noise_type": noise_type,
        "original_head": original["head"],
        "original_tail": original["tail"],
        "original_relation": original["relation"],
    }


def write_noisy_corpus(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    noise_rate: float,
    rel_info_file: str | Path,
    seed: int = 0,
    mixture: Mapping[str, float] | None = None,
    na_ratio: float = DEFAULT_NA_RATIO,
    instance_seed: int = DEFAULT_SEED,
    overwrite: bool = False,
) -> tuple[ConversionReport, NoiseStatistics]:
    """Write a copy of gold-labelled DocRED-format documents with `noise_rate` of their triples corrupted.

    The documents of a split are held in memory (the choice of corrupted triples is corpus-wide; 500 Re-DocRED
    documents take a few MB). Noise is drawn per split (each split corrupted at `noise_rate`), with one generator
    seeded by `seed`; the
    ``relation_instances`` config (no-relation pairs sampled with `na_ratio` and `instance_seed`) follows the noisy
    labels. Raises `ValueError` (nothing written) for a rate outside [0, 1) or an invalid mixture; `InvalidRecordError`
    for an invalid document.
    """
    check_noise_rate(noise_rate)
    mixture = check_mixture(mixture if mixture is not None else DEFAULT_MIXTURE)
    rel_info = read_rel_info(rel_info_file)
    label_names = docred_label_names(rel_info)
    label_index = {name: index for index, name in enumerate(label_names)}
    rows_by_split = {source.split: [row for row, _ in docred_documents(source, label_index, None)] for source in sources}
    statistics = NoiseStatistics(requested_noise_rate=noise_rate)
    corpus = docred_corpus_info(
        rel_info, name="docred-controlled-noise",
        pretty_name="DocRED-format documents with controlled label noise (finecl-hf)",
        summary=DOCRED_CORPUS.summary + "\n\n" + _noise_summary(noise_rate, seed, mixture),
    )  # fmt: skip
    inputs = {"rel_info": describe_input(rel_info_file)}
    folder = DocumentFolder(corpus, NOISY_DESCRIPTION, noisy_document_features(label_names), label_names,
                            "noisy triples", "finecl convert document-noise", inputs, True, na_ratio, instance_seed)

    def noisy_splits() -> Iterator[tuple[str, Iterator[dict]]]:
        rng = np.random.default_rng(seed)  # one generator over the splits, in order
        for split, rows in rows_by_split.items():
            generator = NoiseGenerator(
                _select_triples(rows, noise_rate, rng), _relation_frequencies(rows, len(label_names)), label_names,
                mixture, rng, statistics,
            )  # fmt: skip
            yield split, (generator.corrupt(row) for row in rows)

    def more_statistics() -> dict[str, Any]:
        mixture_shares = {name: round(value, 6) for name, value in mixture.items()}
        return {**statistics.to_dict(), "noise_seed": seed, "noise_mixture": mixture_shares}

    report = write_document_folder(folder, output_dir, noisy_splits(), sources, SkippedRecords(), overwrite=overwrite,
                                   more_statistics=more_statistics)
    if statistics.unassignable:
        logger.warning(f"{statistics.unassignable} triple(s) chosen for corruption admit no wrong label; left clean.")
    logger.info(f"Controlled noise: {statistics.to_dict()}")
    return report, statistics


def _select_triples(rows: list[dict], noise_rate: float, rng: np.random.Generator) -> dict[str, set[int]]:
    """Exactly round(noise_rate × #triples) triples of the split, chosen uniformly: document uid -> positions."""
    positions = [(row["uid"], position) for row in rows for position in range(len(row["relations"]))]
    count = int(np.floor(noise_rate * len(positions) + 0.5))
    selected: dict[str, set[int]] = {}
    for index in rng.choice(len(positions), size=count, replace=False):
        uid, position = positions[int(index)]
        selected.setdefault(uid, set()).add(position)
    return selected


def _relation_frequencies(rows: list[dict], num_labels: int) -> np.ndarray:
    labels = [triple["relation"] for row in rows for triple in row["relations"]]
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_labels)


def _noise_summary(noise_rate: float, seed: int, mixture: Mapping[str, float]) -> str:
    kinds = ", ".join(f"{name} {100 * value:.0f}%" for name, value in mixture.items())
    return (
        f"**Controlled label noise.** {100 * noise_rate:g}% of the gold triples (chosen with seed {seed}) carry a "
        f"wrong relation label, drawn the way distant supervision errs ({kinds}): the relation of another pair of "
        "the document, a relation drawn by corpus frequency, or the same relation with head and tail swapped. "
        "`is_noisy` marks them, `original_*` keeps the gold triple; see `finecl_hf.data.document_noise`."
    )


def convert_noisy_corpus(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    skip_invalid: bool = False,
    overwrite: bool = False,
    mixture: Sequence[float] | Mapping[str, float] | None = None,
    **options: Any,
) -> tuple[ConversionReport, NoiseStatistics]:
    """`write_noisy_corpus` as a converter of the corpus registry (`finecl convert document-noise`); `mixture` may be
    the probabilities in `NOISE_TYPES` order (`--mixture OTHER_PAIR FREQUENT REVERSED`).

    `skip_invalid` is refused: which triples are corrupted is drawn over the whole corpus, so a skipped record would
    change the noise of every other one."""
    if skip_invalid:
        raise UsageError("--skip_invalid does not apply to document-noise: the corruption is drawn over every gold "
                         "record; convert the corpus with `finecl convert docred --skip_invalid` first.")
    check_noise_rate(options["noise_rate"], "--noise_rate")
    if mixture is not None and not isinstance(mixture, Mapping):
        mixture = dict(zip(NOISE_TYPES, mixture, strict=True))
    return write_noisy_corpus(sources, output_dir, overwrite=overwrite, mixture=mixture, **options)


__all__ = [
    "DEFAULT_MIXTURE",
    "FALLBACKS",
    "NOISE_TYPES",
    "NoiseGenerator",
    "NoiseStatistics",
    "check_mixture",
    "check_noise_rate",
    "convert_noisy_corpus",
    "noisy_document_features",
    "write_noisy_corpus",
]
