"""`finecl label-issues`: the labels stage 1 suspects, with their text, why, and a suggested relation.

Shows the N most suspect labels of a learning-order dataset (the `label_issue` instances ranked lowest by `combined`):
document, head and tail, the sentences where they meet, the label, the suggested relation with its probability, and
which evidence spoke. `--output` also writes them as CSV, JSON Lines or a self-contained HTML page; `--clean` writes a
cleaned copy of the dataset that stage 2 reads as it is.

    finecl label-issues runs/order/learning_order --top 20 --output issues.html issues.csv
    finecl label-issues runs/order/learning_order --clean relabel --min_probability 0.5 --output_dir runs/relabelled
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config_files import add_config_option, parse_with_config
from .front_door import UsageError, check_dataset_folder, check_output_dir, check_output_file, run_guarded

NAME = "label-issues"
CLEANING_MODES = ("drop", "relabel", "relabel-or-drop")  # finecl_hf.learning_order.label_issues.CLEANING_MODES
REPORT_FORMATS = (".csv", ".jsonl", ".html")  # finecl_hf.learning_order.label_issue_report.REPORT_FORMATS
ADD_COLUMNS = (
    "run stage 1 again with this finecl-hf (`finecl learning-order --dataset_path ... --output_dir ...`), with the "
    "evidence scores on (no `--evidence_encoder none`, and `combined` among `--scores` if you name any)"
)


def build_parser() -> argparse.ArgumentParser:
    """Plain argparse with no heavy import: `--help` is built on the spot."""
    parser = argparse.ArgumentParser(prog=f"finecl {NAME}", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="learning-order dataset folder (written by `finecl learning-order`)")
    parser.add_argument("--top", type=int, default=20, metavar="N", help="how many suspects to show (default: 20)")
    parser.add_argument(
        "--output", nargs="+", default=[], metavar="FILE",
        help="also write the N suspects to these files, the format by suffix: .csv, .jsonl, .html",
    )
    parser.add_argument("--clean", choices=CLEANING_MODES,
                        help="write a cleaned copy to --output_dir: drop the issues, relabel them with their suggestion "
                        "(>= --min_probability; the others keep their label), or relabel where confident and drop the rest")
    parser.add_argument("--min_probability", type=float, default=0.5, metavar="TAU",
                        help="least suggested probability a relabel needs, in [0, 1] (default: 0.5)")
    parser.add_argument("--output_dir", help="where --clean writes the cleaned learning-order dataset")
    parser.add_argument("--overwrite", action="store_true", help="replace --output files and --output_dir if they exist")
    add_config_option(parser)
    return parser


def check_arguments(args: argparse.Namespace) -> argparse.Namespace:
    check_dataset_folder("path", args.path, expected="a learning-order dataset written by `finecl learning-order`",
                         configs=("instances",))
    if args.top < 1:
        raise UsageError(f"--top {args.top}: show at least one label (N >= 1).")
    if not 0.0 <= args.min_probability <= 1.0:
        raise UsageError(f"--min_probability {args.min_probability}: a probability lies between 0 and 1.")
    for output in args.output:
        if Path(output).suffix not in REPORT_FORMATS:
            raise UsageError(f"--output {output}: the format is chosen by the suffix, one of {', '.join(REPORT_FORMATS)}.")
        check_output_file("--output", output)
        if Path(output).exists() and not args.overwrite:
            raise UsageError(f"--output {output} exists; pass --overwrite to replace it.")
    if (args.clean is None) != (args.output_dir is None):
        raise UsageError("--clean and --output_dir go together: --clean says how, --output_dir where the copy goes.")
    if args.output_dir is not None:
        check_output_dir("--output_dir", args.output_dir)
        if Path(args.output_dir).resolve() == Path(args.path).resolve():
            raise UsageError("--output_dir is the input folder: the cleaned copy goes to a folder of its own.")
        folder = Path(args.output_dir)
        if folder.is_dir() and any(folder.iterdir()) and not args.overwrite:
            raise UsageError(f"--output_dir {args.output_dir} is not empty; pass --overwrite to replace it.")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_guarded(f"finecl {NAME}", lambda: check_arguments(parse_with_config(build_parser(), argv)), run)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from finecl_hf.errors import DataError
    from finecl_hf.data.learning_order import load_learning_order_documents, load_learning_order_instances
    from finecl_hf.learning_order.label_issue_report import (
        collect_label_issues,
        missing_columns,
        render_table,
        write_report,
    )

    instances = load_learning_order_instances(args.path)
    missing = missing_columns(instances.column_names)
    if missing:
        raise DataError(
            f"{args.path} has no {', '.join(f'`{name}`' for name in missing)} column(s): it was written without the "
            f"evidence scores (`--evidence_encoder none`, a `--scores` list without `combined`) or by an older "
            f"finecl-hf. To add them, {ADD_COLUMNS}."
        )
    documents = load_learning_order_documents(args.path)
    issues = collect_label_issues(instances, documents, args.top, relation_descriptions(args.path))
    flagged = sum(instances["label_issue"])
    print(f"{flagged} of {len(instances)} labels are flagged as issues; the {len(issues)} most suspect:\n")
    print(render_table(issues), end="")
    for output in args.output:
        print(f"wrote {write_report(issues, output, f'Label issues of {args.path}')}")
    result: dict[str, Any] = {"flagged": flagged, "issues": [issue.record() for issue in issues]}
    if args.clean is not None:
        result["cleaning"] = write_cleaned(args, instances, documents)
    return result


def relation_descriptions(path: str) -> dict[str, str]:
    """Readable relation names from the card of the dataset stage 1 read (DocRED: `P17` -> `country`), if any."""
    from finecl_hf.cards import read_dataset_card_metadata
    from finecl_hf.data.learning_order import read_learning_order_metadata

    source = read_learning_order_metadata(path).get("source_dataset")
    if not source or not (Path(source) / "README.md").is_file():
        return {}
    try:
        descriptions = read_dataset_card_metadata(source).get("relation_descriptions")
    except (UsageError, ValueError, OSError):  # a source that is not a finecl-hf dataset: plain labels
        return {}
    return descriptions if isinstance(descriptions, dict) else {}


def write_cleaned(args: argparse.Namespace, instances: Any, documents: Any) -> dict[str, Any]:
    """The cleaned learning-order dataset in `--output_dir` (an earlier one replaced only with `--overwrite`)."""
    import shutil
    from dataclasses import asdict, fields

    from finecl_hf.data.learning_order import (
        LearningOrderRunInfo,
        read_learning_order_metadata,
        write_learning_order_folder,
    )
    from finecl_hf.learning_order.label_issues import clean_instances, summarise_cleaning

    cleaned, report = clean_instances(instances, args.clean, args.min_probability)
    known = {item.name for item in fields(LearningOrderRunInfo)}
    metadata = {key: value for key, value in read_learning_order_metadata(args.path).items() if key in known}
    metadata.setdefault("model_name_or_path", "unknown")
    metadata.setdefault("num_epochs", 0)
    metadata.setdefault("mode", "unknown")
    metadata.setdefault("seed", 0)
    metadata.setdefault("percent_learned_per_epoch", [])
    metadata["cleaning"] = {**asdict(report), "learning_order": str(args.path)}  # source_dataset: the corpus, kept
    output_dir = Path(args.output_dir)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    write_learning_order_folder(cleaned, output_dir, LearningOrderRunInfo(**metadata), documents)
    print(summarise_cleaning(report))
    print(f"cleaned learning-order dataset written to {output_dir}")
    return asdict(report)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
