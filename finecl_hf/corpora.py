"""The corpus registry: every corpus finecl-hf converts is one entry of `CORPORA`, the only place to edit to add one.

An entry names the corpus, the converter function, where its files are by default (under `$FINECL_DATA_DIR`), which
file of a source folder becomes which split, its corpus-specific options, and a description. `finecl convert
<corpus>`, the `dataset_scripts/` wrappers and the demo all read this table.

A converter is called as ``converter(sources, output_dir=..., skip_invalid=..., overwrite=..., **options)`` where
`sources` is a list of `finecl_hf.data.conversion.SplitSource` and `options` comes from the entry's `options`
function; it returns a `ConversionReport` (or a tuple starting with one). Adding a corpus:

    CORPORA["mycorpus"] = Corpus(
        name="mycorpus",
        description="My corpus: tab-separated sentences.",
        converter="my_package.convert:convert_mycorpus",  # or the function itself
        known_files={"train.tsv": "train", "test.tsv": "test"},
        default_source="mycorpus",  # a folder under $FINECL_DATA_DIR, or None to require --source
    )

This module imports nothing heavy (argparse and pathlib only): the converters are imported when a conversion runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .paths import data_dir


@dataclass(frozen=True)
class Corpus:
    """One convertible corpus.

    Attributes:
        name: what `finecl convert <name>` takes.
        description: one line for `finecl convert --help`.
        converter: the conversion function, or its ``"module:function"`` path (imported only when converting).
        known_files: file name inside a `--source` folder -> split, in order of preference (the first file present
            for a split wins).
        default_source: default `--source`, relative to `$FINECL_DATA_DIR`, optionally as ``SPLIT=PATH`` (None:
            `--source` is required).
        source_help: what `--source` takes, for `--help`.
        add_arguments: adds the corpus's own options to its argparse parser (plain argparse: `--help` stays fast).
        options: turns the parsed options (and the resolved sources) into the converter's keyword arguments.
        aliases: other names `finecl convert` accepts for it.
    """

    name: str
    description: str
    converter: str | Callable[..., Any]
    known_files: Mapping[str, str] = field(default_factory=dict)
    default_source: str | None = None
    source_help: str = "Source files, or their folder."
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    options: Callable[[argparse.Namespace, list], dict[str, Any]] | None = None
    aliases: tuple[str, ...] = ()

    def load_converter(self) -> Callable[..., Any]:
        if callable(self.converter):
            return self.converter
        module, _, function = self.converter.partition(":")
        return getattr(importlib.import_module(module), function)

    def default_sources(self, root: Path | None = None) -> list[str] | None:
        """The default `--source` values under `root` (default: `$FINECL_DATA_DIR`), None if there is none."""
        if self.default_source is None:
            return None
        split, separator, relative = self.default_source.rpartition("=")
        path = (root or data_dir()) / relative
        return [f"{split}={path}" if separator else str(path)]


# ---------------------------------------------------------------------------------------- corpus-specific options
def _relations_option(help_text: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--relations", type=Path, help=help_text)

    return add


def _add_opennre_arguments(parser: argparse.ArgumentParser) -> None:
    _relations_option(
        "Label file: rel2id.json ({name: id}) or a JSON list of names. Default: rel2id.json beside the first "
        "source if present, else the sorted labels found in the data."
    )(parser)
    parser.add_argument(
        "--no_relation_label", "--no-relation-label", default=None,
        help="Name of the corpus's no-relation label, which becomes id 0 (Wiki80 has none).",
    )


def _opennre_options(args: argparse.Namespace, sources: list) -> dict[str, Any]:
    relations = args.relations
    if relations is None and (sources[0].path.parent / "rel2id.json").is_file():
        relations = sources[0].path.parent / "rel2id.json"
    return {"relations_file": relations, "no_relation": args.no_relation_label}


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options among `names` given on the command line: unset ones keep the converter's defaults, defined once
    where the converter is."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _add_rel_info_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rel_info", "--rel-info", type=Path, default=data_dir() / "docred" / "rel_info.json",
                        help="DocRED's rel_info.json {P-id: name} (default: %(default)s).")


def _add_docred_arguments(parser: argparse.ArgumentParser) -> None:
    _add_rel_info_argument(parser)
    parser.add_argument("--no_relation_instances", "--no-relation-instances", action="store_true",
                        help="Do not write the `relation_instances` config.")
    parser.add_argument("--na_ratio", "--na-ratio", type=float, default=None,
                        help="No-relation pairs sampled per document: min(#NA, ratio x #positive pairs) (default: "
                        "the converter's, `finecl_hf.data.relation_instances.DEFAULT_NA_RATIO`).")
    parser.add_argument("--seed", type=int, default=None, help="Seed of that sampling (default: the converter's).")


def _docred_options(args: argparse.Namespace, sources: list) -> dict[str, Any]:
    options = {"rel_info_file": args.rel_info, "relation_instances": not args.no_relation_instances}
    return options | _given(args, "na_ratio", "seed")  # the defaults: finecl_hf.data.relation_instances


def _add_distant_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--facts", type=Path, default=data_dir() / "docred" / "train_annotated.fact.json.gz",
                        help="JSON list of [head name, tail name, P-id] facts (default: %(default)s).")
    _add_docred_arguments(parser)


def _distant_options(args: argparse.Namespace, sources: list) -> dict[str, Any]:
    return {"facts_file": args.facts, **_docred_options(args, sources)}


def _add_noise_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise_rate", "--noise-rate", type=float, required=True,
                        help="Share of triples to corrupt, in [0, 1).")
    parser.add_argument("--mixture", nargs=3, type=float, metavar=("OTHER_PAIR", "FREQUENT", "REVERSED"),
                        default=None, help="Probabilities of the error types other_pair, frequent, reversed (default: "
                        "a third each).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the corruption (default: %(default)s).")
    _add_rel_info_argument(parser)
    parser.add_argument("--na_ratio", "--na-ratio", type=float, default=None,
                        help="No-relation pairs sampled per document per positive pair (default: the converter's).")


def _noise_options(args: argparse.Namespace, sources: list) -> dict[str, Any]:
    options = {"noise_rate": args.noise_rate, "rel_info_file": args.rel_info, "seed": args.seed}
    return options | _given(args, "mixture", "na_ratio")  # the mixture in the converter's NOISE_TYPES order


def _add_oracle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num_epochs", "--num-epochs", type=int, default=None,
                        help="k_max + 1: corrupted triples are 'learned' at the last epoch (default: the converter's, "
                        "the paper's 15 epochs: `finecl_hf.data.oracle_order.DEFAULT_ORACLE_EPOCHS`).")
    parser.add_argument("--relabel", action="store_true", help="Give every corrupted triple back its original "
                        "triple instead (the ceiling of label correction).")


DOCRED_FILES = {
    "train_annotated.json": "train",
    "train_annotated.json.gz": "train",
    "dev.json": "validation",
    "dev.json.gz": "validation",
    "test.json": "test",
    "test.json.gz": "test",
    "train_revised.json": "train",
    "dev_revised.json": "validation",
    "test_revised.json": "test",
    "test_revised.json.gz": "test",
}

CORPORA: dict[str, Corpus] = {
    corpus.name: corpus
    for corpus in (
        Corpus(
            name="semeval",
            description="SemEval-2010 Task 8 (official plain-text files), sentence level.",
            converter="finecl_hf.data.semeval:convert_semeval",
            known_files={"TRAIN_FILE.TXT": "train", "TEST_FILE_FULL.TXT": "test"},
            default_source="semeval2010_task8",
            source_help="SemEval files, or their folder (TRAIN_FILE.TXT -> train, TEST_FILE_FULL.TXT -> test).",
        ),
        Corpus(
            name="wiki80",
            description="OpenNRE JSON lines (Wiki80, FewRel-derived, CP/ERICA sentence files), sentence level.",
            converter="finecl_hf.data.opennre:convert_opennre",
            # Folder defaults, in order of preference: the full files, else the 10% subset shipped with the project.
            known_files={"train.txt": "train", "train.txt.gz": "train", "train_0.1.txt.gz": "train",
                         "dev.txt": "validation", "dev.txt.gz": "validation"},
            default_source="wiki80",
            source_help="JSON-lines files (.gz ok), or a Wiki80 folder (train.txt or train_0.1.txt.gz, dev.txt[.gz]).",
            add_arguments=_add_opennre_arguments,
            options=_opennre_options,
            aliases=("opennre",),
        ),
        Corpus(
            name="tacred",
            description="TACRED JSON (LDC2018T24; also TACREV, Re-TACRED), sentence level. Licensed: not shipped.",
            converter="finecl_hf.data.tacred:convert_tacred",
            known_files={"train.json": "train", "dev.json": "validation", "test.json": "test"},
            source_help="TACRED JSON files, or their folder (train.json, dev.json -> validation, test.json).",
            add_arguments=_relations_option(
                "Label file ({name: id} or a list of names) replacing TACRED's 41 relations (e.g. for Re-TACRED); "
                "`no_relation` is always label 0."
            ),
            options=lambda args, sources: {"relations_file": args.relations},
        ),
        Corpus(
            name="docred",
            description="DocRED-format JSON (DocRED, Re-DocRED, train_distant.json, ERICA's files), document level, "
            "with its relation-instance view.",
            converter="finecl_hf.data.docred:convert_docred",
            known_files=DOCRED_FILES,
            default_source="redocred/test_revised.json.gz",
            source_help="DocRED-format JSON files (.gz ok), or a folder with train_annotated.json, dev.json, test.json.",
            add_arguments=_add_docred_arguments,
            options=_docred_options,
        ),
        Corpus(
            name="distant-supervision",
            description="DocRED-format documents distantly labelled with a fact file (stage-1 input), document level.",
            converter="finecl_hf.data.distant_supervision:label_distantly",
            known_files=DOCRED_FILES,
            # The labelled documents are stage 1's training data, whatever split the source file was.
            default_source="train=redocred/test_revised.json.gz",
            source_help="DocRED-format JSON files (.gz ok) to label.",
            add_arguments=_add_distant_arguments,
            options=_distant_options,
            aliases=("distant",),
        ),
        Corpus(
            name="document-noise",
            description="Gold DocRED-format documents with a controlled share of wrong labels (the controlled "
            "experiment's corpora), document level.",
            converter="finecl_hf.data.document_noise:convert_noisy_corpus",
            known_files=DOCRED_FILES,
            default_source="train=redocred/test_revised.json.gz",
            source_help="Gold-labelled DocRED-format JSON files (.gz ok).",
            add_arguments=_add_noise_arguments,
            options=_noise_options,
        ),
        Corpus(
            name="oracle-order",
            description="The oracle learning order of a document-noise folder: its true noise mask as a "
            "learning-order dataset (no stage 1).",
            converter="finecl_hf.data.oracle_order:convert_oracle_order",
            known_files={"README.md": "train"},
            source_help="The folder `finecl convert document-noise` wrote.",
            add_arguments=_add_oracle_arguments,
            options=lambda args, sources: {"relabel": args.relabel, **_given(args, "num_epochs")},
        ),
    )
}


def get_corpus(name: str) -> Corpus:
    """The registry entry named `name` (or with `name` among its aliases); KeyError if there is none."""
    if name in CORPORA:
        return CORPORA[name]
    for corpus in CORPORA.values():
        if name in corpus.aliases:
            return corpus
    raise KeyError(name)


__all__ = ["CORPORA", "Corpus", "get_corpus"]
