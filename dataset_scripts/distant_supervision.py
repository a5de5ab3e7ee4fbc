"""Distantly label DocRED-format documents with a fact file and write a Hub-ready dataset folder.

    python dataset_scripts/distant_supervision.py --output outputs/datasets/redocred-distant
    python dataset_scripts/distant_supervision.py --source train=docs.json --facts facts.json.gz --output DIR

Facts are a JSON list of [head name, tail name, P-id]; the source documents' own labels are ignored for labelling and
kept in `gold_relations`. Matching rule: `finecl_hf.data.distant_supervision`; see also dataset_scripts/README.md.
"""

from pathlib import Path

from finecl_hf.data.conversion import converter_argument_parser, parse_sources, run_converter
from finecl_hf.data.distant_supervision import label_distantly
from finecl_hf.data.docred import DOCRED_FILES, add_docred_arguments
from finecl_hf.paths import data_dir


def main():
    parser = converter_argument_parser(
        __doc__.splitlines()[0],
        default_source=data_dir() / "redocred" / "test_revised.json.gz",
        source_help="DocRED-format JSON files (.gz ok) to label.",
    )
    parser.add_argument(
        "--facts",
        type=Path,
        default=data_dir() / "docred" / "train_annotated.fact.json.gz",
        help="JSON list of [head name, tail name, P-id] facts (default: %(default)s).",
    )
    add_docred_arguments(parser)
    args = parser.parse_args()
    report, _ = label_distantly(
        parse_sources(args.source, DOCRED_FILES),
        args.facts,
        args.output,
        rel_info_file=args.rel_info,
        relation_instances=not args.no_relation_instances,
        na_ratio=args.na_ratio,
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        overwrite=args.overwrite,
    )
    return report


if __name__ == "__main__":
    run_converter(main)
