"""`finecl probe`: the representation probe (frozen encoder, [e_head; e_tail] pooled as fine-tuning pools it, a linear
classifier on k shots per class, many seeded draws, means with 95% confidence intervals).

    finecl probe --model_name_or_path runs/finecl runs/erica --task wiki80 semeval --output_dir runs/probe

With several encoders each is compared, paired on the same draws and test sentences, with the first.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .front_door import check_model_source, check_output_dir, run_guarded

NAME = "probe"


def build_parser():
    from finecl_hf.probing.arguments import ProbeArguments

    from .parser import FineCLArgumentParser

    return FineCLArgumentParser(ProbeArguments, prog=f"finecl {NAME}")


def main(argv: Sequence[str] | None = None):
    argv = sys.argv[1:] if argv is None else argv

    def parse():
        (args,) = build_parser().parse(argv)
        for encoder in args.model_name_or_path:
            check_model_source("--model_name_or_path", encoder)
        check_output_dir("--output_dir", args.output_dir)
        return args

    def run(args):
        from finecl_hf.probing.run import run_probes

        return run_probes(args)

    return run_guarded(f"finecl {NAME}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
