"""FineCL's pooling and losses, vectorised over the batch.

Formulas follow the paper's slides (`shared/paper/finecl-slides.txt`); `weighting="reference"` follows the original
code as recorded in `shared/paper/NOTES.md`; the weighting schemes live in `weighting.py`. This module is also copied next
to saved checkpoints (``auto_map``), so it imports only torch and its sibling `weighting.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .weighting import WeightingScheme, get_weighting

NO_INDEX = -1  # padding value of index tensors (negatives, candidates, positives)


def pool_mentions(hidden_states: torch.Tensor, mention_spans: torch.Tensor) -> torch.Tensor:
    """Mean of the sub-word vectors of each mention (paper eq. 4).

    Args:
        hidden_states: `[batch, length, hidden]` encoder output.
        mention_spans: `[mentions, 3]` rows of (batch row, start token, end token exclusive).

    Returns:
        `[mentions, hidden]` mention representations.
    """
    rows, starts, ends = mention_spans.unbind(-1)
    widths = ends - starts
    # Gather a [mentions, max_width] window of token positions and mask what lies past each mention's end:
    # exact (no cumulative-sum cancellation) and one gather instead of a loop over mentions.
    offsets = torch.arange(int(widths.max()), device=hidden_states.device)
    positions = starts.unsqueeze(1) + offsets
    inside = offsets.unsqueeze(0) < widths.unsqueeze(1)
    positions = positions.clamp(max=hidden_states.size(1) - 1)
    tokens = hidden_states[rows.unsqueeze(1), positions]
    tokens = tokens * inside.unsqueeze(-1).to(tokens.dtype)
    return tokens.sum(1) / widths.unsqueeze(1).to(tokens.dtype)


def pool_entities(
    mention_embeddings: torch.Tensor, mention_entity_ids: torch.Tensor, num_entities: int, method: str = "mean"
) -> torch.Tensor:
    """Combine the mentions of each entity: `"mean"` (paper) or `"logsumexp"` (ATLOP's smooth max).

    Returns:
        `[num_entities, hidden]`.
    """
    hidden = mention_embeddings.size(-1)
    index = mention_entity_ids.unsqueeze(1).expand(-1, hidden)
    if method == "mean":
        sums = mention_embeddings.new_zeros(num_entities, hidden).index_add(0, mention_entity_ids, mention_embeddings)
        counts = torch.bincount(mention_entity_ids, minlength=num_entities).clamp(min=1)
        return sums / counts.unsqueeze(1).to(sums.dtype)
    if method == "logsumexp":
        maxima = mention_embeddings.new_full((num_entities, hidden), float("-inf"))
        maxima = maxima.scatter_reduce(0, index, mention_embeddings, reduce="amax", include_self=True).detach()
        shifted = (mention_embeddings - maxima[mention_entity_ids]).exp()
        sums = mention_embeddings.new_zeros(num_entities, hidden).index_add(0, mention_entity_ids, shifted)
        return sums.log() + maxima
    raise ValueError(f"entity_pooling={method!r} is invalid: it must be 'mean' or 'logsumexp'.")


def learning_order_weights(
    learned_epochs: torch.Tensor,
    *,
    weighting: str | WeightingScheme,
    alpha: float,
    min_epoch: int,
    max_epoch: int,
    is_no_relation: torch.Tensor | None = None,
    reference_epoch_cap: int = 5,
    reference_no_relation_weight: float = 1.6487212707001282,
) -> torch.Tensor:
    """f(k) of the weighting scheme `weighting`: a registered name (`finecl_hf.weighting.WEIGHTING_SCHEMES`) or the
    entry itself (the model resolves its config's name once per forward and passes the entry).

    The paper's eq. 5 is `alpha ** ((k_max - k) / (k_max - k_min))`, so the earliest-learned get weight α, the latest 1.
    Instances never learned (`k = -1`) are treated as learned at k_max: they get the lowest weight, 1. Epochs outside
    [k_min, k_max] are clamped into it. When k_max == k_min every weight is 1 (eq. 5 is undefined there).
    See `finecl_hf.weighting` for `"paper"`, `"reference"` (the original code) and `"uniform"` (ERICA).
    """
    scheme = weighting if isinstance(weighting, WeightingScheme) else get_weighting(weighting)
    if scheme.weighs_corpus:
        raise ValueError(
            f"weighting={scheme.name!r} weighs each instance from the whole corpus's scores, not from its learning "
            "epoch: pass the weights computed by stage 2's data preparation (`relation_weights`, see "
            "finecl_hf.pretraining.ordering.corpus_weights)."
        )
    return scheme.weight(
        learned_epochs,
        alpha=alpha,
        min_epoch=min_epoch,
        max_epoch=max_epoch,
        is_no_relation=is_no_relation,
        reference_epoch_cap=reference_epoch_cap,
        reference_no_relation_weight=reference_no_relation_weight,
    )


def relation_discrimination_loss(
    relation_embeddings: torch.Tensor,
    positive_index: torch.Tensor,
    negative_index: torch.Tensor,
    weights: torch.Tensor,
    temperature: float,
    weight_positive_in_denominator: bool = True,
) -> torch.Tensor:
    r"""L_RD (paper §3.2.3), averaged over anchors.

    For an anchor A with positive B and sampled negatives C:

        ℓ_A = −f(k_A) · log( exp(cos(r_A, r_B)/τ) / Z ),
        Z   = f(k_B) · exp(cos(r_A, r_B)/τ) + Σ_C f(k_C) · exp(cos(r_A, r_C)/τ)

    The positive enters Z, as the paper's Z sums over every instance other than the anchor (T' \ {t_A}), each with its
    own weight. With `weight_positive_in_denominator=False` (the original code, `weighting="reference"`) the positive
    enters Z with weight 1 (`WeightingScheme.positive_weight_in_partition` says which a scheme uses). With all weights 1
    this is ERICA's loss.

    Args:
        relation_embeddings: `[instances, dim]` relation representations r = [e_head; e_tail].
        positive_index: `[instances]` index of each instance's positive, `-1` where the instance is not an anchor.
        negative_index: `[instances, negatives]` indices of its negatives, padded with `-1`.
        weights: `[instances]` f(k) of each instance.
        temperature: τ.

    Returns:
        A scalar; 0 (still attached to the graph) when the batch holds no anchor.
    """
    anchors = (positive_index >= 0).nonzero(as_tuple=True)[0]
    if anchors.numel() == 0:
        return relation_embeddings.sum() * 0.0
    normalized = F.normalize(relation_embeddings, dim=-1)
    anchor_vectors = normalized[anchors]
    positives = positive_index[anchors]
    negatives = negative_index[anchors]
    valid_negatives = negatives >= 0
    negatives = negatives.clamp(min=0)

    positive_logits = (anchor_vectors * normalized[positives]).sum(-1) / temperature
    negative_logits = torch.einsum("ad,akd->ak", anchor_vectors, normalized[negatives]) / temperature
    # A weight of 0 (a dropped triple) must leave Z without turning an empty Z into log(0) = -inf, whose gradient
    # is NaN: its log is floored at the dtype's smallest normal number instead (exp(-87) next to any live term).
    log_weights = weights.to(normalized.dtype).clamp_min(torch.finfo(normalized.dtype).tiny).log()
    positive_term = positive_logits + (log_weights[positives] if weight_positive_in_denominator else 0.0)
    negative_terms = (negative_logits + log_weights[negatives]).masked_fill(~valid_negatives, float("-inf"))
    log_partition = torch.logsumexp(torch.cat([positive_term.unsqueeze(1), negative_terms], dim=1), dim=1)
    return (-weights[anchors].to(normalized.dtype) * (positive_logits - log_partition)).mean()


def entity_discrimination_loss(
    entity_embeddings: torch.Tensor,
    query_entity_ids: torch.Tensor,
    candidate_entity_ids: torch.Tensor,
    target_index: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    r"""L_ED (paper §3.2.2), averaged over queries.

    The query is the head entity of a document that was prefixed with `relation name + head mention + [SEP]`;
    the candidates are all other entities of that document and the target is the true tail:

        ℓ = −log( exp(cos(e_head, e_tail)/τ) / Σ_{l ≠ head} exp(cos(e_head, e_l)/τ) )

    Args:
        entity_embeddings: `[entities, hidden]` entity representations of the ED documents.
        query_entity_ids: `[queries]` head entity of each query.
        candidate_entity_ids: `[queries, candidates]` other entities of the query's document, padded with `-1`.
        target_index: `[queries]` position of the true tail within `candidate_entity_ids`.
    """
    if query_entity_ids.numel() == 0:
        return entity_embeddings.sum() * 0.0
    normalized = F.normalize(entity_embeddings, dim=-1)
    valid = candidate_entity_ids >= 0
    candidates = normalized[candidate_entity_ids.clamp(min=0)]
    logits = torch.einsum("qd,qcd->qc", normalized[query_entity_ids], candidates) / temperature
    logits = logits.masked_fill(~valid, float("-inf"))
    return F.cross_entropy(logits, target_index)


def adaptive_threshold_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ATLOP's adaptive-thresholding loss; class 0 is the learned threshold (no-relation) class.

    Positive relations must score above class 0 and class 0 above every negative relation.
    """
    labels = labels.to(logits.dtype)
    threshold_label = torch.zeros_like(labels)
    threshold_label[:, 0] = 1.0
    labels = labels.clone()
    labels[:, 0] = 0.0
    positive_mask = labels + threshold_label
    negative_mask = 1 - labels
    # A finite "minus infinity": masked log-probabilities are multiplied by 0 below, and -inf * 0 is NaN.
    excluded = torch.finfo(logits.dtype).min
    positive_logits = logits.masked_fill(positive_mask == 0, excluded)
    positive_loss = -(F.log_softmax(positive_logits, dim=-1) * labels).sum(1)
    negative_logits = logits.masked_fill(negative_mask == 0, excluded)
    negative_loss = -(F.log_softmax(negative_logits, dim=-1) * threshold_label).sum(1)
    return (positive_loss + negative_loss).mean()
