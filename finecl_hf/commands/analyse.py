"""`finecl analyse`: the stage-1 report of a learning-order dataset.

Percent of instances first learned per epoch (paper Fig. 2), per-class shares, label precision of every learned subset
against a correctness column, the ROC-AUC of "learned earlier" as a clean-label detector, and the Fig. 2-style plot.

    finecl analyse runs/order/learning_order --correct_column confirmed_by_gold --plot learned.png --json report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config_files import add_config_option, parse_with_config
from .front_door import UsageError, check_dataset_folder, check_output_file, run_guarded

NAME = "analyse"


def build_parser() -> argparse.ArgumentParser:
    """Plain argparse; `--help` is pre-rendered all the same, since the `--scores` choices come from the score registry,
    which imports the learning-order package (torch, transformers)."""
    from finecl_hf.order_scores import SCORES

    parser = argparse.ArgumentParser(prog=f"finecl {NAME}", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="learning-order dataset folder (written by `finecl learning-order`)")
    parser.add_argument("--compare", help="a second learning-order dataset over the same instances (cumulative Jaccard)")
    parser.add_argument("--correct_column", help="boolean column telling whether each label is correct")
    parser.add_argument("--plot", help="write the percent-learned chart to this PNG")
    parser.add_argument(
        "--scores", nargs="+", choices=SCORES.keys(), metavar="SCORE",
        help=f"cleanliness scores to evaluate with --correct_column (default: all present): {', '.join(SCORES)}",
    )
    parser.add_argument("--json", help="also write the report as JSON to this file")
    parser.add_argument(
        "--bootstrap", type=int, default=200, metavar="N",
        help="resamples of each score's 95%% ROC-AUC interval; documents are resampled where the instances have "
        "them (their labels are not independent), single instances otherwise; 0: no intervals (default: 200)",
    )
    add_config_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)

    def parse():
        args = parse_with_config(build_parser(), argv)
        expected = "a learning-order dataset written by `finecl learning-order`"
        check_dataset_folder("path", args.path, expected=expected, configs=("instances",))
        check_dataset_folder("--compare", args.compare, expected=expected, configs=("instances",))
        check_output_file("--plot", args.plot)
        check_output_file("--json", args.json)
        if args.bootstrap < 0:
            raise UsageError(f"--bootstrap {args.bootstrap}: give a number of resamples (0 for no intervals).")
        return args

    def run(args) -> dict[str, Any]:
        from finecl_hf.learning_order.analysis import analyse, render_report

        report = analyse(args.path, compare=args.compare, correct_column=args.correct_column, plot=args.plot,
                         scores=args.scores, bootstrap=args.bootstrap)
        print(render_report(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return report

    return run_guarded(f"finecl {NAME}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
