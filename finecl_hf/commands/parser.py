"""`FineCLArgumentParser`: the one parser of every `finecl` command that reads argument dataclasses (as TRL's
`TrlParser` is for `trl`).

It is an `HfArgumentParser` that

- reads the arguments from the command line, from a `.json`/`.yaml`/`.yml` argument file given with `--config FILE`
  (options on the command line override the file's: a recipe rerun with one change, as TRL's `--config`), or from
  such a file given as the only argument (the experiments' argument files);
- refuses an option or file key it does not know with a `UsageError` naming the closest valid option (a misspelt
  option is the most common mistake of all; `HfArgumentParser` would raise its own `ValueError` traceback);
- answers argparse's own mistakes (a value of the wrong type, a missing value, a choice not offered) with one usage
  line and the error, as `argparse` does for a small parser, instead of the whole option list (which for a
  `TrainingArguments` subclass is 130 lines).

Checks of the values themselves live in the dataclasses' `__post_init__` (finecl-hf's, and `TrainingArguments`');
`commands.front_door.run_guarded` reports them as usage errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from collections.abc import Sequence
from typing import Any

from transformers import HfArgumentParser

from .config_files import (
    ARGUMENT_FILE_SUFFIXES,
    add_config_option,
    given_by_file,
    read_argument_file,
    without_config_option,
)
from .front_door import USAGE_EXIT_STATUS, UsageError


class FineCLArgumentParser(HfArgumentParser):
    """`HfArgumentParser` with argument files, closest-name suggestions and a one-line usage error (module docstring).

    Args:
        dataclass_types: the argument dataclass(es) of the command.
        prog: `finecl <command>`.
    """

    def __init__(self, dataclass_types: Any, prog: str, **kwargs: Any):
        super().__init__(dataclass_types, prog=prog, **kwargs)
        add_config_option(self)

    def parse(self, argv: Sequence[str]) -> tuple[Any, ...]:
        """One instance of each dataclass, from `argv`: its options, over those of its `--config FILE` when given, or
        the argument file that is its only element."""
        argv = list(argv)
        if len(argv) == 1 and argv[0].endswith(ARGUMENT_FILE_SUFFIXES):
            return self.parse_file(argv[0])
        config, argv = without_config_option(argv)
        if config is None:
            return self._dataclasses(self._namespace(argv))
        return self.parse_with_overrides(read_argument_file(config), argv, source=config)

    def parse_with_overrides(self, values: dict[str, Any], argv: Sequence[str], source: str) -> tuple[Any, ...]:
        """The dataclasses from `values` (read from `source`) with the options `argv` gives written over them."""
        self._refuse_unknown_keys(values, source)
        with given_by_file(self, values):
            namespace = self._namespace(list(argv))
        return self.parse_mapping({**values, **self._given(argv, namespace)}, source)

    def _namespace(self, argv: list[str]) -> argparse.Namespace:
        """argparse's namespace of `argv`, refusing options no dataclass has."""
        # Before argparse runs: it would first complain about a required option the misspelling was meant to be.
        unknown = [value for value in argv if value.startswith("--") and value.split("=", 1)[0] not in
                   self._option_string_actions]  # fmt: skip
        if unknown:
            raise UsageError(self._unknown_message(unknown))
        namespace, remaining = self.parse_known_args(args=argv)
        if remaining:
            raise UsageError(self._unknown_message([value for value in remaining if value.startswith("-")] or remaining))
        return namespace

    def _dataclasses(self, namespace: argparse.Namespace) -> tuple[Any, ...]:
        """The dataclasses built from `namespace` (their `__post_init__` checks run here)."""
        values = vars(namespace)
        return tuple(
            dtype(**{f.name: values[f.name] for f in dataclasses.fields(dtype) if f.init and f.name in values})
            for dtype in self.dataclass_types
        )

    def parse_file(self, path: str) -> tuple[Any, ...]:
        """The dataclasses from a JSON or YAML file of `option: value` pairs (option names without dashes)."""
        return self.parse_mapping(read_argument_file(path), source=path)

    def parse_mapping(self, values: dict[str, Any], source: str) -> tuple[Any, ...]:
        """The dataclasses from `{option: value}` (read from `source`), refusing keys no dataclass has; defaults
        installed with `set_defaults` (a recipe's) apply to the keys not given, as on the command line."""
        self._refuse_unknown_keys(values, source)
        return tuple(self.parse_dict({**self._defaults, **values}))

    def _refuse_unknown_keys(self, values: dict[str, Any], source: str) -> None:
        known = {action.dest for action in self._actions if action.dest not in ("help", "config")}
        unknown = [key for key in values if key not in known]
        if unknown:
            raise UsageError(f"{source}: " + self._unknown_message(unknown, prefix=""))

    def explicit_arguments(self, argv: Sequence[str]) -> dict[str, Any]:
        """`{option: value}` of the options `argv` gives (typed by their parsers), for an argument file that
        `parse_file` reads back into the same dataclasses."""
        argv = list(argv)
        namespace = self._namespace(argv)
        self._dataclasses(namespace)  # refuses what the command would refuse
        return self._given(argv, namespace)

    def _given(self, argv: Sequence[str], namespace: argparse.Namespace) -> dict[str, Any]:
        """`{dest: value}` of the options that `argv` names, in the order it names them."""
        given = [self._option_string_actions[token.split("=", 1)[0]].dest for token in argv
                 if token.startswith("--") and token.split("=", 1)[0] in self._option_string_actions]  # fmt: skip
        return {dest: getattr(namespace, dest) for dest in dict.fromkeys(given)}

    def _unknown_message(self, unknown: list[str], prefix: str = "--") -> str:
        names = sorted({option.lstrip("-") for option in self._option_string_actions if option.startswith("--")})
        parts = []
        for value in unknown:
            key = value.split("=", 1)[0].lstrip("-")
            close = difflib.get_close_matches(key.replace("-", "_"), names, n=1, cutoff=0.6)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            parts.append(f"{value!r}{hint}")
        message = f"unknown option(s) {', '.join(parts)}; `{self.prog} --help` lists the options."
        if any(value.lstrip("-").startswith("warmup_ratio") for value in unknown):
            message += " (transformers 5 dropped --warmup_ratio: give --warmup_steps a ratio below 1.)"
        return message

    def format_usage(self) -> str:
        return (f"usage: {self.prog} [--config FILE] [--option value ...] (or one .json/.yaml argument file); "
                f"`{self.prog} --help` lists the options\n")

    def error(self, message: str):  # argparse's own mistakes: usage line + error, exit 2
        self.print_usage(sys.stderr)
        self.exit(USAGE_EXIT_STATUS, f"{self.prog}: error: {message}\n")


__all__ = ["ARGUMENT_FILE_SUFFIXES", "FineCLArgumentParser", "read_argument_file"]
