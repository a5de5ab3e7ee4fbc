"""Argument files for every `finecl` command: `--config FILE` (JSON or YAML, `option: value` pairs) with command-line
overrides winning. Standard library only (YAML is imported when a YAML file is read), so that the plain-argparse
commands (`convert`, `analyse`, `label-issues`) keep a fast `--help`; `FineCLArgumentParser` reads the same files.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .front_door import UsageError

ARGUMENT_FILE_SUFFIXES = (".json", ".yaml", ".yml")
CONFIG_OPTION = "--config"
CONFIG_HELP = ("A JSON or YAML file of `option: value` pairs (option names without dashes), e.g. a recipe; options "
               "given on the command line override the file's values.")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Give a plain argparse parser the `--config FILE` option (read by `parse_with_config`)."""
    parser.add_argument(CONFIG_OPTION, metavar="FILE", default=None, help=CONFIG_HELP)


def parse_with_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, the options of `--config FILE` taken as defaults that the command line overrides.

    The file names options only (positional arguments stay on the command line); a key the parser does not know, or a
    value outside an option's choices, is a `UsageError` naming the file.
    """
    config, argv = without_config_option(list(argv))
    if config is None:
        return parser.parse_args(argv)
    values = read_argument_file(config)
    options = {action.dest: action for action in parser._actions if action.option_strings and action.dest != "help"}
    unknown = [key for key in values if key not in options or key == "config"]
    if unknown:
        raise UsageError(f"{config}: unknown option(s) {unknown}; `{parser.prog} --help` lists the options.")
    for key, value in values.items():
        choices = options[key].choices
        if choices is not None and any(item not in choices for item in (value if isinstance(value, list) else [value])):
            raise UsageError(f"{config}: {key}={value!r} is not one of {list(choices)}.")
    parser.set_defaults(**values)
    with given_by_file(parser, values):
        return parser.parse_args(argv)


@contextmanager
def given_by_file(parser: argparse.ArgumentParser, names: Iterable[str]) -> Iterator[None]:
    """Within the block, the required options among `names` (an argument file gives them) are not required on the
    command line."""
    names = set(names)
    relaxed = [action for action in parser._actions if action.required and action.dest in names]
    for action in relaxed:
        action.required = False
    try:
        yield
    finally:
        for action in relaxed:
            action.required = True


def without_config_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """`(FILE, the other tokens)` of `--config FILE` / `--config=FILE` in `argv`; `(None, argv)` without it."""
    for position, token in enumerate(argv):
        if token == CONFIG_OPTION:
            if position + 1 == len(argv) or argv[position + 1].startswith("--"):
                raise UsageError(f"{CONFIG_OPTION} needs a file: {CONFIG_OPTION} recipe.yaml.")
            return argv[position + 1], argv[:position] + argv[position + 2:]
        if token.startswith(f"{CONFIG_OPTION}="):
            return token.partition("=")[2], argv[:position] + argv[position + 1:]
    return None, argv


def read_argument_file(path: str) -> dict[str, Any]:
    """The `{option: value}` mapping of a JSON or YAML argument file; a `UsageError` when it is not one."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: the argument file does not exist.")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except ValueError as error:  # json.JSONDecodeError and yaml.YAMLError's parse errors
        raise UsageError(f"{path}: not a valid {file.suffix.lstrip('.').upper()} argument file: {error}") from None
    except Exception as error:  # noqa: BLE001 - yaml's errors do not subclass ValueError
        raise UsageError(f"{path}: not a valid YAML argument file: {error}") from None
    if not isinstance(values, dict):
        raise UsageError(f"{path}: an argument file holds one mapping of option names to values, got "
                         f"{type(values).__name__}.")
    return values


__all__ = [
    "ARGUMENT_FILE_SUFFIXES",
    "CONFIG_OPTION",
    "add_config_option",
    "given_by_file",
    "parse_with_config",
    "read_argument_file",
    "without_config_option",
]
