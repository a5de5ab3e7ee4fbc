"""Model folders a user hands over, checked before any weights load: the one place that says whether a folder holds a
model finecl-hf can use (`config.json` valid, a model type it supports, weights complete).

Kept at the bottom of the package with `finecl_hf.errors` (stdlib only; transformers' model-type tables are imported
when first asked for), so that the command-line checks (`finecl_hf.commands.front_door.check_model_source`) and the
stages that open encoders themselves (`finecl_hf.representations.encoder.load_frozen_encoder`) share it.
"""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path

from .errors import DataError, UsageError

# Files of a model folder that hold weights, in the order `from_pretrained` looks for them.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def check_model_config(argument: str, value: str, folder: Path) -> None:
    """A model folder's config.json is valid JSON and names a model type finecl-hf can use: a text encoder with a
    masked-language-model head in transformers (BERT, RoBERTa, DeBERTa, ...) or a FineCL checkpoint. Read before any
    weights load, so a foreign model is one paragraph rather than a traceback from inside its constructor."""
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{argument} {value}: {config_file} is not valid JSON ({' '.join(str(error).split())}); the "
                        "model folder is damaged: save the model again (`save_pretrained`) or copy config.json from "
                        "where the model came from.") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str):
        raise DataError(f"{argument} {value}: {config_file} has no model_type, so the kind of model is unknown; save "
                        "the model again with `save_pretrained`, which writes it.")
    if model_type not in usable_model_types() or config.get("is_encoder_decoder"):
        raise UsageError(
            f"{argument} {value}: config.json says model_type {model_type!r}, which finecl-hf cannot use: it needs a "
            "text encoder with a masked-language-model head (bert, roberta, deberta-v2, xlm-roberta, electra, ...) "
            "or a FineCL checkpoint (model_type 'finecl'); encoder-decoder and decoder-only models are not supported."
        )


@cache
def usable_model_types() -> frozenset[str]:
    """`finecl` and transformers' encoder types with a masked-LM head, less the encoder-decoders among them."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    return frozenset({"finecl", *MODEL_FOR_MASKED_LM_MAPPING_NAMES}) - set(MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)


def check_weights_complete(argument: str, value: str, folder: Path) -> None:
    """The folder's `model.safetensors` (when it has one) holds every byte its header promises: a copy or save cut
    short is found before loading. A safetensors file is an 8-byte little-endian header length, a JSON header giving
    each tensor's byte range, then the data; only the header is read."""
    weights = folder / WEIGHT_FILES[0]
    if not weights.is_file():
        return
    size = weights.stat().st_size
    try:
        with open(weights, "rb") as handle:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            if header_length > size:
                raise ValueError(f"its header claims {header_length} bytes")
            header = json.loads(handle.read(header_length))
        expected = 8 + header_length + max((entry["data_offsets"][1] for name, entry in header.items()
                                            if name != "__metadata__"), default=0)  # fmt: skip
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as error:
        raise DataError(f"{argument} {value}: {weights} is not a readable safetensors file ({error}); the weights are "
                        "damaged: save or copy the model again.") from None
    if size < expected:
        raise DataError(f"{argument} {value}: {weights} is cut short ({size} of {expected} bytes): a copy or save was "
                        "interrupted; save or copy the model again.")


__all__ = ["WEIGHT_FILES", "check_model_config", "check_weights_complete", "usable_model_types"]
