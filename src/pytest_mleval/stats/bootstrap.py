"""Bootstrap intervals: cases, clusters, and paired differences of corpus-level statistics.

Draws exactly the indices ``scipy.stats.bootstrap`` draws from the same
``numpy.random.default_rng(seed)`` and reproduces its BCa algorithm (Efron 1987), in chunks
of bounded memory (about 32 MiB of indices whatever n and n_resamples are). The mean's
jackknife is closed-form, so BCa costs no more than the percentile interval; vectorised
statistics (those taking ``axis``) get whole batches, others one call per resample.
The records and the public names are re-exported by :mod:`pytest_mleval.stats`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._common import (
    Estimate,
    PairedResult,
    _check_bounds,
    _check_confidence,
    _correlation,
    _degenerate,
    _point,
)

__all__ = ["bootstrap_ci", "paired_bootstrap_ci"]

# Index entries per resampling chunk: 4 Mi int64 = 32 MiB, whatever n and n_resamples are.
_CHUNK_ELEMENTS = 1 << 22


def _chunks(rows: int, per_row: int, batch: int | None) -> Iterator[int]:
    """Sizes of resample chunks: bounded memory, same draws as one big draw."""
    size = batch or max(1, _CHUNK_ELEMENTS // max(per_row, 1))
    for start in range(0, rows, size):
        yield min(size, rows - start)


def _is_vectorized(statistic: Callable[..., Any], vectorized: bool | None) -> bool:
    if vectorized is not None:
        return vectorized
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):
        return False


def _bca_levels(
    theta_b: np.ndarray, point: float, jack: list[np.ndarray], alpha: float
) -> tuple[float, float]:
    """BCa percentile levels, as scipy.stats.bootstrap computes them (Efron 1987)."""
    from ._dist import ndtr, ndtri

    r = theta_b.size
    prop = (np.count_nonzero(theta_b < point) + np.count_nonzero(theta_b <= point)) / (2 * r)
    # scipy returns NaN when every resample lies on one side; clip to the resolution instead.
    z0 = float(ndtri(min(max(prop, 1 / (2 * r)), 1 - 1 / (2 * r))))
    num = den = 0.0
    for theta_i in jack:
        k = float(theta_i.size)
        u = (k - 1.0) * (theta_i.mean() - theta_i)
        num += float((u**3).sum()) / k**3
        den += float((u**2).sum()) / k**2
    a = num / (6.0 * den**1.5) if den > 0 else 0.0
    za = float(ndtri(alpha))
    levels = []
    for zq in (za, -za):
        s = z0 + zq
        levels.append(float(ndtr(z0 + s / (1.0 - a * s))))
    return levels[0], levels[1]


def _interval(
    theta_b: np.ndarray, point: float, jack: list[np.ndarray] | None, confidence: float
) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo_q, hi_q = (alpha, 1.0 - alpha) if jack is None else _bca_levels(theta_b, point, jack, alpha)
    lo, hi = np.percentile(theta_b, [100.0 * lo_q, 100.0 * hi_q])
    return float(lo), float(hi)


def _as_samples(data: Any) -> list[np.ndarray]:
    if isinstance(data, (list, tuple)) and data and all(np.ndim(s) >= 1 for s in data):
        return [_finite_rows(s) for s in data]
    return [_finite_rows(data)]


def _finite_rows(s: Any) -> np.ndarray:
    x = np.asarray(s, dtype=float)
    if x.ndim == 0:
        x = x.reshape(1)
    if not np.isfinite(x).all():
        raise ValueError("data must be finite (no NaN or infinity)")
    return x


def _gather(sample: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """sample[idx], shaped (B, n, k...); for rows of k values each column is gathered into
    its own contiguous block, so that ``rows[..., j].sum(axis=1)`` streams through memory."""
    if sample.ndim == 1 or sample.dtype == object:
        rows: np.ndarray = sample[idx]
        return rows
    columns = np.ascontiguousarray(np.moveaxis(sample, 0, -1))  # (k..., n)
    out: np.ndarray = np.moveaxis(np.take(columns, idx, axis=-1), (-2, -1), (0, 1))
    return out


def _evaluate(
    statistic: Callable[..., Any], vectorized: bool, samples: list[np.ndarray], idx: list[Any]
) -> np.ndarray:
    """The statistic of each resample; ``idx[j]`` indexes rows of sample j, shape (B, m)."""
    if vectorized:
        return np.asarray(
            statistic(*[_gather(s, i) for s, i in zip(samples, idx, strict=True)], axis=1),
            dtype=float,
        )
    rows = idx[0].shape[0]
    return np.array(
        [
            float(statistic(*[s[i[r]] for s, i in zip(samples, idx, strict=True)]))
            for r in range(rows)
        ]
    )


def _point_stat(
    statistic: Callable[..., Any], vectorized: bool, samples: list[np.ndarray]
) -> float:
    if vectorized:
        return float(np.asarray(statistic(*[s[None] for s in samples], axis=1)).ravel()[0])
    return float(statistic(*samples))


def _jackknife(
    statistic: Callable[..., Any],
    vectorized: bool,
    samples: list[np.ndarray],
    paired: bool,
) -> list[np.ndarray]:
    """Leave-one-out statistics (one array per resampled unit set), in bounded chunks."""
    if statistic is np.mean and len(samples) == 1 and samples[0].ndim == 1:
        x = samples[0]
        return [(x.sum() - x) / (x.size - 1)]
    groups = [list(range(len(samples)))] if paired else [[j] for j in range(len(samples))]
    out = []
    for group in groups:
        n = samples[group[0]].shape[0]
        full = [np.broadcast_to(np.arange(s.shape[0]), (1, s.shape[0])) for s in samples]
        parts = []
        start = 0
        for b in _chunks(n, n, None):
            keep = np.ones((b, n), dtype=bool)
            keep[np.arange(b), np.arange(start, start + b)] = False
            loo = np.broadcast_to(np.arange(n), (b, n))[keep].reshape(b, n - 1)
            idx = [
                loo if j in group else np.broadcast_to(full[j], (b, full[j].shape[1]))
                for j in range(len(samples))
            ]
            parts.append(_evaluate(statistic, vectorized, samples, idx))
            start += b
        out.append(np.concatenate(parts))
    return out


def bootstrap_ci(
    data: Any,
    statistic: Callable[..., Any] = np.mean,
    *,
    method: str = "bca",
    paired: bool = True,
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
    vectorized: bool | None = None,
    batch: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Bootstrap interval of ``statistic`` (BCa or percentile).

    Draws the same indices as ``scipy.stats.bootstrap`` from the same generator and
    reproduces its BCa algorithm, in chunks of bounded memory; the mean's jackknife is
    closed-form, so BCa costs no more than the percentile interval.

    Args:
        data: One sample (1-D, or 2-D with one row per case), or a list/tuple of samples.
        statistic: ``f(*samples) -> float``; vectorised when it takes ``axis`` (it then gets
            batches shaped (B, n, ...) and must reduce axis 1), like ``np.mean``.
        method: ``bca`` or ``percentile``.
        paired: Resample the samples' rows jointly (same cases) rather than independently.
        confidence: Two-sided confidence level.
        seed: Seed of ``numpy.random.default_rng``.
        n_resamples: Resamples.
        vectorized: Override the ``axis`` detection.
        batch: Resamples per chunk (default: about 32 MiB of indices).
        bounds: The range of a bounded metric (``(0, 1)`` for scores). With one sample and
            ``np.mean``, one case or constant data then give an interval valid for any
            variable on the bounds (``stats.mean_ci``) rather than the point, which
            resampling cannot widen.

    Returns:
        The estimate; no data, one case or constant data give the point as the interval
        (except the bounded mean, above), and say why.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    if method not in ("bca", "percentile"):
        raise ValueError(f"unknown bootstrap method {method!r} (bca, percentile)")
    samples = _as_samples(data)
    sizes = [s.shape[0] for s in samples]
    if paired and len(set(sizes)) > 1:
        raise ValueError("paired samples must have the same number of rows")
    vec = _is_vectorized(statistic, vectorized)
    name = "BCa bootstrap" if method == "bca" else "percentile bootstrap"
    n = min(sizes)
    if n == 0:
        return _point(0.0, 0, f"{name} (no data)", confidence, "no data: estimate set to 0")
    point = _point_stat(statistic, vec, samples)
    if n == 1 or all(float(np.ptp(s)) == 0.0 for s in samples):
        if bounds is not None and statistic is np.mean and len(samples) == 1:
            flat = _degenerate(samples[0].ravel(), confidence, name, bounds)
            if flat is not None:
                return flat
        # Other statistics keep the point: for a median or a quantile, n identical values are
        # real evidence (n ties at the median are unlikely unless it is that value).
        why = "n=1" if n == 1 else "zero variance"
        return _point(point, n, f"{name} ({why})", confidence, f"{why}: the interval is the point")
    rng = np.random.default_rng(seed)
    fast_mean = statistic is np.mean and len(samples) == 1 and samples[0].ndim == 1
    parts = []
    for b in _chunks(n_resamples, sum(sizes), batch):
        if paired:
            i = rng.integers(0, n, (b, n))
            idx = [i] * len(samples)
        else:
            idx = [rng.integers(0, m, (b, m)) for m in sizes]
        if fast_mean:
            parts.append(samples[0][idx[0]].mean(axis=1))
        else:
            parts.append(_evaluate(statistic, vec, samples, idx))
    theta_b = np.concatenate(parts)
    jack = _jackknife(statistic, vec, samples, paired) if method == "bca" else None
    lo, hi = _interval(theta_b, point, jack, confidence)
    return Estimate(point, min(lo, point), max(hi, point), n, name, confidence)


def paired_bootstrap_ci(
    baseline_items: Any,
    candidate_items: Any,
    statistic: Callable[..., Any],
    *,
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
    method: str = "percentile",
    vectorized: bool | None = None,
) -> PairedResult:
    """Interval of statistic(candidate) - statistic(baseline), resampling cases jointly.

    For metrics that are not a mean of per-case scores (corpus BLEU, F1 over a corpus).
    Fast when the items are numeric (per-case scores, or per-case sufficient statistics
    as rows) and ``statistic`` is vectorised (takes ``axis``: batches (B, n, ...) reduced
    over axis 1); any other items (strings, records) get one call per resample. The
    p-value is the centred bootstrap test: p = (1 + #{|d* - d| >= |d|}) / (R + 1).

    Args:
        baseline_items: Per-case items of the baseline.
        candidate_items: Per-case items of the candidate, same cases in the same order.
        statistic: Corpus-level statistic of a sequence of items.
        confidence: Two-sided confidence level.
        seed: Seed of the bootstrap.
        n_resamples: Resamples.
        method: ``percentile`` or ``bca``.
        vectorized: Override the ``axis`` detection.

    Returns:
        The result; ``sd_diff`` is the sd of per-case differences for numeric 1-D items,
        else the bootstrap standard error times sqrt(n) (its per-case equivalent).
    """
    _check_confidence(confidence)
    if method not in ("bca", "percentile"):
        raise ValueError(f"unknown bootstrap method {method!r} (bca, percentile)")
    n = len(baseline_items)
    if n != len(candidate_items):
        raise ValueError("baseline and candidate must be paired (same length)")
    try:
        arrays = [np.asarray(baseline_items, dtype=float), np.asarray(candidate_items, dtype=float)]
        numeric = arrays[0].shape == arrays[1].shape and arrays[0].shape[:1] == (n,)
    except (TypeError, ValueError):
        numeric = False
    if numeric:
        samples = [_finite_rows(a) for a in arrays]
        vec = _is_vectorized(statistic, vectorized)
    else:
        # Arbitrary items (strings, records): hold them in object arrays so that fancy
        # indexing picks resampled cases, and call the statistic once per resample.
        samples = [np.empty(n, dtype=object), np.empty(n, dtype=object)]
        for j, items in enumerate((baseline_items, candidate_items)):
            for i, item in enumerate(items):
                samples[j][i] = item
        vec = False

    def stat(*xs: np.ndarray, **kw: Any) -> Any:
        if not numeric:
            return float(statistic(list(xs[1]))) - float(statistic(list(xs[0])))
        return np.asarray(statistic(xs[1], **kw)) - np.asarray(statistic(xs[0], **kw))

    name = f"paired bootstrap ({'BCa' if method == 'bca' else 'percentile'}, {n_resamples})"
    if n == 0:
        return PairedResult(
            0.0, 0.0, 0.0, 1.0, 0, f"{name} (no pairs)", None, confidence, "no paired cases"
        )
    point = _point_stat(stat, vec, samples)
    one_d = numeric and samples[0].ndim == 1
    corr = _correlation(samples[0], samples[1]) if one_d else None
    if n == 1:
        return PairedResult(
            point,
            point,
            point,
            1.0,
            1,
            f"{name} (n=1)",
            None,
            confidence,
            "one case: nothing to resample",
        )
    rng = np.random.default_rng(seed)
    d1 = samples[1] - samples[0] if one_d and statistic is np.mean else None
    parts = []
    for b in _chunks(n_resamples, n, None):
        ix = rng.integers(0, n, (b, n))
        parts.append(
            d1[ix].mean(axis=1) if d1 is not None else _evaluate(stat, vec, samples, [ix, ix])
        )
    theta_b = np.concatenate(parts)
    jack = None
    if method == "bca":
        jack = (
            [(d1.sum() - d1) / (n - 1)] if d1 is not None else _jackknife(stat, vec, samples, True)
        )
    lo, hi = _interval(theta_b, point, jack, confidence)
    tol = 1e-12 * max(1.0, abs(point))
    extreme = np.count_nonzero(np.abs(theta_b - point) >= abs(point) - tol)
    p = 1.0 if point == 0.0 else min(1.0, (extreme + 1.0) / (theta_b.size + 1.0))
    if one_d:
        sd, note = float((samples[1] - samples[0]).std(ddof=1)), None
    else:
        sd = float(theta_b.std(ddof=1)) * math.sqrt(n)
        note = "sd_diff is the bootstrap standard error times sqrt(n)"
    return PairedResult(
        point, min(lo, point), max(hi, point), p, n, name, corr, confidence, note, sd
    )
