"""SemEval-2010 Task 8 straight from the shipped text files, tokenized for stage-1 experiments and benchmarks.

Reads with the data layer's SemEval parser (`finecl_hf.data.semeval`) and tokenizes with
`finecl_hf.data.tokenization.tokenize_sentences`, without writing a converted dataset folder first.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from transformers import AutoTokenizer

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.data_collator import SentenceRelationCollator
from finecl_hf.data.schema import semeval_label_names, sentence_features
from finecl_hf.data.semeval import iter_semeval_blocks, parse_semeval_block
from finecl_hf.data.sentences import sentence_rows
from finecl_hf.data.tokenization import tokenize_sentences
from finecl_hf.paths import data_dir

from ..errors import UsageError

SEMEVAL_SPLIT_FILES = {"train": "TRAIN_FILE.TXT", "test": "TEST_FILE_FULL.TXT"}


def read_semeval_split(split: str) -> Dataset:
    """SemEval `train` (8,000 sentences) or `test` (2,717) in the data layer's sentence schema."""
    if split not in SEMEVAL_SPLIT_FILES:
        raise UsageError(f"split={split!r} is invalid: SemEval has {sorted(SEMEVAL_SPLIT_FILES)}.")
    names = semeval_label_names()
    source = SplitSource(split, data_dir() / "semeval2010_task8" / SEMEVAL_SPLIT_FILES[split])
    label_index = {name: index for index, name in enumerate(names)}
    rows = list(sentence_rows(source, iter_semeval_blocks, parse_semeval_block, label_index, None))
    return Dataset.from_list(rows, features=sentence_features(names))


def load_semeval_split(split: str, tokenizer_name_or_path: str, max_length: int) -> tuple[Dataset, Any]:
    """SemEval `split` tokenized for `tokenizer_name_or_path`: `(dataset, tokenizer)`; the word column `tokens` is kept."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name_or_path)
    words = read_semeval_split(split)
    tokenized, _ = tokenize_sentences(words, tokenizer, max_length=max_length)
    return tokenized, tokenizer


def sentence_collator(tokenizer: Any) -> SentenceRelationCollator:
    """The collator for rows of `load_semeval_split`."""
    return SentenceRelationCollator(tokenizer)
