"""Loading finecl-hf dataset folders (converter outputs, learning-order exports) exactly as they are on disk.

`datasets.load_dataset(folder)` (datasets 5.2) caches a local folder whose README has a `configs:` block under the
folder's name and a hash of its card, not of its files: a second folder with the same name and card (stage 1 always
writes `<output_dir>/learning_order`; a corpus re-converted after a label fix has the same sizes) is served the
first folder's cached rows. Two defences:

- the writers name every Parquet file after its content (`fingerprint_parquet_file`), so a folder written again with
  different rows has different `data_files` in its card, and plain `load_dataset(folder)` reads the new rows;
- `load_dataset_folder` reads the card's `configs:` itself and gives `load_dataset` the absolute paths of the data
  files, whose cache key includes each file's path and modification time.

This module is also the one place where a dataset folder a user hands over is opened (`load_dataset_folder`,
`load_saved_dataset`, `dataset_config_names`, or any read inside `reading_dataset`): a folder that pyarrow or
datasets cannot read (a Parquet or Arrow file cut short, a `state.json` gone, a card that is not YAML) becomes a
`DataError` naming the damaged file, what is wrong with it and how to write the folder again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import DatasetDict, Features, get_dataset_config_names, load_dataset, load_from_disk
from datasets.exceptions import DatasetsError
from huggingface_hub import DatasetCard

from ..errors import DataError, UsageError
from .readers import file_sha256

FINGERPRINT_LENGTH = 16
# How a folder is written again, for the damaged-folder message; callers that know who wrote it say so.
REBUILD_ANY = ("write the folder again with the command that made it (`finecl convert <corpus> --output <folder> "
               "--overwrite` for a converted corpus, `finecl learning-order` for a learning-order dataset)")
# What pyarrow and datasets raise on a file they cannot read (ArrowInvalid is a ValueError; a missing or unreadable
# file an OSError; datasets wraps a failed Parquet read in DatasetGenerationError). finecl-hf's own errors pass.
READ_FAILURES = (pa.ArrowException, OSError, DatasetsError, ValueError)


def fingerprint_parquet_file(path: str | Path) -> Path:
    """Rename `<folder>/<split>.parquet` to `<folder>/<split>-<sha256 prefix of its bytes>.parquet`; returns the new path.

    Other Parquet files of the same split in the folder (left by an earlier write) are removed.
    """
    path = Path(path)
    fingerprinted = path.with_name(f"{path.stem}-{file_sha256(path)[:FINGERPRINT_LENGTH]}.parquet")
    for stale in path.parent.glob(f"{path.stem}-*.parquet"):
        if stale != fingerprinted:
            stale.unlink()
    path.replace(fingerprinted)
    return fingerprinted


def _data_files(folder: Path, config: dict[str, Any]) -> dict[str, list[str]]:
    """Split -> absolute paths of the files one `configs:` entry of the card names (patterns resolved)."""
    entries = config.get("data_files") or []
    if not isinstance(entries, list) or (entries and not isinstance(entries[0], dict)):
        entries = [{"split": "train", "path": entries}]  # the `data_files: path` shorthand
    files: dict[str, list[str]] = {}
    for entry in entries:
        patterns = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        matched = sorted(str(path) for pattern in patterns for path in folder.glob(pattern))
        if not matched:
            raise DataError(
                f"{folder}: config {config['config_name']!r}, split {entry['split']!r}: no file matches {patterns}."
            )
        files[entry["split"]] = matched
    return files


@contextmanager
def reading_dataset(path: str | Path, rebuild: str = REBUILD_ANY) -> Iterator[None]:
    """Inside the block, a failure to read the dataset folder `path` becomes a `DataError` (see the module).

    Args:
        path: the folder (or Hub id: its failures are not a damaged folder and pass unchanged).
        rebuild: how the user writes the folder again, ending the message.
    """
    # datasets' Parquet reader logs each unreadable file at ERROR before it raises: the paragraph below says it all.
    parquet_logger = logging.getLogger("datasets.packaged_modules.parquet.parquet")
    level = parquet_logger.level
    parquet_logger.setLevel(logging.CRITICAL)
    try:
        yield
    except (DataError, UsageError):
        raise
    except READ_FAILURES as error:
        if not Path(path).is_dir():
            raise
        if isinstance(error, OSError) and error.filename and not _inside(error.filename, Path(path)):
            # A file outside the folder: the datasets cache (disk full, not writable), not the user's dataset.
            reason = error.strerror or type(error).__name__
            raise UsageError(f"{path}: reading it failed on {error.filename}, outside the folder ({reason}); if that "
                             "is the datasets cache, free space there or set HF_DATASETS_CACHE to a writable "
                             "folder.") from error
        raise DataError(damaged_folder_message(Path(path), error, rebuild)) from error
    finally:
        parquet_logger.setLevel(level)


def _inside(file: str | Path, folder: Path) -> bool:
    return Path(file).resolve().is_relative_to(folder.resolve())


def damaged_folder_message(folder: Path, error: BaseException, rebuild: str = REBUILD_ANY) -> str:
    """`<folder>: the dataset folder is damaged or incomplete: <file>: <what>; <rebuild>.` The damaged file is found by
    reading each file of the folder (only on this error path); the library's own message is the fallback."""
    found = find_damaged_file(folder)
    if found is not None:
        file, problem = found
        return f"{folder}: the dataset folder is damaged or incomplete: {file}: {problem}; {rebuild}."
    cause = error.__cause__ if isinstance(error, DatasetsError) and error.__cause__ is not None else error
    detail = " ".join(str(cause).split()) or type(cause).__name__
    return f"{folder}: the dataset folder cannot be read ({type(cause).__name__}: {detail}); {rebuild}."


def find_damaged_file(folder: Path) -> tuple[Path, str] | None:
    """The first file of a dataset folder that cannot be read, and what is wrong with it; `None` if all read."""
    for split in _saved_splits(folder):
        for required in ("state.json", "dataset_info.json"):
            if not (folder / split / required).is_file():
                return folder / split / required, f"missing (the `save_to_disk` metadata of split {split!r})"
    files = (path for path in folder.rglob("*") if path.is_file())
    for file in sorted(path for path in files if not any(part.startswith(".") for part in path.relative_to(folder).parts)):
        problem = _unreadable(file)
        if problem is not None:
            return file, problem
    return None


def _saved_splits(folder: Path) -> list[str]:
    """The splits a `save_to_disk` folder's `dataset_dict.json` lists (none for other folders or a damaged list)."""
    try:
        return list(json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _unreadable(file: Path) -> str | None:
    """What is wrong with one file of a dataset folder, or `None` when it reads."""
    try:
        if file.suffix == ".parquet":
            pq.read_metadata(file)
        elif file.suffix == ".arrow":
            with pa.memory_map(str(file)) as source:
                pa.ipc.open_stream(source).read_all()
        elif file.suffix == ".json":
            json.loads(file.read_text(encoding="utf-8"))
        elif file.name == "README.md":
            DatasetCard.load(file)
    except PermissionError:
        return "cannot be read (permission denied)"
    except (pa.ArrowException, OSError, ValueError) as error:
        kind = {".parquet": "not a complete Parquet file", ".arrow": "not a complete Arrow file",
                ".json": "not valid JSON", ".md": "the dataset card's YAML header cannot be read"}[file.suffix]
        return f"{kind} (cut short or overwritten? {' '.join(str(error).split())})"
    except Exception as error:  # noqa: BLE001 - yaml's errors do not subclass ValueError; only the card parses YAML
        if file.name != "README.md":
            raise
        return f"the dataset card's YAML header cannot be read ({' '.join(str(error).split())})"
    return None


def dataset_config_names(path: str | Path, rebuild: str = REBUILD_ANY) -> list[str]:
    """`get_dataset_config_names(path)`, with a damaged folder reported as in `reading_dataset`."""
    with reading_dataset(path, rebuild):
        return get_dataset_config_names(str(path))


def load_saved_dataset(path: str | Path, rebuild: str = REBUILD_ANY):
    """`load_from_disk(path)` (a `save_to_disk` folder), with a damaged folder reported as in `reading_dataset`."""
    with reading_dataset(path, rebuild):
        return load_from_disk(str(path))


def load_dataset_folder(
    path: str | Path, name: str | None = None, split: str | None = None, *, rebuild: str = REBUILD_ANY, **kwargs: Any
):
    """`load_dataset(path, name, split=split, **kwargs)` that always reads the files of a local folder.

    Hub ids and folders whose card has no `configs:` go to `load_dataset` unchanged. Raises `UsageError` naming the
    folder and its configs when `name` is not one of them, and `DataError` naming the file when the folder is damaged
    (`rebuild`: how to write it again, see `reading_dataset`).
    """
    with reading_dataset(path, rebuild):
        return _load_dataset_folder(Path(path), name, split, **kwargs)


def _load_dataset_folder(folder: Path, name: str | None, split: str | None, **kwargs: Any):
    readme = folder / "README.md"
    if not folder.is_dir() or not readme.is_file():
        return load_dataset(str(folder), name, split=split, **kwargs)
    configs = DatasetCard.load(readme).data.to_dict().get("configs") or []
    if not configs:
        return load_dataset(str(folder), name, split=split, **kwargs)
    if name is None:
        chosen = next((config for config in configs if config.get("default")), configs[0])
    else:
        chosen = next((config for config in configs if config["config_name"] == name), None)
        if chosen is None:
            available = [config["config_name"] for config in configs]
            raise UsageError(f"{folder}: no config {name!r}; the folder has {available}.")
    return load_dataset("parquet", data_files=_data_files(folder, chosen), split=split, **kwargs)


def load_relation_dataset(path: str, config_name: str | None = None) -> DatasetDict:
    """Load a converter output: a Hub dataset folder (`load_dataset`) or a `save_to_disk` folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"--dataset_path {path}: not a folder (convert the corpus with dataset_scripts/ first).")
    if (folder / "dataset_dict.json").is_file():
        return load_saved_dataset(folder)
    return load_dataset_folder(folder, config_name)


def relation_dataset_features(path: str, config_name: str | None, split: str) -> Features:
    """The features of one split of a converter output, without loading its rows: from the card's `dataset_info`
    (a Hub dataset folder) or from `save_to_disk`'s metadata (memory-mapped, nothing read)."""
    folder = Path(path)
    if (folder / "dataset_dict.json").is_file():
        return load_saved_dataset(folder)[split].features
    from datasets import load_dataset_builder

    with reading_dataset(folder):
        features = load_dataset_builder(str(folder), config_name).info.features
    if features is None:
        raise UsageError(f"--dataset_path {path}: its card declares no features; convert the corpus with "
                         "`finecl convert`, which writes them.")
    return features


__all__ = [
    "dataset_config_names",
    "find_damaged_file",
    "fingerprint_parquet_file",
    "load_dataset_folder",
    "load_relation_dataset",
    "load_saved_dataset",
    "reading_dataset",
    "relation_dataset_features",
]
