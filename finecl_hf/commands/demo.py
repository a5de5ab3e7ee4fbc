"""`finecl demo`: FineCL end to end on the embedded default (`make demo`): the datasets, the three stages, and where
every artifact is (`finecl_hf.experiments.demo`). Every path and budget is a flag: `finecl demo --help`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .front_door import run_guarded

NAME = "demo"


def build_parser():
    from finecl_hf.experiments.demo import DemoArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser(DemoArguments, prog=f"finecl {NAME}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        from finecl_hf.experiments.steps import resolve_inputs

        (args,) = build_parser().parse(argv)
        return args, *resolve_inputs(args)

    def run(parsed) -> None:
        from finecl_hf.experiments.demo import run_demo

        run_demo(*parsed)

    run_guarded(f"finecl {NAME}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
