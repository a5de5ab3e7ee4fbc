"""Relation extraction metrics shipped as local `evaluate` modules, plus the same scoring as plain functions.

Each metric lives in exactly one file, `finecl_hf/metrics/<name>/<name>.py`: a self-contained `evaluate` module
(evaluate copies the file into its cache, so it cannot import `finecl_hf`). This package imports those very files
with `importlib` and re-exports their plain functions, so library code can score without `evaluate.load` and both
paths run the same code:

>>> from finecl_hf.metrics import compute_semeval_f1, load_metric
>>> compute_semeval_f1(["Other"], ["Other"])["accuracy"]
1.0
>>> load_metric("semeval_f1").compute(predictions=["Other"], references=["Other"])["accuracy"]  # doctest: +SKIP
1.0
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import evaluate

from finecl_hf.paths import data_dir

METRICS_DIR = Path(__file__).resolve().parent
# Every folder `<name>/` holding `<name>.py` is a shipped metric: adding a metric is adding its folder (a benchmark
# task names it as its `metric_module` in `finecl_hf.finetuning.tasks`).
METRIC_NAMES = tuple(
    sorted(folder.name for folder in METRICS_DIR.iterdir() if (folder / f"{folder.name}.py").is_file())
)
DOCRED_TRAIN_FACTS = Path("docred") / "train_annotated.fact.json.gz"


def metric_path(name: str) -> Path:
    """The folder of a shipped metric (holding `<name>.py` and its README.md), inside the installed package."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; finecl-hf ships {', '.join(METRIC_NAMES)}")
    return METRICS_DIR / name


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """`evaluate.load` of a shipped metric from its local folder: works offline (`HF_HUB_OFFLINE=1`).

    Args:
        name: one of `METRIC_NAMES`.
        kwargs: passed to `evaluate.load` (e.g. `keep_in_memory=True`, `cache_dir`, `experiment_id`).
    """
    return evaluate.load(str(metric_path(name)), **kwargs)


def _import_metric_file(name: str) -> ModuleType:
    """Import `<name>/<name>.py` as `finecl_hf.metrics._<name>` (the folders are not packages: evaluate's layout)."""
    module_name = f"{__name__}._{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, metric_path(name) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def docred_train_facts_path() -> Path:
    """DocRED train_annotated facts for Ign F1 in the corpus folder (`finecl_hf.paths.data_dir()`)."""
    return data_dir() / DOCRED_TRAIN_FACTS


_semeval = _import_metric_file("semeval_f1")
_tacred = _import_metric_file("tacred_f1")
_docred = _import_metric_file("docred_f1")

compute_semeval_f1 = _semeval.compute_semeval_f1
SEMEVAL_LABELS = _semeval.LABELS
SEMEVAL_RELATION_TYPES = _semeval.RELATION_TYPES
compute_tacred_f1 = _tacred.compute_tacred_f1
compute_docred_f1 = _docred.compute_docred_f1
docred_reference = _docred.docred_reference
load_train_facts = _docred.load_train_facts
tune_threshold = _docred.tune_threshold

__all__ = [
    "DOCRED_TRAIN_FACTS",
    "METRIC_NAMES",
    "SEMEVAL_LABELS",
    "SEMEVAL_RELATION_TYPES",
    "compute_docred_f1",
    "compute_semeval_f1",
    "compute_tacred_f1",
    "docred_reference",
    "docred_train_facts_path",
    "load_metric",
    "load_train_facts",
    "metric_path",
    "tune_threshold",
]
