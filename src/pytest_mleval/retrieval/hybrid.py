"""Text retrievers over the indexes, and hybrid fusion of sparse (BM25) and dense rankings.

Two fusions: reciprocal rank fusion (Cormack et al. 2009, ``sum 1 / (k + rank)``, ``k = 60``)
uses ranks only; weighted fusion min-max normalises each list's scores to [0, 1] and mixes
them as ``alpha * dense + (1 - alpha) * sparse`` (``alpha = 1`` is dense only; an item
missing from one list gets 0 there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from .base import Hit, MetadataFilter, VectorIndex
from .bm25 import BM25Index
from .embedders import Embedder

__all__ = [
    "DenseRetriever",
    "HybridRetriever",
    "Retriever",
    "min_max_normalise",
    "reciprocal_rank_fusion",
    "weighted_fusion",
]


@runtime_checkable
class Retriever(Protocol):
    """Anything that answers a text query with ranked ``(id, score)`` hits."""

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The best ``k`` hits for ``query``, best first."""
        ...


def _ranked(scores: dict[str, float], order: dict[str, int]) -> list[Hit]:
    return sorted(scores.items(), key=lambda h: (-h[1], order[h[0]]))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]], k: int = 60, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Fuse rankings by ``sum_lists w / (k + rank)`` (rank 1-based); scores are ignored.

    Args:
        rankings: ranked hit lists, best first.
        k: the damping constant (60 in the original paper).
        weights: one weight per list (default all 1).

    Returns:
        All ids of all lists, by fused score; ties keep first-seen order.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ConfigError("reciprocal_rank_fusion: one weight per ranking")
    fused: dict[str, float] = {}
    order: dict[str, int] = {}
    for weight, ranking in zip(weights, rankings, strict=True):
        for rank, (item, _) in enumerate(ranking, start=1):
            order.setdefault(item, len(order))
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return _ranked(fused, order)


def min_max_normalise(hits: Sequence[Hit]) -> dict[str, float]:
    """Scores mapped to [0, 1] by ``(s - min) / (max - min)``; all equal -> all 1."""
    if not hits:
        return {}
    low = min(s for _, s in hits)
    high = max(s for _, s in hits)
    if high == low:
        return {item: 1.0 for item, _ in hits}
    return {item: (s - low) / (high - low) for item, s in hits}


def weighted_fusion(dense: Sequence[Hit], sparse: Sequence[Hit], alpha: float = 0.5) -> list[Hit]:
    """Fuse by ``alpha * norm(dense) + (1 - alpha) * norm(sparse)`` (min-max normalised).

    Args:
        dense: dense-retrieval hits.
        sparse: BM25 hits.
        alpha: weight of the dense side, in [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], got {alpha}")
    d, s = min_max_normalise(dense), min_max_normalise(sparse)
    order: dict[str, int] = {}
    for item, _ in [*dense, *sparse]:
        order.setdefault(item, len(order))
    fused = {item: alpha * d.get(item, 0.0) + (1 - alpha) * s.get(item, 0.0) for item in order}
    return _ranked(fused, order)


class DenseRetriever:
    """Embeds the query and searches a dense index.

    Args:
        index: an exact or HNSW index, or an external vector store.
        embedder: the embedder the index vectors came from.
    """

    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` chunks most similar to the query, best first."""
        if not len(self.index):
            return []
        vector = self.embedder.embed([query])
        return self.index.search(vector, k, where=where, min_score=min_score)


class HybridRetriever:
    """BM25 and dense retrieval fused by reciprocal rank or by weighted normalised scores.

    Args:
        sparse: the BM25 index.
        dense: the dense retriever.
        fusion: ``"rrf"`` or ``"weighted"``.
        alpha: dense weight for weighted fusion.
        rrf_k: the RRF constant.
        candidates: how many hits each side contributes before fusing.
    """

    def __init__(
        self,
        sparse: BM25Index,
        dense: DenseRetriever,
        *,
        fusion: str = "rrf",
        alpha: float = 0.5,
        rrf_k: int = 60,
        candidates: int = 50,
    ) -> None:
        if fusion not in ("rrf", "weighted"):
            raise ConfigError(f"unknown fusion {fusion!r}: use 'rrf' or 'weighted'")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha must be in [0, 1], got {alpha}")
        self.sparse, self.dense = sparse, dense
        self.fusion, self.alpha, self.rrf_k, self.candidates = fusion, alpha, rrf_k, candidates

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        where: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The best ``k`` fused hits; ``min_score`` applies to the fused score."""
        pool = max(k, self.candidates)
        sparse = self.sparse.search(query, pool, where=where) if len(self.sparse) else []
        dense = self.dense.search(query, pool, where=where)
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion([dense, sparse], self.rrf_k)
        else:
            fused = weighted_fusion(dense, sparse, self.alpha)
        if min_score is not None:
            fused = [h for h in fused if h[1] >= min_score]
        return fused[:k]
