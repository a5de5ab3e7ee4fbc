"""Help text of the `finecl` commands, pre-rendered from their real parsers and shipped with the package.

Why: the stages' parsers are `HfArgumentParser`s over `TrainingArguments` subclasses; building one imports torch and
transformers (about 2 s of a 5 s `--help`). The text they render is stored in `rendered_help/<command>.txt` and
printed by `finecl <command> --help` without importing anything heavy. It is rendered at a fixed width
(`HELP_COLUMNS`) so it does not depend on the terminal of whoever regenerated it, and `tests/test_cli.py` renders
every parser again and compares, so the shipped text cannot drift from the real options.

Regenerate after changing any argument dataclass:

    python -m finecl_hf.commands.help --write
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

HELP_COLUMNS = 110
RENDERED_HELP = Path(__file__).resolve().parent / "rendered_help"


def help_file(name: str) -> Path:
    return RENDERED_HELP / f"{name}.txt"


def shipped_help(name: str) -> str:
    """The pre-rendered `--help` of command `name`."""
    path = help_file(name)
    if not path.is_file():  # a command added without regenerating: render it (slow, but right)
        return render_help(name)
    return path.read_text(encoding="utf-8")


def render_help(name: str) -> str:
    """`--help` of command `name` as its real parser prints it, at `HELP_COLUMNS` columns."""
    from . import COMMANDS

    command = COMMANDS[name]
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)  # argparse's HelpFormatter reads the width from here
    try:
        parser = command.load().build_parser()
        parser.prog = command.prog
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            parser.print_help()
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return output.getvalue()


def main(argv: list[str] | None = None) -> None:
    from . import COMMANDS

    parser = argparse.ArgumentParser(description="Check or rewrite the shipped help text of the `finecl` commands.")
    parser.add_argument("--write", action="store_true", help="Rewrite the files that differ (default: only check).")
    args = parser.parse_args(argv)
    stale = []
    for name, command in COMMANDS.items():
        if not command.prerendered_help:
            continue
        text = render_help(name)
        if not help_file(name).is_file() or help_file(name).read_text(encoding="utf-8") != text:
            stale.append(name)
            if args.write:
                help_file(name).write_text(text, encoding="utf-8")
    verb = "rewrote" if args.write else "stale"
    print(f"{verb}: {', '.join(stale)}" if stale else "every shipped help text matches its parser")
    if stale and not args.write:
        sys.exit(1)


if __name__ == "__main__":
    main()
