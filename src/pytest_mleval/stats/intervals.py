"""Intervals of one sample: a mean (t, BCa, percentile; bounded metrics), a proportion (Wilson,
Clopper-Pearson), and the per-case averaging of repeats that precedes every statistic.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ._common import (
    Estimate,
    _bounded_widening,
    _bounds_text,
    _check_bounds,
    _check_confidence,
    _codes,
    _degenerate,
    _finite,
    _point,
    _t_quantile,
    _wilson,
    _with_wilson_form,
    _z,
)
from .bootstrap import bootstrap_ci

__all__ = [
    "average_repeats",
    "mean_ci",
    "median_ci",
    "median_ci_min_n",
    "proportion_ci",
]


def average_repeats(
    keys: Sequence[Hashable], values: Sequence[float]
) -> tuple[list[Hashable], np.ndarray]:
    """Per-key means in first-seen order: repeats of a case are averaged before any statistic.

    Args:
        keys: Case key of each value (repeats share a key).
        values: The scores.

    Returns:
        (unique keys in first-seen order, their mean scores).
    """
    keys = list(keys)
    x = _finite(values)
    if len(keys) != x.size:
        raise ValueError("keys and values must have the same length")
    codes, k = _codes(keys)
    first = list(dict.fromkeys(keys))
    if k == 0:
        return first, np.zeros(0)
    return first, np.bincount(codes, x, k) / np.bincount(codes, minlength=k)


def mean_ci(
    values: Any,
    *,
    confidence: float = 0.95,
    method: str = "t",
    seed: int | None = None,
    n_resamples: int = 10_000,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Mean with a t interval, or a BCa / percentile bootstrap interval.

    Args:
        values: Per-case scores (repeats already averaged).
        confidence: Two-sided confidence level.
        method: ``t``, ``bca`` or ``percentile``.
        seed: Seed of the bootstrap.
        n_resamples: Bootstrap resamples.
        bounds: The range the metric cannot leave (``(0, 1)`` for scores), or ``None`` for an
            unbounded measure; a bounded sample without spread then gets an interval valid
            for any variable on the bounds instead of the point (at a bound, the Wilson
            interval of n passes in n), a sample with nearly no spread is widened toward
            that interval (so 49 scores of 1.0 and one of 0.999 never read narrower than fifty
            of 1.0), and no sample reads a higher ``ci_low`` than n values all at its maximum
            would (nor a lower ``ci_high`` than all at its minimum), so a suite that is worse
            case by case never reads better than a constant one.

    Returns:
        The estimate; degenerate samples say why in ``method`` and ``note``.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    if method not in ("t", "bca", "percentile"):
        raise ValueError(f"unknown mean interval {method!r} (t, bca, percentile)")
    x = _finite(values)
    degenerate = _degenerate(x, confidence, method, bounds)
    if degenerate is not None:
        return degenerate
    if method == "t":
        m = float(x.mean())
        q = _t_quantile(confidence, x.size - 1)
        var = float(x.var(ddof=1)) / x.size
        lo, hi = m - q * math.sqrt(var), m + q * math.sqrt(var)
        method_name = "t"
        if bounds is not None:
            # Near a bound the t interval is too symmetric for a skewed bounded score: its Wilson
            # form (same variance and quantile) reaches further from the bound, as in
            # clustered_mean_ci; at mid-range the two agree.
            lo, hi, wide = _with_wilson_form(m, lo, hi, var, q, bounds)
            if wide:
                method_name = "t (Wilson form near the bound)"
        e = Estimate(m, lo, hi, int(x.size), method_name, confidence)
    else:
        e = bootstrap_ci(
            x, np.mean, method=method, confidence=confidence, seed=seed, n_resamples=n_resamples
        )
    if bounds is None:
        return e
    lo, hi, near, capped, notes = _bounded_widening(
        x, e.ci_low, e.ci_high, x.size, confidence, bounds
    )
    if not notes:
        return e
    method_name = e.method
    if near:
        method_name += " (nearly no spread: bounded)"
    if capped:
        method_name += " (no tighter than all at its extremes)"
    note = "; ".join([e.note, *notes] if e.note else notes)
    return Estimate(e.estimate, lo, hi, e.n, method_name, confidence, note)


def proportion_ci(
    successes: int, n: int, *, confidence: float = 0.95, method: str = "wilson"
) -> Estimate:
    """A proportion with a Wilson score (default) or Clopper-Pearson interval.

    Both stay inside [0, 1] and are informative at 0 % and 100 % and for n=1.

    Args:
        successes: Passing cases.
        n: All cases.
        confidence: Two-sided confidence level.
        method: ``wilson`` or ``clopper-pearson`` (alias ``beta``).

    Returns:
        The estimate; n=0 gives 0 with the reason in ``note``.
    """
    _check_confidence(confidence)
    if method not in ("wilson", "clopper-pearson", "beta"):
        raise ValueError(f"unknown proportion interval {method!r} (wilson, clopper-pearson)")
    name = "wilson" if method == "wilson" else "clopper-pearson"
    if n <= 0:
        return _point(0.0, 0, f"{name} (no data)", confidence, "no data: estimate set to 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    p = successes / n
    note = "one case: the interval is wide by design" if n == 1 else None
    if name == "wilson":
        lo, hi = _wilson(p, n, _z(0.5 + confidence / 2.0))
        return Estimate(p, lo, hi, n, "wilson", confidence, note)
    from scipy import special

    alpha = 1.0 - confidence
    lo = (
        0.0
        if successes == 0
        else float(special.betaincinv(successes, n - successes + 1, alpha / 2))
    )
    hi = (
        1.0
        if successes == n
        else float(special.betaincinv(successes + 1, n - successes, 1 - alpha / 2))
    )
    return Estimate(p, lo, hi, n, "clopper-pearson", confidence, note)


def _median_ranks(n: int, confidence: float) -> tuple[int, int] | None:
    """1-based ranks ``(l, n - l + 1)`` of the distribution-free interval of the median, or
    ``None`` when n is too small for one: the largest l with P(Binomial(n, 1/2) <= l - 1)
    <= alpha / 2, so each end misses the median with probability at most alpha / 2."""
    from ._dist import bdtr_half

    tail = (1.0 - confidence) / 2.0
    if n < 1 or bdtr_half(0, n) > tail:
        return None
    # Start near the normal approximation, then step to the exact rank.
    k = max(1, int(n / 2.0 - _z(1.0 - tail) * math.sqrt(n) / 2.0))
    while k > 1 and bdtr_half(k - 1, n) > tail:
        k -= 1
    while k < n and bdtr_half(k, n) <= tail:
        k += 1
    return k, n - k + 1


def median_ci_min_n(confidence: float = 0.95) -> int:
    """The fewest cases (or independent units) for which any distribution-free interval of a
    median exists at ``confidence``: 6 at 95 % (both ends at the extremes, 1 - 2 / 2^n)."""
    _check_confidence(confidence)
    n = 1
    while _median_ranks(n, confidence) is None:
        n += 1
    return n


def median_ci(
    values: Any,
    *,
    confidence: float = 0.95,
    seed: int | None = None,
    bounds: tuple[float, float] | None = None,
    n_resamples: int = 10_000,
) -> Estimate:
    """Median with its percentile bootstrap interval, never narrower than the
    distribution-free (order-statistic) interval.

    The percentile bootstrap of a median on 1-2 cases has zero width or spans two values,
    and a ``ci_low`` gate passed on it. The order-statistic interval ``[x_(l), x_(n-l+1)]``
    holds for any continuous or discrete distribution; with fewer cases than
    :func:`median_ci_min_n` none exists, and the interval is the metric's range (``bounds``),
    or ``(-inf, inf)`` for an unbounded measure (no interval can be given).

    Args:
        values: Per-case values.
        confidence: Two-sided confidence level.
        seed: Seed of the bootstrap.
        bounds: The metric's range, or ``None`` when unbounded.
        n_resamples: Bootstrap resamples.

    Returns:
        The median and its interval; ``note`` says when the order statistics widened it.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    x = _finite(values)
    boot = bootstrap_ci(
        x, np.median, method="percentile", confidence=confidence, seed=seed, n_resamples=n_resamples
    )
    if x.size == 0:
        return boot
    ranks = _median_ranks(int(x.size), confidence)
    if ranks is None:
        lo, hi = (float(bounds[0]), float(bounds[1])) if bounds else (-math.inf, math.inf)
        need = median_ci_min_n(confidence)
        where = _bounds_text(bounds) if bounds is not None else "unbounded: no interval"
        note = (
            f"{x.size} case(s) are too few for an interval of the median at "
            f"{confidence:.0%} (a distribution-free one needs {need}): the metric's range "
            f"({where})"
        )
        method = f"median (n={x.size}: too few cases for an interval)"
    else:
        xs = np.sort(x)
        lo, hi = float(xs[ranks[0] - 1]), float(xs[ranks[1] - 1])
        note = ""
        method = boot.method
        if lo < boot.ci_low or hi > boot.ci_high:
            note = (
                f"widened to the order-statistic interval (ranks {ranks[0]} and {ranks[1]} of "
                f"{x.size}), which holds for any distribution"
            )
            method = "percentile bootstrap, never narrower than the order statistics"
    return Estimate(
        boot.estimate,
        min(lo, boot.ci_low),
        max(hi, boot.ci_high),
        int(x.size),
        method,
        confidence,
        note or boot.note,
    )
