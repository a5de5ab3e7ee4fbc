"""The denoising benchmark: its metrics against naive definitions, and a `--quick` end-to-end run with a tiny model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the denoising extra (pip install -e '.[denoising]') is not installed")
pytest.importorskip("cleanlab", reason="the denoising extra (pip install -e '.[denoising]') is not installed")

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_denoising.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_denoising", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_planted_scores(bench):
    rng = np.random.default_rng(0)
    clean = rng.random(500) < 0.7
    perfect = bench.detection_metrics(clean.astype(float) + 0.01 * rng.random(500), clean, bootstrap=20, seed=0)
    assert perfect["roc_auc"] == 1.0 and perfect["average_precision"] == pytest.approx(1.0)
    assert perfect["precision_top_25"] == 1.0 and perfect["precision_top_50"] == 1.0
    assert perfect["roc_auc_low"] == pytest.approx(1.0)
    reversed_ = bench.detection_metrics(-clean.astype(float), clean, bootstrap=0, seed=0)
    assert reversed_["roc_auc"] == 0.0 and reversed_["precision_top_25"] == 0.0


def test_precision_at_top_breaks_ties_in_expectation(bench):
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, 200).astype(float)  # heavily tied, like learned_epoch
    clean = rng.random(200) < 0.6
    for fraction in (0.1, 0.25, 0.5, 0.9):
        count = round(fraction * scores.size)
        # Naive: average precision of the top `count` over many random tie-breaking orders.
        naive = np.mean([clean[np.lexsort((rng.random(200), -scores))[:count]].mean() for _ in range(4000)])
        assert bench.precision_at_top(scores, clean, fraction) == pytest.approx(naive, abs=0.01)


def test_recipe_parsing(bench):
    base = bench.Recipe("main", 5e-5, 16, 0.0, 3.0)
    recipe = bench.Recipe.parse("defaults:lr=4e-5,batch=32,warmup=0.1", base)
    assert (recipe.name, recipe.learning_rate, recipe.batch_size, recipe.warmup, recipe.epochs) == ("defaults", 4e-5, 32, 0.1, 3.0)
    with pytest.raises(ValueError, match="'speed=2'"):
        bench.Recipe.parse("x:speed=2", base)


@pytest.mark.slow
def test_quick_benchmark_end_to_end(bench, tiny_backbone, tmp_path, shared_data_dir):
    report = bench.main([
        "--quick", "--model_name_or_path", str(tiny_backbone), "--output_dir", str(tmp_path / "runs"),
        "--results_dir", str(tmp_path / "results"), "--recipes", "slow:lr=1e-5,batch=8",
    ])
    rows = report["rows"]
    for corpus in bench.CORPORA:
        scores = {row["score"] for row in rows if row["corpus"] == corpus}
        assert {"learned_epoch", "cleanlab_label_quality", "cleanlab_find_label_issues", "random"} <= scores, (corpus, scores)
        recipe_scores = {row["score"] for row in report["recipes"] if row["corpus"] == corpus}
        assert "learned_epoch" in recipe_scores
    for row in rows + report["recipes"]:
        for metric in ("roc_auc", "average_precision", "precision_top_25", "precision_top_50"):
            assert 0.0 <= row[metric] <= 1.0, row
        assert row["roc_auc_low"] <= row["roc_auc"] + 1e-9 and row["wall_s"] >= 0
    semeval = next(row for row in rows if row["corpus"] == "semeval_uniform")
    assert semeval["instances"] == 160 and semeval["clean_rate"] == pytest.approx(0.7, abs=0.01)
    results = tmp_path / "results"
    assert json.loads((results / "denoising_results.json").read_text())["rows"] == json.loads(json.dumps(rows))
    assert (results / "denoising_curves.png").stat().st_size > 10_000
    table = (results / "denoising_results.md").read_text()
    assert "| semeval_confusable | cleanlab_label_quality | cleanlab |" in table and "bench_denoising.py --quick" in table
    # A second run reuses every cached arm: same numbers.
    again = bench.main([
        "--quick", "--model_name_or_path", str(tiny_backbone), "--output_dir", str(tmp_path / "runs"),
        "--results_dir", str(tmp_path / "again"), "--recipes", "slow:lr=1e-5,batch=8",
    ])
    assert [row["roc_auc"] for row in again["rows"]] == [row["roc_auc"] for row in rows]
