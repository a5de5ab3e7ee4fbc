"""What `finecl label-issues` shows a person: the most suspect labels with their text, why, and a suggested relation.

`collect_label_issues` reads a learning-order dataset (instances with the label-issue columns of
`finecl_hf.learning_order.label_issues`, and the documents where there are some) and returns one `LabelIssue` per
suspect, most suspect first. The renderers write them as a terminal table, CSV, JSON Lines or a self-contained HTML
page (entities highlighted in their sentences, sortable columns, no network).
"""

from __future__ import annotations

import csv
import html
import json
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .label_issues import ISSUE_SCORE, LABEL_ISSUE_COLUMN, LABEL_ISSUE_COLUMNS, SUGGESTED_PROBABILITY_COLUMN, SUGGESTED_RELATION_COLUMN
from ..order_scores import cleanliness

# Below these, a piece of evidence speaks against the label.
NEIGHBOUR_MINORITY = 0.5  # fewer than half of the neighbours (by similarity) carry the label
HEAD, TAIL = "head", "tail"
REPORT_FORMATS = (".csv", ".jsonl", ".html")


@dataclass
class LabelIssue:
    """One suspect label.

    Attributes:
        rank: 1 = most suspect.
        uid: the instance's `uid`.
        document: the document's title (a sentence corpus: the sentence's `id`).
        head, tail: the entities' names.
        context: the sentence(s) where head and tail meet, as `(text, role)` pieces (role `head`, `tail` or `None`).
        label: the relation as given.
        suggested: the suggested relation.
        probability: its probability (NaN: the instance had no features).
        score: the oriented `combined` score (higher = cleaner).
        evidence: what speaks against the label, one phrase each.
    """

    rank: int
    uid: str
    document: str
    head: str
    tail: str
    context: list[tuple[str, str | None]]
    label: str
    suggested: str
    probability: float
    score: float
    evidence: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The context as plain text, head and tail in brackets: `[[head]]`, `<<tail>>`."""
        marks = {HEAD: ("[[", "]]"), TAIL: ("<<", ">>"), None: ("", "")}
        return "".join(f"{marks[role][0]}{piece}{marks[role][1]}" for piece, role in self.context)

    def record(self) -> dict[str, Any]:
        """A flat record for CSV and JSON Lines."""
        row = asdict(self)
        row["context"] = self.text
        row["evidence"] = "; ".join(self.evidence)
        row["probability"] = None if np.isnan(self.probability) else round(float(self.probability), 4)
        row["score"] = round(float(self.score), 4)
        return row


def missing_columns(column_names: list[str]) -> list[str]:
    """The label-issue columns (and `combined`) a learning-order dataset lacks."""
    return [name for name in (*LABEL_ISSUE_COLUMNS, ISSUE_SCORE) if name not in column_names]


def collect_label_issues(
    instances: Any, documents: Any | None, top: int, descriptions: dict[str, str] | None = None
) -> list[LabelIssue]:
    """The `top` flagged labels ranked lowest by `combined` (higher = cleaner), most suspect first.

    `descriptions`: readable relation names (DocRED's `P17` -> `country`), shown beside the labels."""
    missing = missing_columns(instances.column_names)
    if missing:
        raise DataError(f"the instances have no {', '.join(missing)} column(s).")
    scores = cleanliness(ISSUE_SCORE, instances)
    flagged = np.flatnonzero(np.asarray(instances[LABEL_ISSUE_COLUMN], dtype=bool))
    chosen = flagged[np.argsort(scores[flagged], kind="stable")[:top]]
    rows = instances.select(chosen)
    raw = instances.features["relation"].names
    names = [_described(name, descriptions or {}) for name in raw]
    issues = []
    for rank, (row, score) in enumerate(zip(rows, scores[chosen]), start=1):
        document = None if documents is None else documents[int(row["document_index"])]
        head, tail, context, title = _entities_and_context(row, document)
        label, suggested = names[row["relation"]], names[row[SUGGESTED_RELATION_COLUMN]]
        probability = row[SUGGESTED_PROBABILITY_COLUMN]
        probability = float("nan") if probability is None else float(probability)
        issues.append(LabelIssue(rank, str(row["uid"]), title, head, tail, context, label, suggested, probability,
                                 float(score), _evidence(row, document, raw[row["relation"]],
                                                         raw[row[SUGGESTED_RELATION_COLUMN]], probability)))  # fmt: skip
    return issues


def _described(label: str, descriptions: dict[str, str]) -> str:
    description = descriptions.get(label)
    return label if not description or description == label else f"{label} ({description})"


def _entities_and_context(row: dict, document: dict | None) -> tuple[str, str, list, str]:
    """Head and tail names, the context pieces and the title of one instance."""
    if document is None:  # a sentence: head and tail are spans of its tokens
        spans = {HEAD: row["head"], TAIL: row["tail"]}
        return row["head"]["name"], row["tail"]["name"], _marked(row["tokens"], spans), str(row.get("id") or row["uid"])
    entities = document["entities"]
    head, tail = entities[row["head"]], entities[row["tail"]]
    head_sentences = {mention["sent_id"] for mention in head["mentions"]}
    tail_sentences = {mention["sent_id"] for mention in tail["mentions"]}
    # Where they meet; else the first mention of each.
    sentences = sorted(head_sentences & tail_sentences) or sorted({min(head_sentences), min(tail_sentences)})
    context = []
    for sentence in sentences:
        spans = {}
        for role, entity in ((HEAD, head), (TAIL, tail)):
            spans[role] = [mention for mention in entity["mentions"] if mention["sent_id"] == sentence]
        if context:
            context.append((" … ", None))
        context += _marked(document["sents"][sentence], spans)
    return head["mentions"][0]["name"], tail["mentions"][0]["name"], context, document.get("title") or document["uid"]


def _marked(tokens: list[str], spans: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Tokens joined into `(text, role)` pieces, the head's and tail's spans marked."""
    role_of = [None] * len(tokens)
    for role, found in spans.items():
        for span in found if isinstance(found, list) else [found]:
            for position in range(max(span["start"], 0), min(span["end"], len(tokens))):
                role_of[position] = role
    groups: list[tuple[list[str], str | None]] = []  # runs of tokens with one role
    for token, role in zip(tokens, role_of):
        if groups and groups[-1][1] == role:
            groups[-1][0].append(token)
        else:
            groups.append(([token], role))
    pieces: list[tuple[str, str | None]] = []
    for index, (words, role) in enumerate(groups):
        if index:
            pieces.append((" ", None))
        pieces.append((" ".join(words), role))
    return pieces


def _evidence(row: dict, document: dict | None, label: str, suggested: str, probability: float) -> list[str]:
    """The pieces of evidence that speak against the label."""
    spoken = []
    types = _signature(row, document)
    agreement = row.get("type_agreement")
    if agreement is not None and agreement < 0:
        spoken.append(f"types {types} are rarer under {label} than in the corpus (PMI {agreement:.2f})")
    neighbours = row.get("neighbour_agreement")
    if neighbours is not None and neighbours < NEIGHBOUR_MINORITY:
        spoken.append(f"only {neighbours:.0%} of its nearest neighbours carry {label}")
    label_probability = row.get("out_of_sample")
    if suggested != label and not np.isnan(probability):
        prefix = "" if label_probability is None else f"p({label}) = {label_probability:.2f}; "
        spoken.append(f"the out-of-sample classifier prefers {suggested} ({prefix}p = {probability:.2f})")
    return spoken


def _signature(row: dict, document: dict | None) -> str:
    if document is None:
        head, tail = row["head"].get("type"), row["tail"].get("type")
    else:
        head, tail = document["entities"][row["head"]]["type"], document["entities"][row["tail"]]["type"]
    return f"{head or '?'}->{tail or '?'}"


# --------------------------------------------------------------------------------------------------- renderers
def render_table(issues: list[LabelIssue], width: int = 110) -> str:
    """The issues as a plain-text table: one block per issue (the context wrapped under its header line)."""
    if not issues:
        return "no label issues flagged."
    lines = []
    for issue in issues:
        probability = "n/a" if np.isnan(issue.probability) else f"{issue.probability:.2f}"
        lines.append(
            f"#{issue.rank}  {issue.document}  |  {issue.head} -> {issue.tail}  |  label {issue.label}  |  suggested "
            f"{issue.suggested} (p {probability})  |  combined {issue.score:.3f}"
        )
        lines += textwrap.wrap(issue.text, width, initial_indent="    ", subsequent_indent="    ")
        lines += [f"    - {phrase}" for phrase in issue.evidence] or ["    - (its rank alone: no single piece of evidence)"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(issues: list[LabelIssue], path: str | Path, title: str) -> Path:
    """Write the issues to `path`, the format by its suffix (`.csv`, `.jsonl`, `.html`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [issue.record() for issue in issues]
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]) if records else ["rank"])
            writer.writeheader()
            writer.writerows(records)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    elif path.suffix == ".html":
        path.write_text(render_html(issues, title), encoding="utf-8")
    else:
        raise ValueError(f"{path}: the report format is chosen by the suffix, one of {', '.join(REPORT_FORMATS)}.")
    return path


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; cursor: pointer; user-select: none; white-space: nowrap; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
mark.head { background: #cfe3ff; border-radius: 3px; padding: 0 2px; }
mark.tail { background: #ffe0b3; border-radius: 3px; padding: 0 2px; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.context { min-width: 26em; max-width: 44em; }
ul.evidence { margin: 0; padding-left: 1.1em; }
.legend { margin: 0.5em 0 1em; }
"""

# Sorting without a library: numbers by value, text by locale order; clicking again reverses.
_SCRIPT = """
document.querySelectorAll("th").forEach((header, column) => {
  header.addEventListener("click", () => {
    const table = header.closest("table"), body = table.tBodies[0];
    const ascending = !header.classList.contains("sorted-asc");
    table.querySelectorAll("th").forEach(h => h.classList.remove("sorted-asc", "sorted-desc"));
    header.classList.add(ascending ? "sorted-asc" : "sorted-desc");
    const key = row => row.cells[column].dataset.sort ?? row.cells[column].textContent;
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      const order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(row => body.appendChild(row));
  });
});
"""

HTML_COLUMNS = ("rank", "document", "head → tail", "context", "label", "suggested", "p", "combined", "evidence")


def render_html(issues: list[LabelIssue], title: str) -> str:
    """A self-contained page (inline CSS and script, no network) with one sortable table row per issue."""
    escape = html.escape
    rows = []
    for issue in issues:
        context = "".join(
            escape(text) if role is None else f'<mark class="{role}">{escape(text)}</mark>' for text, role in issue.context
        )
        evidence = "".join(f"<li>{escape(phrase)}</li>" for phrase in issue.evidence)
        probability = "" if np.isnan(issue.probability) else f"{issue.probability:.2f}"
        rows.append(
            "<tr>"
            f'<td class="number">{issue.rank}</td><td>{escape(issue.document)}</td>'
            f'<td><mark class="head">{escape(issue.head)}</mark> → <mark class="tail">{escape(issue.tail)}</mark></td>'
            f'<td class="context">{context}</td><td>{escape(issue.label)}</td><td>{escape(issue.suggested)}</td>'
            f'<td class="number" data-sort="{probability or -1}">{probability}</td>'
            f'<td class="number">{issue.score:.3f}</td><td><ul class="evidence">{evidence}</ul></td>'
            "</tr>"
        )
    header = "".join(f"<th>{escape(name)}</th>" for name in HTML_COLUMNS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="legend">{len(issues)} most suspect labels, most suspect first. <mark class="head">head</mark> '
        '<mark class="tail">tail</mark>. Click a column header to sort.</p>'
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


__all__ = [
    "HTML_COLUMNS",
    "REPORT_FORMATS",
    "LabelIssue",
    "collect_label_issues",
    "missing_columns",
    "render_html",
    "render_table",
    "write_report",
]
