"""finecl-hf: FineCL (fine-grained contrastive learning for relation extraction) for the Hugging Face ecosystem.

Importing the package registers the FineCL classes with the Auto classes, so `AutoConfig`/`AutoModel` load FineCL
checkpoints without `trust_remote_code`.
"""

from transformers import AutoConfig, AutoModel, AutoModelForPreTraining

from .configuration import FineCLConfig
from .modeling import (
    FineCLForPreTraining,
    FineCLForRelationExtraction,
    FineCLPreTrainedModel,
    FineCLPreTrainingOutput,
    RelationExtractionOutput,
)

__version__ = "0.1.0"

AutoConfig.register(FineCLConfig.model_type, FineCLConfig, exist_ok=True)
AutoModel.register(FineCLConfig, FineCLForPreTraining, exist_ok=True)
AutoModelForPreTraining.register(FineCLConfig, FineCLForPreTraining, exist_ok=True)
# Saved checkpoints carry `auto_map` + these modules, so they also load where finecl_hf is not installed.
FineCLConfig.register_for_auto_class()
FineCLForPreTraining.register_for_auto_class("AutoModel")
FineCLForRelationExtraction.register_for_auto_class("AutoModel")

__all__ = [
    "FineCLConfig",
    "FineCLForPreTraining",
    "FineCLForRelationExtraction",
    "FineCLPreTrainedModel",
    "FineCLPreTrainingOutput",
    "RelationExtractionOutput",
]
