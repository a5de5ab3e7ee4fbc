"""The dataset schemas of finecl-hf, as `datasets.Features`.

Three views, shared by every converter:

**Sentence level** (SemEval-2010 Task 8, Wiki80/OpenNRE, TACRED): one row per (sentence, head, tail).

- `uid` (string): stable row id ``"<split>/<id>"``.
- `id` (string): the source's own id (SemEval/TACRED id; the 0-based line number for OpenNRE files).
- `tokens` (list of string): the words of the sentence.
- `head`, `tail` (struct {`name`, `start`, `end`, `type`}): entity name, word span ``tokens[start:end]`` (end
  exclusive) and type (null when the source has none).
- `relation` (`ClassLabel`): the relation; a no-relation label (`Other`, `no_relation`) is an explicit name, id 0.

SemEval keeps the official 19 directed labels (``Cause-Effect(e1,e2)``, ...): `head` is always ``<e1>`` and `tail`
``<e2>``; the direction lives in the label, as in the official task and scorer.

**Documents** (DocRED format): one row per document.

- `uid` (string): stable document id ``"<split>/<0-based position in the source file>"``.
- `title` (string): the document title.
- `sents` (list of list of string): the words of each sentence.
- `entities` (list of {`type`, `mentions`: list of {`name`, `sent_id`, `start`, `end`}}): DocRED's `vertexSet`;
  `start`/`end` index words of sentence `sent_id`, end exclusive; an entity's `type` is its first mention's.
- `relations` (list of {`uid`, `head`, `tail`, `relation`, `evidence`}): the triples; `head`/`tail` index
  `entities`, `relation` is a `ClassLabel` over ``no_relation`` + the Wikidata P-ids, `evidence` lists sentence ids.

A triple's `uid` is ``"<document uid>/<head>-<tail>/<relation name>"`` (e.g. ``train/12/0-3/P17``): built from the
document's position, the entity indices and the relation's *name*, so it is the same on every run over the same file
and does not depend on label ids. Distantly labelled documents (`finecl_hf.data.distant_supervision`) add
`match` and `confirmed_by_gold` to each triple and keep the source's own labels in `gold_relations`.

**Relation instances** of documents (what learning-order stage 1 trains on): one row per (document, head, tail,
relation), including sampled no-relation pairs, with columns `uid` (the triple uid; ``.../no_relation`` for sampled
pairs), `document_index` (row of the documents split), `document_uid`, `head`, `tail` and `relation` (`ClassLabel`
with ``no_relation`` = 0). Rows point to the documents dataset instead of copying its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from datasets import ClassLabel, Features, List, Value

from ..constants import NO_RELATION, SEMEVAL_NO_RELATION
from ..errors import DataError

SEMEVAL_RELATIONS = (
    "Cause-Effect",
    "Component-Whole",
    "Content-Container",
    "Entity-Destination",
    "Entity-Origin",
    "Instrument-Agency",
    "Member-Collection",
    "Message-Topic",
    "Product-Producer",
)
# The 41 TACRED relations (Zhang et al., 2017), shared by TACRED and TACREV; `no_relation` is added in front.
TACRED_RELATIONS = (
    "org:alternate_names", "org:city_of_headquarters", "org:country_of_headquarters", "org:dissolved",
    "org:founded", "org:founded_by", "org:member_of", "org:members", "org:number_of_employees/members",
    "org:parents", "org:political/religious_affiliation", "org:shareholders", "org:stateorprovince_of_headquarters",
    "org:subsidiaries", "org:top_members/employees", "org:website", "per:age", "per:alternate_names",
    "per:cause_of_death", "per:charges", "per:children", "per:cities_of_residence", "per:city_of_birth",
    "per:city_of_death", "per:countries_of_residence", "per:country_of_birth", "per:country_of_death",
    "per:date_of_birth", "per:date_of_death", "per:employee_of", "per:origin", "per:other_family", "per:parents",
    "per:religion", "per:schools_attended", "per:siblings", "per:spouse", "per:stateorprovince_of_birth",
    "per:stateorprovince_of_death", "per:stateorprovinces_of_residence", "per:title",
)  # fmt: skip


def relation_label_names(relations: Iterable[str], no_relation: str | None = NO_RELATION) -> list[str]:
    """`ClassLabel` names: `no_relation` first (id 0, when the corpus has one), then `relations` in the given order.

    Raises `ValueError` on duplicate names or when `no_relation` is also listed as a relation, so the no-relation
    class can never share an id with a real relation (a pitfall of the original code, where NA = 0 = relation 0).
    """
    relations = list(relations)
    names = ([no_relation] if no_relation is not None else []) + relations
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"Relation label names must be unique; repeated: {duplicates}.")
    if not names:
        raise DataError("A relation dataset needs at least one label.")
    return names


def semeval_label_names() -> list[str]:
    """The 19 SemEval-2010 Task 8 labels: ``Other`` (id 0), then each relation in both directions."""
    directed = [f"{relation}({order})" for relation in SEMEVAL_RELATIONS for order in ("e1,e2", "e2,e1")]
    return relation_label_names(directed, no_relation=SEMEVAL_NO_RELATION)


def entity_span_feature() -> dict:
    """A sentence-level entity: name, word span ``[start, end)`` and type (null when unknown)."""
    return {"name": Value("string"), "start": Value("int32"), "end": Value("int32"), "type": Value("string")}


def sentence_features(label_names: Sequence[str]) -> Features:
    """Features of a sentence-level relation dataset (see the module docstring)."""
    return Features(
        {
            "uid": Value("string"),
            "id": Value("string"),
            "tokens": List(Value("string")),
            "head": entity_span_feature(),
            "tail": entity_span_feature(),
            "relation": ClassLabel(names=list(label_names)),
        }
    )


def mention_feature() -> dict:
    """A document-level mention: its text and word span ``[start, end)`` inside sentence `sent_id`."""
    return {"name": Value("string"), "sent_id": Value("int32"), "start": Value("int32"), "end": Value("int32")}


def relation_triple_feature(label_names: Sequence[str], *, distant: bool = False) -> dict:
    """A document-level relation triple; distant triples also say how they matched and whether gold confirms them."""
    triple = {
        "uid": Value("string"),
        "head": Value("int32"),
        "tail": Value("int32"),
        "relation": ClassLabel(names=list(label_names)),
        "evidence": List(Value("int32")),
    }
    if distant:
        triple["match"] = Value("string")
        triple["confirmed_by_gold"] = Value("bool")
    return triple


def document_features(label_names: Sequence[str], *, distant: bool = False) -> Features:
    """Features of a document-level dataset (see the module docstring).

    With `distant=True`, `relations` holds distant labels (with `match` and `confirmed_by_gold`) and the source's own
    labels move to `gold_relations`.
    """
    features = {
        "uid": Value("string"),
        "title": Value("string"),
        "sents": List(List(Value("string"))),
        "entities": List({"type": Value("string"), "mentions": List(mention_feature())}),
        "relations": List(relation_triple_feature(label_names, distant=distant)),
    }
    if distant:
        features["gold_relations"] = List(relation_triple_feature(label_names))
    return Features(features)


def relation_instance_features(label_names: Sequence[str]) -> Features:
    """Features of the relation-instance view of a documents dataset (see the module docstring)."""
    return Features(
        {
            "uid": Value("string"),
            "document_index": Value("int64"),
            "document_uid": Value("string"),
            "head": Value("int32"),
            "tail": Value("int32"),
            "relation": ClassLabel(names=list(label_names)),
        }
    )


def sentence_uid(split: str, record_id: str) -> str:
    """Stable uid of a sentence-level row."""
    return f"{split}/{record_id}"


def document_uid(split: str, position: int) -> str:
    """Stable uid of a document: its split and 0-based position in the source file."""
    return f"{split}/{position}"


def triple_uid(document: str, head: int, tail: int, relation_name: str) -> str:
    """Stable uid of a (document, head, tail, relation) triple; sampled no-relation pairs use `NO_RELATION`."""
    return f"{document}/{head}-{tail}/{relation_name}"


__all__ = [
    "NO_RELATION",
    "SEMEVAL_NO_RELATION",
    "SEMEVAL_RELATIONS",
    "TACRED_RELATIONS",
    "document_features",
    "document_uid",
    "entity_span_feature",
    "mention_feature",
    "relation_instance_features",
    "relation_label_names",
    "relation_triple_feature",
    "semeval_label_names",
    "sentence_features",
    "sentence_uid",
    "triple_uid",
]
