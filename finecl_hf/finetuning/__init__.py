"""Stage 3 of FineCL: fine-tuning and evaluating relation extraction models, model cards and inference.

- `RelationExtractionArguments`, `paper_recipe`: what to fine-tune and the paper's Appendix A.3 settings;
- `run_fine_tuning`, `RelationExtractionTrainer`: training with `transformers.Trainer`, one run per seed;
- `finecl_hf.finetuning.evaluation`: SemEval/TACRED/Wiki80/DocRED scores, prediction files, seed summaries;
- `finecl_hf.finetuning.subsets`: seeded, class-stratified training subsets (1% / 10% / 100%);
- `render_model_card`: the model card with `model-index` results;
- `RelationExtractor`: inference on raw sentences and documents from any saved fine-tuned folder.
"""

from .inference import RelationExtractor
from .arguments import HEADLINE_METRICS, RelationExtractionArguments, paper_recipe
from .model_card import FineTunedModelCardSpec, render_model_card, write_model_card
from .subsets import hold_out_validation, stratified_sample, training_subset
from .trainer import ExperimentResult, RelationExtractionTrainer, SeedRun, run_fine_tuning

__all__ = [
    "HEADLINE_METRICS",
    "ExperimentResult",
    "FineTunedModelCardSpec",
    "RelationExtractionArguments",
    "RelationExtractionTrainer",
    "RelationExtractor",
    "SeedRun",
    "hold_out_validation",
    "paper_recipe",
    "render_model_card",
    "run_fine_tuning",
    "stratified_sample",
    "training_subset",
    "write_model_card",
]
