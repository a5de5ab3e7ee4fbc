"""Cross-stage hand-offs: each stage reads exactly the dataset folder it is given.

Found here: with `datasets` 5.2, `load_dataset(folder)` on a folder whose README has a `configs:` block (every
finecl-hf folder: converter outputs and learning-order exports) caches it under the folder's *name* and a hash of
its card, not of its files. A second folder with the same name and card (stage 1 always writes
`<output_dir>/learning_order`; a corpus re-converted after a label fix has the same sizes) is then served the first
folder's rows, silently: stage 2 pre-trains on another run's learning order. Repro without finecl-hf:
`test_datasets_serves_a_same_named_folder_from_cache` (upstream behaviour, kept as a canary). Every stage loader
reads the files it was given (`finecl_hf.data.loading.load_dataset_folder`), and the writers name each Parquet file
after its content, so that plain `load_dataset(folder)` also reads what is on disk.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from reliability_runs import semeval_text
from datasets import Dataset, load_dataset
from reliability_helpers import read_config

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset

def swap_two_labels(text: str) -> str:
    """The same SemEval file with the labels of records 1 and 2 swapped (a label fix: same sizes, new content)."""
    records = text.split("\n\n")
    first, second = records[0].split("\n"), records[1].split("\n")
    first[1], second[1] = second[1], first[1]
    return "\n\n".join(["\n".join(first), "\n".join(second), *records[2:]])


@pytest.fixture
def two_conversions(tmp_path) -> tuple[Path, Path]:
    """Two converted SemEval folders with the same name, sizes and card, differing in two labels."""
    text = semeval_text(12)
    folders = []
    for run, content in (("before-fix", text), ("after-fix", swap_two_labels(text))):
        source = tmp_path / run / "TRAIN_FILE.TXT"
        source.parent.mkdir()
        source.write_text(content)
        convert_semeval([SplitSource("train", source)], tmp_path / run / "semeval-collision")
        folders.append(tmp_path / run / "semeval-collision")
    first, second = (read_config(folder, "data")["relation"] for folder in folders)
    assert first != second
    return folders[0], folders[1]


@pytest.fixture
def two_learning_orders(tmp_path) -> tuple[Path, Path]:
    """Two learning-order datasets named `learning_order` (as stage 1 writes them) with different contents."""
    return tuple(
        write_synthetic_learning_order_dataset(tmp_path / run / "learning_order", num_documents=8, seed=seed)
        for run, seed in (("first-run", 1), ("second-run", 2))
    )


def test_datasets_serves_a_same_named_folder_from_cache(tmp_path):
    card = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.parquet\n---\n"
    loaded = []
    for run, value in (("a", 1), ("b", 2)):
        folder = tmp_path / run / "dataset"
        (folder / "data").mkdir(parents=True)
        Dataset.from_dict({"x": [value] * 3}).to_parquet(str(folder / "data" / "train.parquet"))
        (folder / "README.md").write_text(card)
        loaded.append(load_dataset(str(folder), split="train")["x"][0])
    # Upstream behaviour (datasets 5.2): b is served a's rows. When this fails, datasets fixed it: the loader
    # workaround can go, and so can this canary.
    assert loaded == [1, 1]
    assert pq.read_table(tmp_path / "b" / "dataset" / "data" / "train.parquet").column("x").to_pylist()[0] == 2


def test_pretraining_reads_the_learning_order_it_is_given(two_learning_orders):
    from finecl_hf.data.learning_order import load_learning_order_dataset

    for folder in two_learning_orders:
        instances, documents = load_learning_order_dataset(str(folder))
        assert instances["uid"] == read_config(folder, "instances")["uid"]
        assert instances["learned_epoch"] == read_config(folder, "instances")["learned_epoch"]
        assert documents["uid"] == read_config(folder, "documents")["uid"]


def test_learning_order_reads_the_dataset_it_is_given(two_conversions):
    from finecl_hf.learning_order import LearningOrderArguments
    from finecl_hf.learning_order.run import load_instances

    for folder in two_conversions:
        instances, _ = load_instances(LearningOrderArguments(dataset_path=str(folder)))
        assert instances["relation"] == read_config(folder, "data")["relation"]


def test_fine_tuning_reads_the_dataset_it_is_given(two_conversions):
    from finecl_hf.data.loading import load_relation_dataset

    for folder in two_conversions:
        assert load_relation_dataset(str(folder))["train"]["relation"] == read_config(folder, "data")["relation"]


def test_plain_load_dataset_reads_a_re_converted_corpus(two_conversions):
    """What a user types: the converters name each Parquet file after its content, so the card changes with it."""
    for folder in two_conversions:
        assert load_dataset(str(folder), split="train")["relation"] == read_config(folder, "data")["relation"]


def test_plain_load_dataset_reads_a_re_exported_learning_order(tmp_path):
    """Stage 1 re-run into the same folder (the demo's default output) with another order: the new rows are read."""
    import numpy as np

    from finecl_hf.data.learning_order import LearningOrderRunInfo, export_learning_order

    instances = Dataset.from_dict({"uid": [f"u{i}" for i in range(6)], "relation": [0, 1, 1, 0, 1, 1]})
    folder = tmp_path / "learning_order"
    info = LearningOrderRunInfo(model_name_or_path="m", num_epochs=2, mode="batch", seed=1,
                                percent_learned_per_epoch=[50.0, 50.0])
    for learned in ([0, -1, 1, 1, 0, -1], [1, 1, 0, -1, -1, 0]):
        export_learning_order(instances, np.array(learned), np.zeros(6, dtype=bool), folder, info)
        assert load_dataset(str(folder), split="train")["learned_epoch"] == learned
    assert len(list((folder / "instances").glob("*.parquet"))) == 1, "the previous order's file was left behind"
