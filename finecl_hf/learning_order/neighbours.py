"""Nearest neighbours of frozen features through a faiss index, in batches, never an instances × instances block.

`neighbour_agreement` needs, for every instance, its k most similar *eligible* instances (cosine similarity of
standardised features; eligible: not itself, not of its own document when asked, a voter of the round). One search
serves every round: `search_candidates` finds each instance's `K = factor · k + 1` most similar instances once, with
their exact similarities, and a round keeps the first k eligible ones among them. Where fewer than k of an instance's
candidates are eligible (a round that distrusts most of its neighbourhood, a large own document), that instance is
searched again exhaustively, so the answer is the exact top k of an exact index whatever the round asks.

The index (`NeighbourIndexSettings`):

- up to `exact_search_max` instances: `faiss.IndexFlatIP` over the standardised unit rows, an exact search;
- above: an inverted-file index with 8-bit scalar quantisation (`IVF{lists},SQ8`, inner product), trained on a seeded
  sample, filled and searched in batches, `probes` lists visited per query; its candidates are re-ranked with their
  exact similarities (recomputed from the features), so only *which* instances are candidates is approximate.

Memory beyond the features themselves: the quantised index (d bytes per instance) and the candidates (8 bytes each):
the standardised features are never held as a whole.

faiss comes from the optional extra `evidence` (`pip install "finecl-hf[evidence]"`, the `faiss-cpu` wheel; users
with a GPU may install a GPU build of faiss instead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from transformers.utils import logging
from transformers.utils.logging import tqdm

from ..errors import UsageError

logger = logging.get_logger(__name__)

DEFAULT_EXACT_SEARCH_MAX = 60_000
DEFAULT_CANDIDATE_FACTOR = 3
DEFAULT_LIST_SIZE = 500
DEFAULT_PROBES = 8
SEARCH_BATCH = 8192
RERANK_BATCH = 1024  # queries whose candidates are gathered at once: 1,024 × K × dim floats
EVIDENCE_EXTRA = 'pip install "finecl-hf[evidence]"'


def require_faiss() -> ModuleType:
    """The `faiss` module, or a `UsageError` naming the extra that installs it."""
    try:
        import faiss
    except ImportError as error:
        raise UsageError(
            "the neighbour_agreement score (and `combined`, which uses it) needs faiss, which is not installed: "
            f"{EVIDENCE_EXTRA} (or pass --scores without it, or --evidence_encoder none); nothing was written."
        ) from error
    return faiss


@dataclass(frozen=True)
class NeighbourIndexSettings:
    """How `search_candidates` finds candidates.

    Attributes:
        exact_search_max: up to this many instances the search is exact (`IndexFlatIP`); above it approximate (IVF).
            Chosen so that every corpus of the denoising benchmark (at most 58,279 instances) is searched exactly.
        candidate_factor: candidates kept per instance, as a multiple of k (plus the instance itself).
        list_size: instances per inverted list of the IVF index on average (lists = instances / list_size).
        probes: inverted lists visited per query.
        seed: of the sample the IVF index is trained on.
    """

    exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX
    candidate_factor: int = DEFAULT_CANDIDATE_FACTOR
    list_size: int = DEFAULT_LIST_SIZE
    probes: int = DEFAULT_PROBES
    seed: int = 0

    def num_candidates(self, num_neighbours: int) -> int:
        """Candidates searched per instance for k = `num_neighbours` (the instance itself is one of them)."""
        return self.candidate_factor * num_neighbours + 1


class FeatureStandardiser:
    """Per-dimension standardisation then L2 normalisation, with statistics gathered in one pass of batches: the
    unit rows of any batch of instances without a standardised copy of all of them."""

    def __init__(self, features: np.ndarray, batch_size: int = SEARCH_BATCH):
        total = np.zeros(features.shape[1], dtype=np.float64)
        square = np.zeros(features.shape[1], dtype=np.float64)
        for start in range(0, len(features), batch_size):
            block = np.asarray(features[start : start + batch_size], dtype=np.float64)
            total += block.sum(0)
            square += np.square(block).sum(0)
        count = max(len(features), 1)
        self.mean = (total / count).astype(np.float32)
        self.scale = np.sqrt(np.clip(square / count - (total / count) ** 2, 0.0, None)).clip(1e-6).astype(np.float32)
        self.features = features

    def unit_and_norms(self, rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """Standardised, unit-length rows (float32, C-contiguous, as faiss wants them) and their standardised lengths."""
        values = (np.asarray(self.features[rows], dtype=np.float32) - self.mean) / self.scale
        norms = np.maximum(np.linalg.norm(values, axis=1), 1e-12)
        return np.ascontiguousarray(values / norms[:, None], dtype=np.float32), norms

    def unit(self, rows: np.ndarray | slice) -> np.ndarray:
        """Standardised, unit-length rows."""
        return self.unit_and_norms(rows)[0]

    def similarities(self, queries: np.ndarray, candidates: np.ndarray, candidate_norms: np.ndarray) -> np.ndarray:
        """Cosine similarities `[queries, K]` of standardised rows, the candidates' raw features read once: with
        u = unit(query), ⟨u, (c − m)/s⟩ / ‖(c − m)/s‖ = (⟨u/s, c⟩ − ⟨u/s, m⟩) / ‖(c − m)/s‖."""
        weights = self.unit(queries) / self.scale
        raw = np.asarray(self.features[candidates.reshape(-1)], dtype=np.float32).reshape(*candidates.shape, -1)
        dots = np.matmul(raw, weights[:, :, None])[..., 0] - (weights @ self.mean)[:, None]
        return dots / candidate_norms


@dataclass
class NeighbourCandidates:
    """Each instance's most similar instances, most similar first.

    Attributes:
        ids: `[instances, K]` rows of the searched features (int32 below 2^31 instances; -1: no candidate there).
        similarities: `[instances, K]` float32 exact cosine similarities (-inf where `ids` is -1).
        exact: whether the candidates came from an exact search.
        standardiser: the features' standardisation (for a later exhaustive search of a few instances).
    """

    ids: np.ndarray
    similarities: np.ndarray
    exact: bool
    standardiser: FeatureStandardiser = field(repr=False)


def search_candidates(
    features: np.ndarray,
    num_candidates: int,
    settings: NeighbourIndexSettings = NeighbourIndexSettings(),
    description: str = "neighbours",
) -> NeighbourCandidates:
    """Every instance's `num_candidates` most similar instances (itself included), by cosine similarity of
    standardised `features` `[instances, dim]` (an array or `np.memmap`)."""
    faiss = require_faiss()
    count = len(features)
    num_candidates = min(num_candidates, count)
    standardiser = FeatureStandardiser(features)
    exact = count <= settings.exact_search_max
    start_time = time.perf_counter()
    index, norms = _build_index(faiss, standardiser, exact, settings)
    ids = np.empty((count, num_candidates), dtype=np.int32 if count < 2**31 else np.int64)
    similarities = np.empty((count, num_candidates), dtype=np.float32)
    for start in tqdm(range(0, count, SEARCH_BATCH), desc=f"Searching {description}", unit="batch"):
        rows = slice(start, min(start + SEARCH_BATCH, count))
        found_similarities, found = index.search(standardiser.unit(rows), num_candidates)
        if exact:  # an exact index's similarities are exact already
            ids[rows], similarities[rows] = found, np.where(found >= 0, found_similarities, -np.inf)
        else:
            for part in range(rows.start, rows.stop, RERANK_BATCH):
                queries = np.arange(part, min(part + RERANK_BATCH, rows.stop))
                ids[queries], similarities[queries] = _reranked(standardiser, queries, found[queries - rows.start], norms)
    logger.info(
        f"{description}: {num_candidates} candidates for each of {count} instances by an "
        f"{'exact' if exact else 'approximate (IVF)'} search in {time.perf_counter() - start_time:.1f} s."
    )
    return NeighbourCandidates(ids, similarities, exact, standardiser)


def _build_index(
    faiss: ModuleType, standardiser: FeatureStandardiser, exact: bool, settings: NeighbourIndexSettings
) -> tuple[Any, np.ndarray | None]:
    """The filled index, and (IVF) the standardised length of every instance."""
    count, dim = standardiser.features.shape
    if exact:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = max(1, count // settings.list_size)
        index = faiss.index_factory(dim, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
        # faiss's k-means wants ~39 points per centroid; more adds time, not quality.
        sample = np.random.default_rng(settings.seed).choice(count, min(count, 50 * lists), replace=False)
        index.train(standardiser.unit(np.sort(sample)))
        index.nprobe = settings.probes
    norms = None if exact else np.empty(count, dtype=np.float32)  # for the exact re-ranking of IVF candidates
    for start in range(0, count, SEARCH_BATCH):
        rows = slice(start, min(start + SEARCH_BATCH, count))
        unit, norm = standardiser.unit_and_norms(rows)
        index.add(unit)
        if norms is not None:
            norms[rows] = norm
    return index, norms


def _reranked(
    standardiser: FeatureStandardiser, queries: np.ndarray, found: np.ndarray, norms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`found` candidates of `queries` sorted by their exact similarities (recomputed from the features; `norms`:
    every instance's standardised length)."""
    present = found >= 0
    safe = np.where(present, found, 0)
    similarity = standardiser.similarities(queries, safe, norms[safe])
    similarity = np.where(present, similarity, -np.inf).astype(np.float32)
    order = np.argsort(-similarity, axis=1, kind="stable")
    return np.where(present, found, -1)[np.arange(len(found))[:, None], order], np.take_along_axis(similarity, order, 1)


def exhaustive_candidates(
    standardiser: FeatureStandardiser, queries: np.ndarray, num_candidates: int, eligible: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact `(ids, similarities)` of the `num_candidates` most similar instances of the `queries` rows among the
    `eligible` rows (bool per instance; all when `None`), over batches of the features (faiss's `ResultHeap`)."""
    faiss = require_faiss()
    pool = np.arange(len(standardiser.features)) if eligible is None else np.flatnonzero(eligible)
    num_candidates = min(num_candidates, pool.size)
    heap = faiss.ResultHeap(len(queries), num_candidates, keep_max=True)
    query_rows = standardiser.unit(queries)
    for start in range(0, pool.size, SEARCH_BATCH):
        base = pool[start : start + SEARCH_BATCH]
        similarities = query_rows @ standardiser.unit(base).T
        take = min(num_candidates, base.size)
        best = np.argpartition(-similarities, take - 1, axis=1)[:, :take]
        heap.add_result(
            np.ascontiguousarray(np.take_along_axis(similarities, best, 1), dtype=np.float32),
            np.ascontiguousarray(base[best], dtype=np.int64),
        )
    heap.finalize()
    return heap.I, heap.D


__all__ = [
    "DEFAULT_CANDIDATE_FACTOR",
    "DEFAULT_EXACT_SEARCH_MAX",
    "EVIDENCE_EXTRA",
    "FeatureStandardiser",
    "NeighbourCandidates",
    "NeighbourIndexSettings",
    "exhaustive_candidates",
    "require_faiss",
    "search_candidates",
]
