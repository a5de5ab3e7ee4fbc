"""`finecl demo` end to end with tiny budgets on the shipped corpora: every artifact it announces is checked.

The demo runs once per module (`demo_run`, a few minutes on 2 CPU cores); each test reads one kind of artifact:
the printed summary and stage-1 tables, the learning-order dataset, both checkpoints through `trust_remote_code`
in a fresh process, the model cards and the plot.
"""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parent.parent
from finecl_hf.experiments.steps import DemoPaths
DEMO_TIMEOUT_S = 1200
# The smallest budgets that still exercise every stage: 400 stage-1 instances and 1 epoch, 4 pre-training steps,
# 2% of SemEval train for 1 epoch, and 200 test sentences.
TINY_BUDGETS = [
    "--learning_order_max_instances", "400",
    "--learning_order_epochs", "1",
    "--pretrain_steps", "4",
    "--finetune_train_fraction", "0.02",
    "--finetune_epochs", "1",
    "--finetune_max_eval_samples", "200",
]
LEARNING_ORDER_EPOCHS = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PRECISION_TABLE_HEADER = "| subset | size | label precision |"
PER_EPOCH_TABLE_HEADER = "| epoch | % first learned | % learned (cumulative) |"
SEMEVAL_NUM_LABELS = 19  # 9 directed relations x 2 directions + Other

# Loads a checkpoint the way a Hub user without finecl-hf would: only `transformers` and the shipped modules.
REMOTE_LOAD_CHECK = textwrap.dedent(
    """
    import json, sys
    import transformers
    auto_class = getattr(transformers, sys.argv[2])  # the folder's auto_map entry for its head
    model, info = auto_class.from_pretrained(sys.argv[1], trust_remote_code=True, output_loading_info=True)
    assert "finecl_hf" not in sys.modules, "the remote-code path must not import finecl_hf"
    print(json.dumps({
        "class": type(model).__name__,
        "module": type(model).__module__,
        "model_type": model.config.model_type,
        "num_labels": model.config.num_labels,
        "missing_keys": sorted(info["missing_keys"]),
        "unexpected_keys": sorted(info["unexpected_keys"]),
        "mismatched_keys": sorted(str(key) for key in info["mismatched_keys"]),
    }))
    """
)


@dataclass
class DemoRun(DemoPaths):
    """Where the demo wrote (the demo's own `DemoPaths`) and what it printed."""

    stdout: str = ""

    def artifacts(self) -> list[Path]:
        return [self.semeval, self.distant, self.learning_order_dataset, self.learning_order_plot, self.pretrained,
                self.finetuned]


def offline_environment(data_dir: Path, modules_cache: Path) -> dict[str, str]:
    """The caller's environment, offline, on 2 threads, with remote-code modules cached under the test's folder."""
    return {
        **os.environ,
        "FINECL_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_MODULES_CACHE": str(modules_cache),
    }


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, shared_data_dir) -> DemoRun:
    """Run `finecl demo` once with tiny budgets; fail with the end of its output if it does not exit 0."""
    workspace = tmp_path_factory.mktemp("demo")
    command = [sys.executable, "-m", "finecl_hf.commands", "demo", "--output_dir", str(workspace / "demo"), *TINY_BUDGETS]
    completed = subprocess.run(
        command, cwd=REPOSITORY, env=offline_environment(shared_data_dir, workspace / "modules"),
        capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False,
    )
    assert completed.returncode == 0, (
        f"demo exited {completed.returncode}\nstdout:\n{completed.stdout[-4000:]}\nstderr:\n{completed.stderr[-4000:]}"
    )
    return DemoRun(root=(workspace / "demo").resolve(), stdout=completed.stdout)


@pytest.fixture(scope="module")
def learning_order(demo_run, tmp_path_factory):
    """The stage-1 dataset's `instances` (default config) and `documents`, loaded offline like a Hub dataset."""
    from datasets import load_dataset

    cache = tmp_path_factory.mktemp("datasets-cache")
    folder = str(demo_run.learning_order_dataset)
    return load_dataset(folder, cache_dir=str(cache))["train"], load_dataset(folder, "documents", cache_dir=str(cache))["train"]


def markdown_tables(text: str, header: str) -> list[dict[str, list[str]]]:
    """Every Markdown table of `text` whose header line is `header`, as rows (first cell -> other cells)."""
    lines = [line.strip() for line in text.splitlines()]
    tables = []
    for start in (index for index, line in enumerate(lines) if line == header):
        rows = {}
        for line in lines[start + 2:]:  # skip the header and its |---| rule
            if not line.startswith("|"):
                break
            first, *rest = (cell.strip() for cell in line.strip("|").split("|"))
            rows[first] = rest
        tables.append(rows)
    return tables


@dataclass(frozen=True)
class StageOneFacts:
    """Percent learned per epoch and label precision per subset, recomputed from the exported learning order."""

    num_instances: int
    percent_learned_per_epoch: list[float]
    subset_precision: dict[str, tuple[int, float]]  # subset -> (rows of known correctness, precision or NaN)


@pytest.fixture(scope="module")
def stage_one_facts(learning_order) -> StageOneFacts:
    """What the classifier learned, i.e. before class upsampling (upsampled rows were never learned by it), scored
    against the gold confirmation of each distant label (`confirmed_by_gold` of the documents' relation triples)."""
    instances, documents = learning_order
    epochs = np.where(np.asarray(instances["upsampled"]), -1, np.asarray(instances["learned_epoch"]))
    by_triple = {
        triple["uid"]: triple["confirmed_by_gold"] for relations in documents["relations"] for triple in relations
    }
    confirmed = [by_triple.get(uid) for uid in instances["uid"]]
    known = np.array([value is not None for value in confirmed])
    correct = np.array([bool(value) for value in confirmed])
    subsets = {f"A_{epoch}": epochs == epoch for epoch in range(LEARNING_ORDER_EPOCHS)}
    subsets |= {"not_learned": epochs == -1, "all": np.ones_like(known)}
    precision = {}
    for name, mask in subsets.items():
        rows = mask & known
        precision[name] = (int(rows.sum()), float(correct[rows].mean()) if rows.any() else math.nan)
    percent = [100 * float(np.mean(epochs == epoch)) for epoch in range(LEARNING_ORDER_EPOCHS)]
    return StageOneFacts(len(instances), percent, precision)


def same_number(printed: str, value: float, decimals: int = 2) -> bool:
    """Whether `printed` is `value` as formatted with `decimals` decimals (`nan` for NaN)."""
    return printed == ("nan" if math.isnan(value) else f"{value:.{decimals}f}")


def test_demo_prints_every_artifact_and_a_prediction(demo_run):
    for path in demo_run.artifacts():
        assert path.exists(), f"{path} was not written"
        assert str(path) in demo_run.stdout, f"the summary does not point to {path}"
    assert "SemEval official test set: macro_f1_official=" in demo_run.stdout
    prediction_lines = [line.strip() for line in demo_run.stdout.splitlines() if line.strip().startswith("-> ")]
    assert len(prediction_lines) == 1, demo_run.stdout[-2000:]
    prediction = ast.literal_eval(prediction_lines[0][3:])
    labels = json.loads((demo_run.finetuned / "config.json").read_text())["id2label"].values()
    assert len(prediction) == 1 and prediction[0]["label"] in labels and 0 < prediction[0]["score"] <= 1


def test_learning_order_dataset_loads_with_its_columns_and_documents(demo_run, learning_order):
    instances, documents = learning_order
    assert 0 < len(instances) <= 400 and len(documents) > 0
    assert instances.features["learned_epoch"].dtype.startswith("int")
    epochs = np.asarray(instances["learned_epoch"])
    assert set(np.unique(epochs)) <= set(range(-1, LEARNING_ORDER_EPOCHS))
    assert np.array_equal(np.asarray(instances["learned"]), epochs != -1)
    assert (epochs[np.asarray(instances["upsampled"])] == LEARNING_ORDER_EPOCHS - 1).all()
    assert max(instances["document_index"]) < len(documents)
    card = metadata_load(demo_run.learning_order_dataset / "README.md")
    assert card["finecl"]["num_epochs"] == LEARNING_ORDER_EPOCHS


def test_stage_one_prints_percent_learned_and_subset_precision_against_gold(demo_run, stage_one_facts):
    per_epoch_tables = markdown_tables(demo_run.stdout, PER_EPOCH_TABLE_HEADER)
    precision_tables = markdown_tables(demo_run.stdout, PRECISION_TABLE_HEADER)
    assert per_epoch_tables and precision_tables, "stage 1 printed no percent-learned or label-precision table"
    for table in per_epoch_tables:
        assert list(table) == [str(epoch) for epoch in range(LEARNING_ORDER_EPOCHS)]
        for epoch, (percent, _cumulative) in table.items():
            assert same_number(percent, stage_one_facts.percent_learned_per_epoch[int(epoch)]), (epoch, percent)
    for table in precision_tables:  # the trainer's and the analysis step's, which must agree
        assert set(table) == set(stage_one_facts.subset_precision)
        for name, (size, precision) in table.items():
            expected_size, expected_precision = stage_one_facts.subset_precision[name]
            assert int(size) == expected_size and same_number(precision, expected_precision), (name, size, precision)


def test_stage_one_card_report_and_summary_match_the_learning_order(demo_run, stage_one_facts):
    card = metadata_load(demo_run.learning_order_dataset / "README.md")["finecl"]
    assert card["percent_learned_per_epoch"] == pytest.approx(stage_one_facts.percent_learned_per_epoch)
    report = json.loads(demo_run.learning_order_report.read_text())
    assert report["instances"] == stage_one_facts.num_instances
    assert report["percent_learned_per_epoch"] == pytest.approx(stage_one_facts.percent_learned_per_epoch)
    for name, (size, precision) in stage_one_facts.subset_precision.items():
        assert report["subset_precision"][name]["size"] == size, name
        assert report["subset_precision"][name]["precision"] == pytest.approx(precision, nan_ok=True), name
    learned = ", ".join(
        f"A_{epoch} {percent:.1f}%" for epoch, percent in enumerate(stage_one_facts.percent_learned_per_epoch)
    )
    assert f"Stage 1 on {stage_one_facts.num_instances} distant instances: {learned}" in demo_run.stdout
    precision = ", ".join(
        f"{name} {value:.2f} (n={size})" for name, (size, value) in stage_one_facts.subset_precision.items()
    )
    assert f"label precision against gold: {precision};" in demo_run.stdout


AUTO_CLASS_OF = {
    "FineCLForPreTraining": "AutoModelForPreTraining",
    "FineCLForRelationExtraction": "AutoModelForSequenceClassification",
}


@pytest.mark.parametrize(
    ("checkpoint", "expected_class"),
    [("stage2_finecl_pretrained", "FineCLForPreTraining"), ("stage3_semeval_finetuned", "FineCLForRelationExtraction")],
)
def test_checkpoint_loads_with_remote_code_without_finecl_hf(demo_run, shared_data_dir, tmp_path, checkpoint, expected_class):
    directory = demo_run.root / checkpoint
    assert (directory / "model.safetensors").is_file() and not list(directory.glob("*.bin"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_LOAD_CHECK, str(directory), AUTO_CLASS_OF[expected_class]],
        cwd=tmp_path, env=offline_environment(shared_data_dir, tmp_path / "modules"),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["class"] == expected_class and loaded["model_type"] == "finecl"
    assert loaded["module"].startswith("transformers_modules"), loaded["module"]
    assert loaded["missing_keys"] == loaded["unexpected_keys"] == loaded["mismatched_keys"] == []
    if expected_class == "FineCLForRelationExtraction":
        assert loaded["num_labels"] == SEMEVAL_NUM_LABELS


def test_finetuned_card_model_index_holds_the_test_results(demo_run):
    results = json.loads((demo_run.finetuned / "all_results.json").read_text())
    model_index = metadata_load(demo_run.finetuned / "README.md")["model-index"]
    card_values = {
        (entry["dataset"]["split"], metric["name"]): metric["value"]
        for entry in model_index[0]["results"] for metric in entry["metrics"]
    }
    assert card_values[("test", "Official macro-F1 (test)")] == round(100 * results["test_macro_f1_official"], 2)
    assert card_values[("test", "Micro-F1 (test)")] == round(100 * results["test_micro_f1"], 2)
    assert card_values[("test", "Accuracy (test)")] == round(100 * results["test_accuracy"], 2)
    assert f"`{demo_run.pretrained}`" in ModelCard.load(demo_run.finetuned / "README.md").text


def test_pretrained_card_parses_and_names_its_learning_order(demo_run):
    card = ModelCard.load(demo_run.pretrained / "README.md")
    assert {"finecl", "relation-extraction"} <= set(card.data.tags)
    assert str(demo_run.learning_order_dataset) in card.text


def test_percent_learned_plot_is_a_non_empty_png(demo_run):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.image import imread

    assert demo_run.learning_order_plot.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(demo_run.learning_order_plot)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert not math.isclose(float(image.min()), float(image.max())), "the plot is a blank image"


def test_summary_names_the_best_cleanliness_score_next_to_learned_epoch(demo_run, learning_order):
    from finecl_hf.learning_order.analysis import mann_whitney_auc
    from finecl_hf.order_scores import SCORES, cleanliness

    instances, documents = learning_order
    by_triple = {
        triple["uid"]: triple["confirmed_by_gold"] for relations in documents["relations"] for triple in relations
    }
    confirmed = [by_triple.get(uid) for uid in instances["uid"]]
    known = np.array([value is not None for value in confirmed])
    correct = np.array([bool(value) for value in confirmed])[known]
    rows = instances.select(np.flatnonzero(known))
    auc = {name: mann_whitney_auc(cleanliness(name, rows), correct)
           for name, score in SCORES.items() if set(score.columns) <= set(instances.column_names)}  # fmt: skip
    best = max(auc, key=auc.get)
    lines = [line for line in demo_run.stdout.splitlines() if "best cleanliness score:" in line]
    assert len(lines) == 1, demo_run.stdout[-2000:]
    assert f"best cleanliness score: {best} ROC-AUC {auc[best]:.3f}" in lines[0]
    assert f"(the paper's learned_epoch: ROC-AUC {auc['learned_epoch']:.3f})" in lines[0]
