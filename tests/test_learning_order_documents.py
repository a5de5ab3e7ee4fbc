"""Stage 1 batched by documents (`documents_per_batch`): every step trains on all the instances of N whole documents,
each document is encoded once per epoch, every instance is recorded once per epoch, and a resumed run is exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from test_learning_order import LABELS, tiny_args, tiny_documents

from finecl_hf import FineCLConfig, FineCLForRelationExtraction
from finecl_hf.learning_order import LearningOrderTrainer
from finecl_hf.learning_order.scores import score_columns
from finecl_hf.learning_order.trainer import DocumentBatchSampler


def test_document_batches_hold_whole_documents_and_cover_every_instance_once():
    document_index = np.repeat(np.arange(7), [3, 1, 4, 2, 5, 1, 2])
    sampler = DocumentBatchSampler(document_index, documents_per_batch=3, seed=5)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3
    assert sorted(itertools.chain.from_iterable(batches)) == list(range(document_index.size))
    for batch in batches:
        documents = set(document_index[batch].tolist())
        assert len(documents) <= 3
        assert len(batch) == int(np.isin(document_index, list(documents)).sum())  # all instances of each document
    assert list(sampler) == batches  # seeded: same epoch, same batches
    sampler.set_epoch(1)
    assert list(sampler) != batches and sampler.sampler.epoch == 1
    with pytest.raises(ValueError, match="documents_per_batch=0 is invalid"):
        DocumentBatchSampler(document_index, 0, seed=0)


def _trainer(tmp_path, tokenizer, encoder_config, **overrides):
    from finecl_hf.data.data_collator import RelationInstanceCollator
    from finecl_hf.data.relation_instances import build_relation_instances
    from finecl_hf.data.tokenization import tokenize_documents

    documents = tiny_documents()
    instances = build_relation_instances(documents, na_ratio=1.0)
    tokenized, _ = tokenize_documents(documents, tokenizer, max_length=64)
    config = FineCLConfig(encoder=encoder_config, num_labels=len(LABELS), relation_level="sentence",
                          id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    from transformers import set_seed

    set_seed(0)
    return LearningOrderTrainer(
        model=FineCLForRelationExtraction(config),
        args=tiny_args(tmp_path, num_train_epochs=3, documents_per_batch=3, **overrides),
        train_dataset=instances,
        data_collator=RelationInstanceCollator(tokenizer, tokenized, return_instance_uids=False),
    ), instances


def test_each_document_is_encoded_once_per_epoch(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config):
    trainer, instances = _trainer(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config)
    forwards = []  # (documents encoded, pairs predicted) per training forward
    trainer.model.register_forward_hook(
        lambda module, args, kwargs, out: forwards.append((kwargs["input_ids"].size(0), out.logits.size(0)))
        if module.training else None,
        with_kwargs=True,
    )
    trainer.train()
    num_documents = len(set(instances["document_index"]))
    per_epoch = len(forwards) // 3
    assert len(forwards) == 3 * 2 and per_epoch == 2  # 4 documents, 3 per batch: 2 steps per epoch
    for epoch in range(3):
        steps = forwards[epoch * per_epoch : (epoch + 1) * per_epoch]
        assert sum(documents for documents, _ in steps) == num_documents  # each document encoded once
        assert sum(pairs for _, pairs in steps) == len(instances)  # all its pairs pooled from that one pass
    assert (trainer.learning_order.observations == 3).all()


def test_resuming_document_batches_mid_epoch_is_exact(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config):
    reference, _ = _trainer(tmp_path / "a", tiny_roberta_tokenizer, tiny_roberta_config, save_strategy="steps",
                            save_steps=3, save_total_limit=None)
    reference.train()
    resumed, _ = _trainer(tmp_path / "b", tiny_roberta_tokenizer, tiny_roberta_config)
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "run" / "checkpoint-3"))  # mid-epoch 1
    np.testing.assert_array_equal(resumed.learning_order.learned_epoch, reference.learning_order.learned_epoch)
    expected = score_columns(reference.learning_order)
    for name, values in score_columns(resumed.learning_order).items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)
