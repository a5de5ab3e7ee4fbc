"""Controlled-noise pre-training corpus (`finecl_hf.data.document_noise`) on real Re-DocRED documents."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from finecl_hf.data.conversion import SplitSource
from finecl_hf.data.document_noise import (
    FREQUENT,
    NOISE_TYPES,
    OTHER_PAIR,
    REVERSED,
    write_noisy_corpus,
)
from finecl_hf.data.loading import load_dataset_folder
from finecl_hf.data.oracle_order import write_oracle_learning_order


def finecl_convert(*argv: str) -> int:
    """`finecl convert ...` in process; its exit status."""
    from finecl_hf.commands import run_command

    try:
        run_command("convert", list(argv))
    except SystemExit as exit_:
        return exit_.code or 0
    return 0

NUM_DOCUMENTS = 80


@pytest.fixture(scope="module")
def gold_source(shared_data_dir, tmp_path_factory):
    """The first Re-DocRED documents as a small DocRED-format file (same documents every run)."""
    with gzip.open(shared_data_dir / "redocred" / "test_revised.json.gz", "rt", encoding="utf-8") as stream:
        documents = json.load(stream)[:NUM_DOCUMENTS]
    path = tmp_path_factory.mktemp("redocred") / "gold.json"
    path.write_text(json.dumps(documents), encoding="utf-8")
    return SplitSource("train", path)


@pytest.fixture(scope="module")
def rel_info(shared_data_dir):
    return shared_data_dir / "docred" / "rel_info.json"


def _write(source, rel_info, output, rate, seed=0, **kwargs):
    return write_noisy_corpus([source], output, noise_rate=rate, rel_info_file=rel_info, seed=seed, **kwargs)


@pytest.fixture(scope="module")
def noisy_corpora(gold_source, rel_info, tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    return {rate: (root / f"noise-{rate}", _write(gold_source, rel_info, root / f"noise-{rate}", rate)[1]) for rate in (0.3, 0.5)}


def _triples(folder):
    documents = load_dataset_folder(folder, split="train")
    return [(row["uid"], row["relations"], row["gold_relations"]) for row in documents]


@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_realised_noise_rate_and_mask_match_the_request(noisy_corpora, rate):
    folder, statistics = noisy_corpora[rate]
    rows = _triples(folder)
    total = sum(len(gold) for _, _, gold in rows)
    noisy = [triple for _, relations, _ in rows for triple in relations if triple["is_noisy"]]
    assert sum(len(relations) for _, relations, _ in rows) == total  # one output label per gold triple
    assert len(noisy) == statistics.noisy == int(np.floor(rate * total + 0.5))
    assert abs(statistics.noise_rate - rate) <= 0.5 / total
    assert statistics.unassignable == 0
    for _, relations, _ in rows:
        for triple in relations:
            assert triple["confirmed_by_gold"] is (not triple["is_noisy"])
            assert (triple["noise_type"] is None) is (not triple["is_noisy"])
            assert triple["match"] == ("corrupted" if triple["is_noisy"] else "gold")


@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_corrupted_labels_are_wrong_and_clean_ones_are_gold(noisy_corpora, rate):
    folder, _ = noisy_corpora[rate]
    uids = set()
    for _, relations, gold in _triples(folder):
        gold_keys = {(t["head"], t["tail"], t["relation"]) for t in gold}
        for triple in relations:
            key = (triple["head"], triple["tail"], triple["relation"])
            original = (triple["original_head"], triple["original_tail"], triple["original_relation"])
            assert original in gold_keys
            if triple["is_noisy"]:
                assert key != original and key not in gold_keys
            else:
                assert key == original
            assert triple["uid"] not in uids
            uids.add(triple["uid"])


def test_each_error_type_occurs_and_does_what_it_says(noisy_corpora):
    folder, statistics = noisy_corpora[0.5]
    seen = {name: 0 for name in NOISE_TYPES}
    for _, relations, gold in _triples(folder):
        for triple in relations:
            if not triple["is_noisy"]:
                continue
            seen[triple["noise_type"]] += 1
            head, tail = triple["original_head"], triple["original_tail"]
            if triple["noise_type"] == REVERSED:
                assert (triple["head"], triple["tail"]) == (tail, head)
                assert triple["relation"] == triple["original_relation"]
                continue
            assert (triple["head"], triple["tail"]) == (head, tail)
            if triple["noise_type"] == OTHER_PAIR:
                other_pairs = {t["relation"] for t in gold if (t["head"], t["tail"]) != (head, tail)}
                assert triple["relation"] in other_pairs
            else:
                assert triple["noise_type"] == FREQUENT and triple["relation"] != 0
    assert all(count > 0 for count in seen.values()), seen
    assert seen == {name: statistics.by_type[name] for name in NOISE_TYPES}
    # A third each was asked for; fallbacks move a few percent at most.
    assert all(abs(count / statistics.noisy - 1 / 3) < 0.08 for count in seen.values()), seen


def test_seeded_determinism(gold_source, rel_info, tmp_path):
    first = _triples(_write(gold_source, rel_info, tmp_path / "a", 0.3, seed=7)[0].output_dir)
    again = _triples(_write(gold_source, rel_info, tmp_path / "b", 0.3, seed=7)[0].output_dir)
    other = _triples(_write(gold_source, rel_info, tmp_path / "c", 0.3, seed=8)[0].output_dir)
    assert first == again
    mask = lambda rows: [t["is_noisy"] for _, relations, _ in rows for t in relations]  # noqa: E731
    assert mask(first) != mask(other)


def test_noise_rate_zero_is_the_clean_corpus(gold_source, rel_info, tmp_path):
    _, statistics = _write(gold_source, rel_info, tmp_path / "clean", 0.0)
    assert statistics.noisy == 0
    for _, relations, gold in _triples(tmp_path / "clean"):
        assert [(t["uid"], t["relation"]) for t in relations] == [(t["uid"], t["relation"]) for t in gold]


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_noise_rate_outside_the_unit_interval_is_refused_and_nothing_written(gold_source, rel_info, tmp_path, rate):
    output = tmp_path / "out"
    with pytest.raises(ValueError, match=rf"noise_rate={rate!r} is outside \[0, 1\)"):
        _write(gold_source, rel_info, output, rate)
    assert not output.exists() and list(tmp_path.iterdir()) == []
    status = finecl_convert("document-noise", "--source", f"train={gold_source.path}", "--output", str(output),
                            "--noise-rate", "1.0", "--rel-info", str(rel_info))
    assert status == 2 and not output.exists()


def test_stage_1_and_stage_2_read_the_noisy_corpus_and_its_oracle_order(noisy_corpora, tmp_path, tiny_backbone):
    from transformers import AutoTokenizer

    from finecl_hf.learning_order.arguments import LearningOrderArguments
    from finecl_hf.learning_order.analysis import instance_correctness
    from finecl_hf.learning_order.run import load_instances
    from finecl_hf.pretraining.data import prepare_pretraining_data

    folder, statistics = noisy_corpora[0.5]
    instances, documents = load_instances(LearningOrderArguments(dataset_path=str(folder)))
    assert documents is not None and len(documents) == NUM_DOCUMENTS
    correct, known = instance_correctness(instances, documents, "confirmed_by_gold")
    assert known.sum() == statistics.triples and (~correct[known]).sum() == statistics.noisy

    oracle = write_oracle_learning_order(folder, tmp_path / "oracle")
    order = load_dataset_folder(oracle, "instances", split="train")
    epochs = np.asarray(order["learned_epoch"])
    assert (epochs == 14).sum() == statistics.noisy
    assert (epochs == 0).sum() == statistics.triples - statistics.noisy
    assert np.all(epochs[np.asarray(order["relation"]) == 0] == -1)
    data = prepare_pretraining_data(str(oracle), AutoTokenizer.from_pretrained(tiny_backbone), max_length=512)
    assert data.learned_epoch_config() == {"min_learned_epoch": 0, "max_learned_epoch": 14}
    assert len(data.dataset) == NUM_DOCUMENTS


def test_the_oracle_order_command_writes_the_true_mask_and_refuses_a_single_epoch(noisy_corpora, tmp_path, capsys):
    folder, statistics = noisy_corpora[0.5]
    assert finecl_convert("oracle-order", "--source", str(folder), "--output", str(tmp_path / "oracle"),
                          "--num-epochs", "3") == 0
    assert f"wrote {tmp_path / 'oracle'}" in capsys.readouterr().out
    epochs = np.asarray(load_dataset_folder(tmp_path / "oracle", "instances", split="train")["learned_epoch"])
    assert (epochs == 2).sum() == statistics.noisy
    assert finecl_convert("oracle-order", "--source", str(folder), "--output", str(tmp_path / "oracle")) == 2
    assert "exists and is not empty" in capsys.readouterr().err  # an earlier order is kept unless --overwrite
    assert finecl_convert("oracle-order", "--source", str(folder), "--output", str(tmp_path / "o2"),
                          "--num_epochs", "1") == 2
    assert "num_epochs=1 must be at least 2" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not list(tmp_path.glob(".o2*"))  # nothing left on failure


def test_the_relabelled_oracle_gives_every_corrupted_triple_back_its_original(noisy_corpora, tmp_path, capsys):
    from finecl_hf.data.learning_order import load_learning_order_dataset

    folder, statistics = noisy_corpora[0.5]
    assert finecl_convert("oracle-order", "--source", str(folder), "--output", str(tmp_path / "relabelled"),
                          "--relabel") == 0
    instances, _ = load_learning_order_dataset(str(tmp_path / "relabelled"))
    documents = load_dataset_folder(folder, split="train")
    gold = {(index, triple["head"], triple["tail"], triple["relation"])
            for index, triples in enumerate(documents["gold_relations"]) for triple in triples}  # fmt: skip
    relation = np.asarray(instances["relation"])
    triples = {(d, h, t, r) for d, h, t, r in zip(instances["document_index"], instances["head"], instances["tail"], relation)
               if r != 0}  # fmt: skip
    assert triples == gold  # exactly the gold triples: the corruption undone
    relabelled = np.asarray(instances["cleaning"]) == "relabelled"
    assert relabelled.sum() == statistics.noisy
    assert (np.asarray(instances["given_relation"])[~relabelled] == relation[~relabelled]).all()
    epochs = np.asarray(instances["learned_epoch"])
    assert set(epochs[relation != 0]) == {0} and set(epochs[relation == 0]) == {-1}
