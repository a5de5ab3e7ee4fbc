"""Stage 3 of FineCL: fine-tuning and evaluating relation extraction models, model cards and inference.

- `RelationExtractionArguments`: what to fine-tune, on which data;
- `finecl_hf.finetuning.tasks`: the benchmark tasks (SemEval, TACRED, Wiki80, DocRED) and their metrics, one
  `BenchmarkTask` entry each (`register_task` adds one), and `paper_recipe`, the paper's Appendix A.3 settings;
- `run_fine_tuning` (`finecl_hf.finetuning.run`): one run per seed, then mean ± std over the seeds;
- `RelationExtractionTrainer` (`finecl_hf.finetuning.trainer`): the `transformers.Trainer` subclass;
- `finecl_hf.finetuning.evaluation`: scores, prediction files, seed summaries;
- `finecl_hf.finetuning.subsets`: seeded, class-stratified training subsets (1% / 10% / 100%);
- `render_model_card`: the model card with `model-index` results;
- inference on raw sentences and documents from a saved fine-tuned folder is the `relation-extraction` pipeline
  (`pipeline("relation-extraction", model=folder)`, `finecl_hf.pipelines`).
"""

from .arguments import RelationExtractionArguments
from .model_card import FineTunedModelCardSpec, render_model_card, write_model_card
from .run import ExperimentResult, SeedRun, run_fine_tuning
from .subsets import hold_out_validation, stratified_sample, training_subset
from .tasks import TASKS, BenchmarkTask, MetricDescription, get_task, paper_recipe, register_task
from .trainer import RelationExtractionTrainer, group_by_document

__all__ = [
    "TASKS",
    "BenchmarkTask",
    "ExperimentResult",
    "FineTunedModelCardSpec",
    "MetricDescription",
    "RelationExtractionArguments",
    "RelationExtractionTrainer",
    "SeedRun",
    "get_task",
    "group_by_document",
    "hold_out_validation",
    "paper_recipe",
    "register_task",
    "render_model_card",
    "run_fine_tuning",
    "stratified_sample",
    "training_subset",
    "write_model_card",
]
