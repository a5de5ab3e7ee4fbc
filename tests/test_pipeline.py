"""The `relation-extraction` pipeline against stage 3's own evaluation path (finecl_hf.data tokenization + collators
+ DocumentDecoder) on the same inputs, including truncation, sentence windows and entity markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from datasets import Dataset, Features, List, Value
from transformers import pipeline

import finecl_hf  # noqa: F401  (registers the task)
from finecl_hf import FineCLConfig, FineCLForRelationExtraction, RelationExtractionPipeline
from finecl_hf.data.data_collator import DocumentRelationCollator, SentenceRelationCollator, split_model_inputs
from finecl_hf.data.docred import read_rel_info
from finecl_hf.data.schema import entity_span_feature, mention_feature
from finecl_hf.finetuning.evaluation import DocumentDecoder, softmax
from finecl_hf.finetuning.inference import dataset_relation_names
from finecl_hf.data.tokenization import tokenize_split
from finecl_hf.pipelines import document_row, sentence_row

SEMEVAL_LABELS = ["Other", "Cause-Effect(e1,e2)", "Cause-Effect(e2,e1)", "Component-Whole(e1,e2)"]
SENTENCES = [
    "The <e1>child</e1> was carefully wrapped and bound into the <e2>cradle</e2> by means of a cord.",
    "A <e1>misty ridge</e1> uprises from the <e2>surge</e2>.",
    # long: cut to a window around the entities at small max_length
    "The system as described above has its greatest application in an arrayed configuration of antenna elements, "
    "and the <e1>author</e1> of a keygen uses a disassembler to look at the raw assembly code of the "
    "<e2>program</e2> while the student association is the voice of the undergraduate student population.",
    # head and tail too far apart for a small max_length: no prediction
    "<e1>Paris</e1> is the capital of France; Berlin is the capital of Germany and the sprawling complex that is "
    "Peru's largest producer of silver is far from the <e2>cradle</e2>.",
    {"text": "Noam Chomsky was born in Philadelphia.", "head": (0, 12), "tail": (25, 37)},
]
DOCUMENTS = [
    {"text": "Paris is the capital of France; Berlin is the capital of Germany.",
     "entities": [[(0, 5)], [(24, 30)], [(32, 38), (57, 64)]]},
    {"sents": [["Noam", "Chomsky", "was", "born", "in", "Philadelphia", "."],
               ["He", "gave", "a", "presentation", "in", "Philadelphia", "."]],
     "vertexSet": [[{"name": "Noam Chomsky", "sent_id": 0, "pos": [0, 2]}, {"sent_id": 1, "pos": [0, 1]}],
                   [{"name": "Philadelphia", "sent_id": 0, "pos": [5, 6]}, {"sent_id": 1, "pos": [5, 6]}]]},
    {"text": "Paris is lovely.", "entities": [[(0, 5)]]},  # one entity: no pair
    # entities past the truncation point are dropped (small max_length)
    {"text": "The author of a keygen uses a disassembler to look at the raw assembly code of Acme in Paris.",
     "entities": [[(4, 10)], [(16, 22)], [(80, 84)], [(88, 93)]]},
]
SENTENCE_FEATURES = Features({"uid": Value("string"), "tokens": List(Value("string")),
                              "head": entity_span_feature(), "tail": entity_span_feature()})
DOCUMENT_FEATURES = Features({
    "uid": Value("string"), "sents": List(List(Value("string"))),
    "entities": List({"type": Value("string"), "mentions": List(mention_feature())}),
    "relations": List({"head": Value("int32"), "tail": Value("int32"), "relation": Value("int32")}),
})


def save_folder(path, tokenizer, encoder_config, labels, **config_fields) -> str:
    torch.manual_seed(0)
    config = FineCLConfig(encoder=encoder_config.to_dict(), num_labels=len(labels), id2label=dict(enumerate(labels)),
                          label2id={label: index for index, label in enumerate(labels)},
                          **{k: v for k, v in config_fields.items() if k in FineCLConfig.__dataclass_fields__})
    for name, value in config_fields.items():  # fields stage 3 adds (entity_markers, decision_threshold, ...)
        setattr(config, name, value)
    FineCLForRelationExtraction(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@torch.no_grad()
def stage3_sentence_predictions(model, tokenizer, inputs, max_length, markers):
    """What stage 3's evaluation computes: finecl_hf.data tokenization, its collator, softmax."""
    rows = [{"uid": str(i), **{k: v for k, v in sentence_row(x, i).items()}} for i, x in enumerate(inputs)]
    tokenized = tokenize_split(Dataset.from_list(rows, features=SENTENCE_FEATURES), tokenizer, "sentence",
                               max_length, markers)
    batch = SentenceRelationCollator(tokenizer)(list(tokenized))
    inputs_, _ = split_model_inputs(batch)
    probabilities = softmax(model(**inputs_).logits.double().numpy())
    results = [[] for _ in rows]
    for uid, row in zip(tokenized["uid"], probabilities):
        results[int(uid)] = row
    return results, batch


@torch.no_grad()
def stage3_document_facts(model, tokenizer, inputs, max_length, threshold):
    rows = [{"uid": str(i), **document_row(x, i), "relations": []} for i, x in enumerate(inputs)]
    tokenized = tokenize_split(Dataset.from_list(rows, features=DOCUMENT_FEATURES), tokenizer, "document", max_length)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    decoder = DocumentDecoder(model.config.document_loss, threshold)
    results = []
    for index in range(len(rows)):
        spans = tokenized[index]["mention_token_spans"]
        if len({span[0] for span in spans}) < 2:
            results.append([])
            continue
        batch = DocumentRelationCollator(tokenizer, len(labels), return_pair_metadata=True)([tokenized[index]])
        inputs_, metadata = split_model_inputs(batch)
        inputs_.pop("labels", None)
        logits = model(**inputs_).logits.numpy()
        facts = decoder.decode(logits, metadata["pair_local_entity_ids"].numpy(), labels)
        results.append(sorted(((f["h"], f["t"], f["r"], f["score"]) for f in facts), key=lambda fact: -fact[3]))
    return results


@pytest.mark.parametrize("markers", ["none", "punct", "text"])
def test_sentence_pipeline_equals_stage3_evaluation(markers, tmp_path, tiny_roberta_config, tiny_roberta_tokenizer):
    folder = save_folder(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config, SEMEVAL_LABELS, entity_markers=markers)
    extractor = pipeline("relation-extraction", model=folder, device="cpu")
    max_length = 48 if markers == "text" else 32  # `<e1>` is several sub-words for the tiny tokenizer
    expected, stage3_batch = stage3_sentence_predictions(extractor.model, tiny_roberta_tokenizer, SENTENCES,
                                                         max_length, markers)
    assert len(expected[3]) == 0 and len(expected[2]) > 0  # the window case is kept, the too-far case dropped
    encoded = extractor.preprocess(SENTENCES, max_length=max_length)["batch"]
    for key in ("input_ids", "attention_mask", "mention_spans", "pair_entity_ids"):
        assert torch.equal(encoded[key], stage3_batch[key]), key
    for batch_size in (1, 2, 5):
        results = extractor(SENTENCES, top_k=None, max_length=max_length, batch_size=batch_size)
        for result, probabilities in zip(results, expected):
            if len(probabilities) == 0:
                assert result == []
                continue
            by_label = {item["label"]: item["score"] for item in result}
            assert [by_label[label] for label in SEMEVAL_LABELS] == pytest.approx(list(probabilities), abs=1e-6)
            assert result[0]["label"] == SEMEVAL_LABELS[int(np.argmax(probabilities))]


@pytest.mark.parametrize("document_loss", ["bce", "adaptive_threshold"])
def test_document_pipeline_equals_stage3_evaluation(document_loss, tmp_path, tiny_roberta_config,
                                                    tiny_roberta_tokenizer):
    labels = ["no_relation", "P17", "P131", "P27"]
    folder = save_folder(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config, labels, relation_level="document",
                         document_loss=document_loss, decision_threshold=0.5)
    extractor = pipeline("relation-extraction", model=folder, device="cpu")
    for max_length in (512, 20):
        expected = stage3_document_facts(extractor.model, tiny_roberta_tokenizer, DOCUMENTS, max_length, 0.5)
        for batch_size in (1, 4):
            results = extractor(DOCUMENTS, max_length=max_length, batch_size=batch_size)
            got = [[(f["head"], f["tail"], f["label"], f["score"]) for f in facts] for facts in results]
            assert len(got) == len(expected)
            for facts, reference in zip(got, expected):
                facts, reference = sorted(facts), sorted(reference)
                assert [fact[:3] for fact in facts] == [fact[:3] for fact in reference]
                assert [fact[3] for fact in facts] == pytest.approx([fact[3] for fact in reference], abs=1e-5)
    assert any(expected) and extractor(DOCUMENTS[2]) == []


def test_top_k_and_single_input(tmp_path, tiny_roberta_config, tiny_roberta_tokenizer):
    folder = save_folder(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config, SEMEVAL_LABELS)
    extractor = pipeline("relation-extraction", model=folder, device="cpu")
    assert isinstance(extractor, RelationExtractionPipeline)
    best = extractor(SENTENCES[0])
    assert len(best) == 1 and set(best[0]) == {"label", "relation", "score"}
    everything = extractor(SENTENCES[0], top_k=None)
    assert len(everything) == len(SEMEVAL_LABELS) and sum(item["score"] for item in everything) == pytest.approx(1)
    assert [item["score"] for item in everything] == sorted((item["score"] for item in everything), reverse=True)
    assert len(extractor(SENTENCES[0], top_k=2)) == 2
    batched = extractor(SENTENCES[:2], batch_size=2)  # padding beside a longer sentence: labels unchanged
    assert [result[0]["label"] for result in batched] == [extractor(sentence)[0]["label"] for sentence in SENTENCES[:2]]
    with pytest.raises(ValueError, match="input 1"):
        extractor([SENTENCES[0], {"text": "no spans"}])


@pytest.mark.parametrize("top_k", [0, -1, 1.5, "2", True])
def test_top_k_below_one_or_not_a_count_is_a_value_error_naming_it(top_k, tmp_path, tiny_roberta_config,
                                                                   tiny_roberta_tokenizer):
    folder = save_folder(tmp_path, tiny_roberta_tokenizer, tiny_roberta_config, SEMEVAL_LABELS)
    extractor = pipeline("relation-extraction", model=folder, device="cpu")
    with pytest.raises(ValueError, match=f"top_k={top_k!r}.*top_k=None for every label"):
        extractor(SENTENCES[0], top_k=top_k)


@pytest.mark.parametrize("sentence", [
    "The <e1>mayor of <e2>Paris</e2></e1> spoke.",  # tail nested inside the head
    "The <e1>mayor of <e2>Paris</e1> city</e2> spoke.",  # overlapping
    "The <e1>mayor</e1> of <e1>Paris</e1> met <e2>Lyon</e2>.",  # a marker twice
])  # fmt: skip
def test_nested_overlapping_or_repeated_markers_are_a_value_error_naming_the_sentence(sentence):
    from finecl_hf.pipelines import parse_marked_sentence

    with pytest.raises(ValueError, match="neither inside nor overlapping") as raised:
        parse_marked_sentence(sentence)
    assert repr(sentence) in str(raised.value)
    tail_first = parse_marked_sentence("The <e2>fire</e2> was caused by a <e1>cigarette</e1>.")  # still accepted
    assert tail_first["text"][slice(*tail_first["head"])] == "cigarette"


def test_docred_relation_names(tmp_path, shared_data_dir, tiny_roberta_config, tiny_roberta_tokenizer):
    rel_info = read_rel_info(shared_data_dir / "docred" / "rel_info.json")
    labels = ["no_relation", *rel_info]
    folder = save_folder(tmp_path / "model", tiny_roberta_tokenizer, tiny_roberta_config, labels,
                         relation_level="document", decision_threshold=0.0, relation_names=rel_info)
    extractor = pipeline("relation-extraction", model=folder, device="cpu")
    facts = extractor(DOCUMENTS[0])
    assert facts and all(fact["relation"] == rel_info[fact["label"]] for fact in facts)
    assert {fact["relation"] for fact in facts} >= {"country", "capital"}
    renamed = extractor(DOCUMENTS[0], relation_names={"P17": "land"})
    assert {fact["relation"] for fact in renamed if fact["label"] == "P17"} == {"land"}
    # Stage 3 reads the names from the converted dataset's card.
    card = tmp_path / "dataset" / "README.md"
    card.parent.mkdir()
    card.write_text("---\nfinecl:\n  relation_descriptions:\n    no_relation: no relation\n    P17: country\n---\n")
    assert dataset_relation_names(card.parent) == {"no_relation": "no relation", "P17": "country"}
    assert dataset_relation_names(tmp_path / "missing") is None


def test_remote_pipeline_on_documents_matches_local(tmp_path, tiny_roberta_config, tiny_roberta_tokenizer):
    """`pipeline(model=folder, trust_remote_code=True)` where finecl_hf cannot be imported."""
    folder = save_folder(tmp_path / "model", tiny_roberta_tokenizer, tiny_roberta_config,
                         ["no_relation", "P17", "P131"], relation_level="document", decision_threshold=0.3)
    script = textwrap.dedent(
        """
        import importlib.abc, json, sys

        class BlockFineCL(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "finecl_hf":
                    raise ModuleNotFoundError(name)

        sys.meta_path.insert(0, BlockFineCL())
        from transformers import pipeline
        extractor = pipeline(model=sys.argv[1], trust_remote_code=True, device="cpu")
        print(json.dumps(extractor(json.loads(sys.argv[2]), batch_size=2)))
        """
    )
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", script, folder, json.dumps(DOCUMENTS)], capture_output=True,
                            text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    local = pipeline("relation-extraction", model=folder, device="cpu")(DOCUMENTS)
    assert remote == json.loads(json.dumps(local))
    assert any(remote)
