"""Paired comparisons of two runs by case: the paired test (difference, interval, p-value), its
permutation, Wilcoxon, sign and McNemar forms, and multiplicity corrections (Holm, BH).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import (
    PairedResult,
    _check_bounds,
    _check_confidence,
    _correlation,
    _finite,
    _flat_bound,
    _flat_note,
    _t_quantile,
)
from .power import paired_proportion_ci
from .signflip import signflip_pvalue, wilcoxon_pvalue

__all__ = [
    "benjamini_hochberg",
    "holm",
    "mcnemar_exact",
    "paired_test",
    "permutation_pvalue",
    "sign_test",
    "wilcoxon_pratt",
]


def permutation_pvalue(
    diffs: Any,
    *,
    seed: int | None = None,
    n_resamples: int = 10_000,
    alternative: str = "two-sided",
) -> float:
    """Sign-flip permutation p-value of the mean paired difference.

    Exact whenever the null distribution is small enough to enumerate: zero differences
    are dropped (their sign cannot matter), tied magnitudes are grouped (k equal values
    flip as a binomial), and the two halves meet in the middle, so 30+ distinct values or
    100,000 pass/fail differences are exact. Otherwise Monte Carlo with
    p = (count + 1) / (R + 1).

    Args:
        diffs: Per-case differences, candidate - baseline.
        seed: Seed of the Monte Carlo draws.
        n_resamples: Monte Carlo resamples.
        alternative: ``two-sided``, ``greater`` or ``less``.

    Returns:
        The p-value; 1.0 when every difference is zero.
    """
    return signflip_pvalue(
        _finite(diffs, "diffs"), seed=seed, n_resamples=n_resamples, alternative=alternative
    )[0]


def wilcoxon_pratt(diffs: Any, *, alternative: str = "two-sided", method: str = "auto") -> float:
    """Wilcoxon signed-rank p-value with Pratt's treatment of zero differences.

    ``auto`` is exact (the conditional null distribution of the signed Pratt ranks, ties
    and zeros included) up to a few hundred cases, then the normal approximation
    scipy uses (tie-corrected, no continuity correction).

    Args:
        diffs: Per-case differences.
        alternative: ``two-sided``, ``greater`` or ``less``.
        method: ``auto``, ``exact`` or ``approx``.

    Returns:
        The p-value; 1.0 when every difference is zero.
    """
    return wilcoxon_pvalue(_finite(diffs, "diffs"), alternative=alternative, method=method)[0]


def _binom_cdf(k: int, n: int) -> float:
    from ._dist import bdtr_half

    return bdtr_half(k, n)


def sign_test(diffs: Any) -> float:
    """Exact two-sided sign test on the non-zero differences (as ``scipy.stats.binomtest``)."""
    d = _finite(diffs, "diffs")
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    if pos + neg == 0:
        return 1.0
    return min(1.0, 2.0 * _binom_cdf(min(pos, neg), pos + neg))


def mcnemar_exact(b: int, c: int, *, mid_p: bool = False) -> float:
    """Exact (binomial) McNemar p-value from the discordant counts ``b`` and ``c``.

    Args:
        b: Cases that passed in the baseline and failed in the candidate.
        c: Cases that failed in the baseline and passed in the candidate.
        mid_p: The mid-p variant (less conservative; Fagerland et al. 2013).

    Returns:
        The two-sided p-value; 1.0 without discordant cases.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    if b + c == 0:
        return 1.0
    k, n = min(b, c), b + c
    cdf = _binom_cdf(k, n)
    if mid_p:
        pmf = cdf - (_binom_cdf(k - 1, n) if k > 0 else 0.0)
        return min(1.0, 2.0 * (cdf - 0.5 * pmf))
    return min(1.0, 2.0 * cdf)


def paired_test(
    baseline: Any,
    candidate: Any,
    *,
    test: str = "permutation",
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
    bounds: tuple[float, float] | None = None,
) -> PairedResult:
    """Paired comparison: mean difference (candidate - baseline), its interval and a p-value.

    Args:
        baseline: Per-case scores of the baseline.
        candidate: Per-case scores of the candidate, same cases in the same order.
        test: ``permutation`` (sign-flip), ``wilcoxon`` (Pratt), ``sign``, ``mcnemar``
            (0/1 scores; the interval is then Tango's score interval, also when no case
            changed) or ``t``.
        confidence: Confidence level of the interval (t interval of the mean difference).
        seed: Seed of Monte Carlo permutations.
        n_resamples: Monte Carlo resamples when exact enumeration is too large.
        bounds: The range of a paired difference (``(-1, 1)`` for scores in [0, 1]), or
            ``None`` for an unbounded measure. When every difference is the same (none at
            all, or a constant shift) the interval is then the no-spread bound valid for any
            difference on that range (see :func:`mean_ci`) instead of the point.

    Returns:
        The result; no pairs or identical scores give p = 1 and say so in ``note``.
    """
    _check_bounds(bounds)
    _check_confidence(confidence)
    if test not in ("permutation", "wilcoxon", "sign", "mcnemar", "t"):
        raise ValueError(f"unknown paired test {test!r} (permutation, wilcoxon, sign, mcnemar, t)")
    b, c = _finite(baseline, "baseline"), _finite(candidate, "candidate")
    if b.size != c.size:
        raise ValueError("baseline and candidate must be paired (same length)")
    if test == "mcnemar" and not (np.isin(b, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all()):
        raise ValueError("mcnemar needs 0/1 scores")
    d = c - b
    n = int(d.size)
    corr = _correlation(b, c)
    if n == 0:
        return PairedResult(
            0.0, 0.0, 0.0, 1.0, 0, f"{test} (no pairs)", None, confidence, "no paired cases"
        )
    if not np.any(d):
        z_lo = z_hi = 0.0
        same = "identical scores in every case"
        if test == "mcnemar":
            # No case flipped: Tango's interval still says how large a change is plausible.
            _, z_lo, z_hi = paired_proportion_ci(b, c, confidence=confidence)
            same += "; Tango score interval"
        elif bounds is not None:
            z_lo, z_hi = _flat_bound(0.0, n, confidence, bounds)
            same += f"; {_flat_note(n, bounds)}"
        return PairedResult(
            0.0, z_lo, z_hi, 1.0, n, f"{test} (no differences)", corr, confidence, same, 0.0
        )
    diff = float(d.mean())
    # Differences of decimal scores carry rounding (0.3 - 0.2 != 0.4 - 0.3): a spread below
    # 1e-12 of their size is no spread, or a constant shift would look infinitely significant
    # only by accident of rounding.
    constant = float(np.ptp(d)) <= 1e-12 * float(np.abs(d).max())
    sd = 0.0 if n < 2 or constant else float(d.std(ddof=1))
    h = _t_quantile(confidence, n - 1) * sd / math.sqrt(n) if n > 1 and sd > 0 else 0.0
    lo, hi = diff - h, diff + h
    note = None
    if test == "permutation":
        p, exact = signflip_pvalue(d, seed=seed, n_resamples=n_resamples)
        kind = "exact" if exact else f"Monte Carlo, {n_resamples} resamples"
        method = f"sign-flip permutation ({kind})"
    elif test == "mcnemar":
        nb, nc = int((d < 0).sum()), int((d > 0).sum())
        p = mcnemar_exact(nb, nc)
        _, lo, hi = paired_proportion_ci(b, c, confidence=confidence)
        method = f"exact McNemar ({nb} pass→fail, {nc} fail→pass; Tango score CI)"
    elif test == "wilcoxon":
        p, exact = wilcoxon_pvalue(d)
        method = f"Wilcoxon signed-rank (Pratt, {'exact' if exact else 'normal approximation'})"
    elif test == "sign":
        p, method = sign_test(d), "sign test (exact binomial)"
    else:
        method = "paired t"
        if sd == 0.0:
            p, note = 0.0, "constant non-zero difference: no sampling error"
        else:
            from ._dist import stdtr

            tstat = diff / (sd / math.sqrt(n))
            p = 2.0 * stdtr(n - 1, -abs(tstat))
    if sd == 0.0 and test != "mcnemar" and bounds is not None:
        lo, hi = _flat_bound(diff, n, confidence, bounds)
        why = "one case" if n == 1 else "every paired difference is identical"
        note = "; ".join(x for x in (note, f"{why}: {_flat_note(n, bounds)}") if x)
    elif n == 1:
        note = note or "one case: the interval is the point"
    elif sd == 0.0 and test != "mcnemar":
        note = note or "every paired difference is identical: the interval is the point"
    return PairedResult(diff, lo, hi, float(p), n, method, corr, confidence, note, sd)


# --- multiplicity ----------------------------------------------------------------------------


def _pvalues(pvalues: Sequence[float]) -> np.ndarray:
    p = _finite(pvalues, "p-values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control), in input order."""
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in input order."""
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out
