"""From a converted dataset folder to tokenized training, dev and test splits (through `finecl_hf.data`).

The raw splits are kept next to the tokenized ones: evaluation scores against the raw rows, so that a sentence the
tokenizer had to drop (head and tail too far apart for `max_length`) still counts, as a no-relation prediction,
and a document's relations whose entities were cut off still count as missed.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging

from ..data.loading import load_relation_dataset
from ..data.tokenization import add_entity_marker_tokens, entity_markers, tokenize_split
from ..errors import DataError, UsageError
from .arguments import RelationExtractionArguments
from .evaluation import relation_label_names, resolve_train_facts
from .subsets import hold_out_validation, training_subset
from .tasks import get_task, resolve_task

logger = logging.get_logger(__name__)



@dataclass
class PreparedData:
    """The raw and tokenized splits of one experiment, shared by all its seeds.

    Attributes:
        raw: split -> converter rows (`train` is the stratified subset; `validation` possibly held out of train).
        tokenized: split -> rows of `finecl_hf.data.tokenization` (sentence rows the tokenizer dropped are missing).
        tokenizer: the tokenizer (with the marker tokens for `entity_markers="special"`).
        label_names: relation names by id.
        task: the resolved task (a name registered in `finecl_hf.finetuning.tasks`).
        train_facts: training facts for DocRED Ign F1 (document level), or `None`.
        validation_note: how dev was obtained when it was held out of train.
        added_tokens: number of marker tokens added to the vocabulary (the embeddings must grow by as many).
    """

    raw: dict[str, Dataset]
    tokenized: dict[str, Dataset]
    tokenizer: PreTrainedTokenizerBase
    label_names: list[str]
    task: str
    train_facts: frozenset | None
    validation_note: str | None
    added_tokens: int = 0


def prepare_data(args: RelationExtractionArguments, dataset: DatasetDict | None = None) -> PreparedData:
    """Resolve the task, carve the dev and training subset, tokenize, and load the Ign F1 training facts."""
    dataset = dataset if dataset is not None else load_relation_dataset(args.dataset_path, args.dataset_config_name)
    if args.train_split not in dataset:
        raise UsageError(f"{args.dataset_path}: no split {args.train_split!r} (splits: {list(dataset)}).")
    train_split = dataset[args.train_split]
    _check_level(train_split, args.relation_level, args.dataset_path)
    label_names = relation_label_names(train_split)
    task = resolve_task(args.task, args.relation_level, label_names)
    if args.validation_split in dataset:
        pool, validation, note = train_split, dataset[args.validation_split], None
    else:
        pool, validation = hold_out_validation(train_split, args.validation_size, args.subset_seed)
        note = (
            f"{len(validation)} rows held out of `{args.train_split}`, class-stratified, subset seed {args.subset_seed}"
        )
        logger.info(f"No {args.validation_split!r} split: dev = {note}.")
    train = training_subset(pool, args.train_fraction, args.subset_seed, reference_size=len(train_split))
    raw = {"train": _head(train, args.max_train_samples), "validation": _head(validation, args.max_eval_samples)}
    if args.test_split and args.test_split in dataset:
        raw["test"] = _head(dataset[args.test_split], args.max_predict_samples)

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name or args.model_name_or_path)
    added_tokens = 0
    if args.entity_markers == "special":
        added_tokens = add_entity_marker_tokens(tokenizer, entity_markers("special"))
    max_length = args.max_length or min(tokenizer.model_max_length, 512)
    # Saved with the model, so that inference cuts inputs where training did.
    tokenizer.model_max_length = max_length
    tokenized = {
        split: tokenize_split(rows, tokenizer, args.relation_level, max_length, args.entity_markers)
        for split, rows in raw.items()
    }
    document_level = get_task(task).relation_level == "document"
    train_facts = resolve_train_facts(args.train_facts, raw["train"], label_names) if document_level else None
    logger.info(f"Task {task}; rows: { {split: len(rows) for split, rows in raw.items()} }")
    return PreparedData(raw, tokenized, tokenizer, label_names, task, train_facts, note, added_tokens)


def _check_level(split: Dataset, relation_level: str, path: str) -> None:
    expected = "sents" if relation_level == "document" else "tokens"
    if expected not in split.column_names:
        raise DataError(
            f"{path}: relation_level={relation_level!r} needs a `{expected}` column; the dataset has "
            f"{split.column_names}."
        )


def _head(dataset: Dataset, limit: int | None) -> Dataset:
    return dataset.select(range(min(limit, len(dataset)))) if limit is not None else dataset


__all__ = ["PreparedData", "prepare_data"]
