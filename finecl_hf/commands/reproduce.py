"""`finecl reproduce`: the controlled label-noise experiment (`make reproduce`), resumable step by step
(`finecl_hf.experiments.reproduction`: the design, the plan, the runner and the report)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .front_door import run_guarded

NAME = "reproduce"


def build_parser():
    from finecl_hf.experiments.reproduction_plan import ReproduceArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser(ReproduceArguments, prog=f"finecl {NAME}")


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        from finecl_hf.experiments.reproduction import check_reproduce_arguments
        from finecl_hf.experiments.steps import resolve_inputs

        (args,) = build_parser().parse(argv)
        check_reproduce_arguments(args)
        return args, *resolve_inputs(args)

    def run(parsed) -> None:
        from finecl_hf.experiments.reproduction import run_reproduction

        run_reproduction(*parsed)

    run_guarded(f"finecl {NAME}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
