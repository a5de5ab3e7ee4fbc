"""Shared fixtures: real corpora, the offline MiniLM, and tiny random RoBERTa models with a tokenizer trained here."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

from finecl_hf.paths import data_dir, offline_encoder_path

TRAINING_TEXT = [
    "The system as described above has its greatest application in an arrayed configuration of antenna elements.",
    "The child was carefully wrapped and bound into the cradle by means of a cord.",
    "The author of a keygen uses a disassembler to look at the raw assembly code.",
    "A misty ridge uprises from the surge.",
    "The student association is the voice of the undergraduate student population of the State University.",
    "This is the sprawling complex that is Peru's largest producer of silver.",
    "Noam Chomsky was born in Philadelphia and gave a presentation in Philadelphia.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
] * 20


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = data_dir()
    if not path.is_dir():
        pytest.fail(f"corpus folder {path} is missing: set FINECL_DATA_DIR (see README, 'Data')")
    return path


@pytest.fixture(scope="session")
def minilm_path() -> str:
    return offline_encoder_path()


@pytest.fixture(scope="session")
def tiny_roberta_tokenizer(tmp_path_factory):
    """A byte-level BPE tokenizer trained on the fly, wrapped as a RoBERTa fast tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-roberta-tokenizer")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TRAINING_TEXT, vocab_size=600, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    bpe.save_model(str(directory))
    # transformers 5 takes `vocab`/`merges` (file paths or objects); the v4 `vocab_file` names are silently ignored.
    tokenizer = RobertaTokenizerFast(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"), model_max_length=512
    )
    assert len(tokenizer) > 100, "the trained vocabulary did not load"
    tokenizer.save_pretrained(directory)
    return tokenizer


@pytest.fixture(scope="session")
def tiny_roberta_config(tiny_roberta_tokenizer):
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=len(tiny_roberta_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=520,
        pad_token_id=tiny_roberta_tokenizer.pad_token_id,
        bos_token_id=tiny_roberta_tokenizer.bos_token_id,
        eos_token_id=tiny_roberta_tokenizer.eos_token_id,
    )


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory, tiny_roberta_tokenizer, tiny_roberta_config) -> Path:
    """A saved tiny random RoBERTa encoder with its BPE tokenizer: a backbone `from_backbone` and every stage CLI can
    start from."""
    from transformers import RobertaModel

    directory = tmp_path_factory.mktemp("tiny-backbone")
    torch.manual_seed(0)
    RobertaModel(tiny_roberta_config, add_pooling_layer=False).save_pretrained(directory)
    tiny_roberta_tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
