"""Corpus weighting schemes (`posterior`, `truncate`): each against a naive implementation on planted scores, a
perfect score giving the oracle's weights, clear errors where no mixture can be fitted, zero weights in L_RD, and the
weights travelling from the learning-order dataset through the collator into the model."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoTokenizer

from finecl_hf.commands.front_door import UsageError
from finecl_hf.order_scores import cleanliness
from finecl_hf.losses import relation_discrimination_loss
from finecl_hf.pretraining.data import prepare_pretraining_data
from finecl_hf.pretraining.data_collator import FineCLPreTrainingCollator
from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset
from finecl_hf.weighting import WEIGHTING_SCHEMES, fit_score_mixture, lowest_share_mask


def naive_mixture_posterior(scores: np.ndarray, iterations: int = 500) -> tuple[np.ndarray, float]:
    """Textbook EM for two 1-D Gaussians (split at the median, variance floored at 1e-4 of the scores' variance),
    then P(clean) made non-decreasing in the score by a running maximum, scalar by scalar."""
    z = (scores - scores.mean()) / scores.std(ddof=1)
    clean = [1.0 if value > np.median(z) else 0.0 for value in z]
    resp = np.array([[1 - c, c] for c in clean])
    for _ in range(iterations):
        mass = resp.sum(0)
        pi = mass / len(z)
        mu = [(resp[:, k] * z).sum() / mass[k] for k in range(2)]
        var = [max((resp[:, k] * (z - mu[k]) ** 2).sum() / mass[k], 1e-4) for k in range(2)]
        for i, value in enumerate(z):
            joint = [pi[k] / math.sqrt(2 * math.pi * var[k]) * math.exp(-((value - mu[k]) ** 2) / (2 * var[k]))
                     for k in range(2)]  # fmt: skip
            resp[i] = [joint[0] / sum(joint), joint[1] / sum(joint)]
    clean_k = int(mu[1] > mu[0])
    posterior = resp[:, clean_k].copy()
    best = -1.0
    for i in np.argsort(scores, kind="stable"):
        best = max(best, posterior[i])
        posterior[i] = best
    return posterior, float(pi[1 - clean_k])


def naive_lowest_share(scores: np.ndarray, share: float) -> np.ndarray:
    """Mid-rank from the lowest score (ties share their average) below share × n, instance by instance."""
    n = len(scores)
    result = np.zeros(n, dtype=bool)
    for i in range(n):
        below = sum(scores[j] < scores[i] for j in range(n))
        tied = sum(scores[j] == scores[i] for j in range(n))
        result[i] = below + (tied - 1) / 2 < share * n
    return result


def planted_scores(seed: int, noisy: int = 60, clean: int = 140) -> tuple[np.ndarray, np.ndarray]:
    """Wrong labels score around 0, clean ones around 2 (overlapping tails); returns (scores, is_clean)."""
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(0, 0.7, noisy), rng.normal(2, 0.5, clean)])
    return scores, np.r_[np.zeros(noisy, bool), np.ones(clean, bool)]


@pytest.mark.parametrize("seed", range(3))
def test_posterior_equals_a_naive_em(seed):
    scores, is_clean = planted_scores(seed)
    expected, noise_rate = naive_mixture_posterior(scores)
    result = WEIGHTING_SCHEMES["posterior"].corpus_weights(torch.from_numpy(scores))
    np.testing.assert_allclose(result.weights.numpy(), expected, atol=2e-3)
    assert result.estimated_noise_rate == pytest.approx(noise_rate, abs=2e-3)
    assert result.estimated_noise_rate == pytest.approx(0.3, abs=0.06)  # the planted share
    assert result.weights[is_clean].mean() > 0.9 and result.weights[~is_clean].mean() < 0.15
    order = np.argsort(scores)
    assert (np.diff(result.weights.numpy()[order]) >= 0).all()  # never trusts a lower score more


@pytest.mark.parametrize("seed", range(4))
def test_truncation_equals_a_naive_rank_cut(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 50).astype(float) if seed % 2 else rng.normal(size=50)  # ties on odd seeds
    share = [0.0, 0.2, 0.5, 0.9][seed]
    np.testing.assert_array_equal(lowest_share_mask(torch.from_numpy(scores), share).numpy(),
                                  naive_lowest_share(scores, share))  # fmt: skip
    result = WEIGHTING_SCHEMES["truncate"].corpus_weights(torch.from_numpy(scores), truncation_share=share)
    np.testing.assert_array_equal(result.weights.numpy(), (~naive_lowest_share(scores, share)).astype(np.float32))
    assert result.estimated_noise_rate is None


def test_truncation_share_defaults_to_the_mixture_estimate():
    scores, _ = planted_scores(7)
    result = WEIGHTING_SCHEMES["truncate"].corpus_weights(torch.from_numpy(scores))
    estimate = fit_score_mixture(torch.from_numpy(scores)).noise_rate
    assert result.estimated_noise_rate == pytest.approx(estimate)
    np.testing.assert_array_equal(result.weights.numpy(), (~naive_lowest_share(scores, estimate)).astype(np.float32))


@pytest.mark.parametrize("name", ["posterior", "truncate"])
def test_a_perfect_score_gives_the_oracles_weights(name):
    rng = np.random.default_rng(0)
    is_clean = rng.random(300) < 0.55
    oracle = is_clean.astype(np.float32)  # the oracle's 0/1 weights: the true mask
    for perfect in (oracle.astype(float), np.where(is_clean, 5 + rng.random(300), rng.random(300))):
        weights = WEIGHTING_SCHEMES[name].corpus_weights(torch.from_numpy(perfect)).weights.numpy()
        np.testing.assert_allclose(weights, oracle, atol=1e-6)


@pytest.mark.parametrize("name", ["posterior", "truncate"])
@pytest.mark.parametrize(
    ("scores", "message"),
    [(np.full(50, 0.3), "constant"), (np.arange(5.0), "at least"), (np.r_[np.arange(30.0), np.nan], "NaN")],
)
def test_a_mixture_that_cannot_be_fitted_is_a_clear_error(name, scores, message):
    with pytest.raises(ValueError, match=message):
        WEIGHTING_SCHEMES[name].corpus_weights(torch.from_numpy(scores))


def test_zero_weights_leave_the_loss_and_its_gradient_finite_and_remove_the_triple():
    torch.manual_seed(0)
    embeddings = torch.randn(6, 8, requires_grad=True)
    positive = torch.tensor([1, 0, 3, 2, -1, -1])
    negatives = torch.tensor([[2, 4], [3, 5], [0, 4], [1, 5], [-1, -1], [-1, -1]])
    weights = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])  # anchors 2 and 3 dropped, negative 4 dropped
    loss = relation_discrimination_loss(embeddings, positive, negatives, weights, 0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(embeddings.grad).all()
    # A weight-0 triple contributes exactly what a triple absent from the batch would (mean over all anchors).
    kept = relation_discrimination_loss(
        embeddings.detach(), torch.tensor([1, 0, -1, -1, -1, -1]), torch.tensor([[-1, -1], [-1, 5]] + [[-1, -1]] * 4),
        torch.ones(6), 0.1,
    )
    assert loss.item() == pytest.approx(kept.item() * 2 / 4, rel=1e-5)
    # Every triple dropped: loss 0, gradients 0, no NaN.
    embeddings.grad = None
    relation_discrimination_loss(embeddings, positive, negatives, torch.zeros(6), 0.1).backward()
    assert torch.equal(embeddings.grad, torch.zeros_like(embeddings))


@pytest.fixture(scope="module")
def scored_folder(tmp_path_factory):
    """A synthetic learning-order dataset with an `aum` column: two groups planted among the relation instances."""
    root = tmp_path_factory.mktemp("corpus-weighting")
    folder = write_synthetic_learning_order_dataset(root / "scored", 12, seed=5)
    table = pq.read_table(folder / "instances" / "train.parquet")
    rng = np.random.default_rng(1)
    aum = np.where(rng.random(table.num_rows) < 0.4, rng.normal(-2, 0.3, table.num_rows),
                   rng.normal(2, 0.3, table.num_rows)).astype(np.float32)  # fmt: skip
    pq.write_table(table.append_column("aum", pa.array(aum, pa.float32())), folder / "instances" / "train.parquet")
    return folder, aum, table


def test_corpus_weights_travel_from_the_dataset_into_the_batch(scored_folder, tiny_backbone):
    folder, aum, table = scored_folder
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    data = prepare_pretraining_data(str(folder), tokenizer, max_length=512, order_by="aum", weighting="posterior")
    relation = table["relation"].to_numpy()
    no_relation = data.relation_label_names.index("no_relation")
    ranked = relation != no_relation
    expected = np.ones(len(aum), np.float32)
    expected[ranked] = WEIGHTING_SCHEMES["posterior"].corpus_weights(
        torch.from_numpy(cleanliness("aum", {"aum": aum})[ranked].astype(np.float64))
    ).weights.numpy()
    order = np.argsort(table["document_index"].to_numpy(), kind="stable")
    np.testing.assert_allclose(data.index.weight, expected[order], atol=1e-6)
    assert data.weighting_fit.estimated_noise_rate == pytest.approx(0.4, abs=0.1)
    collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id, num_negatives=4)
    items = [data.dataset[i] for i in range(4)]
    batch = collator(items)
    chosen = np.concatenate([item["instance_weights"] for item in items])
    assert batch["relation_weights"].dtype == torch.float32
    assert set(batch["relation_weights"].tolist()) <= set(chosen.tolist())
    paper = prepare_pretraining_data(str(folder), tokenizer, max_length=512, order_by="aum")
    assert paper.index.weight is None and "instance_weights" not in paper.dataset[0]


def test_a_constant_score_names_the_arguments_and_the_folder(scored_folder, tiny_backbone, tmp_path):
    folder, _, table = scored_folder
    constant = tmp_path / "constant"
    shutil.copytree(folder, constant)
    columns = table.append_column("aum", pa.array(np.ones(table.num_rows, np.float32)))
    pq.write_table(columns, constant / "instances" / "train.parquet")
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    with pytest.raises(UsageError, match=r"--weighting truncate --order_by aum: .*constant") as raised:
        prepare_pretraining_data(str(constant), tokenizer, order_by="aum", weighting="truncate")
    assert str(constant) in str(raised.value)


def test_a_corpus_scheme_without_weights_is_refused_by_the_model(tiny_backbone):
    from finecl_hf.losses import learning_order_weights

    with pytest.raises(ValueError, match="relation_weights"):
        learning_order_weights(torch.zeros(3, dtype=torch.long), weighting="posterior", alpha=math.e,
                               min_epoch=0, max_epoch=2)  # fmt: skip


def test_the_model_weighs_rd_by_the_batchs_relation_weights(scored_folder, tiny_backbone):
    from finecl_hf import FineCLForPreTraining

    folder, _, _ = scored_folder
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    data = prepare_pretraining_data(str(folder), tokenizer, max_length=512, order_by="aum", weighting="truncate",
                                    truncation_share=0.4)  # fmt: skip
    collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id, num_negatives=4)
    batch = collator([data.dataset[i] for i in range(6)])
    torch.manual_seed(0)
    model = FineCLForPreTraining.from_backbone(str(tiny_backbone), weighting="truncate", truncation_share=0.4).eval()
    with torch.no_grad():
        given = model(**batch).rd_loss
        uniform = model(**{**batch, "relation_weights": torch.ones_like(batch["relation_weights"])}).rd_loss
        dropped = model(**{**batch, "relation_weights": torch.zeros_like(batch["relation_weights"])}).rd_loss
    assert torch.isfinite(given) and dropped.item() == 0.0
    assert given.item() != pytest.approx(uniform.item())  # the weights reach the loss
    with pytest.raises(ValueError, match="relation_weights"):
        model(**{key: value for key, value in batch.items() if key != "relation_weights"})
