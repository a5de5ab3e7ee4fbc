"""Bad `--order_by` input to stage 2 (`trainers/pretrain.py`): a score the learning-order dataset lacks (an older
folder without the score columns), NaN/inf in a score column, a score column of the wrong type. Each answers with one
paragraph naming the folder, the column and what was expected, raised by finecl-hf's own check, and nothing is
written. (Kept apart from the bad-input table of `test_bad_inputs.py`, same contract.)"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_helpers import run_cli
from reliability_runs import stage2_arguments


@dataclass(frozen=True)
class BadScores:
    fault: str
    order_by: str
    columns: dict  # column name -> (arrow type, values or None for a default per row)
    names: tuple[str, ...]  # what the error paragraph must contain besides the folder
    exit_status: int = 1  # 2: the folder is not what the arguments read (a usage error)
    weighting: tuple[str, ...] = ()  # extra stage-2 arguments (a corpus weighting scheme)


def _finite(rows: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, rows).astype(np.float32)


CASES = [
    BadScores("older folder: no score columns", "aum", {}, ("'aum'", "lacks", "re-run stage 1", "--order_by learned_epoch"),
              exit_status=2),
    BadScores("a corpus weighting on a score the folder lacks", "combined", {}, ("'combined'", "lacks"), exit_status=2,
              weighting=("--weighting", "posterior")),
    BadScores("a constant score under posterior", "aum", {"aum": ("constant", None)},
              ("--weighting posterior --order_by aum", "constant"), exit_status=2, weighting=("--weighting", "posterior")),
    BadScores("a constant score under truncate", "aum", {"aum": ("constant", None)},
              ("--weighting truncate --order_by aum", "constant"), exit_status=2, weighting=("--weighting", "truncate")),
    BadScores("NaN in the score column", "aum", {"aum": ("nan", 3)},
              ("record 4 (index 3)", "'aum'", "nan", "(1 of 214 values are NaN or infinite)", "finite", "float32")),
    BadScores("inf in the score column", "confidence", {"confidence": ("inf", 0)}, ("record 1 (index 0)", "'confidence'", "inf", "finite")),
    BadScores("score column of strings", "aum", {"aum": ("string", None)}, ("'aum'", "string", "numeric column (float32")),
    BadScores(
        "a column the score also needs is missing", "forgetting_events", {"forgetting_events": ("int16", None)},
        ("['correct_fraction']", "lacks"), exit_status=2,
    ),
    BadScores("score column of lists", "variability", {"variability": ("list", None)}, ("'variability'", "numeric column")),
]


def _with_columns(source: Path, target: Path, columns: dict) -> Path:
    shutil.copytree(source, target)
    path = target / "instances" / "train.parquet"
    table = pq.read_table(path)
    rows = table.num_rows
    for name, (kind, row) in columns.items():
        if kind == "string":
            array = pa.array([f"{value:.3f}" for value in _finite(rows)])
        elif kind == "list":
            array = pa.array([[float(value)] for value in _finite(rows)])
        elif kind == "constant":
            array = pa.array(np.full(rows, 0.5, np.float32))
        elif kind == "int16":
            array = pa.array(np.zeros(rows, np.int16))
        else:
            values = _finite(rows)
            values[row] = np.nan if kind == "nan" else np.inf
            array = pa.array(values, pa.float32())
        table = table.append_column(name, array)
    pq.write_table(table, path)
    return target


@pytest.mark.parametrize("case", CASES, ids=[case.fault for case in CASES])
def test_bad_order_by_input_is_one_clear_paragraph_and_writes_nothing(
    case, tmp_path, learning_order_dataset, tiny_backbone, monkeypatch
):
    # With tracebacks on, the front door lets the error through, so the test sees where it was raised: our own check.
    monkeypatch.setenv("FINECL_DEBUG", "1")
    folder = _with_columns(learning_order_dataset, tmp_path / "learning-order", case.columns)
    output_dir = tmp_path / "output"
    arguments = stage2_arguments(folder, tiny_backbone, output_dir, tmp_path / "cache")
    outcome = run_cli("trainers/pretrain.py", [*arguments, "--order_by", case.order_by, *case.weighting])
    # Under FINECL_DEBUG the error arrives as the exception; its class sets the exit status (UsageError: 2).
    assert outcome.returncode == 1 and outcome.message.startswith("UsageError" if case.exit_status == 2 else "DataError"), (
        outcome.describe()
    )
    for name in (str(folder), *case.names):
        assert name in outcome.message, f"{name!r} missing from: {outcome.message}"
    assert outcome.raised_in == "finecl_hf/pretraining/ordering.py", outcome.describe()
    assert "\n\n" not in outcome.message.strip()
    assert not output_dir.exists(), "nothing may be written"


def test_a_valid_score_column_passes_the_checks(tmp_path, learning_order_dataset, tiny_backbone):
    from transformers import AutoTokenizer

    from finecl_hf.pretraining.data import prepare_pretraining_data

    folder = _with_columns(learning_order_dataset, tmp_path / "learning-order", {"aum": ("nan", 0)})
    table = pq.read_table(folder / "instances" / "train.parquet")
    fixed = table.set_column(table.column_names.index("aum"), "aum", pa.array(_finite(table.num_rows), pa.float32()))
    pq.write_table(fixed, folder / "instances" / "train.parquet")
    data = prepare_pretraining_data(str(folder), AutoTokenizer.from_pretrained(tiny_backbone), order_by="aum")
    assert data.order_by == "aum" and (data.index.learned_epoch >= -1).all()


def test_finecl_analyse_counts_and_leaves_out_nan_scores(tmp_path, learning_order_dataset):
    """`finecl analyse` says how many values of a score are NaN and what it did with them (left out of that score's
    ROC-AUC and precisions), instead of ranking the NaNs silently."""
    from finecl_hf.learning_order.analysis import mann_whitney_auc

    folder = _with_columns(learning_order_dataset, tmp_path / "learning-order", {"aum": ("nan", 3)})
    path = folder / "instances" / "train.parquet"
    table = pq.read_table(path)
    label_ok = np.arange(table.num_rows) % 3 != 0
    pq.write_table(table.append_column("label_ok", pa.array(label_ok)), path)
    outcome = run_cli("finecl analyse", [str(folder), "--correct_column", "label_ok", "--scores", "aum"])
    assert outcome.returncode == 0, outcome.describe()
    assert f"aum: 1 of {table.num_rows} values are NaN or missing, left out of its ROC-AUC" in outcome.stdout
    scores = table.column("aum").to_numpy(zero_copy_only=False)
    kept = ~np.isnan(scores)
    expected = mann_whitney_auc(scores[kept], label_ok[kept])
    assert f"| aum | {expected:.4f} | [" in outcome.stdout
    assert "95% CI (resampling documents)" in outcome.stdout  # instance uids name their documents
