"""FineCL model configuration.

This module is also copied next to saved checkpoints (``auto_map``), so it imports only transformers, huggingface_hub and
its sibling `weighting.py` (the registry of weighting schemes).
"""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .weighting import WEIGHTING_SCHEMES

ENTITY_POOLING_METHODS = ("mean", "logsumexp")
RELATION_LEVELS = ("sentence", "document")
DOCUMENT_LOSSES = ("bce", "adaptive_threshold")


@strict
class FineCLConfig(PreTrainedConfig):
    r"""
    Configuration of [`FineCLForPreTraining`] and [`FineCLForRelationExtraction`].

    FineCL (Hogan, Li & Shang, EMNLP 2022) pre-trains a text encoder for relation extraction with
    entity discrimination (ED), relation discrimination (RD) and masked language modelling (MLM); RD weights
    every relation instance by the epoch in which a classifier first learned it (its *learning order*).
    The encoder is any `AutoModel` encoder; its configuration is kept in `encoder`.

    Args:
        encoder (`PreTrainedConfig` or `dict`, *optional*):
            Configuration of the backbone encoder (RoBERTa by default, as in the paper). Any encoder
            that `AutoModel` builds works (BERT, MiniLM, RoBERTa, ...).
        temperature (`float`, *optional*, defaults to 0.05):
            Temperature τ dividing the cosine similarities of the ED and RD losses (paper §3.2, A.2). Must be > 0.
        alpha (`float`, *optional*, defaults to e):
            Base α of the learning-order weight f(k) = α^((k_max − k)/(k_max − k_min)) (paper eq. 5). Must be > 1.
        num_negatives (`int`, *optional*, defaults to 64):
            Maximum number of negatives sampled for each RD anchor.
        ed_loss_weight (`float`, *optional*, defaults to 1.0):
            Multiplier of L_ED in the total loss (paper eq. 7 uses 1).
        rd_loss_weight (`float`, *optional*, defaults to 1.0):
            Multiplier of L_RD in the total loss.
        mlm_loss_weight (`float`, *optional*, defaults to 1.0):
            Multiplier of L_MLM in the total loss.
        mlm_probability (`float`, *optional*, defaults to 0.15):
            Share of non-entity, non-special tokens masked for MLM (80% mask / 10% random / 10% kept).
        weighting (`str`, *optional*, defaults to `"paper"`):
            How learning order weights RD: the name of a scheme registered in `finecl_hf.weighting`
            (`register_weighting` adds one). Built in:
{weighting_schemes}
        min_learned_epoch (`int`, *optional*, defaults to 0):
            k_min of eq. 5: the earliest (0-based) epoch in the learning-order data.
        max_learned_epoch (`int`, *optional*, defaults to 14):
            k_max of eq. 5: the latest epoch (paper: 15 epochs → 14). Instances that were never learned
            (`learned_epoch = -1`) are treated as learned at k_max, so they get the lowest weight (1).
        reference_epoch_cap (`int`, *optional*, defaults to 5):
            For `weighting="reference"`: epochs at or above this count as k_max.
        reference_no_relation_weight (`float`, *optional*, defaults to e^0.5):
            For `weighting="reference"`: weight of no-relation instances.
        truncation_share (`float`, *optional*):
            For `weighting="truncate"`: the share q of the triples, lowest cleanliness first, that get weight 0, in
            [0, 1). `None` (default): the noise rate estimated by `posterior`'s two-component mixture.
        entity_pooling (`str`, *optional*, defaults to `"mean"`):
            How the mention embeddings of an entity are combined: `"mean"` (paper eq. 4) or `"logsumexp"` (ATLOP).
            Each mention is the mean of its sub-word embeddings.
        relation_level (`str`, *optional*, defaults to `"sentence"`):
            For [`FineCLForRelationExtraction`]: `"sentence"` (one head/tail pair per example, single-label
            cross-entropy over all labels incl. no-relation, eq. 1) or `"document"` (all entity pairs of a document,
            multi-label).
        document_loss (`str`, *optional*, defaults to `"bce"`):
            For `relation_level="document"`: `"bce"` (the paper) or `"adaptive_threshold"` (ATLOP; label 0 is the
            threshold class).
        document_projection_size (`int`, *optional*, defaults to 128):
            Size of the head/tail projections before the bilinear document-level classifier.
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the pair representation before the relation classifier.
        no_relation_label (`str`, *optional*, defaults to `"no_relation"`):
            Name of the label meaning "no relation" (SemEval calls it `Other`).
        tie_word_embeddings (`bool`, *optional*, defaults to `True`):
            Whether the MLM decoder shares its weight with the encoder's input embeddings.
    """

    model_type = "finecl"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="roberta")}

    encoder: PreTrainedConfig | dict | None = None
    temperature: float = 0.05
    alpha: float = math.e
    num_negatives: int = 64
    ed_loss_weight: float = 1.0
    rd_loss_weight: float = 1.0
    mlm_loss_weight: float = 1.0
    mlm_probability: float = 0.15
    weighting: str = "paper"
    min_learned_epoch: int = 0
    max_learned_epoch: int = 14
    reference_epoch_cap: int = 5
    reference_no_relation_weight: float = math.exp(0.5)
    truncation_share: float | None = None
    entity_pooling: str = "mean"
    relation_level: str = "sentence"
    document_loss: str = "bce"
    document_projection_size: int = 128
    classifier_dropout: float = 0.1
    no_relation_label: str = "no_relation"
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.check_values()

    def check_values(self) -> None:
        """Raise a `ValueError` naming the field for any value the method is undefined for.

        Runs at construction and again when a model is built, so values changed after construction are checked too.
        """
        _require(self.temperature > 0, "temperature", self.temperature, "must be > 0")
        _require(self.alpha > 1, "alpha", self.alpha, "must be > 1 (f(k) must decrease with k)")
        _require(self.num_negatives >= 1, "num_negatives", self.num_negatives, "must be >= 1")
        _require(0 < self.mlm_probability < 1, "mlm_probability", self.mlm_probability, "must be in (0, 1)")
        _require_choice("weighting", self.weighting, tuple(WEIGHTING_SCHEMES))
        _require_choice("entity_pooling", self.entity_pooling, ENTITY_POOLING_METHODS)
        _require_choice("relation_level", self.relation_level, RELATION_LEVELS)
        _require_choice("document_loss", self.document_loss, DOCUMENT_LOSSES)
        _require(self.min_learned_epoch >= 0, "min_learned_epoch", self.min_learned_epoch, "must be >= 0")
        _require(
            self.max_learned_epoch >= self.min_learned_epoch,
            "max_learned_epoch",
            self.max_learned_epoch,
            f"must be >= min_learned_epoch ({self.min_learned_epoch})",
        )
        for name in ("ed_loss_weight", "rd_loss_weight", "mlm_loss_weight"):
            _require(getattr(self, name) >= 0, name, getattr(self, name), "must be >= 0")
        _require(0 <= self.classifier_dropout < 1, "classifier_dropout", self.classifier_dropout, "must be in [0, 1)")
        if self.truncation_share is not None:
            _require(0 <= self.truncation_share < 1, "truncation_share", self.truncation_share, "must be in [0, 1)")
        _require(self.reference_no_relation_weight > 0, "reference_no_relation_weight",
                 self.reference_no_relation_weight, "must be > 0")

    @property
    def hidden_size(self) -> int:
        """Hidden size of the backbone encoder."""
        return self.encoder.hidden_size


# Saved configs carry `auto_map` and a copy of this module, so they load without finecl_hf (trust_remote_code=True).
FineCLConfig.register_for_auto_class()

# The weighting choices of the docstring come from the registry, so they cannot drift from it.
FineCLConfig.__doc__ = FineCLConfig.__doc__.replace(
    "{weighting_schemes}",
    "\n".join(f'            - `"{scheme.name}"`: {scheme.description}.' for scheme in WEIGHTING_SCHEMES.values()),
)


def _require(condition: bool, field: str, value, requirement: str) -> None:
    if not condition:
        raise ValueError(f"FineCLConfig.{field}={value!r} is invalid: it {requirement}.")


def _require_choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, field, value, f"must be one of {', '.join(map(repr, choices))}")


__all__ = ["FineCLConfig"]
