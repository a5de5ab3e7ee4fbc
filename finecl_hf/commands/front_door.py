"""The front door of every command: usage and data errors become one paragraph and an exit status, and the cheap
checks that run before any model or dataset is loaded.

Exit statuses follow argparse and the Unix convention:

- 2, a *usage error*: an argument is wrong (a value out of range, a path that does not exist, a folder that is not
  what the stage reads). Printed as ``finecl <command>: error: <paragraph>``, as argparse prints its own errors.
- 1, a *data error*: an input file is malformed (`InvalidRecordError` names the file, record, and field). Printed as
  ``error: <paragraph>``.

The status follows the error's class, never where it was raised: `finecl_hf.errors.UsageError` and
`DataError` (with `InvalidRecordError`) are what finecl-hf's checks raise, and a `ValueError` raised while the
arguments are parsed (the argument dataclasses' `__post_init__`, finecl-hf's and `TrainingArguments`' own) is a usage
error too. Anything else keeps its traceback: it is a bug or an input finecl-hf does not check yet, and the traceback
is what a bug report needs. `finecl --debug <command>` (or `FINECL_DEBUG=1`) shows the traceback of every error.

This module imports nothing heavy: it runs before transformers, datasets, or torch are imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DataError, UsageError
from ..model_folders import WEIGHT_FILES, check_model_config, check_weights_complete

DEBUG_ENV = "FINECL_DEBUG"
USAGE_EXIT_STATUS = 2
DATA_EXIT_STATUS = 1


def debug_requested() -> bool:
    """Whether tracebacks were asked for (`finecl --debug`, or `FINECL_DEBUG=1` for the scripts and `-m` forms)."""
    return os.environ.get(DEBUG_ENV, "").lower() not in ("", "0", "false", "no")


def one_paragraph(message: str) -> str:
    """The message on one line: the bad-input contract is one paragraph, and logs grep it by line."""
    return " ".join(line.strip() for line in str(message).strip().splitlines() if line.strip())


def exit_status_of(error: BaseException, *, parsing: bool) -> int | None:
    """2 for a usage error, 1 for a data error, None for an error that keeps its traceback (see the module).

    `parsing`: the error was raised while the arguments were parsed, so a `ValueError` there is a usage error.
    """
    if isinstance(error, DataError):  # InvalidRecordError included
        return DATA_EXIT_STATUS
    if isinstance(error, UsageError) or (parsing and isinstance(error, ValueError)):
        return USAGE_EXIT_STATUS
    return None


def report(error: BaseException, status: int, prog: str) -> None:
    """Print the paragraph and exit with `status`."""
    message = one_paragraph(str(error))
    if status == USAGE_EXIT_STATUS:
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(status)
    raise SystemExit(f"error: {message}")  # printed on stderr, exit status 1


@contextmanager
def front_door(prog: str, *, parsing: bool = False) -> Iterator[None]:
    """Turn usage and data errors raised inside the block into one paragraph and an exit status (see module)."""
    try:
        yield
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as error:
        status = exit_status_of(error, parsing=parsing)
        if status is None or debug_requested():
            raise
        report(error, status, prog)


def run_guarded(prog: str, parse: Callable[[], Any], run: Callable[[Any], Any]) -> Any:
    """`run(parse())`: errors of `parse` count as usage errors, those of `run` by their kind (see `front_door`).
    The environment's cache and temporary folders are checked first (`check_environment`)."""
    with front_door(prog, parsing=True):
        check_environment()
        parsed = parse()
    with front_door(prog):
        return run(parsed)


# ------------------------------------------------------------------------------------------------- cheap checks
# Variables naming a folder the libraries write to: the Hugging Face caches (datasets writes its cache even for local
# folders) and the temporary folder. Each is checked only when set; a TMPDIR that does not exist is skipped, since
# Python falls back to /tmp then.
WRITABLE_FOLDER_VARIABLES = ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_CACHE", "XDG_CACHE_HOME", "TMPDIR")


def check_environment() -> None:
    """Every folder variable of `WRITABLE_FOLDER_VARIABLES` that is set names a folder that is, or can be made, a
    writable folder; otherwise one paragraph naming the variable to change (before transformers or datasets, which
    would fail deep inside their cache code, are imported)."""
    for name in WRITABLE_FOLDER_VARIABLES:
        value = os.environ.get(name)
        if not value or (name == "TMPDIR" and not os.path.exists(value)):
            continue
        folder = Path(value).expanduser()
        problem = "it is a file, not a folder" if folder.is_file() else _cannot_create_in(folder)
        if problem is None:
            continue
        raise UsageError(f"{name}={value}: this folder cannot be used ({problem}); the Hugging Face libraries and "
                         f"finecl-hf write their caches and temporary files there. Set {name} to a folder you can "
                         "write to, or unset it.")


def hub_offline() -> bool:
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def looks_like_a_path(value: str) -> bool:
    """A value no Hub id can be: absolute, relative to `.`/`~`, or with more than one `/` (ids are `org/name`)."""
    return value.startswith((".", "~", os.sep, "/")) or value.count("/") > 1 or (os.sep != "/" and os.sep in value)


def check_model_arguments(args: Any) -> None:
    """`--model_name_or_path` and `--tokenizer_name` of a stage's `ModelArguments` (see `check_model_source`)."""
    check_model_source("--model_name_or_path", args.model_name_or_path)
    check_model_source("--tokenizer_name", args.tokenizer_name, tokenizer=True)


def check_model_source(argument: str, value: str | None, *, needs_weights: bool = True, tokenizer: bool = False) -> None:
    """`--model_name_or_path`: a folder with config.json (and weights), or a Hub id that can be loaded.

    A folder is checked for its files; a Hub id is checked against the local cache when the Hub is off
    (`HF_HUB_OFFLINE=1`, the way finecl-hf runs its demo and tests), since nothing would be downloaded anyway.
    `tokenizer`: the value names a tokenizer (`--tokenizer_name`), whose folder need not hold a model.
    """
    if value is None:
        return
    folder = Path(value).expanduser()
    if folder.is_dir() and tokenizer:
        return
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise UsageError(f"{argument} {value}: the folder has no config.json, so it is not a saved model "
                             "(give the folder written by `save_pretrained`, e.g. a `finecl pretrain` output).")
        check_model_config(argument, value, folder)
        if needs_weights and not any((folder / name).is_file() for name in WEIGHT_FILES):
            raise UsageError(f"{argument} {value}: the folder has config.json but no weights ({', '.join(WEIGHT_FILES)}).")
        if needs_weights:
            check_weights_complete(argument, value, folder)
        return
    if folder.exists():
        raise UsageError(f"{argument} {value}: this is a file; give a model folder or a Hub model id.")
    if looks_like_a_path(value):
        raise UsageError(f"{argument} {value}: no such folder (misspelt? a model folder or a Hub id such as roberta-base).")
    if hub_offline() and not _in_hub_cache(value, "model", "tokenizer_config.json" if tokenizer else "config.json"):
        raise UsageError(
            f"{argument} {value!r}: not a local folder and not in the local Hugging Face cache, and the Hub is off "
            "(HF_HUB_OFFLINE=1), so nothing can be downloaded: check the spelling, or give a local model folder."
        )


def check_dataset_folder(argument: str, value: str | None, *, expected: str, configs: tuple[str, ...] = ()) -> None:
    """A dataset argument: an existing folder (not a file) that holds what the stage reads.

    `expected`: what the folder should be, for the message. `configs`: sub-folders (dataset configs) it must have.
    A value that is not a local path may be a Hub dataset id, unless the Hub is off.
    """
    if value is None:
        return
    folder = Path(value).expanduser()
    if folder.is_file():
        raise UsageError(f"{argument} {value}: this is a file, but the stage reads a folder: {expected}.")
    if not folder.is_dir():
        if looks_like_a_path(value) or hub_offline() or os.environ.get("HF_DATASETS_OFFLINE") == "1":
            raise UsageError(f"{argument} {value}: not a folder (expected {expected}).")
        return
    missing = [config for config in configs if not (folder / config).is_dir()]
    if missing:
        raise UsageError(f"{argument} {value}: the folder has no {', '.join(map(repr, missing))} config, so it is "
                         f"not {expected}.")
    if not _holds_a_dataset(folder):
        raise UsageError(f"{argument} {value}: the folder holds no dataset (no Parquet or Arrow files, no "
                         f"dataset_info.json, no dataset card), so it is not {expected}.")


def _holds_a_dataset(folder: Path) -> bool:
    """A dataset folder `load_dataset`/`load_from_disk` can read: a card, `save_to_disk` metadata, or data files."""
    if any((folder / name).is_file() for name in ("README.md", "dataset_info.json", "dataset_dict.json")):
        return True
    return any(True for pattern in ("*.parquet", "*/*.parquet", "*.arrow", "*/*.arrow") for _ in folder.glob(pattern))


def check_output_dir(argument: str, value: str | None) -> None:
    """An output folder argument: not an existing file, and creatable (its nearest existing ancestor is a folder we
    may write to). Checked before anything is loaded, so a run never trains for an hour and then cannot save."""
    if value is None:
        return
    folder = Path(value).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{argument} {value}: this is an existing file; give a folder (it is created if missing).")
    problem = _cannot_create_in(folder)
    if problem is not None and problem.endswith("is a file"):
        raise UsageError(f"{argument} {value}: cannot create the folder, {problem}.")
    if problem is not None:
        raise UsageError(f"{argument} {value}: cannot create or write the folder: {problem}.")


def _cannot_create_in(folder: Path) -> str | None:
    """Why `folder` cannot be made or written (`"<ancestor> is a file"`, `"<ancestor> is not writable"`), or `None`.

    Its nearest existing ancestor must be a folder where a folder can really be made (tried and removed at once):
    `os.access` says yes to root everywhere, even under /proc or on a read-only mount.
    """
    import tempfile

    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".finecl-check-", dir=ancestor))
    except OSError:
        return f"{ancestor} is not writable"
    return None


def check_output_file(argument: str, value: str | None) -> None:
    """An output file argument (`--plot`, `--json`): not an existing folder (matplotlib would write `<folder>.png`
    beside it), and its folder creatable, checked like an output folder."""
    if value is None:
        return
    path = Path(value).expanduser()
    if path.is_dir() or value.endswith(("/", os.sep)):
        raise UsageError(f"{argument} {value}: this is a folder; give the path of the file to write (e.g. "
                         f"{Path(value) / ('report.png' if argument == '--plot' else 'report.json')}).")
    check_output_dir(argument, str(path.parent))


def check_earlier_run(argument: str, value: str | None, *, overwrite: bool, resume: Any = None) -> None:
    """A stage's output folder holds no earlier run, unless the user said what to do with it.

    Anything but hidden files counts (a stage writes checkpoints, weights, results, cards, a learning-order export),
    so a second run never replaces the first without a word. `--overwrite_output_dir` writes over it (`overwrite`),
    `--resume_from_checkpoint` goes on from it (`resume`). Checked on the main process only (`RANK` 0 or unset): the
    folder is its to write, and under `accelerate launch` a refusal there stops every process.
    """
    if value is None or overwrite or resume not in (None, False, "") or os.environ.get("RANK", "0") != "0":
        return
    folder = Path(value).expanduser()
    if not folder.is_dir():
        return
    found = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in folder.iterdir()
                   if not entry.name.startswith("."))  # fmt: skip
    if not found:
        return
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    ways = "give --overwrite_output_dir to write over it (its checkpoint-N folders are removed first)"
    if any(name.startswith("checkpoint-") for name in found):
        ways += ", or --resume_from_checkpoint last to go on from its last complete checkpoint"
    raise UsageError(f"{argument} {value} already holds an earlier run ({shown}); nothing was written. To use it, "
                     f"{ways}; or choose another {argument}.")


def _in_hub_cache(repo_id: str, repo_type: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, repo_type=repo_type)
    except Exception:  # noqa: BLE001 - an invalid repo id is simply not in the cache
        return False
    return isinstance(found, str)


__all__ = [
    "DataError",
    "UsageError",
    "check_dataset_folder",
    "check_earlier_run",
    "check_output_file",
    "check_model_source",
    "check_output_dir",
    "front_door",
    "run_guarded",
]
