"""The probe tasks: which corpus, which split gives the shots and which split is the fixed test set.

Adding a task is one `ProbeTask` entry in `PROBE_TASKS`. A task converts its corpus from `$FINECL_DATA_DIR` with the
project's converter into a temporary folder and loads it (the rows live on in the `datasets` cache), unless the caller gives
an already converted dataset folder.

- `wiki80`: shots from Wiki80 `train_0.1` (49 sentences per relation), test = all 5,600 dev sentences; the 80
  relations are Wikidata properties, the inventory of the DocRED-format pre-training corpus (the aligned task).
- `wiki80_tuning`: shots from Wiki80 `train_0.1`, test = the 400 sentences of `train_0.01` (5 per relation; 29 of them
  also in `train_0.1`): a small held-out split for choosing budgets, so that the reported `wiki80` test set (dev)
  is never used to tune anything.
- `semeval`: shots from SemEval-2010 Task 8 train (8,000 sentences), test = the official 2,717 test sentences; 19
  directed labels, `Other` included (the unaligned task).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets import DatasetDict

from ..data.conversion import SplitSource
from ..data.opennre import convert_opennre
from ..data.semeval import SEMEVAL_FILES, convert_semeval
from ..errors import UsageError
from ..data.loading import load_relation_dataset
from ..paths import data_dir


@dataclass(frozen=True)
class ProbeTask:
    """A probe task: how to convert its corpus and which splits give the shots and the test set."""

    name: str
    description: str
    shot_split: str
    test_split: str
    convert: Callable[[Path, Path], object]

    def load(self, dataset_path: str | None = None) -> DatasetDict:
        """The converted corpus: `dataset_path` when given, else converted now from `$FINECL_DATA_DIR`."""
        if dataset_path is not None:
            return load_relation_dataset(dataset_path)
        with tempfile.TemporaryDirectory(prefix=f"finecl-probe-{self.name}-") as scratch:
            folder = Path(scratch) / self.name
            self.convert(data_dir(), folder)
            # `load_dataset` copies the rows into the `datasets` cache: they outlive the temporary Parquet folder.
            return load_relation_dataset(str(folder))


def _convert_wiki80(corpus: Path, output: Path) -> object:
    folder = corpus / "wiki80"
    sources = [SplitSource("train", folder / "train_0.1.txt.gz"), SplitSource("validation", folder / "dev.txt.gz")]
    return convert_opennre(sources, output, relations_file=folder / "rel2id.json")


def _convert_wiki80_tuning(corpus: Path, output: Path) -> object:
    folder = corpus / "wiki80"
    sources = [SplitSource("train", folder / "train_0.1.txt.gz"), SplitSource("validation", folder / "train_0.01.txt.gz")]
    return convert_opennre(sources, output, relations_file=folder / "rel2id.json")


def _convert_semeval(corpus: Path, output: Path) -> object:
    folder = corpus / "semeval2010_task8"
    return convert_semeval([SplitSource(split, folder / name) for name, split in SEMEVAL_FILES.items()], output)


PROBE_TASKS = {
    "wiki80": ProbeTask(
        "wiki80", "Wiki80 (shots: train_0.1, test: dev, 80 relations)", "train", "validation", _convert_wiki80
    ),
    "wiki80_tuning": ProbeTask(
        "wiki80_tuning",
        "Wiki80 held-out tuning split (shots: train_0.1, test: train_0.01, 80 relations)",
        "train",
        "validation",
        _convert_wiki80_tuning,
    ),
    "semeval": ProbeTask(
        "semeval", "SemEval-2010 Task 8 (shots: train, test: official test, 19 labels)", "train", "test", _convert_semeval
    ),
}


def probe_task(name: str) -> ProbeTask:
    if name not in PROBE_TASKS:
        raise UsageError(f"task={name!r} is not a probe task; choose one of {', '.join(PROBE_TASKS)}.")
    return PROBE_TASKS[name]


__all__ = ["PROBE_TASKS", "ProbeTask", "probe_task"]
