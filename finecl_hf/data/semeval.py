"""SemEval-2010 Task 8 (Hendrickx et al., 2010): the official plain-text release -> sentence-level dataset.

A source record is a block of lines separated from the next by a blank line::

    1<TAB>"The system ... an arrayed <e1>configuration</e1> of antenna <e2>elements</e2>."
    Component-Whole(e2,e1)
    Comment: Not a collection: there is structure here, organisation.

The sentence is split into words by `split_words` (words, numbers and single punctuation marks; the ``<e1>``/``<e2>``
markers always fall on word boundaries, even when glued to a word as in ``The<e1>staff</e1>``). `head` is the
``<e1>`` entity and `tail` the ``<e2>`` entity; the 19 labels keep their direction (``Cause-Effect(e2,e1)``), with
``Other`` as the explicit no-relation label (id 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..corpora import CORPORA
from .conversion import ConversionReport, CorpusInfo, SplitSource
from .invalid_records import InvalidRecordError
from .readers import iter_lines, undecodable_field
from .schema import SEMEVAL_NO_RELATION, semeval_label_names
from .sentences import convert_sentence_corpus

# Which file of a source folder becomes which split: the corpus registry owns it.
SEMEVAL_FILES = dict(CORPORA["semeval"].known_files)
SEMEVAL_CORPUS = CorpusInfo(
    name="semeval2010_task8",
    pretty_name="SemEval-2010 Task 8 (finecl-hf)",
    summary=(
        "SemEval-2010 Task 8: multi-way classification of semantic relations between pairs of nominals "
        "(Hendrickx et al., 2010). 10,717 sentences, each with two marked nominals `<e1>` (here `head`) and `<e2>` "
        "(`tail`), labelled with one of 9 directed relations or `Other`. The official score is the macro-F1 over "
        "the 9 relations with direction taken into account, `Other` excluded."
    ),
    license="cc-by-3.0",
    homepage="https://semeval2.fbk.eu/semeval2.php?location=tasks&taskid=11",
    citation=(
        "@inproceedings{hendrickx-etal-2010-semeval,\n"
        "  title = {{S}em{E}val-2010 Task 8: Multi-Way Classification of Semantic Relations\n"
        "           between Pairs of Nominals},\n"
        "  author = {Hendrickx, Iris and Kim, Su Nam and Kozareva, Zornitsa and Nakov, Preslav and\n"
        "            {\\'O} S{\\'e}aghdha, Diarmuid and Pad{\\'o}, Sebastian and Pennacchiotti, Marco and\n"
        "            Romano, Lorenza and Szpakowicz, Stan},\n"
        "  booktitle = {Proceedings of the 5th International Workshop on Semantic Evaluation},\n"
        "  year = {2010},\n"
        "  pages = {33--38},\n"
        "  url = {https://aclanthology.org/S10-1006}\n"
        "}"
    ),
    no_relation_label=SEMEVAL_NO_RELATION,
)

_HEADER = re.compile(r"^\s*(\d+)\t(.*)$")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:['’-]\w+)*|[^\w\s]")
_MARKER = re.compile(r"</?e[12]>")


def split_words(text: str) -> list[str]:
    """Split text into words: runs of word characters (keeping inner ``-``/``'``), numbers, single punctuation."""
    return _WORD.findall(text)


class SemEvalBlock(list):
    """The non-blank lines of one SemEval record, and the 0-based number of its first line in the file."""

    def __init__(self, first_line: int):
        super().__init__()
        self.first_line = first_line


def iter_semeval_blocks(path: str | Path) -> Iterator[tuple[int, SemEvalBlock]]:
    """Yield `(record position, non-blank lines)` for each blank-line separated block of a SemEval file."""
    block = SemEvalBlock(0)
    position = 0
    for line_number, line in iter_lines(path):
        if line.strip():
            if not block:
                block.first_line = line_number
            block.append(line.rstrip("\r"))
            continue
        if block:
            yield position, block
            position += 1
            block = SemEvalBlock(line_number + 1)
    if block:
        yield position, block


def parse_semeval_block(block: list[str], position: int, source: Path) -> dict:
    """A SemEval record (its lines) -> draft sentence row; raises `InvalidRecordError` naming the field (and the
    record's first line, when `block` is a `SemEvalBlock`)."""
    try:
        return _parse_semeval_block(block, position, source)
    except InvalidRecordError as error:
        first_line = getattr(block, "first_line", None)
        raise (error if first_line is None else error.at_line(first_line)) from None


def _parse_semeval_block(block: list[str], position: int, source: Path) -> dict:
    header = _HEADER.match(block[0])
    if header is None:
        raise InvalidRecordError(source, position, "id", f"expected '<id><TAB>\"sentence\"', got {block[0][:60]!r}")
    record_id, sentence = header.group(1), header.group(2).strip()
    for index, line in enumerate(block):
        if undecodable_field(line) is not None:
            field = ("sentence", "relation")[index] if index < 2 else "comment"
            raise InvalidRecordError(
                source, position, field, "contains bytes that are not valid UTF-8", record_id=record_id
            )
    if len(block) < 2:
        raise InvalidRecordError(source, position, "relation", "missing label line", record_id=record_id)
    if len(sentence) >= 2 and sentence[0] == sentence[-1] == '"':
        sentence = sentence[1:-1]
    tokens, spans = _tokens_and_entities(sentence, source, position, record_id)
    return {"id": record_id, "tokens": tokens, "head": spans["e1"], "tail": spans["e2"], "relation": block[1].strip()}


def _tokens_and_entities(sentence: str, source: Path, position: int, record_id: str) -> tuple[list[str], dict]:
    markers = _MARKER.findall(sentence)
    if sorted(markers) != ["</e1>", "</e2>", "<e1>", "<e2>"]:
        raise InvalidRecordError(
            source,
            position,
            "sentence",
            f"needs exactly one <e1>...</e1> and one <e2>...</e2>, found markers {markers or 'none'}",
            record_id=record_id,
        )
    for name in ("e1", "e2"):
        if markers.index(f"<{name}>") > markers.index(f"</{name}>"):
            raise InvalidRecordError(
                source, position, "sentence", f"</{name}> comes before <{name}>", record_id=record_id
            )
    if markers.index("<e1>") + 1 != markers.index("</e1>") or markers.index("<e2>") + 1 != markers.index("</e2>"):
        raise InvalidRecordError(source, position, "sentence", "<e1> and <e2> overlap", record_id=record_id)
    tokens: list[str] = []
    spans: dict[str, dict] = {}
    for segment, marker in zip(_MARKER.split(sentence), markers + [None]):
        words = split_words(segment)
        if marker in ("</e1>", "</e2>"):
            name = marker[2:4]
            if not words:
                raise InvalidRecordError(source, position, "sentence", f"<{name}> is empty", record_id=record_id)
            spans[name] = {"name": segment.strip(), "start": len(tokens), "end": len(tokens) + len(words), "type": None}
        tokens.extend(words)
    return tokens, spans


def convert_semeval(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> ConversionReport:
    """Convert SemEval-2010 Task 8 files (e.g. ``train=TRAIN_FILE.TXT``, ``test=TEST_FILE_FULL.TXT``)."""
    return convert_sentence_corpus(
        sources,
        iter_semeval_blocks,
        parse_semeval_block,
        semeval_label_names(),
        SEMEVAL_CORPUS,
        output_dir,
        converter="dataset_scripts/semeval.py",
        skip_invalid=skip_invalid,
        overwrite=overwrite,
    )


__all__ = [
    "SEMEVAL_CORPUS",
    "SEMEVAL_FILES",
    "convert_semeval",
    "iter_semeval_blocks",
    "parse_semeval_block",
    "split_words",
]
