"""Loading finecl-hf dataset folders (converter outputs, learning-order exports) exactly as they are on disk.

`datasets.load_dataset(folder)` (datasets 5.2) caches a local folder whose README has a `configs:` block under the
folder's name and a hash of its card, not of its files: a second folder with the same name and card (stage 1 always
writes `<output_dir>/learning_order`; a corpus re-converted after a label fix has the same sizes) is served the
first folder's cached rows. Two defences:

- the writers name every Parquet file after its content (`fingerprint_parquet_file`), so a folder written again with
  different rows has different `data_files` in its card, and plain `load_dataset(folder)` reads the new rows;
- `load_dataset_folder` reads the card's `configs:` itself and gives `load_dataset` the absolute paths of the data
  files, whose cache key includes each file's path and modification time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import load_dataset
from huggingface_hub import DatasetCard

from ..errors import DataError, UsageError
from .readers import file_sha256

FINGERPRINT_LENGTH = 16


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


def load_dataset_folder(path: str | Path, name: str | None = None, split: str | None = None, **kwargs: Any):
    """`load_dataset(path, name, split=split, **kwargs)` that always reads the files of a local folder.

    Hub ids and folders whose card has no `configs:` go to `load_dataset` unchanged. Raises `ValueError` naming the
    folder and its configs when `name` is not one of them.
    """
    folder = Path(path)
    readme = folder / "README.md"
    if not folder.is_dir() or not readme.is_file():
        return load_dataset(str(path), name, split=split, **kwargs)
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


__all__ = ["fingerprint_parquet_file", "load_dataset_folder"]
