"""OpenNRE-style JSON lines (Wiki80, FewRel-derived data, CP/ERICA sentence files) -> sentence-level dataset.

One JSON object per line (plain or gzipped; a JSON array of the same objects works too)::

    {"token": ["Also", "known", "as", "Bud", ...], "h": {"name": "bud frye field", "pos": [3, 6], "type": "ORG"},
     "t": {"name": "madison", "pos": [27, 28]}, "relation": "place served by transport hub"}

`pos` is a word span ``[start, end)``. Entity `type`s are kept when present. Records have no id of their own, so
`id` is the 0-based line number. Only the pre-tokenised (`token`) variant is read; records with raw `text` and
character offsets are reported as invalid (`token` missing).

Labels come from a label file (OpenNRE's `rel2id.json` {name: id}, or a JSON list of names) so ids are identical
across splits; without one, the sorted set of labels seen in the sources is used (and logged). Wiki80 has no
no-relation class; pass `no_relation` for corpora that do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers.utils import logging

from ..corpora import CORPORA
from .conversion import ConversionReport, CorpusInfo, SplitSource, describe_input
from .invalid_records import InvalidRecordError
from .readers import iter_json_records, open_text
from .schema import relation_label_names
from .sentences import convert_sentence_corpus, required

logger = logging.get_logger(__name__)

# Which file of a source folder becomes which split: the corpus registry owns it.
WIKI80_FILES = dict(CORPORA["wiki80"].known_files)
WIKI80_CORPUS = CorpusInfo(
    name="wiki80",
    pretty_name="Wiki80 (finecl-hf)",
    summary=(
        "Wiki80 (Han et al., 2019, OpenNRE): sentences from Wikipedia with a head and a tail entity, labelled with "
        "one of 80 Wikidata relations (derived from FewRel, human-annotated). There is no no-relation class."
    ),
    license="mit",
    homepage="https://github.com/thunlp/OpenNRE",
    citation=(
        "@inproceedings{han-etal-2019-opennre,\n"
        "  title = {{O}pen{NRE}: An Open and Extensible Toolkit for Neural Relation Extraction},\n"
        "  author = {Han, Xu and Gao, Tianyu and Yao, Yuan and Ye, Deming and Liu, Zhiyuan and Sun, Maosong},\n"
        "  booktitle = {Proceedings of EMNLP-IJCNLP 2019: System Demonstrations},\n"
        "  year = {2019},\n"
        "  pages = {169--174},\n"
        "  url = {https://aclanthology.org/D19-3029}\n"
        "}"
    ),
)


def read_label_file(path: str | Path) -> list[str]:
    """Relation names from a JSON label file: ``{name: id}`` (ordered by id) or a list of names."""
    with open_text(path) as stream:
        try:
            labels = json.load(stream)
        except json.JSONDecodeError as error:
            raise InvalidRecordError(path, "<file>", "<json>", f"not valid JSON ({error.msg})") from None
    if isinstance(labels, dict):
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in labels.values()):
            raise InvalidRecordError(path, "<file>", "<ids>", "every label id must be an integer (0..N-1)")
        ids = sorted(labels.values())
        if ids != list(range(len(ids))):
            raise InvalidRecordError(path, "<file>", "<ids>", "label ids must be 0..N-1 without gaps or repeats")
        return sorted(labels, key=labels.__getitem__)
    if isinstance(labels, list) and all(isinstance(name, str) for name in labels):
        return labels
    raise InvalidRecordError(path, "<file>", "<json>", "expected {name: id} or a list of names")


def parse_opennre_record(record: Any, position: int, source: Path) -> dict:
    """One OpenNRE JSON object -> draft sentence row; raises `InvalidRecordError` naming the field."""
    tokens = required(record, "token", source, position)
    entities = {}
    for role, key in (("head", "h"), ("tail", "t")):
        entity = required(record, key, source, position)
        if not isinstance(entity, dict):
            raise InvalidRecordError(source, position, key, "expected an object {name, pos}")
        if "pos" not in entity:
            raise InvalidRecordError(source, position, f"{key}.pos", "missing key")
        span = entity["pos"]
        if not (isinstance(span, list) and len(span) == 2):
            raise InvalidRecordError(source, position, f"{key}.pos", f"expected [start, end], got {span!r}")
        entities[role] = {"name": entity.get("name"), "start": span[0], "end": span[1], "type": entity.get("type")}
    relation = required(record, "relation", source, position)
    return {"id": str(position), "tokens": tokens, **entities, "relation": relation}


def labels_in_sources(sources: Sequence[SplitSource]) -> list[str]:
    """Sorted set of the `relation` values of every readable record (used when no label file is given)."""
    labels = set()
    for source in sources:
        for _, record in iter_json_records(source.path):
            if isinstance(record, dict) and isinstance(record.get("relation"), str):
                labels.add(record["relation"])
    return sorted(labels)


def convert_opennre(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    relations_file: str | Path | None = None,
    no_relation: str | None = None,
    corpus: CorpusInfo = WIKI80_CORPUS,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> ConversionReport:
    """Convert OpenNRE JSON-lines files; labels from `relations_file` or, without it, from the data.

    `no_relation` names the corpus's no-relation label (it becomes id 0); None for corpora without one (Wiki80).
    """
    if relations_file is not None:
        relations = read_label_file(relations_file)
    else:
        relations = labels_in_sources(sources)
        logger.warning(f"No label file given: using the {len(relations)} labels found in the sources, sorted.")
    if no_relation is not None:
        relations = [name for name in relations if name != no_relation]
    corpus = CorpusInfo(**{**vars(corpus), "no_relation_label": no_relation})
    return convert_sentence_corpus(
        sources,
        iter_json_records,
        parse_opennre_record,
        relation_label_names(relations, no_relation=no_relation),
        corpus,
        output_dir,
        converter="dataset_scripts/opennre.py",
        skip_invalid=skip_invalid,
        overwrite=overwrite,
        inputs={"relations": describe_input(relations_file)} if relations_file is not None else None,
    )


__all__ = [
    "WIKI80_CORPUS",
    "WIKI80_FILES",
    "convert_opennre",
    "labels_in_sources",
    "parse_opennre_record",
    "read_label_file",
]
