"""The frozen encoder a probe reads: any encoder folder or FineCL checkpoint, pooled as fine-tuning pools it.

`load_frozen_encoder` is the one place that turns a folder into relation features; it loads the folder as the bare
`FineCLModel` (`from_backbone`: a plain encoder is wrapped, a FineCL checkpoint keeps its encoder and leaves its heads
unused) and uses its `encode_entities` (mention mean, entity pooling of the checkpoint's `FineCLConfig`), the pooling
fine-tuning uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging

from ..data.readers import file_sha256
from ..model_folders import WEIGHT_FILES, check_model_config, check_weights_complete
from ..modeling import FineCLModel

logger = logging.get_logger(__name__)

# Files whose bytes decide what an encoder computes; they key the feature cache.
_FINGERPRINT_FILES = (
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)


@dataclass
class FrozenRelationEncoder:
    """A frozen encoder producing r = [e_head; e_tail] for sentence-level batches.

    Attributes:
        model: the bare FineCL model whose `encode_entities` is used (eval mode, no gradients).
        tokenizer: the folder's (fast) tokenizer.
        name_or_path: the folder.
        fingerprint: sha256 prefix of the folder's config, weights and tokenizer files.
    """

    model: FineCLModel
    tokenizer: PreTrainedTokenizerBase
    name_or_path: str
    fingerprint: str

    @property
    def feature_size(self) -> int:
        return 2 * self.model.config.encoder.hidden_size

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.inference_mode()
    def pair_features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """`[rows, 2 · hidden]` features of a `SentenceRelationCollator` batch (entity 2i is row i's head, 2i+1 its
        tail), computed on the encoder's device."""
        on_device = {name: value.to(self.device) for name, value in batch.items() if isinstance(value, torch.Tensor)}
        _, entities = self.model.encode_entities(
            on_device["input_ids"],
            on_device["attention_mask"],
            on_device["mention_spans"],
            on_device["mention_entity_ids"],
            on_device.get("token_type_ids"),
        )
        return entities.reshape(-1, self.feature_size).float()

    def __repr__(self) -> str:
        return (
            f"FrozenRelationEncoder(name_or_path={self.name_or_path!r}, fingerprint={self.fingerprint!r}, "
            f"feature_size={self.feature_size}, entity_pooling={self.model.config.entity_pooling!r})"
        )


def encoder_fingerprint(folder: str | Path) -> str:
    """sha256 prefix over the names and bytes of the files that decide what the encoder computes."""
    digest = hashlib.sha256()
    for name in _FINGERPRINT_FILES:
        path = Path(folder) / name
        if path.is_file():
            digest.update(f"{name}:{file_sha256(path)}\n".encode())
    return digest.hexdigest()[:16]


def _not_an_encoder(argument: str, value: str, reason: str) -> ValueError:
    return ValueError(
        f"{argument}={value!r} is not an encoder: {reason}. The probe needs a folder holding a Hugging Face encoder "
        "checkpoint (config.json, model.safetensors or pytorch_model.bin, and a fast tokenizer), such as a BERT, "
        "RoBERTa or MiniLM folder or a FineCL pre-training or fine-tuning checkpoint; nothing was written."
    )


def load_frozen_encoder(
    name_or_path: str | Path,
    argument: str = "model_name_or_path",
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> FrozenRelationEncoder:
    """Load a plain encoder folder or a FineCL checkpoint as a frozen relation encoder, on `device` (default: the
    CPU) in `dtype` (default: the checkpoint's; bf16/fp16 where the caller asks for it; features come out float32).

    Raises:
        ValueError: naming `argument` and the value when the folder does not hold a loadable encoder and tokenizer.
    """
    value = str(name_or_path)
    folder = Path(name_or_path)
    if not folder.is_dir():
        raise _not_an_encoder(argument, value, "no such folder")
    if not (folder / "config.json").is_file():
        raise _not_an_encoder(argument, value, "the folder has no config.json")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise _not_an_encoder(argument, value, f"the folder has no weights ({', '.join(WEIGHT_FILES[::2])})")
    check_model_config(argument, value, folder)
    check_weights_complete(argument, value, folder)
    try:
        AutoConfig.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _not_an_encoder(argument, value, f"its config or tokenizer does not load ({error})") from error
    if not getattr(tokenizer, "is_fast", False):
        raise _not_an_encoder(argument, value, f"its tokenizer ({type(tokenizer).__name__}) is not a fast tokenizer")
    previous_verbosity = logging.get_verbosity()
    # A FineCL checkpoint's heads are left unused by the bare model: the line saying so is noise here.
    logging.set_verbosity_error()
    try:
        model = FineCLModel.from_backbone(str(folder))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise _not_an_encoder(argument, value, f"its weights do not load as an encoder ({error})") from error
    finally:
        logging.set_verbosity(previous_verbosity)
    model.eval().requires_grad_(False)
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    return FrozenRelationEncoder(model, tokenizer, value, encoder_fingerprint(folder))


__all__ = ["FrozenRelationEncoder", "encoder_fingerprint", "load_frozen_encoder"]
