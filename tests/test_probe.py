"""Representation probe (`finecl_hf.probing`): classifier, scores, draws, caching, pairing and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from finecl_hf.data.schema import entity_span_feature, semeval_label_names
from finecl_hf.metrics import compute_semeval_f1
from finecl_hf.probing import (
    ProbeResult,
    ProbeSettings,
    compare_probe_groups,
    compare_probes,
    draw_shots,
    encode_split,
    fit_linear_probe,
    load_frozen_encoder,
    probe_encoder,
)
from finecl_hf.commands.probe import main as probe_main
from finecl_hf.probing.probe import check_probe_inputs
from finecl_hf.probing.scoring import (
    ACCURACY,
    MACRO_F1,
    SEMEVAL_MACRO_F1,
    MacroF1Groups,
    bootstrap_weights,
    resampled_means,
    score_draws,
)

# The head word decides the class: even a random encoder separates the classes linearly through the head's vectors.
HEAD_WORDS = ["Paris", "Berlin", "France", "Germany"]
TAIL_WORDS = ["system", "child", "author", "student", "cradle", "cord"]
FILLER = "the of was and in by a is to an as".split()
FAST = ProbeSettings(shots=4, num_draws=5, num_resamples=200, max_iterations=50)


def _sentences(num_per_class: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = []
    for label, head in enumerate(HEAD_WORDS):
        for index in range(num_per_class):
            words = [str(word) for word in rng.choice(FILLER, size=6)]
            tail = str(rng.choice(TAIL_WORDS))
            words[1], words[4] = head, tail
            rows.append({
                "uid": f"{seed}/{label}/{index}", "id": str(index), "tokens": words,
                "head": {"name": head, "start": 1, "end": 2, "type": None},
                "tail": {"name": tail, "start": 4, "end": 5, "type": None},
                "relation": label,
            })  # fmt: skip
    features = Features({
        "uid": Value("string"), "id": Value("string"), "tokens": List(Value("string")),
        "head": entity_span_feature(), "tail": entity_span_feature(),
        "relation": ClassLabel(names=[f"relation_{name}" for name in HEAD_WORDS]),
    })  # fmt: skip
    return Dataset.from_list(rows, features=features)


@pytest.fixture(scope="module")
def splits():
    return _sentences(12, seed=1), _sentences(10, seed=2)


@pytest.fixture(scope="module")
def encoder(tiny_backbone):
    return load_frozen_encoder(tiny_backbone)


def _shuffled(rows: Dataset, seed: int) -> Dataset:
    labels = np.random.default_rng(seed).permutation(rows["relation"])
    return rows.remove_columns("relation").add_column("relation", labels.tolist(), feature=rows.features["relation"])


# --- classifier -------------------------------------------------------------------------------------------------


def test_linear_probe_recovers_a_planted_linear_signal_and_not_shuffled_labels():
    generator = torch.Generator().manual_seed(0)
    num_classes, dim = 10, 64
    means = 3 * torch.randn(num_classes, dim, generator=generator)
    offset = 50 + 20 * torch.randn(dim, generator=generator)  # far from zero and badly scaled: standardisation copes

    def sample(per_class):
        labels = torch.arange(num_classes).repeat_interleave(per_class)
        return offset + means[labels] + torch.randn(len(labels), dim, generator=generator), labels

    train, train_labels = sample(8)
    test, test_labels = sample(200)
    probe = fit_linear_probe(train, train_labels, num_classes)
    assert (probe.predict(test) == test_labels).float().mean() > 0.95
    shuffled = train_labels[torch.randperm(len(train_labels), generator=generator)]
    chance = (fit_linear_probe(train, shuffled, num_classes).predict(test) == test_labels).float().mean()
    assert abs(chance - 1 / num_classes) < 0.07


def test_linear_probe_fit_is_deterministic():
    features, labels = torch.randn(40, 16), torch.arange(4).repeat(10)
    first, second = fit_linear_probe(features, labels, 4), fit_linear_probe(features, labels, 4)
    assert torch.equal(first.weight, second.weight) and torch.equal(first.bias, second.bias)


# --- scores -----------------------------------------------------------------------------------------------------


def test_scores_match_direct_computation_and_the_official_semeval_scorer():
    names = semeval_label_names()
    rng = np.random.default_rng(0)
    references = rng.integers(len(names), size=300)
    predictions = np.where(rng.random((3, 300)) < 0.6, references, rng.integers(len(names), size=(3, 300)))
    groups = {MACRO_F1: MacroF1Groups.per_class(len(names)), SEMEVAL_MACRO_F1: MacroF1Groups.semeval_official(names)}
    for draw in range(3):
        official = compute_semeval_f1([names[p] for p in predictions[draw]], [names[r] for r in references])
        assert score_draws(predictions, references, SEMEVAL_MACRO_F1, groups[SEMEVAL_MACRO_F1])[draw] == pytest.approx(
            official["macro_f1_official"], abs=1e-6
        )
        assert score_draws(predictions, references, ACCURACY, None)[draw] == pytest.approx(official["accuracy"])
        f1 = []
        for label in np.unique(references):
            tp = np.sum((predictions[draw] == label) & (references == label))
            f1.append(2 * tp / (np.sum(predictions[draw] == label) + np.sum(references == label)))
        assert score_draws(predictions, references, MACRO_F1, groups[MACRO_F1])[draw] == pytest.approx(np.mean(f1), abs=1e-6)


def test_unit_bootstrap_weights_give_the_plain_mean():
    rng = np.random.default_rng(1)
    references = rng.integers(5, size=50)
    predictions = rng.integers(5, size=(4, 50))
    groups = MacroF1Groups.per_class(5)
    for metric, metric_groups in ((ACCURACY, None), (MACRO_F1, groups)):
        plain = score_draws(predictions, references, metric, metric_groups).mean()
        ones = resampled_means(predictions, references, metric, metric_groups, np.ones((1, 4)), np.ones((1, 50)))
        assert ones[0] == pytest.approx(plain, abs=1e-6)
    draw_weights, example_weights = bootstrap_weights(4, 50, 10, seed=3)
    assert draw_weights.sum(1).tolist() == [4] * 10 and example_weights.sum(1).tolist() == [50] * 10


def test_draws_take_k_per_class_without_replacement_and_do_not_depend_on_the_number_of_draws():
    labels = np.repeat(np.arange(3), [5, 7, 9])
    draws = draw_shots(labels, np.arange(3), shots=4, num_draws=6, seed=0)
    assert draws.shape == (6, 12)
    for rows in draws:
        assert len(set(rows.tolist())) == 12
        assert np.bincount(labels[rows]).tolist() == [4, 4, 4]
    assert np.array_equal(draw_shots(labels, np.arange(3), 4, 2, seed=0), draws[:2])
    assert not np.array_equal(draw_shots(labels, np.arange(3), 4, 6, seed=1), draws)


# --- the probe end to end ---------------------------------------------------------------------------------------


def test_probe_recovers_the_planted_signal_and_shuffled_labels_fall_to_chance(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    result = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    assert result.summary[ACCURACY].estimate > 90
    shuffled = probe_encoder(encoder, _shuffled(shot_rows, 0), _shuffled(test_rows, 1), FAST, cache_dir=tmp_path)
    assert shuffled.summary[ACCURACY].estimate < 50  # chance is 25
    for probe in (result, shuffled):
        for interval in probe.summary.values():
            assert interval.low <= interval.estimate <= interval.high


def test_probe_is_deterministic_and_reuses_cached_features(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    first = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    assert first.timings["encode_test_seconds"] > 0 and len(list(tmp_path.glob("*.safetensors"))) == 2
    again = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    uncached = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=False)
    assert again.timings["encode_test_seconds"] == again.timings["encode_shots_seconds"] == 0
    for other in (again, uncached):
        assert np.array_equal(first.predictions, other.predictions) and np.array_equal(first.shot_rows, other.shot_rows)
        assert first.summary == other.summary
    reseeded = probe_encoder(encoder, shot_rows, test_rows, ProbeSettings(**{**vars(FAST), "seed": 1}), cache_dir=tmp_path)
    assert not np.array_equal(first.shot_rows, reseeded.shot_rows)


def test_paired_difference_of_an_encoder_with_itself_is_zero(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    result = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    result.save(tmp_path / "saved")
    for metric in (ACCURACY, MACRO_F1):
        comparison = compare_probes(result, ProbeResult.load(tmp_path / "saved"), metric)
        assert (comparison.difference.estimate, comparison.difference.low, comparison.difference.high) == (0, 0, 0)
        assert comparison.n == FAST.num_draws


def test_paired_difference_between_encoders_is_the_mean_difference_with_a_ci(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    good = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    # Same test set and draws, but the shots' labels are shuffled: a worse "encoder" on identical pairs.
    bad = probe_encoder(encoder, _shuffled(shot_rows, 0), test_rows, FAST, cache_dir=tmp_path)
    bad.shot_rows = good.shot_rows  # draws are per class, so the rows differ; pair them for the arithmetic check
    comparison = compare_probes(good, bad)
    expected = np.mean(good.per_draw[ACCURACY] - bad.per_draw[ACCURACY])
    assert comparison.difference.estimate == pytest.approx(expected)
    assert comparison.difference.low <= comparison.difference.estimate <= comparison.difference.high
    assert comparison.difference.low > 0
    other_seed = probe_encoder(encoder, shot_rows, test_rows, ProbeSettings(**{**vars(FAST), "seed": 5}), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="not paired"):
        compare_probes(good, other_seed)


def test_group_comparison_over_seeds(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    result = probe_encoder(encoder, shot_rows, test_rows, FAST, cache_dir=tmp_path)
    worse = probe_encoder(encoder, shot_rows, test_rows, ProbeSettings(**{**vars(FAST), "max_iterations": 1}), cache_dir=tmp_path)
    worse.settings = result.settings  # one L-BFGS step: a weaker probe of the same draws, as a second "encoder"
    single = compare_probes(result, worse)
    assert compare_probe_groups([result], [worse]).difference == single.difference
    grouped = compare_probe_groups([result, result], [worse])
    assert grouped.difference.estimate == pytest.approx(single.difference.estimate)
    assert grouped.n == 2 * FAST.num_draws and grouped.a == [result.encoder] * 2
    assert grouped.difference.low <= grouped.difference.estimate <= grouped.difference.high
    self_grouped = compare_probe_groups([result, result], [result, result])
    assert (self_grouped.difference.low, self_grouped.difference.high) == (0, 0)
    with pytest.raises(ValueError, match="1 or len"):
        compare_probe_groups([result, result, result], [worse, worse])


def test_a_finecl_checkpoint_of_the_backbone_gives_the_backbone_s_features(tiny_backbone, splits, tmp_path):
    from transformers import AutoTokenizer

    from finecl_hf import FineCLForPreTraining

    FineCLForPreTraining.from_backbone(str(tiny_backbone)).save_pretrained(tmp_path / "finecl")
    AutoTokenizer.from_pretrained(tiny_backbone).save_pretrained(tmp_path / "finecl")
    _, test_rows = splits
    plain = encode_split(load_frozen_encoder(tiny_backbone), test_rows, cache_dir=False)
    finecl = encode_split(load_frozen_encoder(tmp_path / "finecl"), test_rows, cache_dir=False)
    assert plain.encoded.all() and np.allclose(plain.features, finecl.features, atol=1e-5)


# --- bad input --------------------------------------------------------------------------------------------------


def test_more_shots_than_a_class_has_is_refused_before_anything_is_encoded(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    with pytest.raises(ValueError, match=r"shots=13 is more than class 'relation_Paris' has in shot_split='train' \(12"):
        probe_encoder(encoder, shot_rows, test_rows, ProbeSettings(shots=13), shot_split="train", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_allow_fewer_shots_lets_a_short_class_give_all_it_has(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    one_berlin = shot_rows.select([index for index, label in enumerate(shot_rows["relation"]) if label != 1] + [12])
    settings = ProbeSettings(**{**vars(FAST), "allow_fewer_shots": True})
    result = probe_encoder(encoder, one_berlin, test_rows, settings, cache_dir=tmp_path)
    labels = np.asarray(one_berlin["relation"])[result.shot_rows]
    assert all(np.bincount(row, minlength=4).tolist() == [4, 1, 4, 4] for row in labels)


def test_semeval_train_has_one_entity_destination_e2_e1():
    from finecl_hf.probing import PROBE_TASKS
    from finecl_hf.probing.probe import class_labels

    dataset = PROBE_TASKS["semeval"].load()
    shot_labels, names = class_labels(dataset["train"], "shot_split")
    test_labels, _ = class_labels(dataset["test"], "test_split")
    with pytest.raises(ValueError, match=r"shots=8 is more than class 'Entity-Destination\(e2,e1\)' has .* \(1 examples"):
        check_probe_inputs(shot_labels, test_labels, names, 8, "train", "test")
    assert len(check_probe_inputs(shot_labels, test_labels, names, 8, "train", "test", allow_fewer_shots=True)) == 19


def test_test_classes_unseen_in_the_shot_split_are_refused(encoder, splits, tmp_path):
    shot_rows, test_rows = splits
    without_berlin = shot_rows.filter(lambda label: label != 1, input_columns="relation")
    with pytest.raises(ValueError, match=r"test_split='test' holds 1 class\(es\) that shot_split='train' lacks \('relation_Berlin'\)"):
        probe_encoder(encoder, without_berlin, test_rows, FAST, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_wiki80_tuning_split_is_held_out_from_the_reported_wiki80_test_set():
    from finecl_hf.probing import PROBE_TASKS

    tuning = PROBE_TASKS["wiki80_tuning"].load()
    reported = PROBE_TASKS["wiki80"].load()
    assert tuning["train"].features["relation"].names == reported["validation"].features["relation"].names
    assert len(tuning["validation"]) == 400
    assert set(tuning["validation"]["relation"]) == set(range(80)), "every relation is in the tuning test split"
    sentences = lambda rows: {" ".join(tokens) for tokens in rows["tokens"]}  # noqa: E731
    assert not sentences(tuning["validation"]) & sentences(reported["validation"])


def test_wiki80_has_49_shots_per_class_at_most():
    labels = np.repeat(np.arange(80), 49)
    check_probe_inputs(labels, labels, [str(i) for i in range(80)], 49, "train", "validation")
    with pytest.raises(ValueError, match=r"shots=50 is more than class '0' has in shot_split='train' \(49 examples"):
        check_probe_inputs(labels, labels, [str(i) for i in range(80)], 50, "train", "validation")


@pytest.mark.parametrize("kind", ["missing", "empty", "dataset", "no-weights"])
def test_a_folder_that_is_not_an_encoder_is_refused(kind, tmp_path, tiny_backbone, splits):
    folder = tmp_path / "encoder"
    if kind != "missing":
        folder.mkdir()
    if kind == "dataset":
        splits[0].save_to_disk(str(folder))
    if kind == "no-weights":
        (folder / "config.json").write_text((tiny_backbone / "config.json").read_text())
    with pytest.raises(ValueError, match=rf"model_name_or_path='{folder}' is not an encoder"):
        load_frozen_encoder(folder)


def test_cli_reports_bad_input_in_one_paragraph_and_writes_nothing(tmp_path, splits, tiny_backbone, capsys):
    dataset = tmp_path / "dataset"
    DatasetDict({"train": splits[0], "validation": splits[1]}).save_to_disk(str(dataset))
    output, cache = tmp_path / "out", tmp_path / "cache"
    capsys.readouterr()  # the progress bars of save_to_disk
    common = ["--task", "wiki80", "--dataset_path", str(dataset), "--output_dir", str(output),
              "--feature_cache_dir", str(cache)]  # fmt: skip
    cases = {
        "shots=13 is more than class": ["--model_name_or_path", str(tiny_backbone), "--shots", "13"],
        f"--model_name_or_path {tmp_path}: the folder has no config.json": [
            "--model_name_or_path", str(tiny_backbone), str(tmp_path), "--shots", "2",
        ],
    }  # fmt: skip
    for message, arguments in cases.items():
        with pytest.raises(SystemExit) as exited:
            probe_main(common + arguments)
        # Usage errors (exit 2) are printed by the front door; data errors are the exit message (status 1).
        error = capsys.readouterr().err if exited.value.code == 2 else str(exited.value.code)
        assert message in error and len(error.strip().splitlines()) == 1, error
        assert not output.exists() and not cache.exists()


def test_cli_probes_two_encoders_and_writes_paired_comparisons(tmp_path, splits, tiny_backbone, capsys):
    dataset = tmp_path / "dataset"
    DatasetDict({"train": splits[0], "validation": splits[1]}).save_to_disk(str(dataset))
    probe_main([
        "--model_name_or_path", str(tiny_backbone), str(tiny_backbone), "--task", "wiki80", "--dataset_path",
        str(dataset), "--shots", "3", "--num_draws", "4", "--num_resamples", "100", "--output_dir",
        str(tmp_path / "out"), "--feature_cache_dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    report = json.loads((tmp_path / "out" / "probe_results.json").read_text())
    assert len(report["results"]) == 2 and {item["metric"] for item in report["comparisons"]} == {ACCURACY, MACRO_F1}
    assert all(item["difference"] == item["ci_low"] == item["ci_high"] == 0 for item in report["comparisons"])
    assert "Paired differences" in capsys.readouterr().out
    saved = sorted((tmp_path / "out" / "wiki80").iterdir())
    assert len(saved) == 2 and ProbeResult.load(saved[0]).settings.shots == 3


def test_document_instances_get_their_entities_pooled_features_from_one_cached_encoding(encoder, tmp_path):
    import torch
    from datasets import Dataset

    from finecl_hf.data.tokenization import tokenize_documents
    from finecl_hf.representations.features import encode_document_instances

    def mention(word: str, sent_id: int, start: int) -> dict:
        return {"name": word, "sent_id": sent_id, "start": start, "end": start + 1}

    long_document = {"sents": [["alpha", "beta", "gamma"], ["delta", "epsilon", "zeta"]], "relations": [], "entities": [
        {"type": "PER", "mentions": [mention("alpha", 0, 0), mention("delta", 1, 0)]},
        {"type": "LOC", "mentions": [mention("gamma", 0, 2)]},
        {"type": "LOC", "mentions": [mention("zeta", 1, 2)]},
    ]}  # fmt: skip
    short_document = {"sents": [["eta", "theta"]], "relations": [],
                      "entities": [{"type": "ORG", "mentions": [mention("eta", 0, 0)]},
                                   {"type": "LOC", "mentions": [mention("theta", 0, 1)]}]}  # fmt: skip
    documents = Dataset.from_list([long_document, short_document])
    instances = Dataset.from_dict({"document_index": [0, 0, 1], "head": [0, 2, 1], "tail": [1, 0, 0]})
    first = encode_document_instances(encoder, instances, documents, max_length=64, cache_dir=tmp_path)

    def alone(document: int) -> torch.Tensor:
        """Entity embeddings of one document encoded on its own (no padding)."""
        row = tokenize_documents(documents.select([document]), encoder.tokenizer, max_length=64)[0][0]
        spans = torch.tensor([[0, start, end] for _, start, end in row["mention_token_spans"]])
        entity_ids = torch.tensor([entity for entity, _, _ in row["mention_token_spans"]])
        ids = torch.tensor([row["input_ids"]])
        return encoder.model.encode_entities(ids, torch.ones_like(ids), spans, entity_ids)[1].detach()

    long, short = alone(0), alone(1)
    expected = torch.stack([torch.cat([long[0], long[1]]), torch.cat([long[2], long[0]]), torch.cat([short[1], short[0]])])
    np.testing.assert_allclose(first.features, expected.numpy(), rtol=1e-4, atol=1e-5)
    assert first.encoded.all() and first.encode_seconds > 0
    again = encode_document_instances(encoder, instances, documents, max_length=64, cache_dir=tmp_path)
    assert again.encode_seconds == 0.0 and np.array_equal(again.features, first.features)
    # A budget that ends right after gamma: zeta (entity 2 of document 0) loses its only mention.
    spans = tokenize_documents(documents.select([0]), encoder.tokenizer, max_length=64)[0][0]["mention_token_spans"]
    gamma_end = next(end for entity, _, end in spans if entity == 1)
    cut = encode_document_instances(encoder, instances, documents, max_length=gamma_end + 1, cache_dir=tmp_path)
    assert cut.encoded[:2].tolist() == [True, False]
    np.testing.assert_array_equal(np.isnan(cut.features[1]), True)
