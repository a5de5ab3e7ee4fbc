"""Convert OpenNRE-style JSON lines (Wiki80, FewRel-derived, CP/ERICA sentence files) into a Hub-ready dataset folder.

    python dataset_scripts/opennre.py --output outputs/datasets/wiki80
    python dataset_scripts/opennre.py --source train=train.txt validation=val.txt --relations rel2id.json --output DIR

See dataset_scripts/README.md and `finecl_hf.data.opennre`.
"""

from pathlib import Path

from finecl_hf.data.conversion import converter_argument_parser, parse_sources, run_converter
from finecl_hf.data.opennre import WIKI80_FILES, convert_opennre
from finecl_hf.paths import data_dir


def main():
    parser = converter_argument_parser(
        __doc__.splitlines()[0],
        default_source=data_dir() / "wiki80",
        source_help="JSON-lines files (.gz ok), or a Wiki80 folder (train.txt or train_0.1.txt.gz, dev.txt[.gz]).",
    )
    parser.add_argument(
        "--relations",
        type=Path,
        help="Label file: rel2id.json ({name: id}) or a JSON list of names. Default: rel2id.json beside the first "
        "source if present, else the sorted labels found in the data.",
    )
    parser.add_argument(
        "--no-relation-label",
        default=None,
        help="Name of the corpus's no-relation label, which becomes id 0 (Wiki80 has none).",
    )
    args = parser.parse_args()
    sources = parse_sources(args.source, WIKI80_FILES)
    relations = args.relations
    if relations is None and (sources[0].path.parent / "rel2id.json").is_file():
        relations = sources[0].path.parent / "rel2id.json"
    return convert_opennre(
        sources,
        args.output,
        relations_file=relations,
        no_relation=args.no_relation_label,
        skip_invalid=args.skip_invalid,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    run_converter(main)
