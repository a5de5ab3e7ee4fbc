"""Relation extraction on raw text with any saved fine-tuned folder: `RelationExtractor`.

Why a plain class rather than a `transformers.Pipeline` subclass: a pipeline batches by padding each tensor of its
preprocessed inputs, but a FineCL batch holds ragged, batch-global index tensors (`mention_spans` carry the batch
row, `pair_entity_ids` index entities across the whole batch) that must be renumbered when inputs are grouped; a
custom pipeline would also need registration and `trust_remote_code` to load. `RelationExtractor` reuses the
tokenization and collators of `finecl_hf.data`, so inference batches are built by exactly the code the model was
trained and evaluated with (same truncation, same entity markers).

Accepted inputs:

- a sentence with entity markers: ``"The <e1>fire</e1> was caused by a <e2>cigarette</e2>."`` (head = e1);
- a sentence with character spans: ``{"text": ..., "head": (start, end), "tail": (start, end)}`` (end exclusive);
- a document with entities given as character spans in its text:
  ``{"text": ..., "entities": [[(start, end), ...], ...]}`` (one list of mention spans per entity);
- a document in the finecl-hf / DocRED layout: ``{"sents": [[word, ...], ...], "entities": [[{"sent_id", "start",
  "end"}, ...], ...]}`` (word spans, end exclusive; DocRED's ``vertexSet`` mentions with ``pos`` work too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, Features, List, Value
from transformers import AutoTokenizer
from transformers.utils import logging

from ..data.data_collator import DocumentRelationCollator, SentenceRelationCollator, split_model_inputs
from ..data.schema import entity_span_feature, mention_feature
from ..modeling import FineCLForRelationExtraction
from .evaluation import DEFAULT_THRESHOLD, DocumentDecoder, softmax
from .preparation import tokenize_split
from .trainer import group_by_document

logger = logging.get_logger(__name__)

_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
_MARKER = re.compile(r"</?e[12]>")


def split_words_with_spans(text: str, spans: Sequence[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    """Split `text` into words so that every character span in `spans` starts and ends on a word boundary.

    Returns the words and, for each span, its word span `[start, end)`.
    """
    for index, (start, end) in enumerate(spans):
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span {index} = ({start}, {end}) is not a non-empty range inside the text of length "
                             f"{len(text)}.")
    cuts = sorted({0, len(text), *(offset for span in spans for offset in span)})
    words, starts, ends = [], [], []
    for left, right in zip(cuts, cuts[1:]):
        for match in _WORD.finditer(text, left, right):
            words.append(match.group())
            starts.append(match.start())
            ends.append(match.end())
    word_spans = []
    for index, (start, end) in enumerate(spans):
        inside = [position for position, (s, e) in enumerate(zip(starts, ends)) if s >= start and e <= end]
        if not inside:
            raise ValueError(f"span {index} = ({start}, {end}) covers no word: {text[start:end]!r}.")
        word_spans.append((inside[0], inside[-1] + 1))
    return words, word_spans


def parse_marked_sentence(text: str) -> dict[str, Any]:
    """``"... <e1>head</e1> ... <e2>tail</e2> ..."`` -> ``{"text", "head": (start, end), "tail": (start, end)}``."""
    clean, positions, cursor = [], {}, 0
    for match in _MARKER.finditer(text):
        clean.append(text[cursor:match.start()])
        positions[match.group()] = sum(len(piece) for piece in clean)
        cursor = match.end()
    clean.append(text[cursor:])
    missing = [marker for marker in ("<e1>", "</e1>", "<e2>", "</e2>") if marker not in positions]
    if missing:
        raise ValueError(f"The sentence {text!r} lacks the entity marker(s) {missing}.")
    return {
        "text": "".join(clean),
        "head": (positions["<e1>"], positions["</e1>"]),
        "tail": (positions["<e2>"], positions["</e2>"]),
    }


def sentence_row(example: str | Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """A sentence input (marked string, text + character spans, or a converter row) as a converter row."""
    if isinstance(example, str):
        example = parse_marked_sentence(example)
    if "tokens" in example:
        return dict(example)
    try:
        text, head, tail = example["text"], tuple(example["head"]), tuple(example["tail"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"input {index}: a sentence needs 'text', 'head' and 'tail' (character spans).") from error
    words, (head_words, tail_words) = _split(text, [head, tail], index)
    return {
        "tokens": words,
        "head": {"name": text[head[0]:head[1]], "start": head_words[0], "end": head_words[1], "type": None},
        "tail": {"name": text[tail[0]:tail[1]], "start": tail_words[0], "end": tail_words[1], "type": None},
    }


def document_row(example: Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """A document input (text + character spans per entity, or the finecl-hf/DocRED layout) as a converter row."""
    if "sents" in example:
        entities = example.get("entities", example.get("vertexSet"))
        if entities is None:
            raise ValueError(f"input {index}: a document needs 'entities' (or DocRED's 'vertexSet').")
        return {"sents": example["sents"], "entities": [_entity(entity, example["sents"]) for entity in entities]}
    if "text" not in example or "entities" not in example:
        raise ValueError(f"input {index}: a document needs 'text' and 'entities', or 'sents' and 'entities'.")
    text = example["text"]
    mentions = [tuple(span) for entity in example["entities"] for span in entity]
    words, word_spans = _split(text, mentions, index)
    entities, cursor = [], 0
    for entity in example["entities"]:
        spans = word_spans[cursor:cursor + len(entity)]
        cursor += len(entity)
        entities.append({"type": None, "mentions": [
            {"name": " ".join(words[start:end]), "sent_id": 0, "start": start, "end": end} for start, end in spans
        ]})
    return {"sents": [words], "entities": entities}


def _split(text: str, spans: list[tuple[int, int]], index: int):
    try:
        return split_words_with_spans(text, spans)
    except ValueError as error:
        raise ValueError(f"input {index}: {error}") from None


def _entity(entity: Any, sents: Sequence[Sequence[str]]) -> dict[str, Any]:
    mentions = entity["mentions"] if isinstance(entity, Mapping) else entity
    converted = []
    for mention in mentions:
        start, end = mention["pos"] if "pos" in mention else (mention["start"], mention["end"])
        name = mention.get("name") or " ".join(sents[mention["sent_id"]][start:end])
        converted.append({"name": name, "sent_id": mention["sent_id"], "start": start, "end": end})
    return {"type": None, "mentions": converted}


class RelationExtractor:
    """Predict relations with a fine-tuned `FineCLForRelationExtraction` (see the module docstring for inputs).

    Args:
        model: the fine-tuned model (`config.relation_level` says whether it reads sentences or documents).
        tokenizer: its tokenizer.
        max_length: sub-word limit (default: the tokenizer's `model_max_length`, which fine-tuning sets).
        device: where to run (default: CUDA when available).
        threshold: document level with BCE: the probability above which a relation is predicted (default: the
            dev-tuned `config.decision_threshold`).

    Example:

    ```python
    >>> extractor = RelationExtractor.from_pretrained("runs/semeval-10/seed-42")
    >>> extractor("The <e1>fire</e1> was caused by a <e2>cigarette</e2>.")
    [{'label': 'Cause-Effect(e2,e1)', 'score': 0.93}]
    ```
    """

    def __init__(self, model: FineCLForRelationExtraction, tokenizer, max_length: int | None = None,
                 device: str | torch.device | None = None, threshold: float | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.max_length = max_length or min(tokenizer.model_max_length, 512)
        config = model.config
        self.relation_level = config.relation_level
        self.entity_markers = getattr(config, "entity_markers", "none")
        self.label_names = [config.id2label[index] for index in range(config.num_labels)]
        if self.relation_level == "document" and config.document_loss == "bce":
            threshold = threshold if threshold is not None else getattr(config, "decision_threshold", None)
            if threshold is None:
                logger.warning(f"No dev-tuned decision_threshold in the config: using {DEFAULT_THRESHOLD}.")
                threshold = DEFAULT_THRESHOLD
        self.decoder = DocumentDecoder(config.document_loss, threshold)

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs) -> RelationExtractor:
        """Load a folder written by `trainers/finetune.py` (model, configuration and tokenizer)."""
        model = FineCLForRelationExtraction.from_pretrained(str(directory))
        return cls(model, AutoTokenizer.from_pretrained(str(directory)), **kwargs)

    def __call__(self, inputs: Any, batch_size: int = 32, top_k: int | None = 1) -> list:
        """Predict the relations of one input or a list of inputs.

        Args:
            inputs: one input or a list of them (see the module docstring).
            batch_size: inputs per forward pass.
            top_k: sentence level: how many labels to return per input, best first (`None`: all).

        Returns:
            For one input its result, for a list one result per input. Sentence level: a list of
            `{"label", "score"}` (softmax probabilities; empty when head and tail do not fit in `max_length`
            together). Document level: the predicted relations, a list of `{"head", "tail", "head_name",
            "tail_name", "label", "score"}` (probability with BCE; logit margin over no-relation with the
            adaptive-threshold loss), best first.
        """
        single = isinstance(inputs, (str, Mapping))
        examples = [inputs] if single else list(inputs)
        results = []
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            if self.relation_level == "sentence":
                results.extend(self._sentences(chunk, start, top_k))
            else:
                results.extend(self._documents(chunk, start))
        return results[0] if single else results

    def _sentences(self, chunk: list, offset: int, top_k: int | None) -> list[list[dict[str, Any]]]:
        rows = []
        for index, example in enumerate(chunk, start=offset):
            row = sentence_row(example, index)
            rows.append({"uid": str(index), "tokens": row["tokens"], "head": row["head"], "tail": row["tail"]})
        tokenized = tokenize_split(
            Dataset.from_list(rows, features=_SENTENCE_FEATURES), self.tokenizer, "sentence", self.max_length,
            self.entity_markers,
        )
        results: list[list[dict[str, Any]]] = [[] for _ in rows]
        if len(tokenized) < len(rows):
            logger.warning(f"{len(rows) - len(tokenized)} input(s): head and tail do not fit in {self.max_length} "
                           "tokens together; no prediction.")
        if not len(tokenized):
            return results
        batch = SentenceRelationCollator(self.tokenizer)(list(tokenized))
        probabilities = softmax(self._logits(batch).numpy().astype(np.float64))
        for uid, row_probabilities in zip(tokenized["uid"], probabilities):
            order = np.argsort(-row_probabilities)[:top_k]
            results[int(uid) - offset] = [
                {"label": self.label_names[i], "score": float(row_probabilities[i])} for i in order
            ]
        return results

    def _documents(self, chunk: list, offset: int) -> list[list[dict[str, Any]]]:
        rows = [
            {"uid": str(index), **document_row(example, index), "relations": []}
            for index, example in enumerate(chunk, start=offset)
        ]
        tokenized = tokenize_split(
            Dataset.from_list(rows, features=_DOCUMENT_FEATURES), self.tokenizer, "document", self.max_length
        )
        results: list[list[dict[str, Any]]] = [[] for _ in rows]
        # A document with fewer than two entities inside max_length has no pair to classify.
        scored = [i for i, spans in enumerate(tokenized["mention_token_spans"]) if len({s[0] for s in spans}) > 1]
        if not scored:
            return results
        batch = DocumentRelationCollator(self.tokenizer, len(self.label_names), return_pair_metadata=True)(
            [tokenized[i] for i in scored]
        )
        rows_of_pairs = batch["pair_document_index"]
        logits = group_by_document(self._logits(batch), rows_of_pairs, len(scored))
        pairs = group_by_document(batch["pair_local_entity_ids"], rows_of_pairs, len(scored))
        for index, row_logits, row_pairs in zip(scored, logits.numpy(), pairs.numpy()):
            kept = row_pairs[:, 0] >= 0
            facts = self.decoder.decode(row_logits[kept], row_pairs[kept], self.label_names)
            names = [entity["mentions"][0]["name"] for entity in rows[index]["entities"]]
            results[index] = sorted(
                ({"head": f["h"], "tail": f["t"], "head_name": names[f["h"]], "tail_name": names[f["t"]],
                  "label": f["r"], "score": f["score"]} for f in facts),
                key=lambda fact: -fact["score"],
            )
        return results

    @torch.no_grad()
    def _logits(self, batch: dict[str, Any]) -> torch.Tensor:
        inputs, _ = split_model_inputs(batch)
        inputs = {key: value.to(self.device) for key, value in inputs.items() if key != "labels"}
        return self.model(**inputs).logits.float().cpu()


_SENTENCE_FEATURES = Features(
    {"uid": Value("string"), "tokens": List(Value("string")), "head": entity_span_feature(),
     "tail": entity_span_feature()}
)
_DOCUMENT_FEATURES = Features(
    {
        "uid": Value("string"),
        "sents": List(List(Value("string"))),
        "entities": List({"type": Value("string"), "mentions": List(mention_feature())}),
        "relations": List({"head": Value("int32"), "tail": Value("int32"), "relation": Value("int32")}),
    }
)


__all__ = [
    "RelationExtractor",
    "document_row",
    "parse_marked_sentence",
    "sentence_row",
    "split_words_with_spans",
]
