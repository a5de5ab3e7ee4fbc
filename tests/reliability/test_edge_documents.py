"""Valid but degenerate inputs are counted, never fatal: documents without entities, documents with a single entity
(no entity discrimination possible), relations with a single instance (no relation-discrimination positive), and
documents longer than `max_length` (mentions, entities and instances cut).

Already covered elsewhere and not repeated here: truncation counts of the data layer (`tests/test_data_tokenization.py`)
and of stage 2 (`tests/test_pretraining.py::test_truncation_drops_are_counted_and_leave_only_usable_instances`), the
sampling rules for single-instance relations (`tests/test_pretraining_sampling.py`).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from reliability_runs import docred_documents
from reliability_helpers import BAD_INPUTS, read_config, run_cli, single_thread
from transformers import AutoTokenizer

from finecl_hf import FineCLForPreTraining
from finecl_hf.pretraining.data import prepare_pretraining_data
from finecl_hf.pretraining.data_collator import FineCLPreTrainingCollator
from finecl_hf.pretraining.synthetic import SINGLETON_RELATION

DOCRED_LABELS = ("--rel-info", str(BAD_INPUTS / "docred" / "rel_info.json"))


@pytest.fixture(scope="module")
def no_entity_documents(tmp_path_factory):
    """The converted `bad_inputs/docred/no_entities.json`: documents 0 and 2 have entities, document 1 has none."""
    output = tmp_path_factory.mktemp("no-entities") / "dataset"
    outcome = run_cli("dataset_scripts/docred.py", ["--source", f"train={BAD_INPUTS}/docred/no_entities.json",
                                                    *DOCRED_LABELS, "--output", str(output)])  # fmt: skip
    assert outcome.returncode == 0, outcome.describe()
    return output


def test_a_document_without_entities_converts_and_gets_no_relation_instance(no_entity_documents, tmp_path):
    documents = read_config(no_entity_documents, "data")
    assert [len(entities) for entities in documents["entities"]] == [3, 0, 3]
    instances = read_config(no_entity_documents, "relation_instances")
    assert set(instances["document_index"]) == {0, 2}
    outcome = run_cli("dataset_scripts/distant_supervision.py", [
        "--source", f"train={BAD_INPUTS}/docred/no_entities.json",
        "--facts", str(BAD_INPUTS / "distant" / "facts.json"),
        *DOCRED_LABELS, "--output", str(tmp_path / "distant"),
    ])  # fmt: skip
    assert outcome.returncode == 0, outcome.describe()
    # Paris -> France and Lyon -> France are facts; the entity-less document gets no label and no crash.
    assert [len(relations) for relations in read_config(tmp_path / "distant", "data")["relations"]] == [2, 0, 2]


@pytest.mark.slow
def test_document_level_fine_tuning_copes_with_a_document_without_entities(
    no_entity_documents, tiny_backbone, tmp_path
):
    with single_thread():
        outcome = run_cli("trainers/finetune.py", [
            "--model_name_or_path", str(tiny_backbone), "--dataset_path", str(no_entity_documents),
            "--output_dir", str(tmp_path / "run"), "--recipe", "none", "--relation_level", "document",
            "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--per_device_train_batch_size", "1",
            "--per_device_eval_batch_size", "1", "--max_steps", "3", "--validation_size", "1", "--max_length", "64",
            "--train_facts", "train", "--save_strategy", "no",
        ])  # fmt: skip
    assert outcome.returncode == 0, outcome.describe()


def single_entity_example(tokenizer, document_index: int) -> dict:
    """A pre-training example whose document mentions one entity (twice) and has no relation instance."""
    text = "Paris is a city and Paris is big"
    encoding = tokenizer(text, return_offsets_mapping=True)
    offsets = np.asarray(encoding["offset_mapping"])
    spans = []
    for start in (text.index("Paris"), text.rindex("Paris")):
        tokens = np.flatnonzero((offsets[:, 0] < start + len("Paris")) & (offsets[:, 1] > start))
        spans.append((int(tokens[0]), int(tokens[-1]) + 1))
    empty = np.zeros(0, dtype=np.int64)
    return {
        "document_index": document_index,
        "input_ids": np.asarray(encoding["input_ids"]),
        "mention_starts": np.asarray([start for start, _ in spans]),
        "mention_ends": np.asarray([end for _, end in spans]),
        "mention_entities": np.asarray([0, 0]),
        "instance_heads": empty, "instance_tails": empty, "instance_relations": empty,
        "instance_learned_epochs": empty.astype(np.int16),
    }  # fmt: skip


def test_single_entity_documents_train_on_mlm_without_entity_discrimination(tiny_backbone):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    collator = FineCLPreTrainingCollator(tokenizer, ["no relation", "country"], no_relation_id=0, seed=0)
    batch = collator([single_entity_example(tokenizer, index) for index in range(4)])
    assert not any(key.startswith("ed_") or key.startswith("relation_") for key in batch), sorted(batch)
    model = FineCLForPreTraining.from_backbone(str(tiny_backbone))
    output = model(**batch)
    assert output.ed_loss is None and output.rd_loss is None
    assert torch.isfinite(output.loss) and output.loss == output.mlm_loss
    output.loss.backward()


def test_a_relation_with_a_single_instance_is_counted_and_never_an_anchor(learning_order_dataset, tiny_backbone,
                                                                           tmp_path, caplog):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    with caplog.at_level(logging.WARNING, logger="finecl_hf.pretraining.sampling"):
        data = prepare_pretraining_data(str(learning_order_dataset), tokenizer, max_length=256,
                                        cache_dir=str(tmp_path / "cache"))  # fmt: skip
    singleton = data.relation_label_names.index(SINGLETON_RELATION)
    assert int((data.index.relation == singleton).sum()) == 1  # the synthetic corpus's one-instance relation
    assert data.statistics["num_single_instance_relations"] >= 1
    assert data.statistics["num_unpairable_instances"] >= data.statistics["num_single_instance_relations"]
    assert "single instance" in caplog.text
    document = int(data.index.document[data.index.relation == singleton][0])
    feature = data.dataset[document]
    # The collator puts a document's relation instances first, in order, when all their entities survived.
    assert np.isin(feature["instance_heads"], feature["mention_entities"]).all()
    positives = np.flatnonzero(feature["instance_relations"] != data.index.no_relation_id)
    row = int(np.flatnonzero(feature["instance_relations"][positives] == singleton)[0])
    collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id, seed=0,
                                         num_negatives=8, max_length=256)  # fmt: skip
    batch = collator([feature, *(data.dataset[index] for index in range(1, 4) if index != document)])
    positive_index = batch["relation_positive_index"]
    assert positive_index[row] == -1 and (batch["relation_negative_index"][row] == -1).all()
    assert (positive_index >= 0).any(), "other relations of the batch still have positives"
    model = FineCLForPreTraining.from_backbone(str(tiny_backbone), max_learned_epoch=14)
    assert torch.isfinite(model(**batch).loss)


def test_stage1_counts_instances_lost_to_long_documents_and_trains_on_the_rest(tiny_backbone, tmp_path, caplog):
    """Documents longer than --max_length: entities past the cut lose their instances, which are counted."""
    import json

    from finecl_hf.data.conversion import SplitSource
    from finecl_hf.data.docred import convert_docred

    documents = docred_documents(6)
    for document in documents:  # a long tail of filler: the last entity sits beyond 40 tokens
        document["sents"][2] = ["river"] * 40 + document["sents"][2]
        for mention in document["vertexSet"][2]:
            mention["pos"] = [mention["pos"][0] + 40, mention["pos"][1] + 40]
    (tmp_path / "train.json").write_text(json.dumps(documents))
    (tmp_path / "rel_info.json").write_text((BAD_INPUTS / "docred" / "rel_info.json").read_text())
    convert_docred([SplitSource("train", tmp_path / "train.json")], tmp_path / "long",
                   rel_info_file=tmp_path / "rel_info.json")  # fmt: skip
    instances = read_config(tmp_path / "long", "relation_instances")
    with caplog.at_level(logging.WARNING), single_thread():
        outcome = run_cli("trainers/learning_order.py", [
            "--dataset_path", str(tmp_path / "long"), "--model_name_or_path", str(tiny_backbone),
            "--output_dir", str(tmp_path / "run"), "--use_cpu", "--report_to", "none", "--disable_tqdm", "true",
            "--num_train_epochs", "1", "--max_length", "48", "--save_strategy", "no",
        ])  # fmt: skip
    assert outcome.returncode == 0, outcome.describe()
    exported = read_config(tmp_path / "run" / "learning_order", "instances")
    dropped = len(instances["uid"]) - len(exported["uid"])
    assert 0 < dropped < len(instances["uid"])
    assert f"{dropped} of {len(instances['uid'])} instances dropped" in caplog.text
    assert set(exported["uid"]) < set(instances["uid"])
