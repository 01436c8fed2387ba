"""What every interval and test of :mod:`pytest_mleval.stats` shares: the result records, input
checks, quantiles and the answers for data without a spread.

The lowest module of the folder: the bootstrap, the intervals and the paired tests build on it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._dist import ndtri, stdtrit

__all__ = [
    "Estimate",
    "PairedResult",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval; ``method`` says how it was computed."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    confidence: float = 0.95
    note: str | None = None


@dataclass(frozen=True)
class PairedResult:
    """Candidate minus baseline, paired by case."""

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    method: str
    correlation: float | None
    confidence: float = 0.95
    note: str | None = None
    sd_diff: float = 0.0


def _finite(values: Any, what: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(x).all():
        raise ValueError(f"{what} must be finite (no NaN or infinity)")
    return x


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _codes(labels: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Integer codes of hashable labels in first-seen order (labels need not be sortable)."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in labels), dtype=np.intp)
    return codes, len(index)


def _correlation(b: np.ndarray, c: np.ndarray) -> float | None:
    if b.size < 3 or float(np.ptp(b)) == 0.0 or float(np.ptp(c)) == 0.0:
        return None
    r = float(np.corrcoef(b, c)[0, 1])
    return max(-1.0, min(1.0, r)) if math.isfinite(r) else None


def _t_quantile(confidence: float, df: float) -> float:
    # Pure Python (._dist): scipy.special's import alone outweighs a whole run's statistics.
    return stdtrit(df, 0.5 + confidence / 2.0)


def _z(p: float) -> float:
    return ndtri(p)


def _point(x: float, n: int, method: str, confidence: float, note: str) -> Estimate:
    return Estimate(x, x, x, n, method, confidence, note)


def _wilson(p: float, n: float, q: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` on ``n`` (possibly effective, non-integer)
    cases with quantile ``q``, inside [0, 1] and always containing ``p``."""
    denom = 1.0 + q * q / n
    centre = (p + q * q / (2.0 * n)) / denom
    half = q * math.sqrt(max(p * (1.0 - p), 0.0) / n + q * q / (4.0 * n * n)) / denom
    return min(max(0.0, centre - half), p), max(min(1.0, centre + half), p)


def _wilson_bound_variance(
    p: float, variance: float, q: float, bounds: tuple[float, float]
) -> tuple[float, float]:
    """The Wilson-type interval of a mean on ``bounds`` whose estimated variance is
    ``variance``: Wilson on the number of pass/fail cases with that variance,
    u (1 - u) / variance (u the mean rescaled to [0, 1]).

    Near a bound a t interval is symmetric while the sampling distribution is skewed (the
    samples that miss the rare low values are also the ones with the smallest variance), so
    it misses the truth mostly on one side; the Wilson form lets the variance grow as the
    candidate mean moves away from the bound, the way a bounded variable's variance can
    (Var <= mu (1 - mu), Bhatia-Davis), and is asymmetric accordingly. At mid-range it is the
    t interval within rounding. At a bound it is the point (nothing to add).
    """
    lo, hi = bounds
    width = hi - lo
    u = min(1.0, max(0.0, (p - lo) / width))
    scaled = variance / (width * width)
    if u * (1.0 - u) <= 0.0 or scaled <= 0.0:
        return p, p
    w_lo, w_hi = _wilson(u, u * (1.0 - u) / scaled, q)
    return lo + width * w_lo, lo + width * w_hi


def _with_wilson_form(
    m: float, lo: float, hi: float, variance: float, q: float, bounds: tuple[float, float]
) -> tuple[float, float, bool]:
    """The t interval ``(lo, hi)`` of the mean ``m`` widened to its Wilson form
    (:func:`_wilson_bound_variance`, same variance and quantile) where that reaches
    meaningfully further, by more than 1 % of the half-width on a side, and whether it did.
    At mid-range the two differ in the fourth digit, and the t interval (and its name) stays."""
    w_lo, w_hi = _wilson_bound_variance(m, variance, q, bounds)
    slack = 0.01 * (hi - lo) / 2.0
    if w_lo < lo - slack or w_hi > hi + slack:
        return min(lo, w_lo), max(hi, w_hi), True
    return lo, hi, False


def _check_bounds(bounds: tuple[float, float] | None) -> None:
    if bounds is not None and not (
        math.isfinite(bounds[0]) and math.isfinite(bounds[1]) and bounds[0] < bounds[1]
    ):
        raise ValueError(f"bounds must be finite with low < high, got {bounds!r}")


def _flat_bound(
    v: float,
    n: float,
    confidence: float,
    bounds: tuple[float, float],
    few: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """An interval for the mean of a variable on ``bounds`` whose n draws all equal ``v``.

    Valid for any distribution on the bounds: the mean differs from v only through the share
    q of the distribution away from v, at most q (v - low) below and q (high - v) above, and
    n draws all at v bound q by the Wilson upper bound of 0 successes in n, z^2 / (n + z^2)
    (the "rule of three" family). At v = high this is the Wilson interval of n passes in n,
    so a score of 1 everywhere reads as a pass rate of 100 % does.

    ``few`` is ``(n, quantile)`` of clusters too few to estimate their spread: the share is
    also bounded with that quantile (t on C-1 degrees of freedom), as a perfect clustered
    pass rate is, and the wider of the two bounds is taken.
    """
    lo, hi = bounds
    v = min(hi, max(lo, v))
    z = _z(0.5 + confidence / 2.0)
    q = z * z / (n + z * z)
    if few is not None:
        n_few, t = few
        q = max(q, t * t / (n_few + t * t))
    return v - q * (v - lo), v + q * (hi - v)


NEAR_FLAT_SPREAD = (0.01, 0.03)
"""A bounded sample whose per-case standard deviation is under the first of these (a share of
the metric's range: 1 %) gets the interval of a sample without spread; the widening fades out
linearly by the second (3 %). A spread of whole-range size in a few cases (49 of 1.0 and one
0.0: 0.14) or of a typical score (0.1) is untouched."""


def _near_flat_weight(x: np.ndarray, bounds: tuple[float, float]) -> float:
    """How far a bounded sample's interval is widened toward the no-spread one: 1 below
    :data:`NEAR_FLAT_SPREAD`'s first per-case standard deviation, 0 from its second, linear
    between, so the interval moves continuously with the data."""
    spread = float(x.std(ddof=1)) / (bounds[1] - bounds[0]) if x.size > 1 else 0.0
    first, last = NEAR_FLAT_SPREAD
    return min(1.0, max(0.0, (last - spread) / (last - first)))


def _dominance_note(n: float) -> str:
    return (
        "no narrower than a sample of its n values all at its maximum (lower end) or minimum "
        f"(upper end) would read (Wilson upper bound of 0 in {n:.1f} for the share that could "
        "differ): cases all at or below a value are no stronger evidence than cases all at it"
    )


def _bounded_widening(
    x: np.ndarray,
    lo: float,
    hi: float,
    n: float,
    confidence: float,
    bounds: tuple[float, float],
    where: str = "",
    few: tuple[float, float] | None = None,
) -> tuple[float, float, bool, bool, list[str]]:
    """The two widenings every bounded mean interval gets on ``n`` (effective) cases:
    ``(lo, hi, nearly_flat, capped, notes)``, each note ending in ``where`` (what ``n`` is).

    First, toward the no-spread interval of :func:`_flat_bound` when the sample has nearly
    no spread (:func:`_near_flat_weight`). Without it the interval of a bounded mean jumps at
    zero spread: fifty scores of 1.0 read [0.929, 1] but 49 of 1.0 and one 0.999 read
    [0.99994, 1]. A sample that misses the rare low values of a skewed score (near 1 every
    case is 1.0 or nearly) has a tiny variance for the same reason a perfect suite has none,
    and is no stronger evidence.

    Then no narrower than the no-spread interval of a sample all at its maximum (for ``lo``)
    or all at its minimum (for ``hi``). Cases all at or below a value are no stronger
    evidence about the lower tail than cases all at that value, which already leave room
    for the unseen share the Wilson upper bound of 0 in n allows. Without it, 19 scores of
    1.0 and one of 0.87 (a spread past the ramp, so the t interval) read ``ci_low`` 0.96
    beside twenty 1.0s' 0.84, and a ``ci_low`` gate failed the perfect suite and passed the
    worse one. The bound is monotone in every case, so no sample reads a higher ``ci_low``
    than a constant sample that dominates it; it binds only where the values crowd their
    extreme (near a bound, or with nearly no spread). ``few``: see :func:`_flat_bound`.
    """
    w = _near_flat_weight(x, bounds)
    near = False
    if w > 0.0:
        f_lo, f_hi = _flat_bound(float(x.mean()), n, confidence, bounds, few)
        new_lo = lo - w * max(0.0, lo - f_lo)
        new_hi = hi + w * max(0.0, f_hi - hi)
        near = new_lo < lo or new_hi > hi
        lo, hi = new_lo, new_hi
    c_lo, _ = _flat_bound(float(x.max()), n, confidence, bounds, few)
    _, c_hi = _flat_bound(float(x.min()), n, confidence, bounds, few)
    capped = c_lo < lo or c_hi > hi
    notes = [_near_flat_note(n) + where] if near else []
    if capped:
        notes.append(_dominance_note(n) + where)
    return min(lo, c_lo), max(hi, c_hi), near, capped, notes


def _near_flat_note(n: float) -> str:
    return (
        "nearly no spread: widened toward the interval of a sample without spread (the share "
        f"of cases that could differ, Wilson upper bound of 0 in {n:.1f}), which fades out as "
        "the spread grows"
    )


def _bounds_text(bounds: tuple[float, float]) -> str:
    return f"[{bounds[0]:g}, {bounds[1]:g}]"


def _flat_note(n: int, bounds: tuple[float, float]) -> str:
    return (
        "no spread to estimate, so the interval bounds the share of cases that could differ "
        f"(Wilson upper bound of 0 in {n}); valid for any variable on {_bounds_text(bounds)}"
    )


def _degenerate(
    x: np.ndarray,
    confidence: float,
    what: str,
    bounds: tuple[float, float] | None = None,
    n_eff: float | None = None,
    few: tuple[float, float] | None = None,
) -> Estimate | None:
    """The answers without a spread to estimate: no data, one case, or identical values.

    For a bounded metric one case or identical values get an interval valid for any variable
    on the bounds (:func:`_flat_bound`); only an unbounded measure gets the point.
    """
    if x.size == 0:
        return _point(0.0, 0, f"{what} (no data)", confidence, "no data: estimate set to 0")
    m = float(x.mean())
    spread = float(np.ptp(x))
    # A spread within rounding of the bounds (0.1 + 0.2 against 0.3), or one whose variance
    # underflows, is no spread: its t interval would have zero width.
    tiny = 1e-12 * (bounds[1] - bounds[0]) if bounds is not None else 0.0
    flat = x.size == 1 or spread <= tiny or float(x.std()) == 0.0
    if not flat:
        return None
    if bounds is not None:
        lo, hi = _flat_bound(m, x.size if n_eff is None else n_eff, confidence, bounds, few)
        why = "one case" if x.size == 1 else f"all {x.size} values are identical"
        note = f"{why}: {_flat_note(int(x.size), bounds)}"
        if n_eff is not None and n_eff < x.size:
            note += (
                f", on n_eff = {n_eff:.1f} for the clustering that no spread can rule out "
                "(as a perfect clustered pass rate)"
            )
        return Estimate(
            m, min(lo, m), max(hi, m), int(x.size), f"{what} (no spread: bounded)", confidence, note
        )
    if x.size == 1:
        note = "one case: no spread to estimate, the interval is the point"
        return _point(m, 1, f"{what} (n=1: no interval)", confidence, note)
    note = "every value is identical and the measure is unbounded: the interval is the point"
    return _point(m, int(x.size), f"{what} (zero variance)", confidence, note)
