"""Convert SemEval-2010 Task 8 (official plain-text files) into a Hub-ready dataset folder.

    python dataset_scripts/semeval.py --output outputs/datasets/semeval2010_task8
    python dataset_scripts/semeval.py --source train=TRAIN_FILE.TXT test=TEST_FILE_FULL.TXT --output DIR

See dataset_scripts/README.md and `finecl_hf.data.semeval`.
"""

from finecl_hf.data.conversion import converter_argument_parser, parse_sources, run_converter
from finecl_hf.data.semeval import SEMEVAL_FILES, convert_semeval
from finecl_hf.paths import data_dir


def main():
    parser = converter_argument_parser(
        __doc__.splitlines()[0],
        default_source=data_dir() / "semeval2010_task8",
        source_help="SemEval files, or their folder (TRAIN_FILE.TXT -> train, TEST_FILE_FULL.TXT -> test).",
    )
    args = parser.parse_args()
    return convert_semeval(
        parse_sources(args.source, SEMEVAL_FILES), args.output, skip_invalid=args.skip_invalid, overwrite=args.overwrite
    )


if __name__ == "__main__":
    run_converter(main)
