"""Stage 2 in process: data preparation, the pre-training collator, FineCLPreTrainer and the saved checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoTokenizer

from finecl_hf import FineCLForPreTraining, FineCLForRelationExtraction, FineCLPreTrainingOutput
from finecl_hf.pretraining import (
    FineCLPreTrainingArguments,
    FineCLPreTrainingCollator,
    SequenceLayout,
    build_pretrainer,
    prepare_pretraining_data,
    save_pretrained_checkpoint,
    summarize_loss_curve,
)
from finecl_hf.data.learning_order import load_learning_order_dataset
from finecl_hf.pretraining.synthetic import (
    SYNTHETIC_RELATIONS,
    save_tiny_roberta,
    write_synthetic_learning_order_dataset,
)

MAX_LENGTH = 128
NUM_DOCUMENTS = 48


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_roberta(tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    return AutoTokenizer.from_pretrained(tiny_dir)


@pytest.fixture(scope="module")
def learning_order_dir(tmp_path_factory):
    return write_synthetic_learning_order_dataset(tmp_path_factory.mktemp("lo") / "learning_order", NUM_DOCUMENTS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


@pytest.fixture(scope="module")
def data(learning_order_dir, tokenizer, cache_dir):
    return prepare_pretraining_data(str(learning_order_dir), tokenizer, max_length=MAX_LENGTH, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def collator(data, tokenizer):
    return FineCLPreTrainingCollator(
        tokenizer, data.relation_names(), data.index.no_relation_id, num_negatives=16, max_length=MAX_LENGTH, seed=3
    )


def epoch_batches(data, collator, batch_size=8):
    """(features, batch) for every batch of one epoch, in the sampler's order."""
    order = list(data.sampler(seed=0))
    for start in range(0, len(order), batch_size):
        features = [data.dataset[i] for i in order[start : start + batch_size]]
        yield features, collator(features)


# ----------------------------------------------------------------------------------------------------------------------
# Data preparation


def test_mention_spans_decode_to_the_mention_names(learning_order_dir, data, tokenizer, cache_dir):
    _, documents = load_learning_order_dataset(str(learning_order_dir), cache_dir=cache_dir)
    checked = 0
    for row in range(8):
        item = data.dataset[row]
        entities = documents[row]["entities"]
        for start, end, entity in zip(item["mention_starts"], item["mention_ends"], item["mention_entities"]):
            assert tokenizer.decode(item["input_ids"][start:end]).strip() == entities[entity]["mentions"][0]["name"]
            checked += 1
    assert checked > 20


def test_wordpiece_tokenizer_aligns_mentions_too(learning_order_dir, minilm_path, cache_dir):
    wordpiece = AutoTokenizer.from_pretrained(minilm_path)
    data = prepare_pretraining_data(str(learning_order_dir), wordpiece, max_length=512, cache_dir=cache_dir)
    _, documents = load_learning_order_dataset(str(learning_order_dir), cache_dir=cache_dir)
    assert data.statistics["num_truncated_mentions"] == 0
    for row in range(6):
        item, entities = data.dataset[row], documents[row]["entities"]
        assert len(item["mention_starts"]) == sum(len(entity["mentions"]) for entity in entities)
        for start, end, entity in zip(item["mention_starts"], item["mention_ends"], item["mention_entities"]):
            name = entities[entity]["mentions"][0]["name"].lower()
            assert wordpiece.decode(item["input_ids"][start:end]).replace(" ##", "") == name


def test_truncation_drops_are_counted_and_leave_only_usable_instances(learning_order_dir, tokenizer, cache_dir):
    short = prepare_pretraining_data(str(learning_order_dir), tokenizer, max_length=24, cache_dir=cache_dir)
    stats = short.statistics
    assert stats["num_truncated_mentions"] > 0 and stats["num_truncated_instances"] > 0
    for row in range(NUM_DOCUMENTS):
        item = short.dataset[row]
        assert len(item["input_ids"]) <= 24
        kept = set(item["mention_entities"].tolist())
        assert set(item["instance_heads"].tolist()) <= kept and set(item["instance_tails"].tolist()) <= kept


def test_learned_epochs_and_relation_names_come_from_the_dataset(data):
    learned = data.index.learned_epoch[data.index.learned_epoch >= 0]
    assert data.learned_epoch_config() == {
        "min_learned_epoch": int(learned.min()),
        "max_learned_epoch": int(learned.max()),
    }
    names = data.relation_names()
    assert names[data.relation_label_names.index("P17")] == SYNTHETIC_RELATIONS["P17"]  # from the card's metadata
    assert data.no_relation_label == "no_relation" and data.index.no_relation_id == 0


def test_dataset_without_documents_config_is_rejected(learning_order_dir, tmp_path, tokenizer):
    folder = tmp_path / "instances_only"
    (folder / "instances").mkdir(parents=True)
    (folder / "instances" / "train.parquet").write_bytes(
        (learning_order_dir / "instances" / "train.parquet").read_bytes()
    )
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: instances\n  default: true\n  data_files:\n  - split: train\n"
        "    path: instances/train.parquet\n---\n"
    )
    with pytest.raises(ValueError, match=r"instances_only is not a learning-order dataset .* no 'documents' config"):
        prepare_pretraining_data(str(folder), tokenizer, cache_dir=str(tmp_path / "cache"))


def copy_with_instances_changed(source, folder, change):
    """A copy of the learning-order folder `source` whose instance table went through `change` (a pyarrow Table)."""
    for config in ("instances", "documents"):
        (folder / config).mkdir(parents=True)
        table = pq.read_table(source / config / "train.parquet")
        pq.write_table(change(table) if config == "instances" else table, folder / config / "train.parquet")
    (folder / "README.md").write_text((source / "README.md").read_text())
    return folder


def replace_value(table, column, row, value):
    values = table.column(column).to_pylist()
    values[row] = value
    field = table.schema.field(column)
    return table.set_column(table.schema.get_field_index(column), field, [pa.array(values, type=field.type)])


def test_instance_pointing_to_a_missing_entity_names_the_field(learning_order_dir, tmp_path, tokenizer):
    folder = copy_with_instances_changed(
        learning_order_dir, tmp_path / "broken", lambda table: replace_value(table, "head", 5, 99)
    )
    with pytest.raises(ValueError, match=r"field 'head' = 99 is not an entity of that document"):
        prepare_pretraining_data(str(folder), tokenizer, cache_dir=str(tmp_path / "cache"))


def test_instances_of_another_document_order_are_rejected_before_tokenizing(learning_order_dir, tmp_path, tokenizer):
    folder = copy_with_instances_changed(
        learning_order_dir, tmp_path / "shuffled", lambda table: replace_value(table, "document_uid", 7, "train/999")
    )
    with pytest.raises(ValueError, match=r"record 8 \(index 7\), field 'document_uid' = 'train/999', but its document_index \d+ "):
        prepare_pretraining_data(str(folder), object(), cache_dir=str(tmp_path / "cache"))  # no tokenizer needed


# ----------------------------------------------------------------------------------------------------------------------
# Collator


def test_special_token_layout_is_read_from_the_tokenizer(tokenizer, minilm_path):
    roberta = SequenceLayout.from_tokenizer(tokenizer)
    assert (roberta.pair_prefix, roberta.pair_middle, roberta.pair_suffix) == ((0,), (2, 2), (2,))
    assert not roberta.uses_token_type_ids
    bert = SequenceLayout.from_tokenizer(AutoTokenizer.from_pretrained(minilm_path))
    assert (bert.pair_prefix, bert.pair_middle, bert.pair_suffix) == ((101,), (102,), (102,))
    assert bert.uses_token_type_ids and bert.second_segment_type_id == 1


def test_batch_indices_are_valid_and_the_model_accepts_the_batch(data, collator, tiny_dir):
    features, batch = next(epoch_batches(data, collator))
    rows, length = batch["input_ids"].shape
    spans, entity_ids = batch["mention_spans"], batch["mention_entity_ids"]
    assert rows == len(features) and spans[:, 0].max() < rows and spans[:, 2].max() <= length
    assert torch.all(spans[:, 1] < spans[:, 2])
    num_entities = int(entity_ids.max()) + 1
    assert torch.equal(torch.unique(entity_ids), torch.arange(num_entities))  # every entity has a mention
    pairs, positives = batch["relation_entity_ids"], batch["relation_positive_index"]
    assert pairs.max() < num_entities and positives.max() < pairs.shape[0]
    negatives = batch["relation_negative_index"]
    assert negatives.shape[1] <= 16 and negatives.max() < pairs.shape[0] and negatives.min() >= -1
    assert (positives >= 0).sum() > 0
    # Each instance's entities lie in one document; learned epochs are the index's.
    entity_row = torch.zeros(num_entities, dtype=torch.long).index_put_((entity_ids,), spans[:, 0])
    assert torch.equal(entity_row[pairs[:, 0]], entity_row[pairs[:, 1]])
    expected_epochs = {int(e) for f in features for e in f["instance_learned_epochs"]}
    assert set(batch["relation_learned_epochs"].tolist()) <= expected_epochs
    # Entity discrimination: the query is never its own candidate, the target is a real candidate.
    queries, candidates, targets = (
        batch["ed_query_entity_ids"],
        batch["ed_candidate_entity_ids"],
        batch["ed_target_index"],
    )
    assert queries.shape[0] > 0 and not torch.any(candidates == queries[:, None])
    assert torch.all(candidates.gather(1, targets[:, None]) >= 0)

    model = FineCLForPreTraining.from_backbone(str(tiny_dir), **data.learned_epoch_config())
    output = model(**batch)
    assert all(getattr(output, name) is not None for name in ("ed_loss", "rd_loss", "mlm_loss"))
    assert torch.isfinite(output.loss)
    output.loss.backward()
    assert model.encoder.get_input_embeddings().weight.grad.abs().sum() > 0


def test_mlm_masks_about_15_percent_and_never_entity_special_or_padding(data, collator, tokenizer):
    special = set(tokenizer.all_special_ids)
    selected = maskable = masked_token = unchanged = 0
    for features, batch in epoch_batches(data, collator):
        original = np.full(batch["input_ids"].shape, tokenizer.pad_token_id)
        for row, feature in enumerate(features):
            original[row, : len(feature["input_ids"])] = feature["input_ids"]
        labels, inputs = batch["labels"].numpy(), batch["input_ids"].numpy()
        in_mention = np.zeros_like(original, dtype=bool)
        for row, start, end in batch["mention_spans"].tolist():
            in_mention[row, start:end] = True
        is_special = np.isin(original, list(special))
        chosen = labels != -100
        assert not np.any(chosen & (in_mention | is_special | (batch["attention_mask"].numpy() == 0)))
        assert np.array_equal(labels[chosen], original[chosen])
        assert np.array_equal(inputs[~chosen], original[~chosen])  # only selected tokens change
        selected += chosen.sum()
        maskable += ((batch["attention_mask"].numpy() == 1) & ~in_mention & ~is_special).sum()
        masked_token += (inputs[chosen] == tokenizer.mask_token_id).sum()
        unchanged += (inputs[chosen] == original[chosen]).sum()
    assert maskable > 5_000
    assert selected / maskable == pytest.approx(0.15, abs=0.015)
    assert masked_token / selected == pytest.approx(0.8, abs=0.04)
    assert unchanged / selected == pytest.approx(0.1 + 0.1 / len(tokenizer), abs=0.04)


def test_collation_is_seeded_by_the_batch_content(data, collator, tokenizer):
    features = [data.dataset[i] for i in list(data.sampler(seed=0))[:8]]
    first, again = collator(features), collator(features)
    assert all(torch.equal(first[key], again[key]) for key in first)
    other_seed = FineCLPreTrainingCollator(tokenizer, data.relation_names(), 0, num_negatives=16, seed=4)(features)
    assert not torch.equal(first["labels"], other_seed["labels"])


def test_entity_discrimination_prefix_is_relation_name_then_head_mention(data, collator, tokenizer):
    _, batch = next(epoch_batches(data, collator))
    names = set(data.relation_names())
    for row in range(batch["ed_input_ids"].shape[0]):
        ids = batch["ed_input_ids"][row].tolist()
        prefix = tokenizer.decode(ids[1 : ids.index(tokenizer.sep_token_id)])
        query = int(batch["ed_query_entity_ids"][row])
        spans = batch["ed_mention_spans"][batch["ed_mention_entity_ids"] == query]
        head = tokenizer.decode(ids[spans[0, 1] : spans[0, 2]]).strip()
        relation = prefix[: -len(head)].strip() if prefix.endswith(head) else None
        assert relation in names, (prefix, head)
        assert spans[:, 1].min() > ids.index(tokenizer.sep_token_id)  # mentions lie in the document, after the query


def test_other_gold_tails_of_the_query_are_not_candidates(tokenizer):
    """Entities 1 and 2 are both tails of (0, r): whichever is the target, the other is no negative; 3 is."""
    encoding = tokenizer("Paris Berlin Lisbon Rome", return_offsets_mapping=True)
    ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
    word_starts = [0, 6, 13, 20]
    starts = [next(i for i, (a, b) in enumerate(offsets) if b > a and a >= w) for w in word_starts]
    ends = [*starts[1:], len(ids) - 1]
    feature = {
        "document_index": 0,
        "input_ids": np.asarray(ids),
        "mention_starts": np.asarray(starts),
        "mention_ends": np.asarray(ends),
        "mention_entities": np.array([0, 1, 2, 3]),
        "instance_heads": np.array([0, 0]),
        "instance_tails": np.array([1, 2]),
        "instance_relations": np.array([1, 1]),
        "instance_learned_epochs": np.array([0, 3]),
    }
    assert [tokenizer.decode(ids[s:e]).strip() for s, e in zip(starts, ends)] == ["Paris", "Berlin", "Lisbon", "Rome"]
    collator = FineCLPreTrainingCollator(tokenizer, ["no_relation", "capital of"], 0, seed=0)
    batch = collator([feature])
    candidates = batch["ed_candidate_entity_ids"][0]
    candidates = candidates[candidates >= 0].tolist()
    target = candidates[int(batch["ed_target_index"][0])]
    assert target in (1, 2) and sorted(candidates) == sorted([target, 3])


# ----------------------------------------------------------------------------------------------------------------------
# Arguments, trainer, checkpoint


def make_arguments(tmp_path, **overrides) -> FineCLPreTrainingArguments:
    defaults = {"output_dir": str(tmp_path / "out"), "use_cpu": True, "report_to": "none", "save_strategy": "no"}
    return FineCLPreTrainingArguments(**(defaults | overrides))


def test_total_batch_size_sets_gradient_accumulation(tmp_path):
    paper = make_arguments(tmp_path)
    assert (paper.per_device_train_batch_size, paper.gradient_accumulation_steps, paper.documents_per_step) == (
        16,
        48,
        768,
    )
    assert (paper.learning_rate, paper.weight_decay, paper.warmup_steps, paper.max_steps) == (3e-5, 1e-5, 500, 6000)
    assert make_arguments(tmp_path, per_device_train_batch_size=4, total_batch_size=8).gradient_accumulation_steps == 2
    assert make_arguments(tmp_path, total_batch_size=0, gradient_accumulation_steps=3).gradient_accumulation_steps == 3
    with pytest.raises(ValueError, match="not a multiple of per_device_train_batch_size"):
        make_arguments(tmp_path, per_device_train_batch_size=6, total_batch_size=8)
    with pytest.raises(ValueError, match="must be even"):
        make_arguments(tmp_path, per_device_train_batch_size=3)
    with pytest.raises(ValueError, match="weighting='erica' is invalid"):
        make_arguments(tmp_path, weighting="erica")
    with pytest.raises(ValueError, match=r"temperature=0.0 is invalid"):  # checked before any data is prepared
        make_arguments(tmp_path, temperature=0.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, learning_order_dir, tiny_dir, cache_dir):
    """Two optimizer steps of 2 micro-batches of 4 documents each, logging every step."""
    tmp_path = tmp_path_factory.mktemp("pretrain")
    args = make_arguments(
        tmp_path,
        learning_order_dataset=str(learning_order_dir),
        model_name_or_path=str(tiny_dir),
        per_device_train_batch_size=4,
        total_batch_size=8,
        max_steps=2,
        logging_steps=1,
        max_length=MAX_LENGTH,
        dataset_cache_dir=cache_dir,
        num_negatives=16,
        seed=7,
    )
    trainer, data = build_pretrainer(args)
    trainer.train()
    return trainer, data


def test_training_logs_each_loss_component(trained):
    trainer, _ = trained
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 2
    for entry in logs:
        assert {"ed_loss", "rd_loss", "mlm_loss", "rd_anchors"} <= entry.keys()
        assert entry["loss"] == pytest.approx(entry["ed_loss"] + entry["rd_loss"] + entry["mlm_loss"], rel=1e-5)
        assert entry["rd_anchors"] > 0
    assert trainer.model.config.max_learned_epoch > trainer.model.config.min_learned_epoch


def test_loss_ignores_num_items_in_batch(trained, collator, data):
    trainer, _ = trained
    batch = collator([data.dataset[i] for i in range(4)])
    trainer.args.average_tokens_across_devices = True
    trainer.model.eval()
    with torch.no_grad():
        plain = trainer.model(**batch).loss
        via_trainer = trainer.compute_loss(trainer.model, batch, num_items_in_batch=torch.tensor(1234))
    assert not trainer.model_accepts_loss_kwargs and trainer.loss_is_scaled_for_ga is False
    assert torch.equal(plain, via_trainer)


def test_saved_checkpoint_loads_both_ways_and_has_a_card(trained, tmp_path, collator, data):
    trainer, data = trained
    output_dir = save_pretrained_checkpoint(trainer, data, str(tmp_path / "finecl"))
    files = {path.name for path in output_dir.iterdir()}
    assert {"model.safetensors", "config.json", "modeling.py", "README.md", "tokenizer.json"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in files)
    config = json.loads((output_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModelForPreTraining"] == "modeling.FineCLForPreTraining"

    card = ModelCard.load(output_dir / "README.md")
    assert {"finecl", "relation-extraction"} <= set(card.data.tags)
    assert str(data.source) in card.text and "| ed_loss |" in card.text and "`max_learned_epoch`" in card.text

    relation_model = FineCLForRelationExtraction.from_backbone(str(output_dir), num_labels=3)
    trained_state = trainer.model.encoder.state_dict()
    assert all(torch.equal(value, trained_state[name]) for name, value in relation_model.encoder.state_dict().items())

    batch = collator([data.dataset[i] for i in range(4)])
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(**batch).loss.item()
    torch.save(dict(batch), tmp_path / "batch.pt")
    script = textwrap.dedent(
        f"""
        import sys, torch
        from transformers import AutoModelForPreTraining
        model = AutoModelForPreTraining.from_pretrained({str(output_dir)!r}, trust_remote_code=True).eval()
        batch = torch.load({str(tmp_path / "batch.pt")!r})
        with torch.no_grad():
            loss = model(**batch).loss.item()
        print(type(model).__name__, "finecl_hf" in sys.modules, repr(loss))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True)
    name, imported, loss = result.stdout.split()
    assert (name, imported) == ("FineCLForPreTraining", "False")
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_loss_curve_summary_reports_first_last_and_minimum():
    history = [
        {"loss": 9.0, "ed_loss": 2.0, "step": 10},
        {"loss": 7.0, "ed_loss": 3.0, "step": 20},
        {"loss": 8.0, "ed_loss": 1.0, "step": 30},
        {"train_loss": 8.0, "step": 30},
    ]
    summary = summarize_loss_curve(history)
    assert summary["loss"] == {"first": 9.0, "last": 8.0, "min": 7.0, "min_step": 20}
    assert summary["ed_loss"] == {"first": 2.0, "last": 1.0, "min": 1.0, "min_step": 30}
    assert "rd_loss" not in summary


def test_logged_components_average_only_the_micro_batches_that_had_them(trained):
    trainer, _ = trained
    with_ed = FineCLPreTrainingOutput(
        loss=torch.tensor(6.0),
        ed_loss=torch.tensor(1.0),
        rd_loss=torch.tensor(2.0),
        mlm_loss=torch.tensor(3.0),
        num_anchors=torch.tensor(4),
    )
    without_ed = FineCLPreTrainingOutput(
        loss=torch.tensor(9.0), rd_loss=torch.tensor(4.0), mlm_loss=torch.tensor(5.0), num_anchors=torch.tensor(0)
    )
    trainer._record_components(with_ed)
    trainer._record_components(without_ed)
    trainer.log({"loss": 7.5})
    logged = trainer.state.log_history[-1]
    assert (logged["ed_loss"], logged["rd_loss"], logged["mlm_loss"], logged["rd_anchors"]) == (1.0, 3.0, 4.0, 2.0)
    trainer.log({"loss": 1.0})  # the interval was reset: nothing recorded since, so no component is logged
    assert "rd_loss" not in trainer.state.log_history[-1]


def test_finecl_pretrain_reads_a_recipe_file_and_the_command_line_overrides_it(
    tmp_path, learning_order_dir, tiny_dir, cache_dir
):
    """`finecl pretrain --config recipe.yaml --max_steps 10`: the recipe's values, except the one given again."""
    import json

    import yaml

    from finecl_hf.commands import run_command

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "learning_order_dataset": str(learning_order_dir), "model_name_or_path": str(tiny_dir),
        "output_dir": str(tmp_path / "out"), "max_steps": 1000, "per_device_train_batch_size": 2,
        "total_batch_size": 2, "max_length": MAX_LENGTH, "num_negatives": 4, "logging_steps": 5, "use_cpu": True,
        "report_to": "none", "save_strategy": "no", "dataset_cache_dir": cache_dir, "seed": 3,
    }))  # fmt: skip
    run_command("pretrain", ["--config", str(recipe), "--max_steps", "10"])
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 10 and state["max_steps"] == 10  # the override won over the recipe's 1000
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry] == [5, 10]  # the recipe's logging
    assert (tmp_path / "out" / "model.safetensors").is_file()
