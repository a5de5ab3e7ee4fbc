"""Stage 1 of FineCL: learning-order denoising (paper §3.1, §4.1, §4.2, Appendix A.1).

- `LearningOrderTrainer` records, for every training instance, the epoch it is first predicted correctly
  (`mode="batch"`: from the training forward; `mode="epoch"`: from an eval pass at each epoch end), and the
  training-dynamics statistics of the same predictions;
- `finecl_hf.learning_order.scores` turns them into cleanliness scores (`SCORES`: learned_epoch, AUM, confidence,
  variability, forgetting events, correct fraction), beside the evidence scores that need no classifier
  (`finecl_hf.learning_order.evidence`: type agreement with the relation schema, neighbour agreement and
  out-of-sample probability in a frozen encoder's feature space) and their rank average `combined`;
  `cleanliness(name, columns)` orients any of them higher = cleaner;
- `upsample_classes` guarantees P% learned instances per relation class (§3.1);
- `export_learning_order` writes the Hub-ready learning-order dataset that stage 2 reads;
- `finecl_hf.learning_order.analysis` measures orders (percent learned, Jaccard, subset precision, ROC-AUC);
- `run_learning_order` (`trainers/learning_order.py`) does all of it from a converted dataset folder.
"""

from .arguments import LearningOrderArguments, LearningOrderTrainingArguments
from .evidence import CorpusEvidence, EvidenceSettings
from .export import LearningOrderRunInfo, export_learning_order
from .scores import SCORES, CleanlinessScore, ScoreInputs, cleanliness, compute_score_columns, score_columns, score_names
from .state import NOT_LEARNED, LearningOrderState
from .trainer import (
    DocumentBatchSampler,
    DocumentGroupedSampler,
    InstanceIndexCollator,
    LearningOrderCallback,
    LearningOrderTrainer,
    correct_predictions,
)
from .upsampling import upsample_classes

__all__ = [
    "NOT_LEARNED",
    "SCORES",
    "CleanlinessScore",
    "CorpusEvidence",
    "DocumentBatchSampler",
    "DocumentGroupedSampler",
    "EvidenceSettings",
    "InstanceIndexCollator",
    "LearningOrderArguments",
    "LearningOrderCallback",
    "LearningOrderRunInfo",
    "LearningOrderState",
    "LearningOrderTrainer",
    "LearningOrderTrainingArguments",
    "ScoreInputs",
    "cleanliness",
    "compute_score_columns",
    "correct_predictions",
    "export_learning_order",
    "score_columns",
    "score_names",
    "upsample_classes",
]
