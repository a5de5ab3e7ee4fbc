"""Stage 2 sampling rules: the relation-instance index, the document-pair sampler and in-batch positives/negatives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finecl_hf.pretraining.ordering import eq5_epoch_bounds
from finecl_hf.pretraining.sampling import RelationInstanceIndex, RelationPairSampler, sample_contrastive_pairs

NA = 0


def random_instances(rng: np.random.Generator, num_documents: int, per_document: int, num_relations: int):
    """Random instances: (document, head, tail, relation, learned epoch) in shuffled order."""
    size = num_documents * per_document
    document = np.repeat(np.arange(num_documents), per_document)
    head = rng.integers(0, 6, size)
    tail = (head + rng.integers(1, 6, size)) % 7
    relation = rng.integers(0, num_relations, size)
    epoch = rng.integers(-1, 15, size)
    order = rng.permutation(size)
    return document[order], head[order], tail[order], relation[order], epoch[order]


def build_index(document, head, tail, relation, epoch, num_documents, num_relations=5):
    return RelationInstanceIndex.from_arrays(
        document,
        head,
        tail,
        relation,
        epoch,
        num_documents=num_documents,
        num_relations=num_relations,
        no_relation_id=NA,
    )


# ----------------------------------------------------------------------------------------------------------------------
# In-batch positives and negatives


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), num_instances=st.integers(1, 60), num_negatives=st.integers(1, 20))
def test_positives_and_negatives_follow_the_erica_rules(seed, num_instances, num_negatives):
    rng = np.random.default_rng(seed)
    documents = rng.integers(0, 4, num_instances)
    heads, tails = rng.integers(0, 4, num_instances), rng.integers(0, 4, num_instances)
    relations = rng.integers(0, 4, num_instances)
    positive, negatives = sample_contrastive_pairs(
        documents, heads, tails, relations, no_relation_id=NA, num_negatives=num_negatives, rng=rng
    )
    assert positive.shape == (num_instances,)
    assert negatives.shape == (num_instances, min(num_negatives, num_instances - 1))
    for anchor in range(num_instances):
        could_pair = np.any((relations == relations[anchor]) & (documents != documents[anchor]))
        if relations[anchor] == NA or not could_pair:
            assert positive[anchor] == -1 and np.all(negatives[anchor] == -1)
            continue
        partner = positive[anchor]
        assert relations[partner] == relations[anchor] and documents[partner] != documents[anchor]
        chosen = negatives[anchor][negatives[anchor] >= 0]
        assert len(set(chosen.tolist())) == chosen.size  # no repeats
        for negative in chosen:
            assert relations[negative] != relations[anchor]
            shares = heads[negative] == heads[anchor] or tails[negative] == tails[anchor]
            assert not (documents[negative] == documents[anchor] and shares)
        allowed = (relations != relations[anchor]) & ~(
            (documents == documents[anchor]) & ((heads == heads[anchor]) | (tails == tails[anchor]))
        )
        assert chosen.size == min(num_negatives, int(allowed.sum()))  # as many as allowed, up to the maximum


def test_no_relation_pairs_are_negatives_but_never_anchors():
    documents = np.array([0, 1, 0, 1])
    heads, tails = np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3])
    relations = np.array([3, 3, NA, NA])
    positive, negatives = sample_contrastive_pairs(
        documents, heads, tails, relations, no_relation_id=NA, num_negatives=8, rng=np.random.default_rng(0)
    )
    assert positive.tolist() == [1, 0, -1, -1]
    assert sorted(negatives[0][negatives[0] >= 0].tolist()) == [2, 3]
    assert np.all(negatives[2:] == -1)


def test_two_copies_of_one_document_are_not_each_others_positive():
    positive, _ = sample_contrastive_pairs(
        np.array([7, 7]),
        np.array([0, 0]),
        np.array([1, 1]),
        np.array([2, 2]),
        no_relation_id=NA,
        num_negatives=4,
        rng=np.random.default_rng(0),
    )
    assert positive.tolist() == [-1, -1]


def test_sampling_is_reproducible_with_the_same_seed_and_varies_with_another():
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 8, 80) for _ in range(3)] + [rng.integers(0, 5, 80)]

    def sample(seed):
        return sample_contrastive_pairs(*arrays, no_relation_id=NA, num_negatives=5, rng=np.random.default_rng(seed))

    first, again, other = sample(11), sample(11), sample(12)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_empty_batch_gives_empty_indices():
    empty = np.zeros(0, dtype=np.int64)
    positive, negatives = sample_contrastive_pairs(
        empty, empty, empty, empty, no_relation_id=NA, num_negatives=4, rng=np.random.default_rng(0)
    )
    assert positive.shape == (0,) and negatives.shape[0] == 0


# ----------------------------------------------------------------------------------------------------------------------
# Index


def test_index_sorts_by_document_and_keeps_every_instance():
    rng = np.random.default_rng(0)
    columns = random_instances(rng, num_documents=30, per_document=5, num_relations=5)
    index = build_index(*columns, num_documents=30)
    assert np.all(np.diff(index.document) >= 0)
    for document in range(30):
        rows = index.instances_of(document)
        expected = columns[0] == document
        assert np.all(index.document[rows] == document)
        assert sorted(zip(index.head[rows], index.tail[rows], index.relation[rows])) == sorted(
            zip(columns[1][expected], columns[2][expected], columns[3][expected])
        )
    assert index.learned_epoch.dtype == np.int16 and index.nbytes > 0


def test_single_instance_relation_is_counted_and_never_pairable():
    # relation 4 has one instance; relation 3 has two instances in the same document: neither can be an anchor.
    document = np.array([0, 1, 1, 2, 2, 2])
    relation = np.array([1, 1, 4, 3, 3, NA])
    index = build_index(document, np.arange(6) % 3, (np.arange(6) + 1) % 3, relation, np.zeros(6), num_documents=3)
    stats = index.statistics()
    assert stats["num_single_instance_relations"] == 1
    assert stats["num_unpairable_relations"] == 2
    assert stats["num_unpairable_instances"] == 3
    assert stats["num_pairable_instances"] == 2
    assert sorted(index.relation[index.pairable_rows].tolist()) == [1, 1]
    # The sampler still runs: documents without a pairable relation get a random partner.
    pairs = RelationPairSampler(index, seed=0).pairs()
    assert pairs.shape == (3, 2)


def test_eq5_epoch_bounds_span_the_learned_instances_unless_pseudo_epochs_give_them():
    assert eq5_epoch_bounds(np.array([-1, 3, 9], dtype=np.int16), None) == (3, 9)
    assert eq5_epoch_bounds(np.array([-1, -1], dtype=np.int16), None) == (0, 0)  # nothing learned: all weights 1
    assert eq5_epoch_bounds(np.array([-1, 3, 9], dtype=np.int16), (0, 14)) == (0, 14)


@pytest.mark.parametrize(
    ("field", "column", "value"),
    [("document_index", 0, 5), ("relation", 3, 9), ("learned_epoch", 4, -2), ("head", 1, -1)],
)
def test_out_of_range_values_name_the_source_row_and_field(field, column, value):
    columns = [np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([1, 1, 2]), np.array([0, 1, 2])]
    columns[column] = columns[column].copy()
    columns[column][2] = value
    with pytest.raises(ValueError, match=rf"my_instances: record 3 \(index 2\), field '{field}'"):
        RelationInstanceIndex.from_arrays(
            *columns, num_documents=2, num_relations=5, no_relation_id=NA, source="my_instances"
        )


# ----------------------------------------------------------------------------------------------------------------------
# Document-pair sampler


def test_pair_sampler_partners_share_a_relation_from_another_document():
    rng = np.random.default_rng(1)
    index = build_index(*random_instances(rng, num_documents=50, per_document=4, num_relations=5), num_documents=50)
    sampler = RelationPairSampler(index, seed=5)
    pairs = sampler.pairs()
    assert len(sampler) == 100 and sorted(pairs[:, 0].tolist()) == list(range(50))  # every document leads once
    relations_of = [
        set(index.relation[index.instances_of(d)][index.relation[index.instances_of(d)] != NA].tolist())
        for d in range(50)
    ]
    pairable = set(index.relation[index.pairable_rows].tolist())
    for anchor, partner in pairs:
        if relations_of[anchor] & pairable:
            assert partner != anchor
            assert relations_of[anchor] & relations_of[partner] & pairable


def test_pair_sampler_is_seeded_per_epoch():
    rng = np.random.default_rng(2)
    index = build_index(*random_instances(rng, num_documents=40, per_document=3, num_relations=4), num_documents=40)
    sampler = RelationPairSampler(index, seed=9)
    first = list(sampler)
    assert first == list(RelationPairSampler(index, seed=9))  # a fresh sampler, same seed: same order
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(RelationPairSampler(index, seed=10)) != first


def test_partner_is_found_when_the_anchor_document_dominates_the_relation():
    # Document 0 holds 50 instances of relation 2, document 1 one: redraws mostly hit document 0 itself.
    document = np.array([0] * 50 + [1])
    index = build_index(document, np.zeros(51), np.ones(51), np.full(51, 2), np.zeros(51), num_documents=2)
    partners = index.sample_partner_documents(np.zeros(200, dtype=np.int64), np.random.default_rng(0))
    assert np.all(partners == 1)
