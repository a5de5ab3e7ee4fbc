"""The `finecl` command: one entry point for every stage, converter, and experiment of finecl-hf.

    finecl convert semeval --output data/semeval
    finecl learning-order --dataset_path data/distant --output_dir runs/order
    finecl analyse runs/order/learning_order --plot learned.png
    finecl label-issues runs/order/learning_order --output issues.html
    finecl pretrain --learning_order_dataset runs/order/learning_order --output_dir runs/finecl
    finecl finetune --model_name_or_path runs/finecl --dataset_path data/semeval --output_dir runs/semeval
    finecl probe --model_name_or_path runs/finecl --task wiki80 semeval
    finecl demo
    finecl reproduce
    finecl pretrain --config recipe.yaml --max_steps 10      # every command: options from a file, overridden here

Each subcommand is one entry of `COMMANDS`: its name, a one-line summary and its module `finecl_hf.commands.<name>`
(`_` for `-`), which has `build_parser()` (the real parser) and `main(argv)`; the work is the stage's `run.py`. Adding
a subcommand is one entry here and one module.

Start-up: nothing heavy is imported before the arguments are parsed. `finecl <command> --help` is answered from help
text pre-rendered from the command's real parser (`finecl_hf/commands/rendered_help/`; see `help.py`), because the
stages' parsers are `HfArgumentParser`s over `TrainingArguments` subclasses, which cannot be built without importing
torch and transformers (about 2 s). A test renders every parser and compares, so the shipped text cannot drift.

Several processes: `accelerate launch -m finecl_hf.commands.pretrain ...` (each command module runs as `-m`), or
`accelerate launch $(which finecl) pretrain ...`.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .front_door import DEBUG_ENV, USAGE_EXIT_STATUS


@dataclass(frozen=True)
class Command:
    """One subcommand of `finecl`.

    Attributes:
        name: what the user types (`finecl <name>`).
        summary: one line for `finecl --help`.
        module: the module with `build_parser()` and `main(argv)`; imported only when the command runs.
        prerendered_help: `--help` is served from `rendered_help/<name>.txt` (for parsers that need heavy imports);
            False where the parser is plain argparse and cheap to build (e.g. `convert`).
    """

    name: str
    summary: str
    module: str
    prerendered_help: bool = True

    @property
    def prog(self) -> str:
        return f"finecl {self.name}"

    def load(self) -> Any:
        return importlib.import_module(self.module)


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("convert", "Convert a corpus (see `finecl convert --help` for the list) into a Hub-ready dataset "
                "folder.", "finecl_hf.commands.convert", prerendered_help=False),
        Command("learning-order", "Stage 1: record the epoch each instance is first learned (learning order).",
                "finecl_hf.commands.learning_order"),
        Command("analyse", "Stage 1 report: percent learned per epoch, label precision per subset, plots.",
                "finecl_hf.commands.analyse"),
        Command("label-issues", "Stage 1's suspect labels with their text, why, and a suggested relation; a cleaned "
                "copy.", "finecl_hf.commands.label_issues", prerendered_help=False),
        Command("pretrain", "Stage 2: FineCL contrastive pre-training weighted by learning order.",
                "finecl_hf.commands.pretrain"),
        Command("finetune", "Stage 3: fine-tune and evaluate a relation classifier.", "finecl_hf.commands.finetune"),
        Command("probe", "Representation probe: k-shot linear classifiers on frozen encoders, with 95% CIs.",
                "finecl_hf.commands.probe"),
        Command("demo", "All three stages end to end on the shipped corpora, in minutes on a CPU.",
                "finecl_hf.commands.demo"),
        Command("reproduce", "ERICA vs FineCL pre-training on corpora of known label noise, probed, with paired CIs.",
                "finecl_hf.commands.reproduce"),
    )
}

HELP_FLAGS = ("-h", "--help")


def top_level_help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: finecl [-h] [--version] [--debug] <command> [<args>]",
        "",
        "FineCL relation extraction for the Hugging Face ecosystem.",
        "",
        "commands:",
        *(f"  {name.ljust(width)}  {command.summary}" for name, command in COMMANDS.items()),
        "",
        "options:",
        "  -h, --help  show this help message and exit",
        "  --version   print the finecl-hf version and exit",
        f"  --debug     show the traceback of every error (or set {DEBUG_ENV}=1)",
        "",
        "`finecl <command> --help` lists the options of a command. With several processes:",
        "  accelerate launch -m finecl_hf.commands.pretrain ...   (or: accelerate launch $(which finecl) pretrain ...)",
    ]
    return "\n".join(lines) + "\n"


def usage_error(prog: str, message: str) -> None:
    print(f"usage: {prog} [-h] [--version] [--debug] <command> [<args>]", file=sys.stderr)
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_EXIT_STATUS)


def main(argv: Sequence[str] | None = None) -> None:
    """`finecl [--debug] <command> [<args>]`.

    Returns None: the console script passes the return value to `sys.exit`, so anything else would be printed and
    turned into exit status 1 (what a command returns is for `run_command`'s callers).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    while arguments and arguments[0] in ("--debug", "--version", *HELP_FLAGS):
        flag = arguments.pop(0)
        if flag == "--debug":
            os.environ[DEBUG_ENV] = "1"
        elif flag == "--version":
            from importlib.metadata import version

            print(f"finecl-hf {version('finecl-hf')}")
            return
        else:
            print(top_level_help(), end="")
            return
    if not arguments:
        usage_error("finecl", f"a command is required: {', '.join(COMMANDS)}.")
    name, rest = arguments[0], arguments[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        usage_error("finecl", f"unknown command {name!r}: choose among {', '.join(COMMANDS)}.{hint}")
    run_command(name, rest)


def run_command(name: str, argv: Sequence[str] | None = None) -> Any:
    """Run one subcommand with `argv` (default: `sys.argv[1:]`, as the `trainers/` scripts and `-m` forms call it).

    A worker of a distributed launch that finished ends here (`distributed.leave_finished_worker`): every process
    waits for the others' outputs, the process group is torn down (library callers keep theirs and may run a stage
    again), and the interpreter's shutdown cannot abort the worker after its outputs are written."""
    command = COMMANDS[name]
    arguments = list(sys.argv[1:] if argv is None else argv)
    if command.prerendered_help and any(flag in arguments for flag in HELP_FLAGS):
        from .help import shipped_help

        print(shipped_help(name), end="")
        raise SystemExit(0)
    result = command.load().main(arguments)
    if "WORLD_SIZE" in os.environ:  # a worker of `accelerate launch` / `torchrun`: done, leave without finalization
        from finecl_hf.distributed import leave_finished_worker

        leave_finished_worker()
    return result


__all__ = ["COMMANDS", "Command", "main", "run_command"]
