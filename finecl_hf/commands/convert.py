"""`finecl convert <corpus>`: convert a corpus of the registry (`finecl_hf/corpora.py`) into a Hub-ready dataset folder.

    finecl convert semeval --output data/semeval
    finecl convert semeval --source train=TRAIN_FILE.TXT test=TEST_FILE_FULL.TXT --output data/semeval
    finecl convert distant-supervision --facts facts.json.gz --output data/distant

The folder holds Parquet files and a README.md dataset card (`datasets.load_dataset(folder)` loads it offline). Bad
input ends with one line naming the file, record (1-based) and field; `--skip_invalid` counts and skips bad records.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config_files import add_config_option, parse_with_config
from .front_door import USAGE_EXIT_STATUS, UsageError, check_output_dir, run_guarded

NAME = "convert"
HELP_FLAGS = ("-h", "--help")


def corpus_list() -> str:
    from finecl_hf.corpora import CORPORA

    width = max(len(name) for name in CORPORA)
    lines = []
    for name, corpus in CORPORA.items():
        also = f" (also: {', '.join(corpus.aliases)})" if corpus.aliases else ""
        lines.append(f"  {name.ljust(width)}  {corpus.description}{also}")
    return "\n".join(lines)


def build_parser(corpus_name: str | None = None) -> argparse.ArgumentParser:
    """The parser of `finecl convert <corpus_name>` (plain argparse, cheap: `--help` is rendered live)."""
    from finecl_hf.corpora import get_corpus

    if corpus_name is None:
        parser = argparse.ArgumentParser(
            prog=f"finecl {NAME}", usage=f"finecl {NAME} <corpus> [--source ...] --output DIR [options]",
            description="Convert a corpus of the registry (`finecl_hf/corpora.py`) into a Hub-ready dataset folder.",
            epilog=f"corpora:\n{corpus_list()}\n\n`finecl convert <corpus> --help` lists the options of one corpus.",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return parser
    corpus = get_corpus(corpus_name)
    default = corpus.default_sources()
    parser = argparse.ArgumentParser(prog=f"finecl {NAME} {corpus.name}", description=corpus.description)
    parser.add_argument(
        "--source", nargs="+", default=default, required=default is None,
        help=f"{corpus.source_help} Each value is SPLIT=PATH, a file (split named after it) or a folder"
        + (f" (default: {' '.join(default)})." if default is not None else "."),
    )
    parser.add_argument("--output", required=True, type=Path, help="Folder to write (Parquet files + README.md).")
    parser.add_argument(
        "--skip_invalid", "--skip-invalid", action="store_true",
        help="Skip invalid records (each reported on stderr and counted in the card) instead of stopping.",
    )
    parser.add_argument("--overwrite", action="store_true", help="Replace --output if it exists.")
    if corpus.add_arguments is not None:
        corpus.add_arguments(parser)
    add_config_option(parser)
    return parser


def _corpus_or_usage_error(name: str):
    from finecl_hf.corpora import CORPORA, get_corpus

    try:
        return get_corpus(name)
    except KeyError:
        raise UsageError(f"unknown corpus {name!r}: choose among {', '.join(CORPORA)}.") from None


def main(argv: Sequence[str] | None = None) -> Any:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in HELP_FLAGS:
        parser = build_parser()
        if not argv:
            parser.print_usage(sys.stderr)
            print(f"finecl {NAME}: error: a corpus is required; corpora:\n{corpus_list()}", file=sys.stderr)
            raise SystemExit(USAGE_EXIT_STATUS)
        parser.print_help()
        raise SystemExit(0)
    name, rest = argv[0], argv[1:]

    def parse():
        corpus = _corpus_or_usage_error(name)
        args = parse_with_config(build_parser(corpus.name), rest)
        from finecl_hf.data.conversion import parse_sources

        sources = parse_sources(args.source, dict(corpus.known_files))
        check_output_dir("--output", str(args.output))
        return corpus, args, sources

    def run(parsed) -> Any:
        corpus, args, sources = parsed
        options = corpus.options(args, sources) if corpus.options is not None else {}
        report = corpus.load_converter()(
            sources, output_dir=args.output, skip_invalid=args.skip_invalid, overwrite=args.overwrite, **options
        )
        if isinstance(report, tuple):  # e.g. label_distantly: (report, statistics)
            report = report[0]
        print(report.format())
        return report

    return run_guarded(f"finecl {NAME} {name}", parse, run)


if __name__ == "__main__":
    from . import run_command

    run_command(NAME)
