"""Determinism: the same seed gives the same learning order (stage 1) and the same fine-tuning metrics (stage 3) on CPU.

Each test repeats the uninterrupted reference run of `conftest.py` through the same CLI, in a fresh output folder,
after scrambling the process's global random generators (as earlier work in a notebook or a recipe looping over
seeds would), and compares everything the run publishes, read from its files. (Stage 2 is compared step by step by
the kill-and-resume test.)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from reliability_runs import run_stage, stage1_arguments, stage3_arguments
from reliability_helpers import read_config

pytestmark = pytest.mark.slow

TIMINGS = ("runtime", "per_second", "total_flos")


def card_metadata(folder: Path) -> dict:
    return yaml.safe_load((folder / "README.md").read_text().split("---")[1])


def without_timings(results: dict) -> dict:
    return {key: value for key, value in results.items() if not any(part in key for part in TIMINGS)}


def scramble_global_generators(seed: int = 12345) -> None:
    """What `--seed` must make irrelevant: the state the process's generators were left in."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def test_stage1_twice_with_the_same_seed_gives_the_same_learning_order(
    tmp_path, documents_dataset, tiny_backbone, stage1_reference
):
    scramble_global_generators()
    run_stage("trainers/learning_order.py", stage1_arguments(documents_dataset, tiny_backbone, tmp_path))
    first = read_config(stage1_reference / "learning_order", "instances")
    second = read_config(tmp_path / "learning_order", "instances")
    assert first.keys() == second.keys()
    learned = np.asarray(first["learned_epoch"])
    assert (learned >= 0).any() and (learned < 0).any(), "a degenerate order would make the comparison vacuous"
    first_run, second_run = (card_metadata(path / "learning_order")["finecl"] for path in (stage1_reference, tmp_path))
    assert first_run["percent_learned_per_epoch"] == second_run["percent_learned_per_epoch"]
    for column in first:  # the instances and the three learning-order columns
        assert first[column] == second[column], column


def test_stage3_twice_with_the_same_seed_gives_the_same_metrics_and_predictions(
    tmp_path, sentence_dataset, tiny_backbone, stage3_reference
):
    scramble_global_generators()
    run_stage("trainers/finetune.py", stage3_arguments(sentence_dataset, tiny_backbone, tmp_path))
    first = json.loads((stage3_reference / "all_results.json").read_text())
    second = json.loads((tmp_path / "all_results.json").read_text())
    assert without_timings(first) == without_timings(second)
    assert any(key.startswith("eval_") for key in first), sorted(first)
    predictions = "predictions_validation.jsonl"
    assert (stage3_reference / predictions).read_text() == (tmp_path / predictions).read_text()
