"""The `relation-extraction` pipeline: relation extraction on raw text with a fine-tuned FineCL folder.

```python
>>> from transformers import pipeline
>>> import finecl_hf  # registers the task; without finecl_hf: pipeline(model=folder, trust_remote_code=True)
>>> extractor = pipeline("relation-extraction", model="runs/semeval-10/seed-42")
>>> extractor("The <e1>fire</e1> was caused by a <e2>cigarette</e2>.")
[{'label': 'Cause-Effect(e2,e1)', 'relation': 'Cause-Effect(e2,e1)', 'score': 0.93}]
```

Accepted inputs (one, or a list of them):

- a sentence with entity markers: ``"The <e1>fire</e1> was caused by a <e2>cigarette</e2>."`` (head = e1);
- a sentence with character spans: ``{"text": ..., "head": (start, end), "tail": (start, end)}`` (end exclusive);
- a document with entities given as character spans in its text:
  ``{"text": ..., "entities": [[(start, end), ...], ...]}`` (one list of mention spans per entity);
- a document in the finecl-hf / DocRED layout: ``{"sents": [[word, ...], ...], "entities": [[{"sent_id", "start",
  "end"}, ...], ...]}`` (word spans, end exclusive; DocRED's ``vertexSet`` mentions with ``pos`` work too).

Why the pipeline batches by itself: transformers pads each tensor of the preprocessed inputs, but a FineCL batch holds
ragged, batch-global index tensors (`mention_spans` carry the batch row, `pair_entity_ids` index entities across the
batch), so `batch_size` inputs are encoded and collated together here.

This module is copied beside every saved FineCL model (`custom_pipelines` in its config) together with `encoding.py`,
which it imports relatively: so it imports only numpy, torch, tokenizers, transformers and that module. Its word →
sub-word encoding (word-aligned truncation, sentence windows around the entities, entity markers) is `encoding.py`'s,
the same code `finecl_hf.data.tokenization` encodes training data with; only the batch assembly of
`finecl_hf.data.data_collator` is restated here, example by example. tests/test_pipeline.py checks that the
pipeline's predictions equal stage 3's evaluation on the same inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Pipeline
from transformers.utils import logging

from .encoding import (
    ENTITY_MARKER_STYLES,
    WordTokens,
    encode_words,
    insert_entity_markers,
    special_token_frame,
    word_level_tokenizer,
)

logger = logging.get_logger(__name__)

DEFAULT_THRESHOLD = 0.5

_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")
_MARKER = re.compile(r"</?e[12]>")


# ----------------------------------------------------------------------------------------------------- input parsing
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


# The marker sequences of a well-formed sentence: two separate spans, head first or tail first.
_MARKER_ORDERS = (["<e1>", "</e1>", "<e2>", "</e2>"], ["<e2>", "</e2>", "<e1>", "</e1>"])


def parse_marked_sentence(text: str) -> dict[str, Any]:
    """``"... <e1>head</e1> ... <e2>tail</e2> ..."`` -> ``{"text", "head": (start, end), "tail": (start, end)}``."""
    clean, positions, order, cursor = [], {}, [], 0
    for match in _MARKER.finditer(text):
        clean.append(text[cursor:match.start()])
        positions[match.group()] = sum(len(piece) for piece in clean)
        order.append(match.group())
        cursor = match.end()
    clean.append(text[cursor:])
    missing = [marker for marker in ("<e1>", "</e1>", "<e2>", "</e2>") if marker not in positions]
    if missing:
        raise ValueError(f"The sentence {text!r} lacks the entity marker(s) {missing}.")
    if order not in _MARKER_ORDERS:
        raise ValueError(f"The sentence {text!r} has its entity markers in the order {', '.join(order)}: each of "
                         "<e1>...</e1> and <e2>...</e2> comes once, neither inside nor overlapping the other.")
    return {
        "text": "".join(clean),
        "head": (positions["<e1>"], positions["</e1>"]),
        "tail": (positions["<e2>"], positions["</e2>"]),
    }


def sentence_row(example: str | Mapping[str, Any], index: int = 0) -> dict[str, Any]:
    """A sentence input (marked string, text + character spans, or a converter row) as a converter row."""
    if isinstance(example, str):
        example = parse_marked_sentence(example)
    if not isinstance(example, Mapping):
        raise ValueError(f"input {index}: expected a marked sentence or a dict, got {type(example).__name__}.")
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
    if not isinstance(example, Mapping):
        raise ValueError(f"input {index}: a document is a dict, got {type(example).__name__}.")
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


# ------------------------------------------------------------------------------------------ words -> model inputs
class RelationInputEncoder:
    """Turns converter rows into FineCL model inputs exactly as stage 3 does (`tokenize_sentences` /
    `tokenize_documents` + `SentenceRelationCollator` / `DocumentRelationCollator`)."""

    def __init__(self, tokenizer, max_length: int, entity_markers: str = "none"):
        if tokenizer.pad_token_id is None:
            raise ValueError(f"{type(tokenizer).__name__} has no pad token; set `tokenizer.pad_token` first.")
        if entity_markers != "none" and entity_markers not in ENTITY_MARKER_STYLES:
            raise ValueError(f"entity_markers={entity_markers!r} must be one of 'none', "
                             f"{', '.join(map(repr, ENTITY_MARKER_STYLES))}.")
        self.pad_tokenizer = tokenizer
        self.tokenizer = word_level_tokenizer(tokenizer)
        self.prefix, self.suffix = special_token_frame(self.tokenizer)
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        self.markers = ENTITY_MARKER_STYLES.get(entity_markers)

    def _words(self, batch_words: list[list[str]]) -> list[WordTokens]:
        return encode_words(self.tokenizer, batch_words)

    def _pad(self, input_ids: list[list[int]]) -> dict[str, torch.Tensor]:
        padded = self.pad_tokenizer.pad({"input_ids": input_ids}, padding=True, padding_side="right",
                                        return_attention_mask=True, return_tensors="pt")
        return {"input_ids": padded["input_ids"].long(), "attention_mask": padded["attention_mask"].long()}

    def encode_sentences(self, rows: list[dict[str, Any]]) -> tuple[dict[str, torch.Tensor] | None, list[int]]:
        """Model inputs of the rows whose head and tail fit in `max_length` together, and those rows' positions."""
        words, heads, tails = [], [], []
        for row in rows:
            tokens = list(row["tokens"])
            head = (row["head"]["start"], row["head"]["end"])
            tail = (row["tail"]["start"], row["tail"]["end"])
            if self.markers is not None:
                tokens, head, tail = insert_entity_markers(tokens, head, tail, self.markers)
            words.append(tokens)
            heads.append(head)
            tails.append(tail)
        input_ids, spans, kept = [], [], []
        for index, (encoded, head, tail) in enumerate(zip(self._words(words), heads, tails)):
            head_tokens, tail_tokens = encoded.span(*head), encoded.span(*tail)
            if head_tokens is None or tail_tokens is None:
                continue
            margin = 1 if self.markers is not None else 0  # the markers stay inside the window too
            region = encoded.span(min(head[0], tail[0]) - margin, max(head[1], tail[1]) + margin)
            window = encoded.window(self.budget, keep=region)
            if window is None:
                continue
            left, right = window
            offset = len(self.prefix) - left
            row = len(kept)
            input_ids.append(self.prefix + encoded.input_ids[left:right] + self.suffix)
            spans += [[row, head_tokens[0] + offset, head_tokens[1] + offset],
                      [row, tail_tokens[0] + offset, tail_tokens[1] + offset]]
            kept.append(index)
        if not kept:
            return None, kept
        batch = self._pad(input_ids)
        batch["mention_spans"] = torch.tensor(spans, dtype=torch.long)
        batch["mention_entity_ids"] = torch.arange(2 * len(kept), dtype=torch.long)
        batch["pair_entity_ids"] = batch["mention_entity_ids"].view(-1, 2).clone()
        return batch, kept

    def encode_documents(self, rows: list[dict[str, Any]]) -> tuple[dict[str, torch.Tensor] | None, list[int],
                                                                    torch.Tensor, torch.Tensor]:
        """Model inputs of the documents with at least two entities inside `max_length`, their positions, and for
        every pair its document (position in the kept list) and (head, tail) entity indices in that document."""
        flat = [[word for sentence in row["sents"] for word in sentence] for row in rows]
        input_ids, spans, entity_ids, pairs, local_pairs, pair_rows, kept = [], [], [], [], [], [], []
        next_entity = 0
        for index, (encoded, row) in enumerate(zip(self._words(flat), rows)):
            offsets = np.cumsum([0] + [len(sentence) for sentence in row["sents"]])
            _, cut = encoded.window(self.budget)
            mentions: dict[int, list[tuple[int, int]]] = {}
            for entity_index, entity in enumerate(row["entities"]):
                for mention in entity["mentions"]:
                    start = offsets[mention["sent_id"]]
                    token_span = encoded.span(start + mention["start"], start + mention["end"])
                    if token_span is not None and token_span[1] <= cut:
                        mentions.setdefault(entity_index, []).append(
                            (token_span[0] + len(self.prefix), token_span[1] + len(self.prefix)))
            if len(mentions) < 2:  # no pair to classify
                continue
            batch_row = len(kept)
            global_ids = {}
            for entity in sorted(mentions):
                global_ids[entity] = next_entity
                for start, end in mentions[entity]:
                    spans.append([batch_row, start, end])
                    entity_ids.append(next_entity)
                next_entity += 1
            row_pairs = [(head, tail) for head in global_ids for tail in global_ids if head != tail]
            pairs += [(global_ids[head], global_ids[tail]) for head, tail in row_pairs]
            local_pairs += row_pairs
            pair_rows += [batch_row] * len(row_pairs)
            input_ids.append(self.prefix + encoded.input_ids[:cut] + self.suffix)
            kept.append(index)
        if not kept:
            return None, kept, torch.zeros(0, dtype=torch.long), torch.zeros(0, 2, dtype=torch.long)
        batch = self._pad(input_ids)
        batch["mention_spans"] = torch.tensor(spans, dtype=torch.long).view(-1, 3)
        batch["mention_entity_ids"] = torch.tensor(entity_ids, dtype=torch.long)
        batch["pair_entity_ids"] = torch.tensor(pairs, dtype=torch.long).view(-1, 2)
        return batch, kept, torch.tensor(pair_rows, dtype=torch.long), torch.tensor(local_pairs).view(-1, 2)


# ------------------------------------------------------------------------------------------------------- pipeline
class RelationExtractionPipeline(Pipeline):
    """Relation extraction with a fine-tuned `FineCLForRelationExtraction` (inputs: see the module docstring).

    Sentence-level models (`config.relation_level="sentence"`) return, per input, the `top_k` best labels as
    `{"label", "relation", "score"}` (softmax probabilities; `[]` when head and tail do not fit in `max_length`
    together). Document-level models return the predicted relations of each document as `{"head", "tail",
    "head_name", "tail_name", "label", "relation", "score"}`, best first (probability above the dev-tuned
    `config.decision_threshold` with BCE; logit margin over no-relation with the adaptive-threshold loss). `label` is
    the class name (a DocRED P-id), `relation` its readable name (`config.relation_names`, e.g. from DocRED's
    `rel_info.json`; the label itself when unknown).

    Args (at construction or per call):
        batch_size: inputs per forward pass (at construction or per call).
        top_k: sentence level: labels per input, best first (`None`: all). Default 1.
        max_length: sub-word limit (default: the tokenizer's `model_max_length`, at most 512).
        threshold: document level with BCE: decision threshold (default: `config.decision_threshold`).
        relation_names: label -> readable name (a mapping, or the path of a JSON file such as `rel_info.json`).
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.model, "classifier") or not hasattr(self.model.config, "relation_level"):
            source = getattr(self.model.config, "name_or_path", None) or "this model"
            raise ValueError(
                f"{source} is a {type(self.model).__name__}, not a fine-tuned FineCLForRelationExtraction: the "
                "relation-extraction pipeline needs a folder written by fine-tuning (trainers/finetune.py). A FineCL "
                "pre-training folder gives entity and relation representations with AutoModel instead."
            )
        self.model.eval()
        self._encoders: dict[int, RelationInputEncoder] = {}

    def _sanitize_parameters(self, top_k: int | None | str = "", max_length: int | None = None,
                             threshold: float | None = None, relation_names: Mapping[str, str] | str | None = None,
                             **unknown):
        if unknown:
            raise TypeError(f"RelationExtractionPipeline got unknown argument(s) {sorted(unknown)}; it takes top_k, "
                            "max_length, threshold, relation_names and batch_size.")
        preprocess, postprocess = {}, {}
        if max_length is not None:
            preprocess["max_length"] = max_length
        if top_k != "":
            if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
                raise ValueError(f"top_k={top_k!r}: give the number of labels to return per input (1 or more), or "
                                 "top_k=None for every label.")
            postprocess["top_k"] = top_k
        if threshold is not None:
            postprocess["threshold"] = threshold
        if relation_names is not None:
            postprocess["relation_names"] = _read_relation_names(relation_names)
        return preprocess, {}, postprocess

    # transformers' iterator pads each tensor separately, which breaks batch-global indices: batch here instead.
    def get_iterator(self, inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params):
        return self._batches(inputs, batch_size, preprocess_params, forward_params, postprocess_params)

    def _batches(self, inputs: Iterable, batch_size: int, preprocess_params, forward_params,
                 postprocess_params) -> Iterator[list[dict[str, Any]]]:
        chunk: list = []
        offset = 0
        for example in inputs:
            chunk.append(example)
            if len(chunk) == batch_size:
                yield from self._run(chunk, offset, preprocess_params, forward_params, postprocess_params)
                offset += len(chunk)
                chunk = []
        if chunk:
            yield from self._run(chunk, offset, preprocess_params, forward_params, postprocess_params)

    def _run(self, chunk, offset, preprocess_params, forward_params, postprocess_params):
        model_inputs = self.preprocess(chunk, offset=offset, **preprocess_params)
        return self.postprocess(self.forward(model_inputs, **forward_params), **postprocess_params)

    def run_single(self, inputs, preprocess_params, forward_params, postprocess_params):
        return self._run([inputs], 0, preprocess_params, forward_params, postprocess_params)[0]

    def _encoder(self, max_length: int | None) -> RelationInputEncoder:
        max_length = max_length or min(self.tokenizer.model_max_length, 512)
        if max_length not in self._encoders:
            markers = getattr(self.model.config, "entity_markers", "none") or "none"
            self._encoders[max_length] = RelationInputEncoder(self.tokenizer, max_length, markers)
        return self._encoders[max_length]

    def preprocess(self, inputs: list, offset: int = 0, max_length: int | None = None) -> dict[str, Any]:
        encoder = self._encoder(max_length)
        if self.model.config.relation_level == "sentence":
            rows = [sentence_row(example, offset + i) for i, example in enumerate(inputs)]
            batch, kept = encoder.encode_sentences(rows)
            if len(kept) < len(rows):
                logger.warning(f"{len(rows) - len(kept)} input(s): head and tail do not fit in {encoder.budget} "
                               "tokens together (or have no sub-word); no prediction.")
            return {"batch": batch, "kept": kept, "size": len(rows)}
        rows = [document_row(example, offset + i) for i, example in enumerate(inputs)]
        batch, kept, pair_rows, pairs = encoder.encode_documents(rows)
        names = [[entity["mentions"][0]["name"] if entity["mentions"] else "" for entity in row["entities"]]
                 for row in rows]
        return {"batch": batch, "kept": kept, "size": len(rows), "pair_rows": pair_rows, "pairs": pairs,
                "names": names}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        batch = model_inputs["batch"]
        logits = None if batch is None else self.model(**batch).logits.float()
        return {**model_inputs, "batch": None, "logits": logits}

    def postprocess(self, model_outputs: dict[str, Any], top_k: int | None = 1, threshold: float | None = None,
                    relation_names: Mapping[str, str] | None = None) -> list[list[dict[str, Any]]]:
        config = self.model.config
        labels = [config.id2label[index] for index in range(config.num_labels)]
        names = {**(getattr(config, "relation_names", None) or {}), **(relation_names or {})}
        results: list[list[dict[str, Any]]] = [[] for _ in range(model_outputs["size"])]
        logits = model_outputs["logits"]
        if logits is None:
            return results
        logits = logits.numpy().astype(np.float64)
        if config.relation_level == "sentence":
            probabilities = np.exp(logits - logits.max(-1, keepdims=True))
            probabilities /= probabilities.sum(-1, keepdims=True)
            for position, row in zip(model_outputs["kept"], probabilities):
                order = np.argsort(-row)[:top_k]
                results[position] = [{"label": labels[i], "relation": str(names.get(labels[i], labels[i])),
                                      "score": float(row[i])} for i in order]
            return results
        scores, cut = self._document_scores(logits, threshold)
        pair_rows, pairs = model_outputs["pair_rows"].numpy(), model_outputs["pairs"].numpy()
        for batch_row, position in enumerate(model_outputs["kept"]):
            in_row = np.flatnonzero(pair_rows == batch_row)
            entity_names = model_outputs["names"][position]
            facts = []
            for pair, column in zip(*np.nonzero(scores[in_row] > cut)):
                head, tail = (int(value) for value in pairs[in_row[pair]])
                label = labels[column + 1]
                facts.append({"head": head, "tail": tail, "head_name": entity_names[head],
                              "tail_name": entity_names[tail], "label": label,
                              "relation": str(names.get(label, label)),
                              "score": round(float(scores[in_row[pair], column]), 6)})
            results[position] = sorted(facts, key=lambda fact: -fact["score"])
        return results

    def _document_scores(self, logits: np.ndarray, threshold: float | None) -> tuple[np.ndarray, float]:
        """Scores of the real relations (columns 1..) and the cut above which a relation is predicted."""
        if self.model.config.document_loss == "adaptive_threshold":
            return logits[:, 1:] - logits[:, :1], 0.0
        if threshold is None:
            threshold = getattr(self.model.config, "decision_threshold", None)
        if threshold is None:
            logger.warning_once(f"No dev-tuned decision_threshold in the config: using {DEFAULT_THRESHOLD}.")
            threshold = DEFAULT_THRESHOLD
        return 1.0 / (1.0 + np.exp(-logits[:, 1:])), threshold


def _read_relation_names(relation_names: Mapping[str, str] | str | Path) -> dict[str, str]:
    if isinstance(relation_names, Mapping):
        return {str(key): str(value) for key, value in relation_names.items()}
    with open(relation_names, encoding="utf-8") as handle:
        loaded = json.load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"relation_names={str(relation_names)!r}: expected a JSON object label -> name "
                         "(e.g. DocRED's rel_info.json).")
    return {str(key): str(value) for key, value in loaded.items()}


__all__ = [
    "RelationExtractionPipeline",
    "RelationInputEncoder",
    "document_row",
    "parse_marked_sentence",
    "sentence_row",
    "split_words_with_spans",
]
