"""TACRED JSON (Zhang et al., 2017; also TACREV, Re-TACRED with their label file) -> sentence-level dataset.

TACRED is distributed by the LDC: users bring their own `train.json`/`dev.json`/`test.json`, each a JSON array of::

    {"id": "61b3a57...", "relation": "per:title", "token": [...], "subj_start": 8, "subj_end": 9,
     "obj_start": 12, "obj_end": 12, "subj_type": "PERSON", "obj_type": "TITLE", ...}

`subj_*`/`obj_*` spans are *inclusive*; here they become ``[start, end)``. `head` is the subject, `tail` the object.
PTB bracket escapes in tokens (``-LRB-``, ``-RRB-``, ``-LSB-``, ``-RSB-``, ``-LCB-``, ``-RCB-``) are turned back into
the brackets a pretrained tokenizer knows, as in Zhou & Chen (2022). Labels: ``no_relation`` (id 0) + the 41 TACRED
relations, or the names of a `relations_file` (e.g. for Re-TACRED).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..corpora import CORPORA
from .conversion import ConversionReport, CorpusInfo, SplitSource, describe_input
from .invalid_records import InvalidRecordError
from .opennre import read_label_file
from .readers import iter_json_records
from .schema import NO_RELATION, TACRED_RELATIONS, relation_label_names
from .sentences import convert_sentence_corpus, required

# Which file of a source folder becomes which split: the corpus registry owns it.
TACRED_FILES = dict(CORPORA["tacred"].known_files)
PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
TACRED_CORPUS = CorpusInfo(
    name="tacred",
    pretty_name="TACRED (finecl-hf)",
    summary=(
        "TACRED (Zhang et al., 2017): 106k sentences from the TAC KBP newswire and web corpora with a subject "
        "(`head`) and an object (`tail`), labelled with one of 41 relations or `no_relation`. Licensed by the LDC "
        "(LDC2018T24): do not redistribute this folder."
    ),
    license="other",
    homepage="https://nlp.stanford.edu/projects/tacred/",
    citation=(
        "@inproceedings{zhang-etal-2017-position,\n"
        "  title = {Position-aware Attention and Supervised Data Improve Slot Filling},\n"
        "  author = {Zhang, Yuhao and Zhong, Victor and Chen, Danqi and Angeli, Gabor and Manning, Christopher D.},\n"
        "  booktitle = {Proceedings of EMNLP 2017},\n"
        "  year = {2017},\n"
        "  pages = {35--45},\n"
        "  url = {https://aclanthology.org/D17-1004}\n"
        "}"
    ),
    no_relation_label=NO_RELATION,
)


def parse_tacred_record(record: Any, position: int, source: Path) -> dict:
    """One TACRED JSON object -> draft sentence row; raises `InvalidRecordError` naming the field."""
    record_id = required(record, "id", source, position)
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
        raise InvalidRecordError(source, position, "id", f"expected a string, got {record_id!r}")
    record_id = str(record_id)
    tokens = required(record, "token", source, position, record_id)
    if isinstance(tokens, list):
        tokens = [PTB_BRACKETS.get(token, token) if isinstance(token, str) else token for token in tokens]
    entities = {}
    for role, prefix in (("head", "subj"), ("tail", "obj")):
        start = required(record, f"{prefix}_start", source, position, record_id)
        last = required(record, f"{prefix}_end", source, position, record_id)
        if type(last) is not int:
            raise InvalidRecordError(source, position, f"{prefix}_end", f"expected an integer, got {last!r}", record_id)
        entity_type = record.get(f"{prefix}_type")
        entities[role] = {"name": None, "start": start, "end": last + 1, "type": entity_type}
    relation = required(record, "relation", source, position, record_id)
    return {"id": record_id, "tokens": tokens, **entities, "relation": relation}


def convert_tacred(
    sources: Sequence[SplitSource],
    output_dir: str | Path,
    *,
    relations_file: str | Path | None = None,
    skip_invalid: bool = False,
    overwrite: bool = False,
) -> ConversionReport:
    """Convert TACRED JSON files (``train=train.json`` ...); labels: TACRED's 41, or those of `relations_file`."""
    relations = list(TACRED_RELATIONS) if relations_file is None else read_label_file(relations_file)
    relations = [name for name in relations if name != NO_RELATION]
    return convert_sentence_corpus(
        sources,
        iter_json_records,
        parse_tacred_record,
        relation_label_names(relations, no_relation=NO_RELATION),
        TACRED_CORPUS,
        output_dir,
        converter="dataset_scripts/tacred.py",
        skip_invalid=skip_invalid,
        overwrite=overwrite,
        inputs={"relations": describe_input(relations_file)} if relations_file is not None else None,
    )


__all__ = ["PTB_BRACKETS", "TACRED_CORPUS", "TACRED_FILES", "convert_tacred", "parse_tacred_record"]
