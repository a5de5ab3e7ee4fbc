"""Shared helpers to render dataset cards (README.md with Hub YAML metadata) from the templates in `model_cards/`.

A converted dataset folder is described by its card alone: `configs:` (which Parquet file holds which split),
`dataset_info:` (the `Features`, so `ClassLabel` names survive `load_dataset(folder)`), per-split and per-class
counts, provenance (source files with sha256, converter version) and the records skipped by `--skip_invalid`.
finecl-specific metadata lives under the YAML key `finecl` and is read back with `read_dataset_card_metadata`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from datasets import ClassLabel, DatasetInfo, Features, LargeList, List, Value
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from .errors import UsageError

CARD_TEMPLATES = "finecl_hf.model_cards"  # the package `model_cards/` ships as
DATASET_CARD_TEMPLATE = "dataset_card.md"
CardT = TypeVar("CardT")
FINECL_METADATA_KEY = "finecl"


@dataclass
class ConfigCardSection:
    """What the card says about one dataset config (e.g. ``default`` documents or ``relation_instances``).

    Args:
        name: Config name (``default`` is what `load_dataset(folder)` loads).
        description: One paragraph on what a row is.
        features: The config's `Features`.
        data_files: Split name -> path of its Parquet file, relative to the dataset folder.
        num_rows: Split name -> number of rows.
        num_bytes: Split name -> size of the split as Arrow data.
        label_counts: Split name -> label id -> count, for the config's relation labels.
        label_names: Names of the relation labels (`ClassLabel.names`).
        label_unit: What `label_counts` counts (``sentences``, ``triples``, ``instances``).
    """

    name: str
    description: str
    features: Features
    data_files: dict[str, str]
    num_rows: dict[str, int]
    num_bytes: dict[str, int]
    label_counts: dict[str, Counter]
    label_names: Sequence[str]
    label_unit: str

    def dataset_info(self) -> DatasetInfo:
        splits = SplitDict()
        for split, rows in self.num_rows.items():
            splits.add(SplitInfo(name=split, num_examples=rows, num_bytes=self.num_bytes.get(split, 0)))
        return DatasetInfo(features=self.features, splits=splits, dataset_size=sum(self.num_bytes.values()))


@dataclass
class DatasetCardSpec:
    """Everything a dataset card shows.

    Args:
        pretty_name: Human-readable dataset name.
        summary: Markdown paragraph describing the corpus.
        configs: One section per config; the first one is the default config.
        metadata: finecl metadata stored under the YAML key ``finecl`` (corpus, no-relation label, relation
            descriptions, sources with sha256, converter, skipped records, ...).
        license: Hub licence identifier (``cc-by-3.0``, ``mit``, ``other``).
        homepage: Where the corpus comes from.
        citation: BibTeX of the corpus.
        tags: Extra Hub tags.
    """

    pretty_name: str
    summary: str
    configs: list[ConfigCardSection]
    metadata: dict[str, Any]
    license: str = "other"
    homepage: str | None = None
    citation: str | None = None
    tags: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=lambda: ["en"])


def size_category(num_rows: int) -> str:
    """The Hub's `size_categories` bucket for a dataset of `num_rows` rows."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if num_rows < limit:
            return name
    return "1M<n<10M"


def describe_feature(feature: Any) -> str:
    """A short human-readable type, e.g. ``list of {name: string, start: int32}`` or ``class label (19 names)``."""
    if isinstance(feature, ClassLabel):
        return f"class label ({feature.num_classes} names)"
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, (List, LargeList)):
        return f"list of {describe_feature(feature.feature)}"
    if isinstance(feature, Mapping):
        return "{" + ", ".join(f"{name}: {describe_feature(child)}" for name, child in feature.items()) + "}"
    return type(feature).__name__


def label_table(section: ConfigCardSection, descriptions: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows ``{id, name, description, counts: [per split], total}`` for the card's label table."""
    splits = list(section.num_rows)
    rows = []
    for label_id, name in enumerate(section.label_names):
        counts = [section.label_counts.get(split, Counter()).get(label_id, 0) for split in splits]
        rows.append(
            {
                "id": label_id,
                "name": name,
                "description": (descriptions or {}).get(name, ""),
                "counts": counts,
                "total": sum(counts),
            }
        )
    return rows


def render_dataset_card(spec: DatasetCardSpec) -> DatasetCard:
    """Render `model_cards/dataset_card.md` with Hub YAML (`configs`, `dataset_info`, licence, ``finecl``)."""
    configs_yaml = []
    for index, section in enumerate(spec.configs):
        entry = {
            "config_name": section.name,
            "data_files": [{"split": split, "path": path} for split, path in section.data_files.items()],
        }
        if index == 0:
            entry["default"] = True
        configs_yaml.append(entry)
    total_rows = sum(sum(section.num_rows.values()) for section in spec.configs[:1])
    card_data = DatasetCardData(
        pretty_name=spec.pretty_name,
        license=spec.license,
        language=spec.language,
        task_categories=["text-classification"],
        tags=["relation-extraction", "finecl", *spec.tags],
        size_categories=[size_category(total_rows)],
        configs=configs_yaml,
        **{FINECL_METADATA_KEY: spec.metadata},
    )
    DatasetInfosDict({section.name: section.dataset_info() for section in spec.configs}).to_dataset_card_data(card_data)
    descriptions = spec.metadata.get("relation_descriptions")
    sections = [
        {
            "name": section.name,
            "description": section.description,
            "columns": [(name, describe_feature(feature)) for name, feature in section.features.items()],
            "splits": [
                {"name": split, "num_rows": rows, "path": section.data_files[split]}
                for split, rows in section.num_rows.items()
            ],
            "labels": label_table(section, descriptions),
            "label_unit": section.label_unit,
        }
        for section in spec.configs
    ]
    return render_card_template(
        DatasetCard,
        card_data,
        DATASET_CARD_TEMPLATE,
        pretty_name=spec.pretty_name,
        summary=spec.summary,
        sections=sections,
        metadata=spec.metadata,
        homepage=spec.homepage,
        citation=spec.citation,
        license=spec.license,
    )


def render_card_template(card_class: type[CardT], card_data: Any, template_name: str, **values: Any) -> CardT:
    """`card_class.from_template(card_data, ...)` from the shipped template `model_cards/<template_name>` (the package
    `finecl_hf.model_cards`): the one loader of every card finecl-hf writes (converted datasets, learning-order
    datasets, pre-trained and fine-tuned checkpoints); `values` fill the template."""
    template = resources.files(CARD_TEMPLATES).joinpath(template_name).read_text(encoding="utf-8")
    return card_class.from_template(card_data, template_str=template, **values)


def read_dataset_card_metadata(dataset_dir: str | Path) -> dict[str, Any]:
    """The ``finecl`` metadata block of a converted dataset's card (no-relation label, sources, skipped records...)."""
    card = DatasetCard.load(Path(dataset_dir) / "README.md")
    metadata = card.data.to_dict().get(FINECL_METADATA_KEY)
    if metadata is None:
        raise UsageError(f"{dataset_dir}/README.md has no '{FINECL_METADATA_KEY}' metadata: not a finecl-hf dataset.")
    return metadata


__all__ = [
    "CARD_TEMPLATES",
    "ConfigCardSection",
    "DatasetCardSpec",
    "describe_feature",
    "label_table",
    "read_dataset_card_metadata",
    "render_card_template",
    "render_dataset_card",
    "size_category",
]
