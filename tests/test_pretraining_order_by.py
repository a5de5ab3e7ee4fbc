"""Stage 2 `--order_by`: the learning epoch of eq. 5 from any cleanliness score, mapped through its rank to a
pseudo-epoch (checked against a naive implementation); the default `learned_epoch` is the paper's column, unchanged."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from finecl_hf.order_scores import cleanliness
from finecl_hf.pretraining.data import prepare_pretraining_data
from finecl_hf.pretraining.ordering import pseudo_epochs
from finecl_hf.pretraining.synthetic import NUM_LEARNING_EPOCHS, write_synthetic_learning_order_dataset


def naive_pseudo_epochs(scores, ranked, k_min, k_max, groups=None) -> np.ndarray:
    """Straight from the definition: mid-rank c among the instances of the group, k = k_min + floor(c * B / n)."""
    groups = np.zeros(len(scores), int) if groups is None else groups
    result = np.full(len(scores), -1)
    for i in range(len(scores)):
        if not ranked[i]:
            continue
        members = [j for j in range(len(scores)) if ranked[j] and groups[j] == groups[i]]
        cleaner = sum(scores[j] > scores[i] for j in members)
        tied = sum(scores[j] == scores[i] for j in members)
        mid_rank = cleaner + (tied - 1) / 2
        result[i] = k_min + int(np.floor(mid_rank * (k_max - k_min + 1) / len(members)))
    return result


@pytest.mark.parametrize("seed", range(6))
def test_pseudo_epochs_equal_a_naive_implementation(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 60))
    scores = rng.integers(0, 8, size).astype(float) if seed % 2 else rng.normal(size=size)  # ties on odd seeds
    ranked = rng.random(size) < 0.8
    groups = rng.integers(0, 4, size)
    k_min, k_max = sorted(rng.integers(0, 16, 2).tolist())
    for grouping in (None, groups):
        actual = pseudo_epochs(scores, ranked, k_min, k_max, groups=grouping)
        np.testing.assert_array_equal(actual, naive_pseudo_epochs(scores, ranked, k_min, k_max, grouping))
        assert actual.dtype == np.int16
        assert ((actual[ranked] >= k_min) & (actual[ranked] <= k_max)).all() and (actual[~ranked] == -1).all()


def test_cleanest_quantile_gets_k_min_and_the_noisiest_k_max():
    scores = np.arange(30, dtype=float)[::-1]  # row 0 is the cleanest
    epochs = pseudo_epochs(scores, np.ones(30, bool), 0, 2)
    assert epochs.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert pseudo_epochs(np.ones(5), np.ones(5, bool), 0, 4).tolist() == [2] * 5  # all tied: the middle


@pytest.fixture(scope="module")
def order_folders(tmp_path_factory):
    """A synthetic learning-order dataset (no score columns, like an older stage 1) and a copy with an `aum` column."""
    root = tmp_path_factory.mktemp("order-by")
    older = write_synthetic_learning_order_dataset(root / "older", 12, seed=5)
    scored = root / "scored"
    shutil.copytree(older, scored)
    table = pq.read_table(scored / "instances" / "train.parquet")
    rng = np.random.default_rng(0)
    aum = rng.normal(size=table.num_rows).round(1).astype(np.float32)  # rounded: ties occur
    pq.write_table(table.append_column("aum", pa.array(aum, pa.float32())), scored / "instances" / "train.parquet")
    return older, scored, aum, table


def test_default_order_is_the_learned_epoch_column_bit_for_bit(order_folders, tiny_backbone):
    older, scored, _, table = order_folders
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    default = prepare_pretraining_data(str(older), tokenizer, max_length=512)
    explicit = prepare_pretraining_data(str(scored), tokenizer, max_length=512, order_by="learned_epoch")
    order = np.argsort(table["document_index"].to_numpy(), kind="stable")  # the index sorts by document
    column = table["learned_epoch"].to_numpy()[order]
    for data in (default, explicit):
        assert data.index.learned_epoch.dtype == np.int16
        np.testing.assert_array_equal(data.index.learned_epoch, column)
        learned = column[column >= 0]
        assert data.learned_epoch_config() == {"min_learned_epoch": int(learned.min()), "max_learned_epoch": int(learned.max())}
        assert data.order_by == "learned_epoch" and data.epoch_range is None


@pytest.mark.parametrize("within_relation", [False, True])
def test_order_by_a_score_maps_its_rank_to_pseudo_epochs(order_folders, tiny_backbone, within_relation):
    _, scored, aum, table = order_folders
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    data = prepare_pretraining_data(
        str(scored), tokenizer, max_length=512, order_by="aum", order_by_within_relation=within_relation
    )
    relation = table["relation"].to_numpy()
    no_relation = data.relation_label_names.index("no_relation")
    expected = naive_pseudo_epochs(
        cleanliness("aum", {"aum": aum}), relation != no_relation, 0, NUM_LEARNING_EPOCHS - 1,
        relation if within_relation else None,
    )
    order = np.argsort(table["document_index"].to_numpy(), kind="stable")
    np.testing.assert_array_equal(data.index.learned_epoch, expected[order])
    assert data.learned_epoch_config() == {"min_learned_epoch": 0, "max_learned_epoch": NUM_LEARNING_EPOCHS - 1}
    assert (data.index.learned_epoch[data.index.relation == no_relation] == -1).all()


def test_the_model_card_explains_the_order_by_mapping():
    from finecl_hf import FineCLConfig
    from finecl_hf.pretraining.arguments import CONFIG_FIELDS
    from finecl_hf.pretraining.model_card import render_pretrained_model_card

    config = FineCLConfig()
    base = {name: getattr(config, name) for name in (*CONFIG_FIELDS, "min_learned_epoch", "max_learned_epoch")}

    def card(**order):
        return str(render_pretrained_model_card(
            model_name="m", backbone="roberta-base", dataset_source="order", stage1_metadata={}, data_statistics={},
            hyperparameters={**base, **order}, log_history=[], logging_steps=10,
        ))

    paper = card(order_by="learned_epoch", order_by_within_relation=False)
    assert "pseudo-epoch" not in paper and "| `order_by` | learned_epoch |" in paper
    by_aum = card(order_by="aum", order_by_within_relation=True)
    assert "rank of its `aum` score" in by_aum and "within each relation class" in by_aum
    assert "k = k_min + ⌊c · (k_max − k_min + 1) / n⌋" in by_aum
