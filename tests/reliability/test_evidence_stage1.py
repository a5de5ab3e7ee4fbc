"""Stage 1 computes and exports the evidence scores by default, and refuses evidence it cannot compute."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest
from datasets import load_dataset
from reliability_helpers import REPOSITORY, read_config, subprocess_env
from reliability_runs import stage1_arguments

from finecl_hf.order_scores import SCORES

EVIDENCE = ("type_agreement", "neighbour_agreement", "out_of_sample", "combined")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_stage1_exports_the_evidence_scores_with_their_card_rows_and_seconds(stage1_reference):
    folder = stage1_reference / "learning_order"
    order = load_dataset(str(folder), split="train")
    for name in EVIDENCE:
        values = np.asarray(order[name], dtype=np.float64)
        assert order.features[name].dtype == SCORES[name].dtype and np.isfinite(values).all(), name
    # Every entity of these documents is a LOC: the schema says nothing, so every instance gets PMI 0.
    assert np.allclose(order["type_agreement"], 0.0)
    assert ((np.asarray(order["neighbour_agreement"]) >= 0) & (np.asarray(order["neighbour_agreement"]) <= 1)).all()
    assert ((np.asarray(order["out_of_sample"]) > 0) & (np.asarray(order["out_of_sample"]) < 1)).all()
    card = (folder / "README.md").read_text()
    for name in EVIDENCE:
        assert f"| `{name}` ({SCORES[name].dtype}) | {SCORES[name].formula} |" in card
    assert "Seconds of each score's own work:" in card and "`out_of_sample`" in card
    assert "evidence_encoder:" in card


def test_stage1_exports_label_issue_columns_that_finecl_label_issues_reads(stage1_reference, tmp_path, capsys):
    from finecl_hf.commands import main

    folder = stage1_reference / "learning_order"
    order = load_dataset(str(folder), split="train")
    assert order.features["suggested_relation"].names == order.features["relation"].names
    probability = np.asarray(order["suggested_probability"], dtype=np.float64)
    assert ((probability > 0) & (probability <= 1)).all()
    issues = np.asarray(order["label_issue"], dtype=bool)
    no_relation = order.features["relation"].names.index("no_relation")
    assert not issues[np.asarray(order["relation"]) == no_relation].any()  # sampled pairs: nobody labelled them
    card = (folder / "README.md").read_text()
    assert "## Label issues" in card and "label_issue_share:" in card
    page = tmp_path / "issues.html"
    main(["label-issues", str(folder), "--top", "3", "--output", str(page), "--clean", "drop", "--output_dir",
          str(tmp_path / "cleaned")])  # fmt: skip
    out = capsys.readouterr().out
    assert f"{int(issues.sum())} of {len(order)} labels are flagged" in out and page.is_file()
    cleaned = load_dataset(str(tmp_path / "cleaned"), split="train")
    assert len(cleaned) == len(order) - int(issues.sum())


@pytest.mark.slow
def test_two_processes_export_the_one_process_dataset_and_compute_the_evidence_once(
    tmp_path, documents_dataset, tiny_backbone
):
    """`accelerate launch` with two CPU processes (gloo): the same exported instances and evidence columns as one
    process, and the evidence (its encoding pass and each score) computed by the main process alone."""
    one, two = tmp_path / "one", tmp_path / "two"
    arguments = [*stage1_arguments(documents_dataset, tiny_backbone, one), "--save_strategy", "no"]
    single = subprocess.run([sys.executable, str(REPOSITORY / "trainers/learning_order.py"), *arguments],
                            capture_output=True, text=True, cwd=REPOSITORY, env=subprocess_env(), timeout=600)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
        "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        str(REPOSITORY / "trainers/learning_order.py"),
        *stage1_arguments(documents_dataset, tiny_backbone, two), "--save_strategy", "no",
        # half the per-device batch: the same 8 instances make each optimizer step
        "--per_device_train_batch_size", "4",
    ]  # fmt: skip
    double = subprocess.run(launch, capture_output=True, text=True, cwd=REPOSITORY, env=subprocess_env(), timeout=900)
    assert double.returncode == 0, double.stderr[-3000:]

    first, second = (read_config(run / "learning_order", "instances") for run in (one, two))
    assert first["uid"] == second["uid"] and first["relation"] == second["relation"]
    # The evidence that needs no classifier is the one-process run's. The training itself is not bit for bit (each
    # process draws its own dropout), so the training dynamics and `combined`, which reads `variability`, may differ.
    for name in ("type_agreement", "neighbour_agreement", "out_of_sample"):
        np.testing.assert_allclose(second[name], first[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert np.isfinite(second["combined"]).all() and len(second["learned_epoch"]) == len(first["learned_epoch"])
    # computed once: one encoding pass and one log line per score, from the main process
    for output in (single.stderr, double.stderr):
        assert output.count("cleanliness score 'neighbour_agreement': computing") == 1
    # progress bars show on every process: a second search would show a second bar
    assert single.stderr.count("Searching neighbours: 100%") >= 1
    assert double.stderr.count("Searching neighbours: 100%") == single.stderr.count("Searching neighbours: 100%")
    assert double.stderr.count("evidence features: encoding") == single.stderr.count("evidence features: encoding") == 1


@pytest.mark.slow
def test_a_resumed_run_reuses_the_features_file_and_a_changed_input_does_not(tmp_path, documents_dataset, tiny_backbone):
    output_dir = tmp_path / "run"
    arguments = [*stage1_arguments(documents_dataset, tiny_backbone, output_dir), "--save_strategy", "no"]

    def run(*extra: str) -> subprocess.CompletedProcess:
        completed = subprocess.run([sys.executable, str(REPOSITORY / "trainers/learning_order.py"), *arguments, *extra],
                                   capture_output=True, text=True, cwd=REPOSITORY, env=subprocess_env(), timeout=600)  # fmt: skip
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed

    first = run()
    assert "evidence features: encoding" in first.stderr and "evidence features reused" not in first.stderr
    features = np.load(output_dir / "evidence_features.npy")
    assert features.shape[0] == len(read_config(output_dir / "learning_order", "instances")["uid"])
    scores = read_config(output_dir / "learning_order", "instances")
    again = run("--overwrite_output_dir")  # the folder holds the first run: written over, features kept by key
    assert "evidence features reused" in again.stderr and "evidence features: encoding" not in again.stderr
    for name in EVIDENCE:
        np.testing.assert_array_equal(read_config(output_dir / "learning_order", "instances")[name], scores[name])
    # Another max_length encodes again: a features file is only read for the inputs it was computed from.
    changed = run("--overwrite_output_dir", "--max_length", "48")
    assert "evidence features reused" not in changed.stderr and "evidence features: encoding" in changed.stderr
    # A features file cut short (a disk that filled up) is a cache gone bad: encoded again, with a warning.
    path = output_dir / "evidence_features.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    damaged = run("--overwrite_output_dir", "--max_length", "48")
    assert "the features file of an earlier run cannot be read" in damaged.stderr
    assert "evidence features: encoding" in damaged.stderr
    assert np.load(path).shape[0] == len(read_config(output_dir / "learning_order", "instances")["uid"])


def test_stage1_without_faiss_names_the_extra_and_writes_nothing(tmp_path, documents_dataset, tiny_backbone):
    blocker = tmp_path / "no-faiss"
    blocker.mkdir()
    (blocker / "faiss.py").write_text("raise ImportError('faiss is not installed (simulated)')\n")
    output_dir = tmp_path / "run"
    environment = subprocess_env()
    environment["PYTHONPATH"] = f"{blocker}:{environment['PYTHONPATH']}"
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "trainers/learning_order.py"),
         *stage1_arguments(documents_dataset, tiny_backbone, output_dir)],
        capture_output=True, text=True, cwd=REPOSITORY, env=environment, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert 'pip install "finecl-hf[evidence]"' in completed.stderr and "Traceback" not in completed.stderr
    assert not (output_dir / "learning_order").exists() and not list(output_dir.glob("checkpoint-*"))
