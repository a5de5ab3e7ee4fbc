"""Distant supervision: label DocRED-format documents with a knowledge base of ``[head, tail, relation]`` facts.

Matching rule (on entity *names*; facts are ``[head name, tail name, relation id]``):

1. For every ordered pair of distinct entities (h, t) of a document, take every combination of a mention name of h
   and a mention name of t. If a fact ``[name_h, name_t, r]`` exists with exactly these strings, the pair gets
   relation r (``match = "exact"``).
2. Otherwise, if a fact matches after *case normalisation* of both names (Unicode NFKC, `str.casefold`, runs of
   whitespace collapsed to one space), the pair gets r with ``match = "case-insensitive"``.

Each (h, t, r) is labelled once; the source's own labels are ignored for labelling. When the source documents carry
gold labels (a `labels` key), they are kept in `gold_relations` and each distant triple says whether gold confirms it
(`confirmed_by_gold`; null for documents without gold), so the noise of every distant label is known.

On the 500 Re-DocRED test documents shipped with this project and the 52,293 facts of DocRED's `train_annotated`
the exact rule yields 1,882 labels, 70.0% of them confirmed by Re-DocRED's gold labels; case normalisation adds 6
more (see `dataset_scripts/README.md` and the test suite for the current numbers).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conversion import ConversionReport, SplitSource, describe_input
from .docred import DOCRED_CORPUS, DocumentFolder, docred_corpus_info, docred_documents, docred_label_names
from .docred import read_rel_info, write_document_folder
from .invalid_records import InvalidRecordError, SkippedRecords
from .readers import iter_json_records
from .relation_instances import DEFAULT_NA_RATIO, DEFAULT_SEED
from .schema import NO_RELATION, document_features, triple_uid

logger = logging.getLogger(__name__)

EXACT_MATCH = "exact"
CASE_INSENSITIVE_MATCH = "case-insensitive"
DISTANT_DESCRIPTION = (
    "One row per document, as in the documents schema, but `relations` holds the *distant* labels (each with `match` "
    "= exact or case-insensitive and `confirmed_by_gold`, null when the source has no gold labels) and the source's "
    "own labels are kept in `gold_relations`."
)

DISTANT_SUMMARY = (
    "The relations of this folder are *distant* labels: an ordered entity pair (h, t) gets relation r when a fact "
    "`[name of a mention of h, name of a mention of t, r]` of the knowledge base matches exactly, or else after case "
    "normalisation (NFKC, casefold, whitespace collapsed). The source's own labels are in `gold_relations`."
)


def normalise_name(name: str) -> str:
    """Case-normalised entity name: NFKC, casefolded, whitespace runs collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass
class FactIndex:
    """Facts indexed by (head name, tail name), exactly and case-normalised.

    Attributes:
        num_facts: valid facts read (or added).
        num_indexed: facts kept in the index: all of them, or with `names` those whose head and tail names both occur
            in the corpus (exactly or case-normalised): no other fact can label a pair.
    """

    exact: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    normalised: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    num_facts: int = 0
    num_indexed: int = 0

    def add(self, head: str, tail: str, relation: str, names: CorpusNames | None = None) -> None:
        self.num_facts += 1
        normalised = normalise_name(head), normalise_name(tail)
        keep_exact = names is None or (head in names.exact and tail in names.exact)
        keep_normalised = names is None or (normalised[0] in names.normalised and normalised[1] in names.normalised)
        if keep_exact:
            self.exact[head, tail].add(relation)
        if keep_normalised:
            self.normalised[normalised].add(relation)
        self.num_indexed += keep_exact or keep_normalised

    @classmethod
    def from_file(cls, path: str | Path, known_relations: Iterable[str], names: CorpusNames | None = None) -> FactIndex:
        """Read a JSON list (plain or gzipped) of ``[head name, tail name, relation id]`` facts, streamed; with
        `names` (`CorpusNames.of_documents`) only the facts that can match the corpus are kept, so the index grows with
        the corpus, not with the knowledge base.

        Raises `InvalidRecordError` (file, fact index, field) on a malformed fact or an unknown relation id.
        """
        known = set(known_relations)
        index = cls()
        for position, fact in iter_json_records(path):
            if isinstance(fact, InvalidRecordError):
                raise fact
            if not (isinstance(fact, list) and len(fact) == 3 and all(isinstance(part, str) for part in fact)):
                raise InvalidRecordError(
                    path, position, "<fact>", f"expected [head name, tail name, relation], got {fact!r}"
                )
            if fact[2] not in known or fact[2] == NO_RELATION:
                raise InvalidRecordError(path, position, "[2]", f"unknown relation label {fact[2]!r}")
            index.add(*fact, names=names)
        return index

    def match_pairs(self, entity_names: Sequence[set[str]]) -> dict[tuple[int, int, str], str]:
        """``{(head, tail, relation): match kind}`` for a document whose entity i has the mention names
        `entity_names[i]` (see the module docstring for the rule)."""
        labels = self._match(entity_names, self.exact, EXACT_MATCH)
        normalised_names = [{normalise_name(name) for name in names} for names in entity_names]
        for key, kind in self._match(normalised_names, self.normalised, CASE_INSENSITIVE_MATCH).items():
            labels.setdefault(key, kind)
        return labels

    @staticmethod
    def _match(
        entity_names: Sequence[set[str]], facts: Mapping[tuple[str, str], set[str]], kind: str
    ) -> dict[tuple[int, int, str], str]:
        entities_by_name: dict[str, list[int]] = defaultdict(list)
        for entity, names in enumerate(entity_names):
            for name in names:
                entities_by_name[name].append(entity)
        labels = {}
        for head_name, heads in entities_by_name.items():
            for tail_name, tails in entities_by_name.items():
                relations = facts.get((head_name, tail_name))
                if not relations:
                    continue
                for head in heads:
                    for tail in tails:
                        if head != tail:
                            labels.update({(head, tail, relation): kind for relation in relations})
        return labels


@dataclass
class CorpusNames:
    """The mention names of a corpus, exactly and case-normalised: the only names a fact can match."""

    exact: set[str] = field(default_factory=set)
    normalised: set[str] = field(default_factory=set)

    @classmethod
    def of_documents(cls, rows: Iterable[dict]) -> CorpusNames:
        """Names of documents-schema rows (streamed: one pass, the rows are not kept)."""
        names = cls()
        for row in rows:
            for entity in row["entities"]:
                names.exact.update(mention["name"] for mention in entity["mentions"])
        names.normalised = {normalise_name(name) for name in names.exact}
        return names


@dataclass
class DistantStatistics:
    """Counts of a distant-labelling run (they also go into the card)."""

    documents: int = 0
    distant_labels: int = 0
    exact_matches: int = 0
    case_insensitive_matches: int = 0
    labels_with_gold: int = 0
    confirmed_by_gold: int = 0
    exact_confirmed_by_gold: int = 0
    gold_triples: int = 0

    @property
    def confirmed_fraction(self) -> float | None:
        """Share of distant labels (in documents with gold labels) that gold confirms."""
        return self.confirmed_by_gold / self.labels_with_gold if self.labels_with_gold else None

    @property
    def gold_recall(self) -> float | None:
        """Share of gold triples that distant supervision found."""
        return self.confirmed_by_gold / self.gold_triples if self.gold_triples else None

    def to_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("confirmed_fraction", "gold_recall"):
            value = getattr(self, name)
            result[name] = round(value, 4) if value is not None else None
        return result


def label_document(
    document: dict,
    has_gold: bool,
    facts: FactIndex,
    label_index: Mapping[str, int],
    statistics: DistantStatistics | None = None,
) -> dict:
    """A documents-schema row -> distant row: distant `relations`, the original ones in `gold_relations`."""
    label_names = list(label_index)
    entity_names = [{mention["name"] for mention in entity["mentions"]} for entity in document["entities"]]
    gold = {(triple["head"], triple["tail"], triple["relation"]) for triple in document["relations"]}
    distant = []
    for (head, tail, relation), kind in sorted(facts.match_pairs(entity_names).items()):
        relation_id = label_index[relation]
        confirmed = (head, tail, relation_id) in gold if has_gold else None
        distant.append(
            {
                "uid": triple_uid(document["uid"], head, tail, label_names[relation_id]),
                "head": head,
                "tail": tail,
                "relation": relation_id,
                "evidence": [],
                "match": kind,
                "confirmed_by_gold": confirmed,
            }
        )
    if statistics is not None:
        _count(statistics, distant, len(gold) if has_gold else None)
    return {**document, "relations": distant, "gold_relations": document["relations"]}


def _count(statistics: DistantStatistics, distant: list[dict], num_gold: int | None) -> None:
    statistics.documents += 1
    statistics.distant_labels += len(distant)
    statistics.exact_matches += sum(triple["match"] == EXACT_MATCH for triple in distant)
    statistics.case_insensitive_matches += sum(triple["match"] == CASE_INSENSITIVE_MATCH for triple in distant)
    if num_gold is not None:
        statistics.gold_triples += num_gold
        statistics.labels_with_gold += len(distant)
        confirmed = [triple for triple in distant if triple["confirmed_by_gold"]]
        statistics.confirmed_by_gold += len(confirmed)
        statistics.exact_confirmed_by_gold += sum(triple["match"] == EXACT_MATCH for triple in confirmed)


def label_distantly(
    sources: Sequence[SplitSource],
    facts_file: str | Path,
    output_dir: str | Path,
    *,
    rel_info_file: str | Path,
    relation_instances: bool = True,
    na_ratio: float = DEFAULT_NA_RATIO,
    seed: int = DEFAULT_SEED,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> tuple[ConversionReport, DistantStatistics]:
    """Distantly label DocRED-format documents with `facts_file` and write a distant documents dataset folder.

    The ``relation_instances`` config (unless disabled) is built from the distant labels: it is what learning-order
    stage 1 trains on.
    """
    rel_info = read_rel_info(rel_info_file)
    label_names = docred_label_names(rel_info)
    label_index = {name: index for index, name in enumerate(label_names)}
    # Two passes over the documents: their names first, so that only facts that can match are held in memory.
    names = CorpusNames.of_documents(
        row for source in sources for row, _ in docred_documents(source, label_index, SkippedRecords() if skip_invalid else None)
    )
    facts = FactIndex.from_file(facts_file, rel_info, names)
    logger.info(f"{facts_file}: {facts.num_indexed} of {facts.num_facts} facts name two names of the corpus.")
    skipped = SkippedRecords()
    distant_statistics = DistantStatistics()
    corpus = docred_corpus_info(
        rel_info, name="docred-distant", pretty_name="Distantly labelled DocRED-format documents (finecl-hf)",
        summary=DOCRED_CORPUS.summary + "\n\n" + DISTANT_SUMMARY,
    )  # fmt: skip
    inputs = {"facts": describe_input(facts_file), "rel_info": describe_input(rel_info_file)}
    folder = DocumentFolder(corpus, DISTANT_DESCRIPTION, document_features(label_names, distant=True), label_names,
                            "distant triples", "dataset_scripts/distant_supervision.py", inputs, relation_instances,
                            na_ratio, seed)  # fmt: skip
    splits = (
        (source.split, (label_document(row, "labels" in raw, facts, label_index, distant_statistics)
                        for row, raw in docred_documents(source, label_index, skipped if skip_invalid else None)))
        for source in sources
    )  # fmt: skip
    def more_statistics() -> dict[str, Any]:
        return {"facts": facts.num_facts, "facts_matching_corpus_names": facts.num_indexed, **distant_statistics.to_dict()}

    report = write_document_folder(folder, output_dir, splits, sources, skipped, overwrite=overwrite,
                                   more_statistics=more_statistics)
    return report, distant_statistics


__all__ = [
    "CASE_INSENSITIVE_MATCH",
    "CorpusNames",
    "DISTANT_DESCRIPTION",
    "EXACT_MATCH",
    "DistantStatistics",
    "FactIndex",
    "label_distantly",
    "label_document",
    "normalise_name",
]
