"""Stage 1 of FineCL: learning-order denoising (paper §3.1, §4.1, §4.2, Appendix A.1).

- `LearningOrderTrainer` records, for every training instance, the epoch it is first predicted correctly
  (`mode="batch"`: from the training forward; `mode="epoch"`: from an eval pass at each epoch end), and the
  training-dynamics statistics of the same predictions;
- `finecl_hf.learning_order.scores` turns them into the cleanliness scores registered in `finecl_hf.order_scores`
  (`SCORES`: learned_epoch, AUM, confidence, variability, forgetting events, correct fraction), beside the evidence
  scores that need no classifier (`finecl_hf.learning_order.evidence`: type agreement with the relation schema,
  neighbour agreement and out-of-sample probability in a frozen encoder's feature space) and their rank average
  `combined`;
  `cleanliness(name, columns)` orients any of them higher = cleaner;
- `upsample_classes` guarantees P% learned instances per relation class (§3.1);
- `export_learning_order` writes the learning-order dataset, whose format `finecl_hf.data.learning_order` owns
  (stage 2, the analysis and the experiments read it from there: no stage imports another);
- `finecl_hf.learning_order.label_issues` adds a suggested relation and a `label_issue` flag to every instance and
  cleans a corpus with them (`clean_instances`); `finecl label-issues` shows the suspects
  (`finecl_hf.learning_order.label_issue_report`);
- `finecl_hf.learning_order.analysis` measures orders (percent learned, Jaccard, subset precision, ROC-AUC);
- `run_learning_order` (`trainers/learning_order.py`) does all of it from a converted dataset folder.
"""


# Imported on first access, as in `finecl_hf.pretraining`: reading a learning-order dataset (stage 2, the experiments)
# must not import the trainer.
from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .arguments import LearningOrderArguments, LearningOrderTrainingArguments
    from .evidence import CorpusEvidence, EvidenceSettings
    from ..data.learning_order import LearningOrderRunInfo, export_learning_order, load_learning_order_dataset
    from .label_issue_report import LabelIssue, collect_label_issues
    from .label_issues import CleaningReport, LabelIssueColumns, clean_instances, label_issue_columns
    from ..order_scores import SCORES, CleanlinessScore, cleanliness, score_names
    from .scores import ScoreInputs, compute_score_columns, score_columns
    from .state import NOT_LEARNED, LearningOrderState
    from .trainer import DocumentBatchSampler, DocumentGroupedSampler, InstanceIndexCollator, LearningOrderCallback, LearningOrderTrainer, correct_predictions
    from .upsampling import upsample_classes

_EXPORTS = {
    "LearningOrderArguments": "arguments",
    "LearningOrderTrainingArguments": "arguments",
    "CorpusEvidence": "evidence",
    "EvidenceSettings": "evidence",
    "LearningOrderRunInfo": ".data.learning_order",  # the format (finecl_hf.data.learning_order), re-exported
    "export_learning_order": ".data.learning_order",  # the format (finecl_hf.data.learning_order), re-exported
    "load_learning_order_dataset": ".data.learning_order",  # the format (finecl_hf.data.learning_order), re-exported
    "LabelIssue": "label_issue_report",
    "collect_label_issues": "label_issue_report",
    "CleaningReport": "label_issues",
    "LabelIssueColumns": "label_issues",
    "clean_instances": "label_issues",
    "label_issue_columns": "label_issues",
    "SCORES": ".order_scores",  # the shared registry (finecl_hf.order_scores), re-exported
    "CleanlinessScore": ".order_scores",  # the shared registry (finecl_hf.order_scores), re-exported
    "ScoreInputs": "scores",
    "cleanliness": ".order_scores",  # the shared registry (finecl_hf.order_scores), re-exported
    "compute_score_columns": "scores",
    "score_columns": "scores",
    "score_names": ".order_scores",  # the shared registry (finecl_hf.order_scores), re-exported
    "NOT_LEARNED": "state",
    "LearningOrderState": "state",
    "DocumentBatchSampler": "trainer",
    "DocumentGroupedSampler": "trainer",
    "InstanceIndexCollator": "trainer",
    "LearningOrderCallback": "trainer",
    "LearningOrderTrainer": "trainer",
    "correct_predictions": "trainer",
    "upsample_classes": "upsampling",
}

__all__ = [
    "NOT_LEARNED",
    "SCORES",
    "CleanlinessScore",
    "CorpusEvidence",
    "DocumentBatchSampler",
    "DocumentGroupedSampler",
    "EvidenceSettings",
    "InstanceIndexCollator",
    "CleaningReport",
    "LabelIssue",
    "LabelIssueColumns",
    "LearningOrderArguments",
    "LearningOrderCallback",
    "LearningOrderRunInfo",
    "LearningOrderState",
    "LearningOrderTrainer",
    "LearningOrderTrainingArguments",
    "ScoreInputs",
    "clean_instances",
    "cleanliness",
    "collect_label_issues",
    "compute_score_columns",
    "correct_predictions",
    "export_learning_order",
    "label_issue_columns",
    "load_learning_order_dataset",
    "score_columns",
    "score_names",
    "upsample_classes",
]

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())
