"""Relation extraction on raw text with a saved fine-tuned folder: `RelationExtractor`.

`RelationExtractor` is the `relation-extraction` pipeline (`finecl_hf.pipelines.RelationExtractionPipeline`) with the
constructor and `from_pretrained` it has always had; `pipeline("relation-extraction", model=folder)` builds the same
object. See `finecl_hf.pipelines` for the accepted inputs and the outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer

from ..cards import read_dataset_card_metadata
from ..modeling import FineCLForRelationExtraction
from ..pipelines import (
    RelationExtractionPipeline,
    document_row,
    parse_marked_sentence,
    sentence_row,
    split_words_with_spans,
)


class RelationExtractor(RelationExtractionPipeline):
    """`RelationExtractionPipeline` built from a model and tokenizer, or from a folder (`from_pretrained`).

    Args:
        model: the fine-tuned model (`config.relation_level` says whether it reads sentences or documents).
        tokenizer: its tokenizer.
        max_length: sub-word limit (default: the tokenizer's `model_max_length`, at most 512).
        device: where to run (default: CUDA when available).
        threshold: document level with BCE: the probability above which a relation is predicted (default: the
            dev-tuned `config.decision_threshold`).
        batch_size: inputs per forward pass (default 32; also a call argument).

    Example:

    ```python
    >>> extractor = RelationExtractor.from_pretrained("runs/semeval-10/seed-42")
    >>> extractor("The <e1>fire</e1> was caused by a <e2>cigarette</e2>.")
    [{'label': 'Cause-Effect(e2,e1)', 'relation': 'Cause-Effect(e2,e1)', 'score': 0.93}]
    ```
    """

    def __init__(self, model: FineCLForRelationExtraction, tokenizer, max_length: int | None = None,
                 device: str | torch.device | None = None, threshold: float | None = None, batch_size: int = 32,
                 **kwargs: Any):
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        super().__init__(model=model, tokenizer=tokenizer, device=device, task="relation-extraction",
                         batch_size=batch_size, max_length=max_length, threshold=threshold, **kwargs)

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs: Any) -> RelationExtractor:
        """Load a folder written by `trainers/finetune.py` (model, configuration and tokenizer)."""
        model = FineCLForRelationExtraction.from_pretrained(str(directory))
        return cls(model, AutoTokenizer.from_pretrained(str(directory)), **kwargs)


def dataset_relation_names(dataset_path: str | Path) -> dict[str, str] | None:
    """Label -> readable name from a converted dataset's card (DocRED: P-id -> `rel_info.json` name), if it has them.

    Stage 3 stores them as `config.relation_names`, which the pipeline returns as `relation`.
    """
    if not (Path(dataset_path) / "README.md").is_file():  # a Hub id or a save_to_disk folder
        return None
    try:
        metadata = read_dataset_card_metadata(dataset_path)
    except ValueError:  # a card without finecl metadata
        return None
    names = metadata.get("relation_descriptions")
    return {str(label): str(name) for label, name in names.items()} if isinstance(names, dict) and names else None


__all__ = [
    "RelationExtractor",
    "dataset_relation_names",
    "document_row",
    "parse_marked_sentence",
    "sentence_row",
    "split_words_with_spans",
]
