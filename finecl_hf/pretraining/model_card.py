"""The model card of a FineCL pre-training checkpoint, rendered from `model_cards/pretrained_model_card.md`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..cards import render_card_template
from .trainer import LOSS_COMPONENTS

TEMPLATE_NAME = "pretrained_model_card.md"
LOGGED_LOSSES = ("loss", *LOSS_COMPONENTS)
# What a Hub repo id looks like; local paths must not end up in `base_model`/`datasets` metadata.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def summarize_loss_curve(log_history: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """First, last and minimum (with its step) of each logged loss: `loss`, `ed_loss`, `rd_loss`, `mlm_loss`."""
    summary = {}
    for name in LOGGED_LOSSES:
        points = [(entry["step"], float(entry[name])) for entry in log_history if name in entry and "step" in entry]
        if not points:
            continue
        min_step, min_value = min(points, key=lambda point: point[1])
        summary[name] = {"first": points[0][1], "last": points[-1][1], "min": min_value, "min_step": min_step}
    return summary


def _is_hub_id(name: str) -> bool:
    return bool(_HUB_ID.match(name)) and not os.path.exists(name)


def render_pretrained_model_card(
    *,
    model_name: str,
    backbone: str,
    dataset_source: str,
    stage1_metadata: Mapping[str, Any],
    data_statistics: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    log_history: Sequence[Mapping[str, Any]],
    logging_steps: float,
    weighting: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Render the card: method, learning-order dataset, every hyper-parameter, loss curve summary and intended use.

    Args:
        model_name: title of the card (e.g. the output folder's name).
        backbone: the encoder pre-training started from.
        dataset_source: the learning-order dataset (folder or Hub id).
        stage1_metadata: the dataset card's `finecl` metadata (stage-1 model, epochs, mode, seed, ...).
        data_statistics: counts from `PreTrainingData.statistics`.
        hyperparameters: everything that determines the run (FineCL config fields and training arguments); with
            `order_by` other than `learned_epoch`, the card explains the rank -> pseudo-epoch mapping of eq. 5
            (`finecl_hf.pretraining.ordering`).
        log_history: `Trainer.state.log_history`.
        logging_steps: the logging interval, for the text.
        weighting: for a corpus weighting scheme, `description`, `summary` and `estimated_noise_rate` of its fit.
    """
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="feature-extraction",
        tags=["finecl", "relation-extraction", "contrastive-learning", "pretraining"],
        base_model=backbone if _is_hub_id(backbone) else None,
        datasets=[dataset_source] if _is_hub_id(dataset_source) else None,
    )
    steps = max((entry.get("step", 0) for entry in log_history), default=0)
    stage1_keys = (
        "model_name_or_path",
        "model",
        "source_dataset",
        "num_epochs",
        "mode",
        "seed",
        "upsample_min_percent",
        "num_upsampled",
    )
    stage1 = {key: stage1_metadata[key] for key in stage1_keys if key in stage1_metadata}
    return render_card_template(
        ModelCard,
        card_data,
        TEMPLATE_NAME,
        model_name=model_name,
        backbone=backbone,
        data={
            "source": dataset_source,
            "stage1": stage1,
            "statistics": dict(data_statistics),
            "weighting": dict(weighting) if weighting else None,
        },
        hyperparameters=dict(hyperparameters),
        losses=summarize_loss_curve(log_history),
        steps=steps,
        logging_steps=logging_steps,
    )


__all__ = ["render_pretrained_model_card", "summarize_loss_curve"]
