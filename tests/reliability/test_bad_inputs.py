"""The bad-input corpus: every CLI answers malformed input with one clear paragraph naming file, record and field.

Each case of `CASES` runs one CLI (`dataset_scripts/*.py`, `trainers/*.py`) on one fault: a file of `bad_inputs/`
(converters) or a corrupted copy of a tiny dataset/checkpoint (the stages). A case passes when the CLI exits with the
expected status, its error paragraph names everything the case lists (file, record, field, value), the error comes
from finecl-hf's own checks (not from inside pyarrow/datasets/torch) and nothing half-written is left behind. Bad
hyper-parameters must be rejected before any data is prepared or any training step runs. Where a converter has
`--skip-invalid`, record-level faults become a counted skip and file-level faults stay fatal.

Library-level converter checks live in `tests/test_data_invalid.py`; this file drives the command lines and the
cross-stage hand-offs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import transformers
from reliability_helpers import BAD_INPUTS, CliOutcome, run_cli, run_cli_subprocess

from finecl_hf import FineCLForRelationExtraction
from finecl_hf.cards import read_dataset_card_metadata


@dataclass(frozen=True)
class BadInput:
    """One malformed input and the answer expected from a CLI.

    `arguments` and `names` are format strings over the workspace paths (`{bad}`, `{output}`, `{backbone}`, ...).

    Attributes:
        fault: what is wrong, in words (the reliability report lists it).
        script: the CLI, relative to the repository.
        arguments: its command line.
        names: what the error paragraph must contain (file, record, field, value).
        exit_status: 1 for a data error (the content of an input), 2 for a usage error (an argument's value: out of
            range, a path that does not exist, a folder that is not what the stage reads), as argparse's own.
        raised_by_own_check: False where the error legitimately comes from transformers (a damaged checkpoint).
        hyper_parameter: the fault is a bad value: it must be rejected before data preparation.
        skip: with `--skip-invalid`: "counted" (exit 0, one skip in card and on stderr) or "fatal" (same error).
        environment: variables set for the run (format strings over the workspace paths).
    """

    fault: str
    script: str
    arguments: tuple[str, ...]
    names: tuple[str, ...]
    exit_status: int = 1
    raised_by_own_check: bool = True
    hyper_parameter: bool = False
    skip: str | None = None
    environment: tuple[tuple[str, str], ...] = ()


def converter(script: str, *arguments: str) -> tuple[str, tuple[str, ...]]:
    return f"dataset_scripts/{script}", (*arguments, "--output", "{output}")


LEARNING_ORDER = "trainers/learning_order.py"
PRETRAIN = "trainers/pretrain.py"
FINETUNE = "trainers/finetune.py"
STAGE1 = ("--model_name_or_path", "{backbone}", "--output_dir", "{output}", "--use_cpu", "--report_to", "none",
          "--num_train_epochs", "1", "--max_length", "64", "--disable_tqdm", "true")  # fmt: skip
STAGE2 = ("--model_name_or_path", "{backbone}", "--output_dir", "{output}", "--use_cpu", "--report_to", "none",
          "--max_steps", "1", "--per_device_train_batch_size", "4", "--total_batch_size", "0", "--max_length", "96",
          "--dataset_cache_dir", "{cache}", "--disable_tqdm", "true")  # fmt: skip
# Stage 2 with its default backbone (roberta-base, which is not in the offline cache).
STAGE2_DEFAULT_MODEL = STAGE2[2:]
STAGE3 = ("--dataset_path", "{sentences}", "--output_dir", "{output}", "--recipe", "none", "--use_cpu",
          "--report_to", "none", "--num_train_epochs", "1", "--max_length", "32", "--disable_tqdm", "true")  # fmt: skip
WIKI80_LABELS = ("--relations", "{bad}/wiki80/rel2id.json")
DOCRED_LABELS = ("--rel-info", "{bad}/docred/rel_info.json")


def stage1(dataset: str, *extra: str) -> tuple[str, tuple[str, ...]]:
    """Stage 1 on `dataset` with the table's small settings, then `extra`."""
    return LEARNING_ORDER, ("--dataset_path", dataset, *STAGE1, *extra)


def stage2(learning_order: str, *extra: str) -> tuple[str, tuple[str, ...]]:
    """Stage 2 on `learning_order` with the table's small settings, then `extra`."""
    return PRETRAIN, ("--learning_order_dataset", learning_order, *STAGE2, *extra)


def stage3(model: str, *extra: str) -> tuple[str, tuple[str, ...]]:
    """Stage 3 from `model` with the table's small settings, then `extra`."""
    return FINETUNE, ("--model_name_or_path", model, *STAGE3, *extra)

CASES = {
    # ----------------------------------------------------------------------------------------- converters
    "semeval-non-utf8": BadInput(
        "Latin-1 bytes inside a SemEval sentence",
        *converter("semeval.py", "--source", "train={bad}/semeval/non_utf8.TXT"),
        names=("{bad}/semeval/non_utf8.TXT", "record 2 (id '2', line 5)", "field 'sentence'", "not valid UTF-8"),
        skip="counted",
    ),
    "semeval-duplicate-id": BadInput(
        "two SemEval records with the same id",
        *converter("semeval.py", "--source", "train={bad}/semeval/duplicate_id.TXT"),
        names=("{bad}/semeval/duplicate_id.TXT", "record 2 (id '1')", "field 'id'", "duplicate id"),
        skip="counted",
    ),
    "semeval-reversed-markers": BadInput(
        "a SemEval entity whose closing marker comes before its opening marker (reversed span)",
        *converter("semeval.py", "--source", "train={bad}/semeval/reversed_markers.TXT"),
        names=("{bad}/semeval/reversed_markers.TXT", "record 2 (id '2', line 5)", "field 'sentence'",
               "</e1> comes before <e1>"),  # fmt: skip
    ),
    "wiki80-truncated-gzip": BadInput(
        "an OpenNRE .txt.gz cut in half (truncated gzip stream)",
        *converter("opennre.py", "--source", "train={bad}/wiki80/truncated.txt.gz", *WIKI80_LABELS),
        names=("{bad}/wiki80/truncated.txt.gz", "field '<file>'", "gzip stream is truncated"),
        skip="fatal",
    ),
    "wiki80-span-wrong-type": BadInput(
        "an OpenNRE head span given as strings (wrong type)",
        *converter("opennre.py", "--source", "train={bad}/wiki80/span_as_strings.txt", *WIKI80_LABELS),
        names=("{bad}/wiki80/span_as_strings.txt", "record 2", "field 'head'", "two integers", "'0'"),
        skip="counted",
    ),
    "wiki80-unknown-relation": BadInput(
        "an OpenNRE relation missing from rel2id.json",
        *converter("opennre.py", "--source", "train={bad}/wiki80/unknown_relation.txt", *WIKI80_LABELS),
        names=("{bad}/wiki80/unknown_relation.txt", "record 3", "field 'relation'", "'capital of'"),
        skip="counted",
    ),
    "tacred-truncated-json": BadInput(
        "a TACRED JSON array cut before its end (truncated JSON)",
        *converter("tacred.py", "--source", "train={bad}/tacred/truncated.json"),
        names=("{bad}/tacred/truncated.json", "record 2", "field '<json>'", "truncated"),
        skip="fatal",
    ),
    "tacred-span-out-of-range": BadInput(
        "a TACRED object span beyond the sentence end",
        *converter("tacred.py", "--source", "train={bad}/tacred/tail_out_of_range.json"),
        names=("{bad}/tacred/tail_out_of_range.json", "record 2 (id 'a2')", "field 'tail'", "outside the sentence"),
        skip="counted",
    ),
    "tacred-token-not-a-list": BadInput(
        "a TACRED `token` given as one string instead of a list of words (wrong type)",
        *converter("tacred.py", "--source", "train={bad}/tacred/token_is_a_string.json"),
        names=("{bad}/tacred/token_is_a_string.json", "record 2 (id 'a2')", "field 'tokens'", "list"),
    ),
    "tacred-missing-id": BadInput(
        "a TACRED record whose id is null (missing key value)",
        *converter("tacred.py", "--source", "train={bad}/tacred/id_is_null.json"),
        names=("{bad}/tacred/id_is_null.json", "record 2", "field 'id'", "None"),
        skip="counted",
    ),
    "docred-truncated-gzip": BadInput(
        "a DocRED .json.gz cut in half (truncated gzip stream)",
        *converter("docred.py", "--source", "train={bad}/docred/truncated.json.gz", *DOCRED_LABELS),
        names=("{bad}/docred/truncated.json.gz", "field '<file>'", "gzip stream is truncated"),
        skip="fatal",
    ),
    "docred-sent-id-wrong-type": BadInput(
        "a DocRED mention whose sent_id is a string (wrong type)",
        *converter("docred.py", "--source", "train={bad}/docred/sent_id_as_string.json", *DOCRED_LABELS),
        names=("{bad}/docred/sent_id_as_string.json", "record 2 (id 'Berlin')", "field 'vertexSet[1][1].sent_id'",
               "expected an integer"),  # fmt: skip
        skip="counted",
    ),
    "docred-empty-document": BadInput(
        "a DocRED document without sentences (empty document)",
        *converter("docred.py", "--source", "train={bad}/docred/empty_document.json", *DOCRED_LABELS),
        names=("{bad}/docred/empty_document.json", "record 2 (id 'Empty')", "field 'sents'", "empty"),
        skip="counted",
    ),
    "docred-empty-file": BadInput(
        "a 0-byte DocRED source file (failed download)",
        *converter("docred.py", "--source", "train={bad}/docred/empty_file.json", *DOCRED_LABELS),
        names=("{bad}/docred/empty_file.json", "empty"),
    ),
    "docred-rel-info-not-a-mapping": BadInput(
        "a rel_info.json that is a list instead of {P-id: name} (wrong type)",
        *converter("docred.py", "--source", "train={bad}/docred/no_entities.json", "--rel-info",
                   "{bad}/docred/rel_info_not_a_mapping.json"),  # fmt: skip
        names=("{bad}/docred/rel_info_not_a_mapping.json", "field '<json>'", "expected an object"),
    ),
    "distant-unknown-relation": BadInput(
        "a distant-supervision fact with a relation not in rel_info.json (unknown relation)",
        *converter("distant_supervision.py", "--source", "train={bad}/distant/documents.json", "--facts",
                   "{bad}/distant/facts_unknown_relation.json", *DOCRED_LABELS),  # fmt: skip
        names=("{bad}/distant/facts_unknown_relation.json", "record 3", "field '[2]'", "'P999'"),
    ),
    # ----------------------------------------------------------------------------------------- stage 1
    "stage1-upsample-150": BadInput(
        "--upsample_min_percent 150 (absurd hyper-parameter)",
        *stage1("{documents}", "--upsample_min_percent", "150"),
        names=("upsample_min_percent", "150"), exit_status=2, hyper_parameter=True,
    ),
    "stage1-unknown-mode": BadInput(
        "--mode sideways (not a learning-order mode)",
        *stage1("{documents}", "--mode", "sideways"),
        names=("--mode", "invalid choice", "'sideways'"), exit_status=2, hyper_parameter=True,
    ),
    "stage1-zero-epochs": BadInput(
        "--num_train_epochs 0 (no epoch to learn an order in)",
        *stage1("{documents}", "--num_train_epochs", "0"),
        names=("num_train_epochs", "0"), exit_status=2, hyper_parameter=True,
    ),
    "stage1-label-not-classlabel": BadInput(
        "--label_column naming an integer column, not a ClassLabel (wrong type)",
        *stage1("{documents}", "--label_column", "head"),
        names=("{documents}", "field 'head'", "ClassLabel"),
    ),
    "stage1-missing-correct-column": BadInput(
        "--correct_column naming a column that does not exist (missing key)",
        *stage1("{documents}", "--correct_column", "is_gold"),
        names=("correct_column", "'is_gold'"),
    ),
    "stage1-every-instance-truncated": BadInput(
        "documents longer than --max_length 8 so that every relation instance loses its head or tail",
        *stage1("{documents}", "--max_length", "8"),
        names=("{documents}", "max_length", "8"),
    ),
    "stage1-duplicate-uids": BadInput(
        "two instances with the same uid (the key stage 2 and analyses join on)",
        *stage1("{duplicate_uids}"),
        names=("{duplicate_uids}", "field 'uid'", "'train/3'"),
    ),
    "stage1-type-agreement-without-types": BadInput(
        "--scores type_agreement on a sentence corpus whose entities have no types",
        *stage1("{sentences}", "--scores", "type_agreement"),
        names=("--scores type_agreement", "no entity types", "{sentences}"), exit_status=2,
    ),
    "stage1-more-neighbours-than-instances": BadInput(
        "--num_neighbours larger than the corpus (k-NN over too few instances)",
        *stage1("{documents}", "--num_neighbours", "100000"),
        names=("--num_neighbours 100000", "{documents}"), exit_status=2,
    ),
    "stage1-evidence-encoder-not-an-encoder": BadInput(
        "--evidence_encoder naming a dataset folder, which cannot produce features",
        *stage1("{documents}", "--evidence_encoder", "{sentences}"),
        names=("--evidence_encoder", "{sentences}", "not an encoder"), exit_status=2,
    ),
    "stage1-unknown-score": BadInput(
        "--scores naming a score that is not registered",
        *stage1("{documents}", "--scores", "shiny"),
        names=("scores", "'shiny'", "type_agreement"), exit_status=2, hyper_parameter=True,
    ),
    # ----------------------------------------------------------------------------------------- stage 2
    "stage2-temperature-0": BadInput(
        "--temperature 0 (absurd hyper-parameter: division by zero in the losses)",
        *stage2("{learning_order}", "--temperature", "0"),
        names=("temperature", "0"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-alpha-1": BadInput(
        "--alpha 1 (absurd hyper-parameter: every learning-order weight equal)",
        *stage2("{learning_order}", "--alpha", "1"),
        names=("alpha", "1"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-truncation-share-1": BadInput(
        "--weighting truncate --truncation_share 1 (every triple dropped)",
        *stage2("{learning_order}", "--weighting", "truncate", "--truncation_share", "1"),
        names=("truncation_share", "1", "[0, 1)"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-truncation-share-negative": BadInput(
        "--truncation_share -0.1",
        *stage2("{learning_order}", "--weighting", "truncate", "--truncation_share", "-0.1"),
        names=("truncation_share", "-0.1", "[0, 1)"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-truncation-share-without-truncate": BadInput(
        "--truncation_share with --weighting paper (a setting the scheme never reads)",
        *stage2("{learning_order}", "--truncation_share", "0.3"),
        names=("--truncation_share 0.3", "--weighting truncate"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-odd-batch-size": BadInput(
        "--per_device_train_batch_size 3 (documents come in pairs)",
        *stage2("{learning_order}", "--per_device_train_batch_size", "3"),
        names=("per_device_train_batch_size", "3", "even"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-converter-output": BadInput(
        "the converter's documents folder given instead of stage 1's learning-order dataset (no learned_epoch)",
        *stage2("{documents}"),
        names=("{documents}", "'instances'", "learning_order"), exit_status=2,
    ),
    "stage2-missing-learned-epoch": BadInput(
        "a learning-order dataset whose instances lost the learned_epoch column (missing key)",
        *stage2("{no_learned_epoch}"),
        names=("{no_learned_epoch}", "learned_epoch"),
    ),
    "stage2-documents-do-not-match": BadInput(
        "a learning-order dataset whose documents config is another ordering of the corpus (uids do not match)",
        *stage2("{mismatched_documents}"),
        names=("{mismatched_documents}", "document_uid", "train/0"),
    ),
    "stage2-resume-incomplete-checkpoint": BadInput(
        "--resume_from_checkpoint at a folder left by a kill during the save (weights cut in half, no marker)",
        *stage2("{learning_order}", "--resume_from_checkpoint", "{incomplete_checkpoint}"),
        names=("{incomplete_checkpoint}", "checkpoint_complete.json", "--resume_from_checkpoint last"),
    ),
    # ----------------------------------------------------------------------------------------- stage 3
    "stage3-train-fraction-0": BadInput(
        "--train_fraction 0 (absurd hyper-parameter)",
        *stage3("{backbone}", "--train_fraction", "0"),
        names=("train_fraction", "0"), exit_status=2, hyper_parameter=True,
    ),
    "stage3-max-length-4": BadInput(
        "--max_length 4 (cannot hold two entities)",
        *stage3("{backbone}", "--max_length", "4"),
        names=("max_length", "4"), exit_status=2, hyper_parameter=True,
    ),
    "stage3-sentences-as-documents": BadInput(
        "--relation_level document on a sentence-level dataset (wrong dataset type)",
        *stage3("{backbone}", "--relation_level", "document"),
        names=("{sentences}", "relation_level='document'", "`sents`"),
    ),
    "stage3-missing-dataset": BadInput(
        "--dataset_path that does not exist",
        FINETUNE, ("--model_name_or_path", "{backbone}", *STAGE3[2:], "--dataset_path", "{output}/nowhere"),
        names=("{output}/nowhere", "not a folder"), exit_status=2,
    ),
    "stage3-checkpoint-without-config": BadInput(
        "a checkpoint folder without config.json",
        *stage3("{checkpoint_without_config}"),
        names=("{checkpoint_without_config}", "config.json"), exit_status=2,
    ),
    "stage3-checkpoint-without-weights": BadInput(
        "a checkpoint folder without model.safetensors",
        *stage3("{checkpoint_without_weights}"),
        names=("{checkpoint_without_weights}", "model.safetensors"), exit_status=2,
    ),
    "stage3-checkpoint-truncated-weights": BadInput(
        "a checkpoint folder whose model.safetensors was cut in half (copy or save interrupted)",
        *stage3("{checkpoint_truncated_weights}"),
        names=("{checkpoint_truncated_weights}/model.safetensors", "cut short"), hyper_parameter=True,
    ),
    # ------------------------------------------------------------------------- the front door (issue 12)
    "semeval-bom-crlf-reversed-markers": BadInput(
        "a SemEval file saved by a Windows editor (UTF-8 byte-order mark, CRLF) with reversed markers in record 2",
        *converter("semeval.py", "--source", "train={bad}/semeval/bom_crlf_reversed_markers.TXT"),
        names=("{bad}/semeval/bom_crlf_reversed_markers.TXT", "record 2 (id '2', line 5)", "field 'sentence'",
               "</e1> comes before <e1>"),  # fmt: skip
    ),
    "converter-missing-source": BadInput(
        "--source naming a file that does not exist (usage error)",
        *converter("semeval.py", "--source", "train={output}/nowhere.TXT"),
        names=("--source", "{output}/nowhere.TXT", "is not a file"), exit_status=2,
    ),
    "stage1-dataset-path-is-a-file": BadInput(
        "a source file given as --dataset_path instead of the converted folder",
        *stage1("{bad}/semeval/bom_crlf.TXT"),
        names=("--dataset_path", "{bad}/semeval/bom_crlf.TXT", "this is a file", "finecl convert"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage1-misspelt-model-id": BadInput(
        "a misspelt Hub id as --model_name_or_path (robreta-base), with the Hub off",
        *stage1("{documents}", "--model_name_or_path", "robreta-base"),
        names=("--model_name_or_path", "'robreta-base'", "not a local folder", "HF_HUB_OFFLINE"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage2-missing-learning-order-folder": BadInput(
        "a missing --learning_order_dataset folder with the default backbone (reported before the Hub is tried)",
        PRETRAIN, ("--learning_order_dataset", "{output}/missing-order", *STAGE2_DEFAULT_MODEL),
        names=("--learning_order_dataset", "{output}/missing-order", "not a folder"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage3-misspelt-model-path": BadInput(
        "a misspelt model folder as --model_name_or_path",
        *stage3("{output}/finecl-chekpoint"),
        names=("--model_name_or_path", "{output}/finecl-chekpoint", "no such folder"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage3-dataset-path-is-a-file": BadInput(
        "a SemEval source file given as --dataset_path (datasets' FileNotFoundError before)",
        *stage3("{backbone}", "--dataset_path", "{bad}/semeval/bom_crlf.TXT"),
        names=("--dataset_path", "{bad}/semeval/bom_crlf.TXT", "this is a file"), exit_status=2, hyper_parameter=True,
    ),
    # ------------------------------------------------------------------- usage mistakes every command shares
    "stage1-option-transformers-dropped": BadInput(
        "--warmup_ratio, an option transformers 5 dropped (HfArgumentParser's ValueError traceback before)",
        *stage1("{documents}", "--warmup_ratio", "0"),
        names=("'--warmup_ratio'", "did you mean --warmup_steps?"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-misspelt-option": BadInput(
        "a misspelt option name (--learnig_rate)",
        *stage2("{learning_order}", "--learnig_rate", "1e-4"),
        names=("'--learnig_rate'", "did you mean --learning_rate?"), exit_status=2, hyper_parameter=True,
    ),
    "stage2-output-dir-is-a-file": BadInput(
        "an --output_dir that is an existing file (FileExistsError from deep inside Trainer before)",
        *stage2("{learning_order}", "--output_dir", "{empty_file}"),
        names=("--output_dir", "{empty_file}", "existing file"), exit_status=2, hyper_parameter=True,
    ),
    "stage1-unrelated-folder": BadInput(
        "a folder of unrelated files as --dataset_path (DatasetGenerationError, 104 lines, before)",
        *stage1("{bad}/semeval"),
        names=("--dataset_path", "{bad}/semeval", "holds no dataset"), exit_status=2, hyper_parameter=True,
    ),
    "stage3-list-option-mistyped": BadInput(
        "a mistyped value of a list option (--seeds 42 forty)",
        *stage3("{backbone}", "--seeds", "42", "forty"),
        names=("--seeds", "invalid int value: 'forty'"), exit_status=2, hyper_parameter=True,
    ),
    "convert-empty-file": BadInput(
        "an empty corpus file (accepted as 'train 0 rows', exit 0, before)",
        *converter("semeval.py", "--source", "train={empty_file}"),
        names=("{empty_file}", "empty", "no records"),
    ),
    "convert-output-under-a-file": BadInput(
        "an --output folder that cannot be created: its parent is a file (FileNotFoundError traceback before)",
        "dataset_scripts/semeval.py", ("--source", "train={bad}/semeval/bom_crlf.TXT", "--output", "{empty_file}/data"),
        names=("--output", "{empty_file}/data", "cannot create the folder"), exit_status=2,
    ),
    "stage3-train-fraction-1.5": BadInput(
        "--train_fraction 1.5 (more than the whole training set)",
        *stage3("{backbone}", "--train_fraction", "1.5"),
        names=("train_fraction", "1.5"), exit_status=2, hyper_parameter=True,
    ),
    # ------------------------------------------- damaged folders, foreign models, earlier runs, caches (issue 29)
    "stage3-dataset-parquet-cut-short": BadInput(
        "a converted dataset whose Parquet file was cut short (ArrowInvalid traceback from datasets before)",
        *stage3("{backbone}", "--dataset_path", "{sentences_cut_short}"),
        names=("{sentences_cut_short}/data/", "not a complete Parquet file", "finecl convert"),
    ),
    "stage3-saved-arrow-cut-short": BadInput(
        "a `save_to_disk` dataset whose Arrow file was cut short (pyarrow's 'Expected to read ... metadata bytes')",
        *stage3("{backbone}", "--dataset_path", "{saved_cut_short}"),
        names=("{saved_cut_short}/train/data-00000-of-00001.arrow", "not a complete Arrow file"),
    ),
    "stage3-saved-state-missing": BadInput(
        "a `save_to_disk` dataset whose split lost its state.json (datasets' FileNotFoundError traceback before)",
        *stage3("{backbone}", "--dataset_path", "{saved_without_state}"),
        names=("{saved_without_state}/train/state.json", "missing"),
    ),
    "stage1-dataset-parquet-cut-short": BadInput(
        "a converted documents folder whose relation-instances Parquet file was cut short",
        *stage1("{documents_cut_short}"),
        names=("{documents_cut_short}/relation_instances/", "not a complete Parquet file"),
    ),
    "stage2-learning-order-cut-short": BadInput(
        "a learning-order dataset whose instances Parquet file was cut short",
        *stage2("{learning_order_cut_short}"),
        names=("{learning_order_cut_short}/instances/train.parquet", "not a complete Parquet file",
               "finecl learning-order"),  # fmt: skip
    ),
    "stage3-config-not-json": BadInput(
        "a checkpoint whose config.json is not valid JSON (cut short)",
        *stage3("{checkpoint_config_not_json}"),
        names=("{checkpoint_config_not_json}/config.json", "not valid JSON"), hyper_parameter=True,
    ),
    "stage3-foreign-model-type": BadInput(
        "a model folder of another model type (T5 config beside the weights; a 134-line AttributeError before)",
        *stage3("{checkpoint_t5}"),
        names=("--model_name_or_path", "{checkpoint_t5}", "model_type 't5'"), exit_status=2, hyper_parameter=True,
    ),
    "stage3-earlier-run": BadInput(
        "--output_dir holding an earlier fine-tuning (its weights, results and card were replaced silently before)",
        *stage3("{backbone}", "--output_dir", "{earlier_finetuning}"),
        names=("--output_dir", "{earlier_finetuning}", "earlier run", "all_results.json", "--overwrite_output_dir"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage2-earlier-run-with-checkpoints": BadInput(
        "--output_dir holding an interrupted pre-training (checkpoint-2/)",
        *stage2("{learning_order}", "--output_dir", "{earlier_pretraining}"),
        names=("{earlier_pretraining}", "checkpoint-2/", "--overwrite_output_dir", "--resume_from_checkpoint last"),
        exit_status=2, hyper_parameter=True,
    ),
    "stage1-earlier-run": BadInput(
        "--output_dir holding an earlier stage-1 export (learning_order/)",
        *stage1("{documents}", "--output_dir", "{earlier_stage1}"),
        names=("{earlier_stage1}", "learning_order/", "--overwrite_output_dir"), exit_status=2, hyper_parameter=True,
    ),
    "analyse-plot-is-a-folder": BadInput(
        "`finecl analyse --plot` given an existing folder (it wrote <folder>.png beside it before)",
        "finecl analyse", ("{learning_order}", "--plot", "{bad}"),
        names=("--plot", "{bad}", "this is a folder"), exit_status=2,
    ),
    "analyse-json-is-a-folder": BadInput(
        "`finecl analyse --json` given an existing folder",
        "finecl analyse", ("{learning_order}", "--json", "{bad}"),
        names=("--json", "{bad}", "this is a folder"), exit_status=2,
    ),
    "stage1-issue-share-out-of-range": BadInput(
        "--issue_share 1.5 (a share of the labels to flag outside (0, 1))",
        *stage1("{documents}", "--issue_share", "1.5"),
        names=("issue_share", "1.5"), exit_status=2, hyper_parameter=True,
    ),
    "label-issues-without-columns": BadInput(
        "`finecl label-issues` on a learning-order folder written without the label-issue columns (older or "
        "`--evidence_encoder none`)",
        "finecl label-issues", ("{learning_order}",),
        names=("{learning_order}", "`suggested_relation`", "`combined`", "finecl learning-order"),
    ),
    "label-issues-tau-out-of-range": BadInput(
        "`finecl label-issues --min_probability 1.5`",
        "finecl label-issues", ("{learning_order}", "--clean", "relabel", "--min_probability", "1.5", "--output_dir", "{output}"),
        names=("--min_probability 1.5",), exit_status=2,
    ),
    "label-issues-top-zero": BadInput(
        "`finecl label-issues --top 0`",
        "finecl label-issues", ("{learning_order}", "--top", "0"),
        names=("--top 0",), exit_status=2,
    ),
    "hf-home-under-a-file": BadInput(
        "HF_HOME under a regular file, so no cache can be created (a traceback from the datasets cache before)",
        *stage3("{backbone}"),
        names=("HF_HOME={empty_file}/hf", "is a file", "Set HF_HOME"), exit_status=2, hyper_parameter=True,
        environment=(("HF_HOME", "{empty_file}/hf"),),
    ),
    "convert-output-under-proc": BadInput(
        "an --output whose parent cannot be written into, even by root (/proc; FileNotFoundError traceback before)",
        "dataset_scripts/semeval.py", ("--source", "train={bad}/semeval/bom_crlf.TXT", "--output", "/proc/finecl-data"),
        names=("--output", "/proc/finecl-data", "not writable"), exit_status=2,
    ),
}


@dataclass
class Workspace:
    """Paths the case command lines refer to (`{name}` placeholders)."""

    paths: dict[str, Path] = field(default_factory=dict)

    def format(self, template: str, **extra: Path) -> str:
        return template.format(**{name: str(path) for name, path in {**self.paths, **extra}.items()})


def copy_folder(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


def rewrite_parquet(folder: Path, change) -> None:
    """Apply `change(table) -> table` to the single Parquet file under `folder`."""
    (path,) = folder.rglob("*.parquet")
    pq.write_table(change(pq.read_table(path)), path)


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory, tiny_backbone, sentence_dataset, documents_dataset, learning_order_dataset
) -> Workspace:
    root = tmp_path_factory.mktemp("bad-inputs")
    checkpoint = root / "finecl-checkpoint"
    model = FineCLForRelationExtraction.from_backbone(str(tiny_backbone), num_labels=3, relation_level="sentence")
    model.save_pretrained(checkpoint)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        if (tiny_backbone / name).is_file():
            shutil.copy(tiny_backbone / name, checkpoint / name)
    without_config = copy_folder(checkpoint, root / "checkpoint-without-config")
    (without_config / "config.json").unlink()
    without_weights = copy_folder(checkpoint, root / "checkpoint-without-weights")
    (without_weights / "model.safetensors").unlink()
    truncated = copy_folder(checkpoint, root / "checkpoint-truncated-weights")
    weights = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    incomplete = root / "killed-run" / "checkpoint-2"
    incomplete.mkdir(parents=True)
    (incomplete / "model.safetensors").write_bytes(weights[: len(weights) // 2])

    duplicate_uids = copy_folder(sentence_dataset, root / "duplicate-uids")
    rewrite_parquet(duplicate_uids / "data", lambda table: table.set_column(
        table.schema.get_field_index("uid"), "uid",
        pa.array([uid if row != 5 else "train/3" for row, uid in enumerate(table.column("uid").to_pylist())]),
    ))  # fmt: skip
    mismatched = copy_folder(learning_order_dataset, root / "mismatched-documents")
    rewrite_parquet(mismatched / "documents", lambda table: table.take(list(reversed(range(table.num_rows)))))
    empty_file = root / "empty.TXT"
    empty_file.write_text("")
    no_learned_epoch = copy_folder(learning_order_dataset, root / "no-learned-epoch")
    rewrite_parquet(no_learned_epoch / "instances", lambda table: table.drop(["learned_epoch"]))
    return Workspace(
        {
            **damaged_folders(root, sentence_dataset, documents_dataset, learning_order_dataset),
            **foreign_models(root, checkpoint),
            **earlier_runs(root, checkpoint),
            "bad": BAD_INPUTS,
            "backbone": tiny_backbone,
            "sentences": sentence_dataset,
            "documents": documents_dataset,
            "learning_order": learning_order_dataset,
            "cache": root / "hf-cache",
            "checkpoint_without_config": without_config,
            "checkpoint_without_weights": without_weights,
            "checkpoint_truncated_weights": truncated,
            "incomplete_checkpoint": incomplete,
            "duplicate_uids": duplicate_uids,
            "mismatched_documents": mismatched,
            "no_learned_epoch": no_learned_epoch,
            "empty_file": empty_file,
        }
    )


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damaged_folders(root: Path, sentences: Path, documents: Path, learning_order: Path) -> dict[str, Path]:
    """Dataset folders with one file cut short or missing, as a full disk or an interrupted copy leaves them."""
    from datasets import load_dataset

    sentences_cut_short = copy_folder(sentences, root / "sentences-cut-short")
    cut_short(next((sentences_cut_short / "data").glob("*.parquet")))
    documents_cut_short = copy_folder(documents, root / "documents-cut-short")
    cut_short(next((documents_cut_short / "relation_instances").glob("*.parquet")))
    learning_order_cut_short = copy_folder(learning_order, root / "learning-order-cut-short")
    cut_short(learning_order_cut_short / "instances" / "train.parquet")
    saved = root / "saved"
    load_dataset("parquet", data_files={"train": [str(p) for p in (sentences / "data").glob("*.parquet")]}).save_to_disk(
        str(saved)
    )
    saved_cut_short = copy_folder(saved, root / "saved-cut-short")
    cut_short(saved_cut_short / "train" / "data-00000-of-00001.arrow")
    saved_without_state = copy_folder(saved, root / "saved-without-state")
    (saved_without_state / "train" / "state.json").unlink()
    return {"sentences_cut_short": sentences_cut_short, "documents_cut_short": documents_cut_short,
            "learning_order_cut_short": learning_order_cut_short, "saved_cut_short": saved_cut_short,
            "saved_without_state": saved_without_state}  # fmt: skip


def foreign_models(root: Path, checkpoint: Path) -> dict[str, Path]:
    """A checkpoint whose config.json is cut short, and one whose config.json is another model type's."""
    config_not_json = copy_folder(checkpoint, root / "checkpoint-config-not-json")
    cut_short(config_not_json / "config.json")
    t5 = copy_folder(checkpoint, root / "checkpoint-t5")
    (t5 / "config.json").write_text('{"model_type": "t5", "d_model": 16, "is_encoder_decoder": true}')
    return {"checkpoint_config_not_json": config_not_json, "checkpoint_t5": t5}


def earlier_runs(root: Path, checkpoint: Path) -> dict[str, Path]:
    """Output folders holding what a finished fine-tuning, an interrupted pre-training and a stage 1 leave."""
    finetuning = copy_folder(checkpoint, root / "earlier-finetuning")
    (finetuning / "all_results.json").write_text('{"eval_accuracy": 0.5}')
    pretraining = root / "earlier-pretraining"
    copy_folder(checkpoint, pretraining / "checkpoint-2")
    stage1 = root / "earlier-stage1" / "learning_order"
    stage1.mkdir(parents=True)
    (stage1 / "README.md").write_text("---\n---\n")
    return {"earlier_finetuning": finetuning, "earlier_pretraining": pretraining, "earlier_stage1": stage1.parent}


class StageStarted(RuntimeError):
    """Raised by the guards below: the CLI went on to expensive work before reporting the bad input."""


@pytest.fixture
def guards(monkeypatch):
    """No bad input may reach a training step; no bad hyper-parameter may reach data preparation."""

    def refuse(stage: str):
        def guard(*args, **kwargs):
            raise StageStarted(f"{stage} started before the bad input was reported")

        return guard

    monkeypatch.setattr(transformers.Trainer, "train", refuse("training"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no download, whatever the caller's environment

    def arm_data_guards():
        monkeypatch.setattr("finecl_hf.learning_order.run.load_instances", refuse("stage-1 data preparation"))
        monkeypatch.setattr(
            "finecl_hf.pretraining.run.prepare_pretraining_data", refuse("stage-2 data preparation")
        )
        monkeypatch.setattr("finecl_hf.finetuning.run.prepare_data", refuse("stage-3 data preparation"))

    return arm_data_guards


def run_case(name: str, workspace: Workspace, output: Path, extra: tuple[str, ...] = ()) -> tuple[BadInput, CliOutcome]:
    case = CASES[name]
    arguments = [workspace.format(argument, output=output) for argument in (*case.arguments, *extra)]
    return case, run_cli(case.script, arguments)


def assert_clear_error(case: BadInput, outcome: CliOutcome, workspace: Workspace, output: Path) -> None:
    assert outcome.returncode == case.exit_status, outcome.describe()
    for expected in case.names:
        assert workspace.format(expected, output=output) in outcome.message, outcome.describe()
    assert "\n\n" not in outcome.message.strip(), f"not one paragraph:\n{outcome.message}"
    if case.raised_by_own_check and outcome.raised_in is not None:
        assert outcome.raised_by_own_code, f"raised from inside a library:\n{outcome.describe()}"


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_error(name, workspace, guards, tmp_path, monkeypatch):
    if CASES[name].hyper_parameter:
        guards()
    for variable, value in CASES[name].environment:
        monkeypatch.setenv(variable, workspace.format(value))
    output = tmp_path / "output"
    case, outcome = run_case(name, workspace, output)
    assert_clear_error(case, outcome, workspace, output)
    assert "\n" not in outcome.message.strip() and "Traceback" not in outcome.stderr, outcome.describe()
    if case.script.startswith("dataset_scripts/"):
        assert not output.exists(), "a failed conversion must leave nothing behind"
        assert outcome.message.startswith("error: " if case.exit_status == 1 else "finecl convert semeval: error: ")


SKIPPABLE = {name: case for name, case in CASES.items() if case.skip is not None}


@pytest.mark.parametrize("name", list(SKIPPABLE))
def test_skip_invalid_counts_record_faults_and_stays_fatal_on_file_faults(name, workspace, tmp_path):
    output = tmp_path / "output"
    case, outcome = run_case(name, workspace, output, extra=("--skip-invalid",))
    if case.skip == "fatal":  # nothing after a truncated stream can be trusted
        assert_clear_error(case, outcome, workspace, output)
        assert not output.exists()
        return
    assert outcome.returncode == 0, outcome.describe()
    skipped = read_dataset_card_metadata(output)["skipped"]
    assert skipped["total"] == 1, skipped
    assert workspace.format(case.names[1]) in skipped["examples"][0]  # the record is named in the card too
    assert "skipped invalid record:" in outcome.stderr and workspace.format(case.names[0]) in outcome.stderr
    assert "skipped invalid records: 1" in outcome.stdout


def test_the_corpus_covers_at_least_twenty_faults_and_every_fixture_file_is_documented():
    assert len(CASES) >= 20
    assert len({case.fault for case in CASES.values()}) == len(CASES)
    fixture_files = {
        path.relative_to(BAD_INPUTS).as_posix() for path in BAD_INPUTS.rglob("*") if path.is_file()
    } - {"README.md", "make_bad_inputs.py"}
    readme = (BAD_INPUTS / "README.md").read_text()
    assert not [name for name in fixture_files if f"`{name}`" not in readme], "document every fixture in README.md"
    referenced = {  # files (a folder of them is the unrelated-folder case's input)
        argument.split("{bad}/", 1)[1] for case in CASES.values() for argument in case.arguments
        if "{bad}/" in argument and not (BAD_INPUTS / argument.split("{bad}/", 1)[1]).is_dir()
    }
    assert referenced <= fixture_files, referenced - fixture_files


@pytest.mark.slow
@pytest.mark.parametrize("name", ["docred-sent-id-wrong-type", "stage3-train-fraction-0"])
def test_a_real_process_exits_non_zero_with_the_paragraph_on_stderr(name, workspace, tmp_path):
    output = tmp_path / "output"
    case = CASES[name]
    outcome = run_cli_subprocess(case.script, [workspace.format(a, output=output) for a in case.arguments])
    assert_clear_error(case, outcome, workspace, output)
