"""Convert TACRED JSON files (LDC2018T24; also TACREV / Re-TACRED) into a Hub-ready dataset folder.

    python dataset_scripts/tacred.py --source /path/to/tacred/data/json --output outputs/datasets/tacred
    python dataset_scripts/tacred.py --source train=train.json validation=dev.json test=test.json --output DIR

TACRED is licensed by the LDC and not shipped with finecl-hf. See dataset_scripts/README.md and
`finecl_hf.data.tacred`.
"""

from pathlib import Path

from finecl_hf.data.conversion import converter_argument_parser, parse_sources, run_converter
from finecl_hf.data.tacred import TACRED_FILES, convert_tacred


def main():
    parser = converter_argument_parser(
        __doc__.splitlines()[0],
        default_source=None,
        source_help="TACRED JSON files, or their folder (train.json, dev.json -> validation, test.json).",
    )
    parser.add_argument(
        "--relations",
        type=Path,
        help="Label file ({name: id} or a list of names) replacing TACRED's 41 relations (e.g. for Re-TACRED); "
        "`no_relation` is always label 0.",
    )
    args = parser.parse_args()
    return convert_tacred(
        parse_sources(args.source, TACRED_FILES),
        args.output,
        relations_file=args.relations,
        skip_invalid=args.skip_invalid,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_converter(main)
