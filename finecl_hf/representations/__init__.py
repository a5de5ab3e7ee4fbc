"""Frozen relation representations, shared by stage 1's evidence scores and the representation probe.

- `load_frozen_encoder` / `FrozenRelationEncoder` (`encoder`): any encoder folder or FineCL checkpoint, pooled to
  [e_head; e_tail] as fine-tuning pools it;
- `encode_split`, `encode_document_instances` (`features`): features of a sentence split or of document-level relation
  instances, cached on disk by (encoder, inputs, tokenization);
- `fit_linear_probe` (`classifier`): multinomial logistic regression on standardised features (L-BFGS, torch).

Neither stage imports the other: both read their features from here.
"""

from .classifier import DEFAULT_MAX_ITERATIONS, DEFAULT_WEIGHT_DECAY, LinearProbe, fit_linear_probe
from .encoder import FrozenRelationEncoder, encoder_fingerprint, load_frozen_encoder
from .features import (
    SplitFeatures,
    TokenizationSettings,
    encode_document_instances,
    encode_split,
    input_fingerprints,
    split_fingerprint,
)

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_WEIGHT_DECAY",
    "FrozenRelationEncoder",
    "LinearProbe",
    "SplitFeatures",
    "TokenizationSettings",
    "encode_document_instances",
    "encode_split",
    "encoder_fingerprint",
    "fit_linear_probe",
    "input_fingerprints",
    "load_frozen_encoder",
    "split_fingerprint",
]
