"""Convert DocRED-format JSON (DocRED, Re-DocRED, train_distant.json, ERICA's files) into a Hub-ready dataset folder.

    python dataset_scripts/docred.py --source $FINECL_DATA_DIR/redocred/test_revised.json.gz --output DIR
    python dataset_scripts/docred.py --source train=train_annotated.json validation=dev.json --output DIR

Writes the documents (default config) and their relation-instance view (config `relation_instances`). See
dataset_scripts/README.md and `finecl_hf.data.docred`.
"""

from finecl_hf.data.conversion import converter_argument_parser, parse_sources, run_converter
from finecl_hf.data.docred import DOCRED_FILES, add_docred_arguments, convert_docred
from finecl_hf.paths import data_dir


def main():
    parser = converter_argument_parser(
        __doc__.splitlines()[0],
        default_source=data_dir() / "redocred" / "test_revised.json.gz",
        source_help="DocRED-format JSON files (.gz ok), or a folder with train_annotated.json, dev.json, test.json.",
    )
    add_docred_arguments(parser)
    args = parser.parse_args()
    return convert_docred(
        parse_sources(args.source, DOCRED_FILES),
        args.output,
        rel_info_file=args.rel_info,
        relation_instances=not args.no_relation_instances,
        na_ratio=args.na_ratio,
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_converter(main)
