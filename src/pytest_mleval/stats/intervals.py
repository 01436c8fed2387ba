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
