"""Stage 1 computes and exports the evidence scores by default, and refuses evidence it cannot compute."""

from __future__ import annotations

import numpy as np
from datasets import load_dataset

from finecl_hf.learning_order.scores import SCORES

EVIDENCE = ("type_agreement", "neighbour_agreement", "out_of_sample", "combined")


def test_stage1_exports_the_evidence_scores_with_their_card_rows_and_seconds(stage1_reference):
    folder = stage1_reference / "learning_order"
    order = load_dataset(str(folder), split="train")
    for name in EVIDENCE:
        values = np.asarray(order[name], dtype=np.float64)
        assert order.features[name].dtype == SCORES[name].dtype and np.isfinite(values).all(), name
    # Every entity of these documents is a LOC: the schema says nothing, so every instance gets PMI 0.
    assert np.allclose(order["type_agreement"], 0.0)
    assert ((np.asarray(order["neighbour_agreement"]) >= 0) & (np.asarray(order["neighbour_agreement"]) <= 1)).all()
    assert ((np.asarray(order["out_of_sample"]) > 0) & (np.asarray(order["out_of_sample"]) < 1)).all()
    card = (folder / "README.md").read_text()
    for name in EVIDENCE:
        assert f"| `{name}` ({SCORES[name].dtype}) | {SCORES[name].formula} |" in card
    assert "Seconds of each score's own work:" in card and "`out_of_sample`" in card
    assert "evidence_encoder:" in card
