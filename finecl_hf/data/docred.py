"""DocRED-format JSON (DocRED, Re-DocRED, `train_distant.json`, ERICA's distant files) -> documents dataset.

A source file is a JSON array (plain or gzipped, streamed one document at a time) of::

    {"title": "Loud Tour",
     "sents": [["Loud", "Tour", "was", ...], ...],
     "vertexSet": [[{"name": "Loud Tour", "pos": [1, 3], "sent_id": 0, "type": "MISC"}, ...], ...],
     "labels": [{"h": 0, "t": 2, "r": "P175", "evidence": [0, 1]}, ...]}

`vertexSet` becomes `entities` (each entity's `type` is its first mention's type) and `labels` become `relations`
(a test file without `labels` gives documents without relations). Relation labels are ``no_relation`` (id 0) followed
by the P-ids of `rel_info.json` in file order; their readable names go into the card. See `finecl_hf.data.schema` for
the columns and the uid rules, and `finecl_hf.data.relation_instances` for the second config written beside the
documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Features

from ..corpora import CORPORA
from .conversion import (
    DEFAULT_CONFIG,
    ConversionReport,
    CorpusInfo,
    DatasetFolderWriter,
    ParquetRowWriter,
    SplitSource,
    card_builder,
    describe_input,
    records_or_skip,
)
from .invalid_records import InvalidRecordError, SkippedRecords
from .readers import iter_json_records, open_text
from .relation_instances import (
    DEFAULT_NA_RATIO,
    DEFAULT_SEED,
    RELATION_INSTANCES_CONFIG,
    RELATION_INSTANCES_DESCRIPTION,
    relation_instances_for_document,
)
from .schema import (
    NO_RELATION,
    document_features,
    document_uid,
    relation_instance_features,
    relation_label_names,
    triple_uid,
)

# Which file of a source folder becomes which split: the corpus registry owns it.
DOCRED_FILES = dict(CORPORA["docred"].known_files)
DOCUMENTS_PER_ROW_GROUP = 1000
DOCUMENTS_DESCRIPTION = (
    "One row per document: `sents` (words per sentence), `entities` (each with its mentions: name, sentence id, "
    "word span `[start, end)` in that sentence) and `relations` (head/tail entity indices, relation, evidence "
    "sentences, stable `uid`)."
)
DOCRED_CORPUS = CorpusInfo(
    name="docred",
    pretty_name="DocRED-format documents (finecl-hf)",
    summary=(
        "Document-level relation extraction in the DocRED format (Yao et al., 2019): Wikipedia abstracts with "
        "entities (coreferent mentions grouped) and relation triples over 96 Wikidata relations, with evidence "
        "sentences. Also covers Re-DocRED (Tan et al., 2022), DocRED's distantly supervised training set and "
        "ERICA's distant pre-training files, which share the format."
    ),
    license="mit",
    homepage="https://github.com/thunlp/DocRED",
    citation=(
        "@inproceedings{yao-etal-2019-docred,\n"
        "  title = {{D}oc{RED}: A Large-Scale Document-Level Relation Extraction Dataset},\n"
        "  author = {Yao, Yuan and Ye, Deming and Li, Peng and Han, Xu and Lin, Yankai and Liu, Zhenghao and\n"
        "            Liu, Zhiyuan and Huang, Lixin and Zhou, Jie and Sun, Maosong},\n"
        "  booktitle = {Proceedings of ACL 2019},\n"
        "  year = {2019},\n"
        "  pages = {764--777},\n"
        "  url = {https://aclanthology.org/P19-1074}\n"
        "}"
    ),
    no_relation_label=NO_RELATION,
)


def read_rel_info(path: str | Path) -> dict[str, str]:
    """DocRED's `rel_info.json`: {P-id: relation name}, in file order."""
    with open_text(path) as stream:
        try:
            rel_info = json.load(stream)
        except json.JSONDecodeError as error:
            raise InvalidRecordError(path, "<file>", "<json>", f"not valid JSON ({error.msg})") from None
    if not isinstance(rel_info, dict) or not all(isinstance(v, str) for v in rel_info.values()):
        raise InvalidRecordError(path, "<file>", "<json>", "expected an object {P-id: relation name}")
    if NO_RELATION in rel_info:
        raise InvalidRecordError(path, "<file>", NO_RELATION, f"{NO_RELATION!r} is reserved for the no-relation class")
    return rel_info


def docred_label_names(rel_info: Mapping[str, str]) -> list[str]:
    """``no_relation`` (id 0) followed by the P-ids of `rel_info` in order."""
    return relation_label_names(rel_info, no_relation=NO_RELATION)


class _DocumentChecker:
    """Validates one raw DocRED document; every failure names the field path (``vertexSet[3][0].pos``)."""

    def __init__(self, raw: Any, position: int, source: Path):
        self.raw = raw
        self.position = position
        self.source = source
        self.record_id = raw.get("title") if isinstance(raw, dict) and isinstance(raw.get("title"), str) else None

    def fail(self, field: str, reason: str) -> None:
        raise InvalidRecordError(self.source, self.position, field, reason, record_id=self.record_id)

    def key(self, mapping: Any, key: str, field: str) -> Any:
        if not isinstance(mapping, dict):
            self.fail(field.rpartition(".")[0] or "<record>", "expected a JSON object")
        if key not in mapping:
            self.fail(field, "missing key")
        return mapping[key]

    def integer(self, value: Any, field: str) -> int:
        if type(value) is not int:
            self.fail(field, f"expected an integer, got {value!r}")
        return value

    def sentences(self) -> list[list[str]]:
        sents = self.key(self.raw, "sents", "sents")
        if not isinstance(sents, list) or not sents:
            self.fail("sents", "the document is empty")
        for index, sentence in enumerate(sents):
            if not isinstance(sentence, list) or not sentence:
                self.fail(f"sents[{index}]", "the sentence is empty")
            if not all(isinstance(word, str) for word in sentence):
                self.fail(f"sents[{index}]", "every word must be a string")
        return sents

    def mention(self, raw: Any, field: str, sents: list[list[str]]) -> tuple[dict, str]:
        name = self.key(raw, "name", f"{field}.name")
        if not isinstance(name, str):
            self.fail(f"{field}.name", f"expected a string, got {name!r}")
        sent_id = self.integer(self.key(raw, "sent_id", f"{field}.sent_id"), f"{field}.sent_id")
        if not 0 <= sent_id < len(sents):
            self.fail(f"{field}.sent_id", f"sentence {sent_id} does not exist (the document has {len(sents)})")
        pos = self.key(raw, "pos", f"{field}.pos")
        if not (isinstance(pos, list) and len(pos) == 2):
            self.fail(f"{field}.pos", f"expected [start, end], got {pos!r}")
        start, end = (self.integer(value, f"{field}.pos") for value in pos)
        if start >= end:
            self.fail(f"{field}.pos", f"span [{start}, {end}) is empty or reversed")
        if start < 0 or end > len(sents[sent_id]):
            self.fail(
                f"{field}.pos", f"span [{start}, {end}) is outside sentence {sent_id} ({len(sents[sent_id])} words)"
            )
        entity_type = self.key(raw, "type", f"{field}.type")
        if not isinstance(entity_type, str):
            self.fail(f"{field}.type", f"expected a string, got {entity_type!r}")
        return {"name": name, "sent_id": sent_id, "start": start, "end": end}, entity_type

    def entities(self, sents: list[list[str]]) -> list[dict]:
        vertex_set = self.key(self.raw, "vertexSet", "vertexSet")
        if not isinstance(vertex_set, list):
            self.fail("vertexSet", "expected a list of entities")
        entities = []
        for index, raw_mentions in enumerate(vertex_set):
            if not isinstance(raw_mentions, list) or not raw_mentions:
                self.fail(f"vertexSet[{index}]", "an entity needs at least one mention")
            checked = [self.mention(raw, f"vertexSet[{index}][{i}]", sents) for i, raw in enumerate(raw_mentions)]
            entities.append({"type": checked[0][1], "mentions": [mention for mention, _ in checked]})
        return entities

    def triples(self, uid: str, num_entities: int, num_sents: int, label_index: Mapping[str, int]) -> list[dict]:
        labels = self.raw.get("labels", [])
        if not isinstance(labels, list):
            self.fail("labels", "expected a list of {h, t, r, evidence}")
        triples, seen = [], set()
        for index, label in enumerate(labels):
            field = f"labels[{index}]"
            head = self.integer(self.key(label, "h", f"{field}.h"), f"{field}.h")
            tail = self.integer(self.key(label, "t", f"{field}.t"), f"{field}.t")
            for role, entity in (("h", head), ("t", tail)):
                if not 0 <= entity < num_entities:
                    self.fail(f"{field}.{role}", f"entity {entity} is outside vertexSet ({num_entities} entities)")
            if head == tail:
                self.fail(f"{field}.t", f"head and tail are the same entity ({head})")
            relation = self.key(label, "r", f"{field}.r")
            if not isinstance(relation, str):
                self.fail(f"{field}.r", f"expected a relation id (a string), got {type(relation).__name__} "
                          f"{relation!r:.80}")
            if relation not in label_index or relation == NO_RELATION:
                self.fail(f"{field}.r", f"unknown relation label {relation!r}")
            if (head, tail, relation) in seen:
                self.fail(field, f"duplicate triple (h={head}, t={tail}, r={relation!r})")
            seen.add((head, tail, relation))
            evidence = label.get("evidence", [])
            if not isinstance(evidence, list):
                self.fail(f"{field}.evidence", "expected a list of sentence ids")
            for sent_id in evidence:
                if type(sent_id) is not int or not 0 <= sent_id < num_sents:
                    self.fail(
                        f"{field}.evidence", f"sentence {sent_id!r} does not exist (the document has {num_sents})"
                    )
            triples.append(
                {
                    "uid": triple_uid(uid, head, tail, relation),
                    "head": head,
                    "tail": tail,
                    "relation": label_index[relation],
                    "evidence": evidence,
                }
            )
        return triples


def parse_docred_document(raw: Any, position: int, source: Path, split: str, label_index: Mapping[str, int]) -> dict:
    """Validate one DocRED document and return its schema row (see `finecl_hf.data.schema`).

    Raises `InvalidRecordError` for missing keys, an empty document or sentence, a mention span that is out of range
    or reversed, a sentence id or entity index that does not exist, a self-relation, a duplicate triple, evidence
    outside the document and an unknown relation label.
    """
    checker = _DocumentChecker(raw, position, source)
    title = checker.key(raw, "title", "title")
    if not isinstance(title, str):
        checker.fail("title", f"expected a string, got {title!r}")
    sents = checker.sentences()
    entities = checker.entities(sents)
    uid = document_uid(split, position)
    relations = checker.triples(uid, len(entities), len(sents), label_index)
    return {"uid": uid, "title": title, "sents": sents, "entities": entities, "relations": relations}


def docred_documents(
    source: SplitSource, label_index: Mapping[str, int], skipped: SkippedRecords | None
) -> Iterator[tuple[dict, Any]]:
    """Yield `(schema row, raw document)` for each valid document of a DocRED-format file."""

    def parse(raw: Any, position: int) -> tuple[dict, Any]:
        return parse_docred_document(raw, position, source.path, source.split, label_index), raw

    yield from records_or_skip(iter_json_records(source.path), parse, source.split, skipped)


def relation_ids_of_triples(row: dict, column: str = "relations") -> list[int]:
    """Label ids of a document row's triples (for the card's per-class counts)."""
    return [triple["relation"] for triple in row[column]]


def count_document(statistics: dict[str, int], row: dict) -> None:
    """Add a document row to the corpus totals shown in the card."""
    for name, value in (
        ("documents", 1),
        ("sentences", len(row["sents"])),
        ("words", sum(len(sentence) for sentence in row["sents"])),
        ("entities", len(row["entities"])),
        ("mentions", sum(len(entity["mentions"]) for entity in row["entities"])),
        ("relation triples", len(row["relations"])),
    ):
        statistics[name] = statistics.get(name, 0) + value


def add_relation_instances_config(
    folder: DatasetFolderWriter, label_names: Sequence[str], na_ratio: float, seed: int
) -> None:
    """Declare the `relation_instances` config: every labelled triple plus seeded no-relation pairs per document."""
    folder.add_config(
        RELATION_INSTANCES_CONFIG,
        RELATION_INSTANCES_DESCRIPTION.format(na_ratio=na_ratio, seed=seed),
        relation_instance_features(label_names),
        label_names,
        "instances",
    )


def relation_instances_writer(folder: DatasetFolderWriter, split: str, enabled: bool) -> ParquetRowWriter | None:
    """The `relation_instances` writer of `split` (`None` when the config is not written)."""
    return folder.split_writer(RELATION_INSTANCES_CONFIG, split, lambda row: (row["relation"],)) if enabled else None


def write_document(
    row: dict, documents: ParquetRowWriter, instances: ParquetRowWriter | None, na_ratio: float, seed: int
) -> None:
    """Write a document row and, when `instances` is given, its relation instances (pointing at the row's index)."""
    if instances is not None:
        for instance in relation_instances_for_document(row, documents.num_rows, na_ratio, seed):
            instances.write(instance)
    documents.write(row)


@dataclass
class DocumentFolder:
    """What a folder of DocRED-format documents declares: the card's corpus, its default config, the
    relation-instance view. `convert_docred`, the distant labeller and the controlled-noise corpus all write one
    (`write_document_folder`).

    Attributes:
        corpus: the card's corpus description.
        description: the default config's description.
        features: the documents' features.
        label_names: relation names by id.
        label_unit: what the label counts of the card count ("triples", "distant triples", ...).
        script: the command that wrote it, for the card.
        inputs: input files beside the sources (name -> `describe_input`), for the card.
        relation_instances: whether to write the ``relation_instances`` config.
        na_ratio, seed: the no-relation pair sampling of that config.
    """

    corpus: CorpusInfo
    description: str
    features: Features
    label_names: list[str]
    label_unit: str
    script: str
    inputs: dict[str, Any]
    relation_instances: bool = True
    na_ratio: float = DEFAULT_NA_RATIO
    seed: int = DEFAULT_SEED


def write_document_folder(
    folder: DocumentFolder,
    output_dir: str | Path,
    splits: Iterable[tuple[str, Iterable[dict]]],
    sources: Sequence[SplitSource],
    skipped: SkippedRecords,
    *,
    overwrite: bool = False,
    more_statistics: Callable[[], Mapping[str, Any]] | None = None,
) -> ConversionReport:
    """Write the documents of each `(split, rows)` (rows in `parse_docred_document`'s form, read lazily), their
    relation instances and the card; `more_statistics()` is added to the card's statistics once every row is written.
    Nothing is left at `output_dir` on failure (`DatasetFolderWriter`)."""
    statistics: dict[str, Any] = {}
    with DatasetFolderWriter(output_dir, overwrite=overwrite) as writer:
        writer.add_config(DEFAULT_CONFIG, folder.description, folder.features, folder.label_names, folder.label_unit,
                          rows_per_group=DOCUMENTS_PER_ROW_GROUP)
        if folder.relation_instances:
            add_relation_instances_config(writer, folder.label_names, folder.na_ratio, folder.seed)
        for split, rows in splits:
            documents = writer.split_writer(DEFAULT_CONFIG, split, relation_ids_of_triples)
            instances = relation_instances_writer(writer, split, folder.relation_instances)
            for row in rows:
                write_document(row, documents, instances, folder.na_ratio, folder.seed)
                count_document(statistics, row)
        statistics.update(more_statistics() if more_statistics is not None else {})
        card = card_builder(folder.corpus, folder.script, sources, skipped, statistics, folder.inputs)
        num_rows = writer.finish(card)
    skipped.log_summary()
    return ConversionReport(Path(output_dir), num_rows, skipped, statistics)


def docred_corpus_info(rel_info: Mapping[str, str], **changes: Any) -> CorpusInfo:
    """DocRED's card description with the relation names of `rel_info` (and `changes` to its other fields)."""
    return CorpusInfo(**{**vars(DOCRED_CORPUS), "relation_descriptions": {NO_RELATION: "no relation", **rel_info},
                         **changes})


def convert_docred(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    rel_info_file: str | Path,
    relation_instances: bool = True,
    na_ratio: float = DEFAULT_NA_RATIO,
    seed: int = DEFAULT_SEED,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> ConversionReport:
    """Convert DocRED-format files to a documents dataset (+ the ``relation_instances`` config unless disabled)."""
    rel_info = read_rel_info(rel_info_file)
    label_names = docred_label_names(rel_info)
    label_index = {name: index for index, name in enumerate(label_names)}
    skipped = SkippedRecords()
    folder = DocumentFolder(
        docred_corpus_info(rel_info), DOCUMENTS_DESCRIPTION, document_features(label_names), label_names, "triples",
        "dataset_scripts/docred.py", {"rel_info": describe_input(rel_info_file)}, relation_instances, na_ratio, seed,
    )  # fmt: skip
    splits = (
        (source.split, (row for row, _ in docred_documents(source, label_index, skipped if skip_invalid else None)))
        for source in sources
    )
    return write_document_folder(folder, output_dir, splits, sources, skipped, overwrite=overwrite)


__all__ = [
    "DOCRED_CORPUS",
    "DOCRED_FILES",
    "DOCUMENTS_DESCRIPTION",
    "DocumentFolder",
    "add_relation_instances_config",
    "convert_docred",
    "count_document",
    "docred_corpus_info",
    "docred_documents",
    "docred_label_names",
    "parse_docred_document",
    "read_rel_info",
    "relation_ids_of_triples",
    "relation_instances_writer",
    "write_document",
    "write_document_folder",
]
