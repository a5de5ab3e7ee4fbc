"""Writing Hub-ready dataset folders: Parquet per (config, split) plus a README.md dataset card.

Layout of a converted folder::

    README.md                                   # card: configs/dataset_info YAML, counts, provenance, skips
    data/train-<sha256 prefix>.parquet           # default config, one file per split, named after its content
    relation_instances/train-<sha256 prefix>.parquet   # further configs get their own folder

Rows are streamed to Parquet in batches, so memory does not grow with the corpus. The folder is assembled in a
staging directory beside `output_dir` and moved into place only when everything (card included) was written:
a failed conversion leaves no half-written dataset behind.

This module also holds `parse_sources`, which turns `--source` values into splits for `finecl convert` (the command
line itself is `finecl_hf/commands/convert.py`, the corpora `finecl_hf/corpora.py`).
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features
from transformers.utils import logging

from ..cards import ConfigCardSection, DatasetCardSpec, render_dataset_card
from ..errors import UsageError
from ..paths import data_dir
from .invalid_records import InvalidRecordError, SkippedRecords
from .loading import fingerprint_parquet_file
from .readers import file_sha256

logger = logging.get_logger(__name__)

CONVERTER_VERSION = "1.0.0"
DEFAULT_CONFIG = "default"
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
# File-name stems that name a standard split (checked as substrings, first match wins).
_SPLIT_HINTS = (("train", "train"), ("dev", "validation"), ("valid", "validation"), ("test", "test"))


@dataclass(frozen=True)
class SplitSource:
    """A source file and the split it becomes."""

    split: str
    path: Path


def infer_split_name(path: str | Path) -> str:
    """Split name from a file name: ``*train*`` -> train, ``*dev*``/``*valid*`` -> validation, ``*test*`` -> test.

    Any other file is named after its stem with non-word characters replaced by ``_`` (e.g. ``wiki_v2``).
    """
    stem = Path(path).name.split(".")[0].lower()
    for hint, split in _SPLIT_HINTS:
        if hint in stem:
            return split
    return re.sub(r"\W+", "_", stem).strip("_") or "train"


def parse_sources(values: Sequence[str], known_files: dict[str, str] | None = None) -> list[SplitSource]:
    """Turn `--source` values into `SplitSource`s.

    Each value is ``SPLIT=PATH``, a file (split from `infer_split_name`) or a folder; a folder contributes, for each
    split named in `known_files` (file name -> split, in order of preference), the first of its files present.
    Raises `ValueError` on a missing file, an invalid split name or two sources for one split.
    """
    sources: list[SplitSource] = []
    for value in values:
        split, separator, path_text = value.partition("=")
        if not separator:
            split, path_text = "", value
        path = Path(path_text).expanduser()
        if path.is_dir() and not split:
            found: list[SplitSource] = []
            for file, name in (known_files or {}).items():  # the first file present for a split wins
                if (path / file).is_file() and all(source.split != name for source in found):
                    found.append(SplitSource(name, path / file))
            if not found:
                expected = ", ".join(known_files or {}) or "a file path"
                raise UsageError(f"--source {value}: the folder has none of the expected files ({expected}).")
            sources.extend(found)
            continue
        if not path.is_file():
            raise UsageError(f"--source {value}: {path} is not a file.")
        sources.append(SplitSource(split or infer_split_name(path), path))
    for source in sources:
        if _holds_no_text(source.path):
            raise InvalidRecordError(source.path, "<file>", "<file>", "the file is empty (an interrupted download?): "
                                     f"the {source.split!r} split would have no records")
        if not _SPLIT_NAME.match(source.split):
            raise UsageError(f"Split name {source.split!r} (from {source.path}) must match {_SPLIT_NAME.pattern}.")
    repeated = sorted(split for split, count in Counter(source.split for source in sources).items() if count > 1)
    if repeated:
        raise UsageError(f"Several sources map to the split(s) {repeated}; name them explicitly with SPLIT=PATH.")
    return sources


def _holds_no_text(path: Path) -> bool:
    """An empty file, or one holding only whitespace (read through gzip for `.gz`: an empty archive is 20 bytes)."""
    if path.stat().st_size == 0:
        return True
    if path.suffix == ".gz":
        import gzip

        try:
            with gzip.open(path, "rb") as handle:
                return not handle.read(1 << 16).strip()
        except (OSError, EOFError):  # a damaged archive is the reader's to report, with its record
            return False
    with open(path, "rb") as handle:
        return not handle.read(1 << 16).strip() and path.stat().st_size <= 1 << 16


def display_path(path: str | Path) -> str:
    """How a source file is named in a card: relative to `$FINECL_DATA_DIR` when inside it, else its file name."""
    path = Path(path).resolve()
    try:
        return path.relative_to(data_dir().resolve()).as_posix()
    except ValueError:
        return path.name


def source_provenance(sources: Iterable[SplitSource]) -> list[dict[str, str]]:
    """``[{split, path, sha256}]`` for the card."""
    return [{"split": s.split, "path": display_path(s.path), "sha256": file_sha256(s.path)} for s in sources]


def split_file_path(config: str, split: str) -> str:
    """Relative path a split's Parquet file is written to: ``data/`` for the default config, ``<config>/`` for
    others. Once complete it is renamed after its content (`fingerprint_parquet_file`); `find_split_file` finds it."""
    folder = "data" if config == DEFAULT_CONFIG else config
    return f"{folder}/{split}.parquet"


def find_split_file(dataset_dir: str | Path, config: str, split: str) -> Path:
    """The Parquet file of `split` of `config` in a converted folder."""
    pattern = split_file_path(config, split).replace(".parquet", "-*.parquet")
    matches = sorted(Path(dataset_dir).glob(pattern))
    if len(matches) != 1:
        raise UsageError(f"{dataset_dir}: expected one file matching {pattern}, found {len(matches)}.")
    return matches[0]


class ParquetRowWriter:
    """Streams rows (dicts matching `features`) into one Parquet file, one row group of `batch_size` rows at a time.

    The Arrow schema carries the `Features` (with `ClassLabel` names) in its ``huggingface`` metadata, like files
    written by `datasets` itself. `count_labels` maps a row to the label ids it contributes to the card's counts.
    """

    def __init__(
        self,
        path: Path,
        features: Features,
        count_labels: Callable[[dict], Iterable[int]],
        batch_size: int = 10_000,
    ):
        self.path = path
        self.features = features
        self.count_labels = count_labels
        self.batch_size = batch_size
        self.schema = features.arrow_schema
        self.num_rows = 0
        self.num_bytes = 0
        self.label_counts: Counter = Counter()
        self._pending: list[dict] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, self.schema)

    def write(self, row: dict) -> None:
        """Queue `row` for writing. `num_rows` counts it at once: before the call, `num_rows` is the row's index."""
        self._pending.append(row)
        self.num_rows += 1
        self.label_counts.update(self.count_labels(row))
        if len(self._pending) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pylist(self._pending, schema=self.schema)
        self._writer.write_table(table)
        self.num_bytes += table.nbytes
        self._pending = []

    def close(self) -> None:
        """Write the pending rows, close the file and rename it after its content."""
        self._flush()
        self._writer.close()
        self.path = fingerprint_parquet_file(self.path)

    def abort(self) -> None:
        """Close the file without writing the rows still pending (the conversion failed)."""
        self.num_rows -= len(self._pending)
        self._pending = []
        self._writer.close()


@dataclass
class ConfigOutput:
    """What was written for one config, for the card and the conversion report."""

    name: str
    description: str
    features: Features
    label_names: Sequence[str]
    label_unit: str
    rows_per_group: int
    writers: dict[str, ParquetRowWriter] = field(default_factory=dict)

    def card_section(self) -> ConfigCardSection:
        return ConfigCardSection(
            name=self.name,
            description=self.description,
            features=self.features,
            data_files={split: f"{writer.path.parent.name}/{writer.path.name}" for split, writer in self.writers.items()},
            num_rows={split: writer.num_rows for split, writer in self.writers.items()},
            num_bytes={split: writer.num_bytes for split, writer in self.writers.items()},
            label_counts={split: writer.label_counts for split, writer in self.writers.items()},
            label_names=self.label_names,
            label_unit=self.label_unit,
        )


@dataclass
class ConversionReport:
    """Result of a conversion: where it went, rows per config/split, skipped records and corpus statistics."""

    output_dir: Path
    num_rows: dict[str, dict[str, int]]
    skipped: SkippedRecords
    statistics: dict[str, Any] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"wrote {self.output_dir}"]
        for config, splits in self.num_rows.items():
            lines.append(f"  {config}: " + ", ".join(f"{split} {rows} rows" for split, rows in splits.items()))
        for name, value in self.statistics.items():
            lines.append(f"  {name}: {value}")
        lines.append(f"  skipped invalid records: {self.skipped.total}")
        return "\n".join(lines)


def refuse_earlier_output(output_dir: Path, overwrite: bool) -> None:
    """`UsageError` for an `output_dir` that is a file, or a non-empty folder without `overwrite`."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{output_dir} exists and is not a folder.")
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise UsageError(f"{output_dir} exists and is not empty; pass --overwrite to replace it.")


def staging_folder(output_dir: Path) -> Path:
    """Where a folder is built before it replaces `output_dir` (beside it, so the final move is a rename)."""
    return output_dir.parent / f".{output_dir.name}.partial"


def move_into_place(staging: Path, output_dir: Path) -> None:
    """Replace `output_dir` (if any) with the finished `staging` folder."""
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(output_dir)


class DatasetFolderWriter:
    """Builds a dataset folder in a staging directory and moves it to `output_dir` on `finish`.

    Use as a context manager; on an exception the staging directory is removed and `output_dir` is left untouched.
    Refuses to replace a non-empty `output_dir` unless `overwrite=True`.
    """

    def __init__(self, output_dir: str | Path, overwrite: bool = False):
        self.output_dir = Path(output_dir)
        refuse_earlier_output(self.output_dir, overwrite)
        self.staging = staging_folder(self.output_dir)
        self.configs: dict[str, ConfigOutput] = {}

    def __enter__(self) -> DatasetFolderWriter:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            for config in self.configs.values():
                for writer in config.writers.values():
                    writer.abort()
        shutil.rmtree(self.staging, ignore_errors=True)

    def add_config(
        self,
        name: str,
        description: str,
        features: Features,
        label_names: Sequence[str],
        label_unit: str,
        rows_per_group: int = 10_000,
    ) -> None:
        """Declare a config; the first one declared is the default (what `load_dataset(folder)` loads).

        `rows_per_group` sets the Parquet row-group size (the rows buffered in memory): smaller for big rows such as
        documents, so memory stays flat; larger for small rows, so the file footer stays small.
        """
        self.configs[name] = ConfigOutput(name, description, features, label_names, label_unit, rows_per_group)

    def split_writer(self, config: str, split: str, count_labels: Callable[[dict], Iterable[int]]) -> ParquetRowWriter:
        """A writer for `split` of `config` (declared with `add_config`)."""
        output = self.configs[config]
        path = self.staging / split_file_path(config, split)
        writer = ParquetRowWriter(path, output.features, count_labels, batch_size=output.rows_per_group)
        output.writers[split] = writer
        return writer

    def finish(self, card: Callable[[list[ConfigCardSection]], DatasetCardSpec]) -> dict[str, dict[str, int]]:
        """Close all files, write the card built by `card(sections)` and move the folder into place."""
        sections = []
        for output in self.configs.values():
            for writer in output.writers.values():
                writer.close()
            sections.append(output.card_section())
        render_dataset_card(card(sections)).save(self.staging / "README.md")
        move_into_place(self.staging, self.output_dir)
        return {section.name: dict(section.num_rows) for section in sections}


@dataclass
class CorpusInfo:
    """What a card says about the source corpus.

    Args:
        name: Short corpus id (``semeval2010_task8``, ``wiki80``, ``docred``...).
        pretty_name: Human-readable name.
        summary: Markdown paragraph on the corpus and the conversion.
        license: Hub licence id of the data.
        homepage: URL of the corpus.
        citation: BibTeX.
        no_relation_label: The explicit no-relation label, or None when the corpus has none (Wiki80).
        relation_descriptions: Label name -> readable description (DocRED P-id -> name).
    """

    name: str
    pretty_name: str
    summary: str
    license: str
    homepage: str | None = None
    citation: str | None = None
    no_relation_label: str | None = None
    relation_descriptions: dict[str, str] | None = None


def card_builder(
    corpus: CorpusInfo,
    converter: str,
    sources: Sequence[SplitSource],
    skipped: SkippedRecords,
    statistics: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> Callable[[list[ConfigCardSection]], DatasetCardSpec]:
    """A `DatasetFolderWriter.finish` callback building the card of `corpus` from the written config sections.

    `inputs` names further input files (fact file, label file) as name -> ``path (sha256 ...)``.
    """

    def build(sections: list[ConfigCardSection]) -> DatasetCardSpec:
        metadata = {
            "corpus": corpus.name,
            "no_relation_label": corpus.no_relation_label,
            "converter": {
                "name": converter,
                "version": CONVERTER_VERSION,
                "finecl_hf_version": importlib.metadata.version("finecl-hf"),
            },
            "sources": source_provenance(sources),
            "inputs": dict(inputs or {}),
            "skipped": skipped.to_dict(),
            "statistics": dict(statistics or {}),
        }
        if corpus.relation_descriptions:
            metadata["relation_descriptions"] = dict(corpus.relation_descriptions)
        return DatasetCardSpec(
            pretty_name=corpus.pretty_name,
            summary=corpus.summary,
            configs=sections,
            metadata=metadata,
            license=corpus.license,
            homepage=corpus.homepage,
            citation=corpus.citation,
        )

    return build


def describe_input(path: str | Path) -> str:
    """``<path> (sha256 <hex>)`` for an auxiliary input file named in the card."""
    return f"{display_path(path)} (sha256 {file_sha256(path)})"


def records_or_skip(
    records: Iterable[tuple[int, Any]],
    parse: Callable[[Any, int], dict],
    split: str,
    skipped: SkippedRecords | None,
) -> Iterable[dict]:
    """Parse each `(position, record)`; an `InvalidRecordError` (raised by `parse` or yielded by the reader) is
    re-raised, or counted in `skipped` when skipping is enabled (`skipped` is not None)."""
    for position, record in records:
        try:
            if isinstance(record, InvalidRecordError):
                raise record
            yield parse(record, position)
        except InvalidRecordError as error:
            if skipped is None:
                raise
            skipped.add(split, error)


__all__ = [
    "CONVERTER_VERSION",
    "ConversionReport",
    "CorpusInfo",
    "DatasetFolderWriter",
    "ParquetRowWriter",
    "SplitSource",
    "card_builder",
    "describe_input",
    "display_path",
    "infer_split_name",
    "parse_sources",
    "records_or_skip",
    "source_provenance",
    "find_split_file",
    "move_into_place",
    "refuse_earlier_output",
    "split_file_path",
    "staging_folder",
]
