"""Fixtures of the reliability suite: a tiny RoBERTa backbone and tiny corpora for each stage, built once per session.

Corpora are made by the data layer's own converters (SemEval text -> sentence dataset, DocRED JSON -> documents +
relation instances) so the stage CLIs see exactly what users give them; the stage-2 input is the synthetic
learning-order dataset of `finecl_hf.pretraining.synthetic` (the format stage 1 exports).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reliability_runs import (
    DOCRED_RELATIONS,
    docred_documents,
    run_stage,
    semeval_text,
    stage1_arguments,
    stage2_arguments,
    stage3_arguments,
)

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.docred import convert_docred
from finecl_hf.data.semeval import convert_semeval
from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset


@pytest.fixture(scope="session", autouse=True)
def isolated_datasets_cache(tmp_path_factory):
    """A `datasets` cache of this session only (this process and the child processes).

    `datasets` 5.2 keys the cache of a local folder with a README `configs:` block by the folder's *name* and card,
    not by its files (see `test_cross_stage.py`): folders of earlier sessions would otherwise be served instead of
    the fixtures built here.
    """
    import datasets

    cache = tmp_path_factory.mktemp("hf-datasets-cache")
    saved_config, saved_environment = datasets.config.HF_DATASETS_CACHE, os.environ.get("HF_DATASETS_CACHE")
    datasets.config.HF_DATASETS_CACHE = cache
    os.environ["HF_DATASETS_CACHE"] = str(cache)
    yield cache
    datasets.config.HF_DATASETS_CACHE = saved_config
    if saved_environment is None:
        os.environ.pop("HF_DATASETS_CACHE", None)
    else:
        os.environ["HF_DATASETS_CACHE"] = saved_environment


@pytest.fixture(scope="session")
def sentence_dataset(tmp_path_factory) -> Path:
    """A converted SemEval-format dataset folder (train split only: fine-tuning holds dev out of it)."""
    root = tmp_path_factory.mktemp("semeval")
    source = root / "TRAIN_FILE.TXT"
    source.write_text(semeval_text(48))
    convert_semeval([SplitSource("train", source)], root / "dataset")
    return root / "dataset"


@pytest.fixture(scope="session")
def documents_dataset(tmp_path_factory) -> Path:
    """A converted DocRED-format folder: documents (default config) + `relation_instances` (stage 1's input)."""
    root = tmp_path_factory.mktemp("docred")
    (root / "train.json").write_text(json.dumps(docred_documents(12)))
    (root / "rel_info.json").write_text(json.dumps(DOCRED_RELATIONS))
    convert_docred([SplitSource("train", root / "train.json")], root / "dataset", rel_info_file=root / "rel_info.json")
    return root / "dataset"


@pytest.fixture(scope="session")
def learning_order_dataset(tmp_path_factory) -> Path:
    """A synthetic learning-order dataset (stage 2's input) with `instances` and `documents` configs."""
    return write_synthetic_learning_order_dataset(
        tmp_path_factory.mktemp("learning-order") / "synthetic-learning-order", 24, seed=3
    )


# Each stage runs once, uninterrupted, through its CLI (in this process, one thread like the child processes of the
# kill tests): the reference that killed-and-resumed runs, repeated runs and the safe-loading checks compare against.
@pytest.fixture(scope="session")
def stage1_reference(tmp_path_factory, documents_dataset, tiny_backbone) -> Path:
    output_dir = tmp_path_factory.mktemp("stage1-reference")
    run_stage("trainers/learning_order.py", stage1_arguments(documents_dataset, tiny_backbone, output_dir))
    return output_dir


@pytest.fixture(scope="session")
def stage2_reference(tmp_path_factory, learning_order_dataset, tiny_backbone) -> Path:
    output_dir = tmp_path_factory.mktemp("stage2-reference")
    cache = tmp_path_factory.mktemp("stage2-cache")
    run_stage("trainers/pretrain.py", stage2_arguments(learning_order_dataset, tiny_backbone, output_dir, cache))
    return output_dir


@pytest.fixture(scope="session")
def stage3_reference(tmp_path_factory, sentence_dataset, tiny_backbone) -> Path:
    output_dir = tmp_path_factory.mktemp("stage3-reference")
    run_stage("trainers/finetune.py", stage3_arguments(sentence_dataset, tiny_backbone, output_dir))
    return output_dir
