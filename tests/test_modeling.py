"""FineCL's losses against naive loops written from the paper's formulas, and the models' Hub round trips."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForPreTraining, BertConfig

from finecl_hf import FineCLConfig, FineCLForPreTraining, FineCLForRelationExtraction, FineCLModel
from finecl_hf.losses import (
    adaptive_threshold_loss,
    entity_discrimination_loss,
    learning_order_weights,
    pool_entities,
    pool_mentions,
    relation_discrimination_loss,
)

TAU = 0.05


# ----------------------------------------------------------------------------------------------------------------------
# Naive references: Python loops in float64, straight from the slides' formulas.


def naive_f(k: int, alpha: float, k_min: int, k_max: int) -> float:
    """Paper eq. 5 with never-learned (-1) treated as k_max."""
    k = k_max if k < 0 else k
    return alpha ** ((k_max - k) / (k_max - k_min))


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def naive_rd_loss(r, positives, negatives, weights, tau, positive_weighted=True) -> float:
    terms = []
    for anchor, positive in enumerate(positives):
        if positive < 0:
            continue
        positive_weight = weights[positive] if positive_weighted else 1.0
        z = positive_weight * math.exp(cos(r[anchor], r[positive]) / tau)
        for negative in negatives[anchor]:
            if negative >= 0:
                z += weights[negative] * math.exp(cos(r[anchor], r[negative]) / tau)
        terms.append(-weights[anchor] * math.log(math.exp(cos(r[anchor], r[positive]) / tau) / z))
    return sum(terms) / len(terms)


def naive_ed_loss(entities, queries, candidates, targets, tau) -> float:
    terms = []
    for query, row, target in zip(queries, candidates, targets):
        scores = [math.exp(cos(entities[query], entities[c]) / tau) for c in row if c >= 0]
        terms.append(-math.log(scores[target] / sum(scores)))
    return sum(terms) / len(terms)


# ----------------------------------------------------------------------------------------------------------------------
# Losses


@pytest.mark.parametrize("weighting", ["paper", "reference", "uniform"])
def test_learning_order_weight_matches_eq5(weighting):
    epochs = torch.tensor([0, 7, 14, -1, 3, 9])
    weights = learning_order_weights(
        epochs, weighting=weighting, alpha=math.e, min_epoch=0, max_epoch=14, reference_epoch_cap=5
    ).tolist()
    if weighting == "uniform":
        assert weights == [1.0] * 6
        return
    assert weights[0] == pytest.approx(math.e)  # k_min → α
    assert weights[2] == pytest.approx(1.0)  # k_max → 1
    assert weights[3] == pytest.approx(1.0)  # never learned → lowest weight
    if weighting == "paper":
        assert weights[1] == pytest.approx(math.e ** (7 / 14))
        assert weights[5] == pytest.approx(math.e ** (5 / 14))
    else:  # the original code's cap: every k >= 5 weighs like k_max
        assert weights[1] == pytest.approx(1.0)
        assert weights[5] == pytest.approx(1.0)
    assert weights[4] == pytest.approx(naive_f(3, math.e, 0, 14))


def test_reference_weighting_gives_no_relation_instances_e_to_the_half():
    weights = learning_order_weights(
        torch.tensor([0, 0]), weighting="reference", alpha=math.e, min_epoch=0, max_epoch=14,
        is_no_relation=torch.tensor([False, True]),
    )
    assert weights.tolist() == pytest.approx([math.e, math.exp(0.5)])


def test_paper_weighting_handles_a_single_epoch_range():
    weights = learning_order_weights(torch.tensor([2, -1]), weighting="paper", alpha=2.0, min_epoch=2, max_epoch=2)
    assert weights.tolist() == [1.0, 1.0]


def _random_rd_problem(seed: int = 0, instances: int = 9, dim: int = 6, negatives: int = 4):
    generator = torch.Generator().manual_seed(seed)
    r = torch.randn(instances, dim, generator=generator, dtype=torch.float64)
    positives = torch.tensor([3, -1, 5, 0, -1, 2, 8, -1, 6])
    negative_index = torch.randint(0, instances, (instances, negatives), generator=generator)
    negative_index[negative_index == torch.arange(instances).unsqueeze(1)] = -1
    negative_index[1, 2:] = -1
    epochs = torch.tensor([0, 14, 3, -1, 7, 1, 10, 2, 5])
    return r, positives, negative_index, epochs


@pytest.mark.parametrize("weighting", ["paper", "reference", "uniform"])
def test_relation_discrimination_loss_matches_naive_formula(weighting):
    r, positives, negatives, epochs = _random_rd_problem()
    weights = learning_order_weights(epochs, weighting=weighting, alpha=math.e, min_epoch=0, max_epoch=14).double()
    loss = relation_discrimination_loss(
        r, positives, negatives, weights, TAU, weight_positive_in_denominator=weighting != "reference"
    )
    expected = naive_rd_loss(
        r, positives.tolist(), negatives.tolist(), weights.tolist(), TAU, positive_weighted=weighting != "reference"
    )
    assert loss.item() == pytest.approx(expected, abs=1e-6, rel=1e-9)


def test_uniform_weighting_is_the_unweighted_erica_loss():
    r, positives, negatives, epochs = _random_rd_problem(seed=3)
    uniform = learning_order_weights(epochs, weighting="uniform", alpha=math.e, min_epoch=0, max_epoch=14).double()
    erica = []
    for anchor, positive in enumerate(positives.tolist()):
        if positive < 0:
            continue
        logits = [cos(r[anchor], r[positive]) / TAU] + [
            cos(r[anchor], r[n]) / TAU for n in negatives[anchor].tolist() if n >= 0
        ]
        erica.append(-F.log_softmax(torch.tensor(logits, dtype=torch.float64), 0)[0].item())
    loss = relation_discrimination_loss(r, positives, negatives, uniform, TAU)
    assert loss.item() == pytest.approx(sum(erica) / len(erica), abs=1e-6)


def test_relation_discrimination_loss_without_anchor_is_zero_and_differentiable():
    r = torch.randn(3, 4, requires_grad=True)
    loss = relation_discrimination_loss(r, torch.full((3,), -1), torch.full((3, 2), -1), torch.ones(3), TAU)
    loss.backward()
    assert loss.item() == 0.0 and r.grad is not None


def test_entity_discrimination_loss_matches_naive_formula():
    generator = torch.Generator().manual_seed(1)
    entities = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    queries = torch.tensor([0, 4])
    candidates = torch.tensor([[1, 2, 3], [5, 6, -1]])
    targets = torch.tensor([2, 0])
    loss = entity_discrimination_loss(entities, queries, candidates, targets, TAU)
    expected = naive_ed_loss(entities, queries.tolist(), candidates.tolist(), targets.tolist(), TAU)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_mention_and_entity_pooling_match_loops():
    hidden = torch.randn(2, 10, 4, dtype=torch.float64)
    spans = torch.tensor([[0, 1, 4], [0, 6, 7], [1, 0, 2], [1, 5, 10]])
    owners = torch.tensor([0, 0, 1, 2])
    mentions = pool_mentions(hidden, spans)
    for m, (row, start, end) in enumerate(spans.tolist()):
        assert torch.allclose(mentions[m], hidden[row, start:end].mean(0))
    means = pool_entities(mentions, owners, 3, "mean")
    assert torch.allclose(means[0], (mentions[0] + mentions[1]) / 2)
    smooth_max = pool_entities(mentions, owners, 3, "logsumexp")
    assert torch.allclose(smooth_max[0], torch.logsumexp(mentions[:2], dim=0))
    assert torch.allclose(smooth_max[2], mentions[3])


def test_adaptive_threshold_loss_matches_atlop_definition():
    logits = torch.tensor([[0.5, 2.0, -1.0, 0.3], [1.0, -2.0, 0.0, 0.5]], dtype=torch.float64)
    labels = torch.tensor([[0, 1, 0, 1], [1, 0, 0, 0]], dtype=torch.float64)
    expected = 0.0
    for row, label in zip(logits, labels):
        positives = [i for i in range(1, 4) if label[i] == 1]
        negatives = [i for i in range(1, 4) if label[i] == 0]
        positive_part = sum(-(row[p] - torch.logsumexp(row[positives + [0]], 0)) for p in positives)
        negative_part = -(row[0] - torch.logsumexp(row[negatives + [0]], 0))
        expected += float(positive_part) + float(negative_part)
    assert adaptive_threshold_loss(logits, labels).item() == pytest.approx(expected / 2, abs=1e-9)


# ----------------------------------------------------------------------------------------------------------------------
# Models


def tiny_bert_config(**overrides) -> FineCLConfig:
    encoder = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    return FineCLConfig(encoder=encoder, **overrides)


def pretraining_batch(vocab_size: int = 120) -> dict[str, torch.Tensor]:
    """Two RD documents (5 entities, 4 relation instances, 2 anchors) and two ED queries."""
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab_size, (2, 12), generator=generator)
    spans = torch.tensor([[0, 1, 3], [0, 4, 5], [0, 6, 8], [1, 1, 2], [1, 3, 6], [1, 7, 9]])
    owners = torch.tensor([0, 1, 2, 3, 4, 4])
    labels = torch.full((2, 12), -100)
    labels[0, 9], labels[1, 10] = 7, 3
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "mention_spans": spans,
        "mention_entity_ids": owners,
        "labels": labels,
        "relation_entity_ids": torch.tensor([[0, 1], [1, 2], [3, 4], [4, 3]]),
        "relation_learned_epochs": torch.tensor([0, 3, -1, 5]),
        "relation_positive_index": torch.tensor([2, -1, 0, -1]),
        "relation_negative_index": torch.tensor([[1, 3], [0, -1], [3, 1], [0, -1]]),
        "ed_input_ids": input_ids.flip(1),
        "ed_attention_mask": torch.ones_like(input_ids),
        "ed_mention_spans": spans,
        "ed_mention_entity_ids": owners,
        "ed_query_entity_ids": torch.tensor([0, 3]),
        "ed_candidate_entity_ids": torch.tensor([[1, 2], [4, -1]]),
        "ed_target_index": torch.tensor([1, 0]),
    }


def test_pretraining_loss_is_the_sum_of_its_parts_and_reaches_the_encoder():
    model = FineCLForPreTraining(tiny_bert_config(mlm_loss_weight=0.5))
    output = model(**pretraining_batch())
    expected = output.ed_loss + output.rd_loss + 0.5 * output.mlm_loss
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert output.num_anchors.item() == 2
    output.loss.backward()
    encoder_grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert encoder_grads and all(torch.isfinite(g).all() for g in encoder_grads)
    assert any(g.abs().sum() > 0 for g in encoder_grads)


def test_pretraining_rd_loss_uses_the_models_pooling_and_weights():
    model = FineCLForPreTraining(tiny_bert_config()).eval()
    batch = pretraining_batch()
    with torch.no_grad():
        output = model(**batch)
        hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    entities = [hidden[row, start:end].mean(0) for row, start, end in batch["mention_spans"].tolist()]
    entities = entities[:4] + [(entities[4] + entities[5]) / 2]
    r = [torch.cat([entities[h], entities[t]]).double() for h, t in batch["relation_entity_ids"].tolist()]
    weights = [naive_f(k, math.e, 0, 14) for k in batch["relation_learned_epochs"].tolist()]
    expected = naive_rd_loss(
        r, batch["relation_positive_index"].tolist(), batch["relation_negative_index"].tolist(), weights, TAU
    )
    assert output.rd_loss.item() == pytest.approx(expected, abs=1e-4)


def test_mlm_head_is_tied_to_the_input_embeddings():
    model = FineCLForPreTraining(tiny_bert_config())
    assert model.lm_head.decoder.weight is model.encoder.get_input_embeddings().weight


@pytest.mark.parametrize(
    ("field", "value"),
    [("temperature", 0.0), ("temperature", -1.0), ("alpha", 1.0), ("alpha", 0.5), ("weighting", "erica"),
     ("entity_pooling", "max"), ("relation_level", "token"), ("num_negatives", 0)],
)
def test_bad_configuration_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_bert_config(**{field: value})


def test_changed_configuration_is_checked_when_a_model_is_built():
    config = tiny_bert_config()
    config.temperature = -0.1
    with pytest.raises(ValueError, match="temperature"):
        FineCLForPreTraining(config)


@pytest.mark.parametrize(
    "spans",
    [[[0, 3, 40]], [[2, 1, 3]], [[0, 4, 4]], [[0, 5, 2]], [[0, -1, 2]]],
    ids=["past-the-end", "row-outside-batch", "empty", "reversed", "negative"],
)
def test_spans_outside_the_sequence_raise_value_error(spans):
    model = FineCLForRelationExtraction(tiny_bert_config(num_labels=3))
    input_ids = torch.randint(5, 100, (2, 12))
    with pytest.raises(ValueError, match="mention_spans"):
        model(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            mention_spans=torch.tensor(spans),
            mention_entity_ids=torch.zeros(len(spans), dtype=torch.long),
            pair_entity_ids=torch.tensor([[0, 0]]),
        )


def sentence_batch() -> dict[str, torch.Tensor]:
    input_ids = torch.randint(5, 100, (3, 10), generator=torch.Generator().manual_seed(2))
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "mention_spans": torch.tensor([[0, 1, 2], [0, 4, 6], [1, 2, 3], [1, 5, 6], [2, 1, 4], [2, 6, 8]]),
        "mention_entity_ids": torch.arange(6),
        "pair_entity_ids": torch.tensor([[0, 1], [2, 3], [4, 5]]),
        "labels": torch.tensor([0, 2, 1]),
    }


def test_sentence_level_relation_extraction_is_cross_entropy_over_pairs():
    model = FineCLForRelationExtraction(tiny_bert_config(num_labels=3, classifier_dropout=0.0)).eval()
    output = model(**sentence_batch())
    assert output.logits.shape == (3, 3)
    assert output.loss.item() == pytest.approx(F.cross_entropy(output.logits, torch.tensor([0, 2, 1])).item())


@pytest.mark.parametrize("document_loss", ["bce", "adaptive_threshold"])
def test_document_level_relation_extraction_is_multi_label(document_loss):
    config = tiny_bert_config(num_labels=4, relation_level="document", document_loss=document_loss)
    model = FineCLForRelationExtraction(config)
    batch = sentence_batch()
    batch["pair_entity_ids"] = torch.tensor([[0, 1], [1, 0], [2, 3], [4, 5]])
    batch["labels"] = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]], dtype=torch.float)
    output = model(**batch)
    assert output.logits.shape == (4, 4)
    if document_loss == "bce":
        expected = F.binary_cross_entropy_with_logits(output.logits, batch["labels"])
    else:
        expected = adaptive_threshold_loss(output.logits, batch["labels"])
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    output.loss.backward()


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path):
    model = FineCLForPreTraining(tiny_bert_config()).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration.FineCLConfig",
        "AutoModel": "modeling.FineCLModel",
        "AutoModelForPreTraining": "modeling.FineCLForPreTraining",
    }
    assert {"modeling.py", "configuration.py", "losses.py", "weighting.py"} <= {p.name for p in tmp_path.iterdir()}
    reloaded = AutoModelForPreTraining.from_pretrained(tmp_path).eval()
    assert type(reloaded) is FineCLForPreTraining
    batch = pretraining_batch()
    assert torch.equal(model(**batch).loss, reloaded(**batch).loss)


REMOTE_CODE_CHECK = textwrap.dedent(
    """
    import json, sys, torch
    from transformers import AutoModelForSequenceClassification
    model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
    assert "finecl_hf" not in sys.modules, "the remote-code path must not import finecl_hf"
    batch = {k: torch.tensor(v) for k, v in json.load(open(sys.argv[2])).items()}
    with torch.no_grad():
        logits = model(**batch).logits
    print(json.dumps({"class": type(model).__name__, "logits": logits.tolist()}))
    """
)


def test_remote_code_load_in_a_fresh_process_matches_the_local_class(tmp_path):
    model = FineCLForRelationExtraction(tiny_bert_config(num_labels=3)).eval()
    model.save_pretrained(tmp_path / "model")
    batch = sentence_batch()
    (tmp_path / "batch.json").write_text(json.dumps({k: v.tolist() for k, v in batch.items()}))
    (tmp_path / "check.py").write_text(REMOTE_CODE_CHECK)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "check.py"), str(tmp_path / "model"), str(tmp_path / "batch.json")],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    assert remote["class"] == "FineCLForRelationExtraction"
    with torch.no_grad():
        local_logits = model(**batch).logits
    assert torch.equal(torch.tensor(remote["logits"], dtype=local_logits.dtype), local_logits)


def test_relation_extraction_reuses_the_pretrained_encoder_exactly(tmp_path):
    pretrained = FineCLForPreTraining(tiny_bert_config())
    pretrained.save_pretrained(tmp_path)
    classifier = FineCLForRelationExtraction.from_backbone(str(tmp_path), num_labels=5)
    for (name, weight), (other_name, other_weight) in zip(
        pretrained.encoder.state_dict().items(), classifier.encoder.state_dict().items()
    ):
        assert name == other_name and torch.equal(weight, other_weight), name
    assert classifier.config.num_labels == 5


def test_tiny_random_roberta_with_a_tokenizer_trained_here(tiny_roberta_config, tiny_roberta_tokenizer):
    model = FineCLForPreTraining(FineCLConfig(encoder=tiny_roberta_config))
    encoded = tiny_roberta_tokenizer(["Paris is the capital of France.", "Noam Chomsky was born in Philadelphia."],
                                     padding=True, return_tensors="pt")
    output = model(
        input_ids=encoded["input_ids"],
        attention_mask=encoded["attention_mask"],
        mention_spans=torch.tensor([[0, 1, 2], [0, 5, 6], [1, 1, 3], [1, 6, 7]]),
        mention_entity_ids=torch.arange(4),
        relation_entity_ids=torch.tensor([[0, 1], [2, 3]]),
        relation_positive_index=torch.tensor([1, 0]),
        relation_negative_index=torch.full((2, 1), -1),
        relation_learned_epochs=torch.tensor([0, 4]),
    )
    assert torch.isfinite(output.loss) and output.mlm_loss is None and output.ed_loss is None


def test_offline_minilm_backbone_loads_its_pretrained_weights(minilm_path):
    model = FineCLForRelationExtraction.from_backbone(minilm_path, num_labels=4)
    plain = AutoModel.from_pretrained(minilm_path)
    assert torch.equal(
        model.encoder.get_input_embeddings().weight, plain.get_input_embeddings().weight
    )
    assert model.config.encoder.model_type == "bert"
    assert not any(name.startswith("pooler") for name, _ in model.encoder.named_parameters())


# ----------------------------------------------------------------------------------------------------------------------
# The bare model and the weighting registry


def test_bare_model_returns_the_entities_and_relations_the_heads_use():
    config = tiny_bert_config(num_labels=3, classifier_dropout=0.0)
    classifier = FineCLForRelationExtraction(config).eval()
    bare = FineCLModel(config).eval()
    bare.load_state_dict(classifier.state_dict(), strict=False)
    batch = sentence_batch()
    output = bare(**{k: v for k, v in batch.items() if k != "labels"})
    assert output.last_hidden_state.shape[:2] == batch["input_ids"].shape
    pairs = batch["pair_entity_ids"]
    assert torch.equal(output.relation_embeddings,
                       torch.cat([output.entity_embeddings[pairs[:, 0]], output.entity_embeddings[pairs[:, 1]]], -1))
    logits = classifier.classifier(output.relation_embeddings)
    assert torch.allclose(logits, classifier(**batch).logits, atol=1e-6)
    assert bare(input_ids=batch["input_ids"]).entity_embeddings is None


def test_a_weighting_added_through_the_registry_alone_pretrains(tmp_path):
    """One `register_weighting` call: the config accepts the name, the loss uses its weights and its Z rule, and the
    stage-2 trainer runs a step with it."""
    from finecl_hf.pretraining import FineCLPreTrainingArguments, build_pretrainer
    from finecl_hf.pretraining.synthetic import save_tiny_roberta, write_synthetic_learning_order_dataset
    from finecl_hf.weighting import WEIGHTING_SCHEMES, register_weighting

    @register_weighting("toy_linear", positive_weight_in_partition=False, description="toy: 1 + learned epoch")
    def toy_linear(learned_epochs: torch.Tensor, **_) -> torch.Tensor:
        return 1.0 + learned_epochs.clamp(min=0).to(torch.float32)

    try:
        model = FineCLForPreTraining(tiny_bert_config(weighting="toy_linear", rd_loss_weight=1.0)).eval()
        batch = pretraining_batch()
        output = model(**batch)
        weights = toy_linear(batch["relation_learned_epochs"])
        expected = naive_rd_loss(output.relation_embeddings.detach().double(), batch["relation_positive_index"].tolist(),
                                 batch["relation_negative_index"].tolist(), weights.tolist(), model.config.temperature,
                                 positive_weighted=False)
        assert output.rd_loss.item() == pytest.approx(expected, rel=1e-5)

        learning_order = write_synthetic_learning_order_dataset(tmp_path / "learning_order", 16)
        args = FineCLPreTrainingArguments(
            output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none", save_strategy="no",
            learning_order_dataset=str(learning_order), model_name_or_path=str(save_tiny_roberta(tmp_path / "tiny")),
            per_device_train_batch_size=4, total_batch_size=4, max_steps=1, logging_steps=1, max_length=128,
            warmup_steps=0, learning_rate=1e-3,
            dataset_cache_dir=str(tmp_path / "cache"), num_negatives=4, weighting="toy_linear",
        )
        trainer, _ = build_pretrainer(args)
        before = {name: value.clone() for name, value in trainer.model.encoder.named_parameters()}
        trainer.train()
        assert trainer.model.config.weighting == "toy_linear" and trainer.state.global_step == 1
        assert any(not torch.equal(before[name], value) for name, value in trainer.model.encoder.named_parameters())
        assert math.isfinite(trainer.state.log_history[0]["loss"])
    finally:
        del WEIGHTING_SCHEMES["toy_linear"]
    with pytest.raises(ValueError, match="weighting='toy_linear' is invalid"):
        tiny_bert_config(weighting="toy_linear")
