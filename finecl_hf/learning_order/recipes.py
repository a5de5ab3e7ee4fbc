"""Stage 1's training recipes, one `--recipe` apart: `paper` (Appendix A.1), the default, and `tuned`.

The library is faithful to the paper by default (15 epochs, batches of 32 instances, lr 4e-5, 10% warm-up). `tuned`
is what the denoising benchmark chose on its tuning corpora for a small CPU budget (README, "Denoising benchmark"; the
recipe sweep in `docs/results/stage1_recipe_2026-12-02/`): 3 epochs, learning rate 5e-5 without warm-up, and on a
corpus of documents all the instances of 4 documents per step, so that each document is encoded once per epoch. The
demo, the reproduction and the benchmark run it; `finecl learning-order --recipe tuned` gives it to any corpus.

Kept free of heavy imports: the experiments' argument classes read the defaults from here when a command parses.
"""

from __future__ import annotations

from typing import Any

DEFAULT_RECIPE = "paper"
TUNED_RECIPE = "tuned"
# Values of `LearningOrderTrainingArguments` fields; a recipe fills the ones not given explicitly.
STAGE1_RECIPES: dict[str, dict[str, Any]] = {
    "tuned": {
        "num_train_epochs": 3.0,
        "learning_rate": 5e-5,
        "warmup_steps": 0.0,
        "per_device_train_batch_size": 16,  # sentence corpora; document corpora use documents_per_batch
        "documents_per_batch": 4,
        "class_balance": 0.0,
    },
    "paper": {
        "num_train_epochs": 15.0,
        "learning_rate": 4e-5,
        "warmup_steps": 0.1,
        "per_device_train_batch_size": 32,
        "documents_per_batch": 0,
        "class_balance": 0.0,
    },
}

__all__ = ["DEFAULT_RECIPE", "STAGE1_RECIPES", "TUNED_RECIPE"]
