"""The finecl-hf data layer: corpora -> Hub-ready `datasets` folders -> tokenized rows -> model batches.

- Converters (`convert_semeval`, `convert_opennre`, `convert_tacred`, `convert_docred`, `label_distantly`; CLIs in
  `dataset_scripts/`) write Parquet + a dataset card that `datasets.load_dataset(folder)` loads offline.
- `schema` documents the sentence-level, document-level and relation-instance schemas.
- `tokenize_sentences` / `tokenize_documents` map word spans to sub-word spans for any fast tokenizer.
- `SentenceRelationCollator`, `DocumentRelationCollator` and `RelationInstanceCollator` build model-input batches.
"""

from .conversion import CONVERTER_VERSION, ConversionReport, CorpusInfo, SplitSource, parse_sources
from .data_collator import (
    INSTANCE_UIDS_KEY,
    MODEL_INPUT_KEYS,
    PAIR_METADATA_KEYS,
    DocumentRelationCollator,
    RelationInstanceCollator,
    SentenceRelationCollator,
    drop_instances_without_mentions,
    split_model_inputs,
)
from .distant_supervision import DistantStatistics, FactIndex, label_distantly, label_document, normalise_name
from .docred import convert_docred, parse_docred_document, read_rel_info
from .invalid_records import InvalidRecordError, SkippedRecords
from .opennre import convert_opennre
from .relation_instances import RELATION_INSTANCES_CONFIG, build_relation_instances, relation_instances_for_document
from .schema import (
    NO_RELATION,
    SEMEVAL_NO_RELATION,
    document_features,
    relation_instance_features,
    semeval_label_names,
    sentence_features,
)
from .semeval import convert_semeval
from .tacred import convert_tacred
from ..encoding import DEFAULT_ENTITY_MARKERS, PUNCT_ENTITY_MARKERS, EntityMarkers, word_level_tokenizer
from .tokenization import (
    TokenizationStats,
    add_entity_marker_tokens,
    tokenize_documents,
    tokenize_sentences,
)

__all__ = [
    "CONVERTER_VERSION",
    "DEFAULT_ENTITY_MARKERS",
    "INSTANCE_UIDS_KEY",
    "MODEL_INPUT_KEYS",
    "NO_RELATION",
    "PAIR_METADATA_KEYS",
    "PUNCT_ENTITY_MARKERS",
    "RELATION_INSTANCES_CONFIG",
    "SEMEVAL_NO_RELATION",
    "ConversionReport",
    "CorpusInfo",
    "DistantStatistics",
    "DocumentRelationCollator",
    "EntityMarkers",
    "FactIndex",
    "InvalidRecordError",
    "RelationInstanceCollator",
    "SentenceRelationCollator",
    "SkippedRecords",
    "SplitSource",
    "TokenizationStats",
    "add_entity_marker_tokens",
    "build_relation_instances",
    "convert_docred",
    "convert_opennre",
    "convert_semeval",
    "convert_tacred",
    "document_features",
    "drop_instances_without_mentions",
    "label_distantly",
    "label_document",
    "normalise_name",
    "parse_docred_document",
    "parse_sources",
    "read_rel_info",
    "relation_instance_features",
    "relation_instances_for_document",
    "semeval_label_names",
    "sentence_features",
    "split_model_inputs",
    "tokenize_documents",
    "tokenize_sentences",
    "word_level_tokenizer",
]
