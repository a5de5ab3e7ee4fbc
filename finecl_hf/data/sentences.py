"""Sentence-level conversion shared by the SemEval, OpenNRE/Wiki80 and TACRED converters.

A format module only turns one source record into a *draft row* ``{id, tokens, head, tail, relation}`` (relation as
a name); `validate_sentence_row` checks it against the schema of `finecl_hf.data.schema` and
`convert_sentence_corpus` streams every split into a dataset folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .conversion import (
    DEFAULT_CONFIG,
    ConversionReport,
    CorpusInfo,
    DatasetFolderWriter,
    SplitSource,
    card_builder,
    records_or_skip,
)
from .invalid_records import InvalidRecordError, SkippedRecords
from .schema import sentence_features, sentence_uid

SENTENCE_DESCRIPTION = (
    "One row per (sentence, head, tail): `tokens` are the words, `head`/`tail` give each entity's name, word span "
    "`tokens[start:end]` (end exclusive) and type, `relation` is the label."
)

# Reads a source file: yields (position, raw record or InvalidRecordError).
RecordReader = Callable[[Path], Iterator[tuple[int, Any]]]
# Turns one raw record into a draft row; raises InvalidRecordError.
DraftParser = Callable[[Any, int, Path], dict]


def _check_span(entity: Any, role: str, num_tokens: int, source: Path, position: int, record_id: str) -> None:
    def fail(reason: str) -> None:
        raise InvalidRecordError(source, position, role, reason, record_id=record_id)

    if not isinstance(entity, dict):
        fail("missing entity")
    start, end = entity.get("start"), entity.get("end")
    if type(start) is not int or type(end) is not int:
        fail(f"span must be two integers, got start={start!r}, end={end!r}")
    if start >= end:
        fail(f"span [{start}, {end}) is empty or reversed")
    if start < 0 or end > num_tokens:
        fail(f"span [{start}, {end}) is outside the sentence's {num_tokens} words")


def validate_sentence_row(draft: dict, label_index: Mapping[str, int], split: str, source: Path, position: int) -> dict:
    """Check a draft row and return the schema row (``uid`` added, relation name -> `ClassLabel` id).

    Raises `InvalidRecordError` for an empty sentence, a non-string word, a head/tail span that is out of range,
    empty, reversed or overlapping the other entity, and an unknown relation label.
    """
    record_id = str(draft["id"])
    tokens = draft["tokens"]

    def fail(field: str, reason: str) -> None:
        raise InvalidRecordError(source, position, field, reason, record_id=record_id)

    if not isinstance(tokens, list):
        fail("tokens", f"expected a list of words, got {type(tokens).__name__}")
    if not tokens:
        fail("tokens", "the sentence is empty")
    if not all(isinstance(token, str) for token in tokens):
        fail("tokens", "every word must be a string")
    for role in ("head", "tail"):
        _check_span(draft[role], role, len(tokens), source, position, record_id)
    head, tail = draft["head"], draft["tail"]
    if head["start"] < tail["end"] and tail["start"] < head["end"]:
        fail("tail", f"tail span [{tail['start']}, {tail['end']}) overlaps head span [{head['start']}, {head['end']})")
    relation = draft["relation"]
    if not isinstance(relation, str):
        fail("relation", f"expected a relation name (a string), got {type(relation).__name__} {relation!r:.80}")
    if relation not in label_index:
        fail("relation", f"unknown relation label {relation!r}")
    return {
        "uid": sentence_uid(split, record_id),
        "id": record_id,
        "tokens": tokens,
        "head": _entity_row(head, tokens),
        "tail": _entity_row(tail, tokens),
        "relation": label_index[relation],
    }


def _entity_row(entity: dict, tokens: list[str]) -> dict:
    name = entity.get("name")
    if not isinstance(name, str) or not name:
        name = " ".join(tokens[entity["start"] : entity["end"]])
    entity_type = entity.get("type")
    return {
        "name": name,
        "start": entity["start"],
        "end": entity["end"],
        "type": entity_type if isinstance(entity_type, str) else None,
    }


def sentence_rows(
    source: SplitSource,
    read: RecordReader,
    parse: DraftParser,
    label_index: Mapping[str, int],
    skipped: SkippedRecords | None,
) -> Iterator[dict]:
    """Schema rows of one source file; ids must be unique within the file (a repeat is an invalid record)."""
    seen_ids: set[str] = set()

    def convert(record: Any, position: int) -> dict:
        row = validate_sentence_row(
            parse(record, position, source.path), label_index, source.split, source.path, position
        )
        if row["id"] in seen_ids:
            raise InvalidRecordError(source.path, position, "id", "duplicate id in this file", record_id=row["id"])
        seen_ids.add(row["id"])
        return row

    yield from records_or_skip(read(source.path), convert, source.split, skipped)


def convert_sentence_corpus(
    sources: Sequence[SplitSource],
    read: RecordReader,
    parse: DraftParser,
    label_names: Sequence[str],
    corpus: CorpusInfo,
    output_dir: str | Path,
    *,
    converter: str,
    skip_invalid: bool = False,
    overwrite: bool = False,
    inputs: dict[str, str] | None = None,
) -> ConversionReport:
    """Convert every source file to a split of a sentence-level dataset folder (see `finecl_hf.data.schema`)."""
    label_index = {name: index for index, name in enumerate(label_names)}
    skipped = SkippedRecords()
    with DatasetFolderWriter(output_dir, overwrite=overwrite) as folder:
        folder.add_config(
            DEFAULT_CONFIG, SENTENCE_DESCRIPTION, sentence_features(label_names), label_names, "sentences"
        )
        for source in sources:
            writer = folder.split_writer(DEFAULT_CONFIG, source.split, _relation_of)
            for row in sentence_rows(source, read, parse, label_index, skipped if skip_invalid else None):
                writer.write(row)
        num_rows = folder.finish(card_builder(corpus, converter, sources, skipped, inputs=inputs))
    skipped.log_summary()
    return ConversionReport(Path(output_dir), num_rows, skipped)


def _relation_of(row: dict) -> Iterable[int]:
    return (row["relation"],)


def required(record: Any, key: str, source: Path, position: int, record_id: str | None = None) -> Any:
    """`record[key]`, or an `InvalidRecordError` naming the missing key."""
    if not isinstance(record, dict):
        raise InvalidRecordError(source, position, "<record>", f"expected a JSON object, got {type(record).__name__}")
    if key not in record:
        raise InvalidRecordError(source, position, key, "missing key", record_id=record_id)
    return record[key]


__all__ = ["SENTENCE_DESCRIPTION", "convert_sentence_corpus", "required", "sentence_rows", "validate_sentence_row"]
