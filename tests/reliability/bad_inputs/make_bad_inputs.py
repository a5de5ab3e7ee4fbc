"""Regenerate the malformed source files of this folder (checked in; run this only after changing a case).

    python tests/reliability/bad_inputs/make_bad_inputs.py

Each file holds valid records around exactly one fault, so a test can tell which record and field must be named.
`README.md` lists the files and the fault each one carries; `tests/reliability/test_bad_inputs.py` drives the CLIs
over them. Binary faults (a truncated gzip stream, Latin-1 bytes) are why the files are generated, not hand-written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
NOT_UTF8 = b"Caf\xe9\xff"  # Latin-1 bytes, invalid as UTF-8

SEMEVAL_GOOD = '1\t"The <e1>child</e1> was carefully wrapped into the <e2>cradle</e2>."\nOther\nComment:\n\n'
SEMEVAL_THIRD = '3\t"A <e1>ridge</e1> rises from the <e2>surge</e2>."\nEntity-Origin(e1,e2)\nComment:\n\n'
UTF8_BOM = b"\xef\xbb\xbf"  # what Windows editors put at the start of a UTF-8 file


def windows_text(text: str) -> bytes:
    """`text` as a Windows editor saves it: UTF-8 with a byte-order mark and CRLF line endings."""
    return UTF8_BOM + text.replace("\n", "\r\n").encode()

WIKI80_RELATIONS = {"located in": 0, "country": 1}
TACRED_GOOD = {
    "id": "a1", "relation": "per:title", "token": ["Ann", "Lee", "is", "the", "CEO", "."],
    "subj_start": 0, "subj_end": 1, "obj_start": 4, "obj_end": 4, "subj_type": "PERSON", "obj_type": "TITLE",
}  # fmt: skip
DOCRED_RELATIONS = {"P17": "country", "P131": "located in the administrative territorial entity"}
FACTS = [["Paris", "France", "P17"], ["Lyon", "France", "P17"]]


def wiki80_line(**changes) -> str:
    record = {
        "token": ["Bud", "Frye", "Field", "is", "in", "Madison", "."],
        "h": {"name": "bud frye field", "pos": [0, 3], "type": "ORG"},
        "t": {"name": "madison", "pos": [5, 6], "type": "GPE"},
        "relation": "located in",
    }
    record.update(changes)
    return json.dumps(record)


def tacred_record(**changes) -> dict:
    return {**TACRED_GOOD, **changes}


def docred_document(title: str = "Paris") -> dict:
    return {
        "title": title,
        "sents": [["Paris", "is", "the", "capital", "of", "France", "."], ["Lyon", "is", "in", "France", "."]],
        "vertexSet": [
            [{"name": "Paris", "pos": [0, 1], "sent_id": 0, "type": "LOC"}],
            [
                {"name": "France", "pos": [5, 6], "sent_id": 0, "type": "LOC"},
                {"name": "France", "pos": [3, 4], "sent_id": 1, "type": "LOC"},
            ],
            [{"name": "Lyon", "pos": [0, 1], "sent_id": 1, "type": "LOC"}],
        ],
        "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}, {"h": 2, "t": 1, "r": "P17", "evidence": [1]}],
    }


def docred_file(bad: dict | str) -> str:
    """[valid, `bad`, valid] as a JSON array; `bad` is a document or raw JSON text."""
    bad_text = bad if isinstance(bad, str) else json.dumps(bad)
    return f"[{json.dumps(docred_document())}, {bad_text}, {json.dumps(docred_document('Lyon'))}]"


def truncated_gzip(text: str) -> bytes:
    """The first half of the gzip stream of `text` (long enough that the cut falls inside the compressed data)."""
    payload = gzip.compress(text.encode("utf-8"), mtime=0)
    return payload[: len(payload) // 2]


def build() -> dict[str, bytes]:
    """File name (relative to this folder) -> bytes."""
    sent_id_as_string = docred_document("Berlin")
    sent_id_as_string["vertexSet"][1][1]["sent_id"] = "1"
    empty_document = docred_document("Empty")
    empty_document["sents"], empty_document["vertexSet"], empty_document["labels"] = [], [], []
    no_entities = {"title": "Nothing", "sents": [["Nothing", "happens", "here", "."]], "vertexSet": [], "labels": []}
    files = {
        # SemEval-2010 Task 8
        "semeval/non_utf8.TXT": (
            SEMEVAL_GOOD + '2\t"The <e1>@@</e1> was served in a <e2>cup</e2>."\nOther\nComment:\n\n' + SEMEVAL_THIRD
        ).encode().replace(b"@@", NOT_UTF8),
        "semeval/duplicate_id.TXT": (SEMEVAL_GOOD + SEMEVAL_GOOD.replace("child", "baby")).encode(),
        "semeval/reversed_markers.TXT": (
            SEMEVAL_GOOD + '2\t"The </e1>child<e1> was wrapped into the <e2>cradle</e2>."\nOther\nComment:\n\n'
        ).encode(),
        "semeval/bom_crlf.TXT": windows_text(SEMEVAL_GOOD + SEMEVAL_THIRD.replace("3\t", "2\t")),
        "semeval/bom_crlf_reversed_markers.TXT": windows_text(
            SEMEVAL_GOOD + '2\t"The </e1>child<e1> was wrapped into the <e2>cradle</e2>."\nOther\nComment:\n\n'
        ),
        # OpenNRE / Wiki80
        "wiki80/rel2id.json": json.dumps(WIKI80_RELATIONS).encode(),
        "wiki80/truncated.txt.gz": truncated_gzip("\n".join(wiki80_line() for _ in range(400)) + "\n"),
        "wiki80/span_as_strings.txt": "\n".join(
            [wiki80_line(), wiki80_line(h={"name": "bud frye field", "pos": ["0", "3"]}), wiki80_line()]
        ).encode(),
        "wiki80/unknown_relation.txt": "\n".join(
            [wiki80_line(), wiki80_line(), wiki80_line(relation="capital of")]
        ).encode(),
        # TACRED
        "tacred/truncated.json": json.dumps([tacred_record(), tacred_record(id="a2")])[:-60].encode(),
        "tacred/tail_out_of_range.json": json.dumps(
            [tacred_record(), tacred_record(id="a2", obj_start=5, obj_end=9)]
        ).encode(),
        "tacred/token_is_a_string.json": json.dumps(
            [tacred_record(), tacred_record(id="a2", token="Ann Lee is the CEO .")]
        ).encode(),
        "tacred/id_is_null.json": json.dumps([tacred_record(), tacred_record(id=None)]).encode(),
        # DocRED format and distant supervision
        "docred/rel_info.json": json.dumps(DOCRED_RELATIONS).encode(),
        "docred/rel_info_not_a_mapping.json": json.dumps(list(DOCRED_RELATIONS)).encode(),
        "docred/truncated.json.gz": truncated_gzip(json.dumps([docred_document(f"D{i}") for i in range(200)])),
        "docred/sent_id_as_string.json": docred_file(sent_id_as_string).encode(),
        "docred/empty_document.json": docred_file(empty_document).encode(),
        "docred/no_entities.json": docred_file(no_entities).encode(),
        "docred/empty_file.json": b"",
        "distant/facts.json": json.dumps(FACTS).encode(),
        "distant/facts_unknown_relation.json": json.dumps([*FACTS, ["Lyon", "Paris", "P999"]]).encode(),
        "distant/documents.json": docred_file(docred_document("Marseille")).encode(),
    }
    return files


def main(names: list[str] | None = None) -> None:
    """Write every file, or only `names` (the gzip files embed a timestamp: rewriting them changes their bytes)."""
    for name, content in build().items():
        if names and name not in names:
            continue
        path = FOLDER / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(f"wrote {path.relative_to(FOLDER)} ({len(content)} bytes)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
