"""Corpus BLEU of a suite (a gate's ``stat: corpus``), with a bootstrap interval.

Corpus BLEU is not the mean of sentence BLEU: it sums each case's n-gram counts first, as
``sacrebleu.corpus_bleu`` does. The ``bleu`` metric keeps those counts in its score's data,
so the suite's figure needs no texts (outputs in the results may be truncated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .records import CaseResult

__all__ = ["corpus_estimate"]

_N_RESAMPLES = 10_000


def _counts(
    cases: Sequence[CaseResult], metric: str
) -> tuple[dict[str, list[int]], tuple[Any, Any]] | str:
    """Case id -> summed counts (repeats add up, as more segments), and the smoothing; or
    why there is no one corpus BLEU."""
    per_case: dict[str, list[int]] = {}
    smoothing: set[tuple[Any, Any]] = set()
    for c in cases:
        ms = c.scores.get(metric)
        if c.not_needed or ms is None or ms.score is None or not ms.data:
            continue
        counts = ms.data.get("bleu_stats")
        if not isinstance(counts, list):
            continue
        smoothing.add((ms.data.get("smooth_method", "exp"), ms.data.get("smooth_value")))
        row = per_case.setdefault(c.case_id, [0] * len(counts))
        for j, v in enumerate(counts):
            row[j] += int(v)
    if len(smoothing) > 1:
        return f"the cases score {metric!r} with different smoothing: no one corpus BLEU"
    return per_case, next(iter(smoothing), ("exp", None))


def corpus_estimate(
    cases: Sequence[CaseResult], metric: str, *, confidence: float, seed: int
) -> tuple[float, float, float, str] | str:
    """Corpus BLEU / 100 of ``metric`` over the cases, with a percentile bootstrap interval.

    Whole cases are resampled (their repeats together), or whole clusters when cases have a
    ``cluster``, so cases that move together are not counted as independent evidence.

    Args:
        cases: One suite's case results.
        metric: The score key of a ``bleu`` entry.
        confidence: Two-sided confidence level.
        seed: Seed of the bootstrap.

    Returns:
        ``(estimate, ci_low, ci_high, method)``, or why it cannot be computed.
    """
    import numpy as np

    from .. import stats
    from ..metrics.textsim import bleu_from_stats

    found = _counts(cases, metric)
    if isinstance(found, str):
        return found
    per_case, (smooth_method, smooth_value) = found
    if not per_case:
        return f"no BLEU counts for metric {metric!r} (stat: corpus takes a bleu metric's scores)"

    def score(total: Sequence[int]) -> float:
        bleu = bleu_from_stats(total, smooth_method=smooth_method, smooth_value=smooth_value)
        return min(1.0, max(0.0, bleu.score / 100.0))

    cluster_of = {c.case_id: c.cluster for c in cases}
    keys = list(per_case)
    rows = np.asarray([per_case[k] for k in keys], dtype=np.int64)
    point = score(rows.sum(axis=0).tolist())
    labels = [cluster_of.get(k) or f"case:{k}" for k in keys]
    clustered = any(cluster_of.get(k) for k in keys)  # else every unit is a case
    units = sorted(set(labels))
    need = stats.median_ci_min_n(confidence)
    if len(units) < need:
        # One case (or one cluster) says nothing about the spread, and a bootstrap of 2-5
        # has a handful of distinct resamples: 2 identical cases read [x, x] and passed a
        # ci_low gate. Below the fewest units any distribution-free interval of a median
        # needs (6 at 95 %), the interval is the score's range.
        what = "one sampling unit" if len(units) < 2 else f"{len(units)} sampling units"
        return point, 0.0, 1.0, f"corpus BLEU ({what}, fewer than {need}: no interval)"
    code = {u: i for i, u in enumerate(units)}
    unit_rows = np.zeros((len(units), rows.shape[1]), dtype=np.int64)
    np.add.at(unit_rows, [code[u] for u in labels], rows)
    rng = np.random.default_rng(seed)
    u = len(units)
    chunk = max(1, 4_000_000 // u)  # about 32 MiB of resample weights per chunk
    weights_of = unit_rows.astype(np.float64)
    draws: list[float] = []
    while len(draws) < _N_RESAMPLES:
        b = min(chunk, _N_RESAMPLES - len(draws))
        # How often each unit is drawn in each resample, then one matrix product for the sums
        # (gathering b x u rows of counts would move ten times the memory).
        picks = rng.integers(0, u, size=(b, u)) + (np.arange(b) * u)[:, None]
        weights = np.bincount(picks.ravel(), minlength=b * u).reshape(b, u)
        sums = np.rint(weights @ weights_of).astype(np.int64)
        draws.extend(score(t) for t in sums.tolist())
    alpha = 1.0 - confidence
    low, high = np.quantile(np.asarray(draws), [alpha / 2, 1 - alpha / 2])
    what = f"{u} clusters" if clustered else f"{u} cases"
    return (
        point,
        min(float(low), point),
        max(float(high), point),
        f"corpus BLEU, percentile bootstrap ({what})",
    )
