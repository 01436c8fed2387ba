"""Ranked-retrieval metrics over document ids (pure, no dependencies).

Every function takes ``(retrieved, relevant, k)``: ``retrieved`` is a ranked list of ids (best
first), ``relevant`` is a collection of relevant ids or a mapping id -> graded relevance (a
grade <= 0 counts as not relevant), and ``k`` is the cut-off (``None``: the whole ranking).
Duplicate ids in ``retrieved`` count once, at their first (best) rank, so a pipeline that
returns several chunks of one document is not rewarded twice for it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from ..errors import MetricError

__all__ = [
    "Relevance",
    "hit_rate",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]

Relevance = Collection[str] | Mapping[str, float]


def _grades(relevant: Relevance) -> dict[str, float]:
    if isinstance(relevant, Mapping):
        return {str(key): float(value) for key, value in relevant.items() if float(value) > 0}
    if isinstance(relevant, str):
        # A bare string would otherwise be read as a collection of characters.
        return {relevant: 1.0}
    return {str(key): 1.0 for key in relevant}


def _top(retrieved: Sequence[str], k: int | None) -> list[str]:
    if k is not None and k < 1:
        raise MetricError(f"k must be a positive integer, got {k}")
    seen: set[str] = set()
    ranked: list[str] = []
    for item in retrieved:
        key = str(item)
        if key not in seen:
            seen.add(key)
            ranked.append(key)
    return ranked if k is None else ranked[:k]


def hit_rate(retrieved: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """1.0 when at least one relevant id is among the top ``k``, else 0.0.

    Args:
        retrieved: ranked ids, best first.
        relevant: relevant ids, or id -> graded relevance.
        k: cut-off; ``None`` uses the whole ranking.

    Returns:
        0.0 or 1.0 (0.0 when nothing is relevant).
    """
    grades = _grades(relevant)
    return 1.0 if any(item in grades for item in _top(retrieved, k)) else 0.0


def recall_at_k(retrieved: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """Share of the relevant ids found in the top ``k``: ``|top_k ∩ R| / |R|``.

    Args:
        retrieved: ranked ids, best first.
        relevant: relevant ids, or id -> graded relevance.
        k: cut-off; ``None`` uses the whole ranking.

    Returns:
        Recall in [0, 1]; 0.0 when nothing is relevant.
    """
    grades = _grades(relevant)
    if not grades:
        return 0.0
    found = sum(1 for item in _top(retrieved, k) if item in grades)
    return found / len(grades)


def precision_at_k(retrieved: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """Share of the top ``k`` that is relevant: ``|top_k ∩ R| / k``.

    The denominator is ``k`` even when fewer than ``k`` ids were retrieved (the standard
    trec_eval definition: returning less is not rewarded); with ``k=None`` it is the number
    of distinct ids retrieved.

    Args:
        retrieved: ranked ids, best first.
        relevant: relevant ids, or id -> graded relevance.
        k: cut-off; ``None`` uses the whole ranking.

    Returns:
        Precision in [0, 1]; 0.0 for an empty ranking.
    """
    grades = _grades(relevant)
    top = _top(retrieved, k)
    denominator = len(top) if k is None else k
    if denominator == 0:
        return 0.0
    return sum(1 for item in top if item in grades) / denominator


def mrr(retrieved: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """Reciprocal rank of the first relevant id within the top ``k`` (``1 / rank``, 1-based).

    Averaged over queries by the caller, this is the mean reciprocal rank.

    Args:
        retrieved: ranked ids, best first.
        relevant: relevant ids, or id -> graded relevance.
        k: cut-off; ``None`` uses the whole ranking.

    Returns:
        ``1 / rank`` of the first hit, or 0.0 when there is none in the top ``k``.
    """
    grades = _grades(relevant)
    for rank, item in enumerate(_top(retrieved, k), start=1):
        if item in grades:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """Normalised discounted cumulative gain with graded relevance.

    ``DCG@k = sum_{i=1..k} rel_i / log2(i + 1)`` where ``rel_i`` is the grade of the id at
    rank ``i`` (0 when not relevant); ``IDCG@k`` is the DCG of the relevance labels sorted by
    grade, descending, cut at ``k``; ``nDCG@k = DCG@k / IDCG@k``. The gain is the grade itself
    (linear gain, as trec_eval's ``ndcg_cut`` and ranx's ``ndcg`` use). A plain collection of
    ids gives every relevant id grade 1.

    Args:
        retrieved: ranked ids, best first.
        relevant: relevant ids, or id -> graded relevance.
        k: cut-off; ``None`` uses the whole ranking (and all labels for the ideal).

    Returns:
        nDCG in [0, 1]; 0.0 when nothing is relevant.
    """
    grades = _grades(relevant)
    if not grades:
        return 0.0
    top = _top(retrieved, k)
    dcg = sum(grades.get(item, 0.0) / math.log2(rank + 1) for rank, item in enumerate(top, 1))
    ideal = sorted(grades.values(), reverse=True)
    if k is not None:
        ideal = ideal[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, 1))
    return dcg / idcg
