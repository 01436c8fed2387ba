"""Prediction-powered inference (PPI) of a mean: a judge's scores on every case, corrected by
human labels on a few, give an estimate of the human-scale mean with a valid interval.

With ``n`` labelled cases (human score ``Y``, judge score ``Ŷ``) and ``N`` cases the judge
alone scored (``Ŷᵘ``), the estimate (Angelopoulos, Bates, Fannjiang, Jordan, Zrnic, *Science*
2023; the power-tuned PPI++ of Angelopoulos, Duchi, Zrnic, 2024) is

    θ̂(λ) = λ · mean(Ŷᵘ) + mean(Y − λ Ŷ),

unbiased for the mean of ``Y`` for every fixed λ whatever the judge's bias: the labelled
cases measure the judge's error (the *rectifier*) and remove it. Its variance is the sum of
the two independent parts,

    se² = Var(λ Ŷᵘ) / N + Var(Y − λ Ŷ) / n,        θ̂ ± q · se.

λ = 1 is plain PPI; λ = 0 uses the labels alone (the classical interval). PPI++ picks the λ
that minimises se², ``λ̂ = Cov(Y, Ŷ) / ((1 + n/N) Var(Ŷ))``, clipped to [0, 1], so the
interval is (asymptotically) never wider than the labels-only one and a judge that tells
nothing about people (Cov ≤ 0) falls back to it.

Two intervals (``interval=``):

- ``"normal"``: ``ppi_py``'s numerics exactly (``ppi_mean_ci``, ``ppi_mean_pointestimate``,
  ``classical_mean_ci``; ``tests/stats/test_ppi.py`` checks them to 1e-12): variances with
  divisor n and N (``np.std``) and the normal quantile ``q = z₁₋α/₂``.
- ``"t"`` (the default, what a run reports): the same estimate and λ̂, the variances with
  divisors n − 1 and N − 1, and Student's quantile with n − 1 degrees of freedom, as the
  t interval of a mean corrects the normal one. With 50 labels the normal interval covers
  92-93 % where 95 % is asked (λ̂ is fitted on the same labels); this one 93.5-94.6 %
  (``bench/stats_simulation.py``, issue 19). The two agree as n grows.

Either way λ̂ is ``ppi_py``'s: the covariance with divisor n over the labelled cases, the
judge's variance over all n + N judged cases with divisor n + N − 1. Quantiles are pure
Python (``_dist``); no scipy.

Degenerate input gives defined numbers and says why in ``method`` and ``note``: no labels
(0, as :func:`mean_ci` with no data), one label or no unlabelled case (the labels alone), a
judge without spread (λ = 0: it cannot inform), and, for a bounded score with no spread left
to estimate, the interval that is valid for any variable on the bounds (never zero width).

Labels must be a random sample of the judged cases (or the estimate is of the labelled
cases' kind of case, not of the suite's); the interval is a large-sample one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._common import (
    Estimate,
    _bounded_widening,
    _check_bounds,
    _check_confidence,
    _degenerate,
    _finite,
    _flat_bound,
    _flat_note,
    _z,
)
from ._dist import stdtrit

__all__ = [
    "LabelPlan",
    "PPIResult",
    "classical_mean_ci",
    "ppi_labels_needed",
    "ppi_lambda",
    "ppi_mean_ci",
]


@dataclass(frozen=True)
class PPIResult:
    """A prediction-powered estimate of a mean with its interval and what it is made of."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    """Labelled cases (human and judge score)."""
    n_unlabelled: int
    """Cases only the judge scored."""
    lam: float
    """The weight of the judge's scores (1: plain PPI, 0: the labels alone)."""
    se: float
    """Standard error of the estimate."""
    method: str
    confidence: float = 0.95
    note: str | None = None
    judge_bias: float = 0.0
    """Mean of judge minus human score on the labelled cases (the judge's measured bias)."""


@dataclass(frozen=True)
class LabelPlan:
    """How many labels a PPI++ interval of a target width needs (:func:`ppi_labels_needed`)."""

    labels: int
    """Labels now."""
    judged: int
    """Every judged case (labelled or not): the most labels there can be."""
    width: float
    """Width of the interval now."""
    target_width: float
    """The width asked for."""
    labels_needed: int | None
    """Labels (in all) for an interval at most ``target_width`` wide; ``None`` when labelling
    every judged case would not do."""
    best_width: float
    """The narrowest interval labelling more of the judged cases could give."""
    confidence: float = 0.95

    @property
    def more(self) -> int | None:
        """Labels to add (0 when the interval is already narrow enough)."""
        return None if self.labels_needed is None else max(0, self.labels_needed - self.labels)


def _pairs(y: Any, yhat: Any, yhat_unlabelled: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_ = _finite(y, "human scores")
    f = _finite(yhat, "judge scores of the labelled cases")
    fu = _finite(yhat_unlabelled, "judge scores of the unlabelled cases")
    if y_.size != f.size:
        raise ValueError(
            f"human and judge scores of the labelled cases differ in length ({y_.size} and "
            f"{f.size})"
        )
    return y_, f, fu


def _tuned_lambda(y: np.ndarray, f: np.ndarray, fu: np.ndarray) -> float:
    n, big_n = y.size, fu.size
    if n < 2 or big_n == 0:
        return 0.0
    cov = float(np.mean((y - y.mean()) * (f - f.mean())))
    var_all = float(np.var(np.concatenate([f, fu]), ddof=1))
    if var_all <= 0.0:
        return 0.0  # a judge without spread carries no information about people
    return min(1.0, max(0.0, cov / ((1.0 + n / big_n) * var_all)))


def ppi_lambda(y: Any, yhat: Any, yhat_unlabelled: Any) -> float:
    """The PPI++ power-tuning weight of the judge's scores.

    ``λ̂ = Cov(Y, Ŷ) / ((1 + n/N) Var(Ŷ))`` clipped to [0, 1]: the λ minimising the variance
    of :func:`ppi_mean_ci`'s estimate (covariance over the labelled cases with divisor n,
    variance of the judge over all n + N cases with divisor n + N - 1, as ``ppi_py``).

    Args:
        y: Human scores of the labelled cases.
        yhat: Judge scores of the same cases, in the same order.
        yhat_unlabelled: Judge scores of the cases without a label.

    Returns:
        λ in [0, 1]; 0 when it cannot be estimated (fewer than 2 labels, no unlabelled case,
        a judge whose scores are all equal).
    """
    return _tuned_lambda(*_pairs(y, yhat, yhat_unlabelled))


Interval = Literal["t", "normal"]


def _check_interval(interval: str) -> None:
    if interval not in ("t", "normal"):
        raise ValueError(f"interval must be 't' or 'normal', got {interval!r}")


def _quantile(confidence: float, interval: str, df: float) -> float:
    """The two-sided quantile: normal, or Student's t on ``df`` degrees of freedom."""
    p = 0.5 + confidence / 2.0
    return _z(p) if interval == "normal" else stdtrit(df, p)


def _t_quantiles(confidence: float, dfs: np.ndarray) -> np.ndarray:
    """Student's quantiles for many degrees of freedom: exact up to 300 and for the first
    (the interval now), beyond 300 the Cornish-Fisher expansion to the 1/df⁴ term
    (Abramowitz and Stegun 26.7.5; relative error below 1e-11 there at 99.9 %, far less at
    95 %), so planning over thousands of cases stays cheap."""
    p = 0.5 + confidence / 2.0
    z = _z(p)
    out = np.empty(dfs.size)
    exact = dfs <= 300
    exact[:1] = True
    out[exact] = [stdtrit(float(d), p) for d in dfs[exact]]
    nu = dfs[~exact]
    out[~exact] = (
        z
        + (z**3 + z) / (4 * nu)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * nu**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * nu**4)
    )
    return out


def _labels_only(
    y: np.ndarray,
    confidence: float,
    bounds: tuple[float, float] | None,
    what: str,
    interval: str,
) -> Estimate:
    """The labels' own interval: t (:func:`mean_ci`'s) or normal (``ppi_py``'s); with
    ``bounds``, also the widenings of a bounded sample (:func:`_labels_widened`)."""
    degenerate = _degenerate(y, confidence, what, bounds)
    if degenerate is not None:
        return degenerate
    m = float(y.mean())
    ddof = 1 if interval == "t" else 0
    q = _quantile(confidence, interval, y.size - 1)
    h = q * float(y.std(ddof=ddof)) / math.sqrt(y.size)
    lo, hi, notes = _labels_widened(y, m - h, m + h, confidence, bounds)
    return Estimate(m, lo, hi, int(y.size), what, confidence, "; ".join(notes) or None)


def _labels_widened(
    y: np.ndarray,
    lo: float,
    hi: float,
    confidence: float,
    bounds: tuple[float, float] | None,
) -> tuple[float, float, list[str]]:
    """An interval that rests on the labels alone, widened as :func:`mean_ci` widens a
    bounded sample: toward the no-spread interval when the labels nearly have none, and never
    tighter than the labels all at their maximum (minimum) would read. Without it 19 labels
    of 1.0 and one of 0.99 beside a judge that scored every case 1.0 read ``ci_low`` 0.998,
    twenty 1.0s 0.839, so a gate on the human-scale mean failed the perfect suite."""
    if bounds is None:
        return lo, hi, []
    lo, hi, *_, notes = _bounded_widening(y, lo, hi, y.size, confidence, bounds)
    return lo, hi, notes


def classical_mean_ci(
    y: Any,
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
    interval: Interval = "t",
) -> Estimate:
    """The labels-only interval PPI is compared with.

    ``interval="t"`` is :func:`mean_ci`'s t interval; ``"normal"`` is mean ± z · sd / √n
    with sd of divisor n, ``ppi_py.classical_mean_ci``. Compare it with :func:`ppi_mean_ci`
    of the same ``interval``.

    Args:
        y: Human scores.
        confidence: Two-sided confidence level.
        bounds: The range the score cannot leave, for samples without spread (see
            :func:`mean_ci`).
        interval: ``"t"`` or ``"normal"``.

    Returns:
        The estimate; no data, one value or no spread say why in ``method`` and ``note``.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    _check_interval(interval)
    what = "t" if interval == "t" else "classical (normal)"
    return _labels_only(_finite(y, "human scores"), confidence, bounds, what, interval)


def ppi_mean_ci(
    y: Any,
    yhat: Any,
    yhat_unlabelled: Any,
    *,
    confidence: float = 0.95,
    lam: float | None = None,
    bounds: tuple[float, float] | None = None,
    interval: Interval = "t",
) -> PPIResult:
    """The prediction-powered estimate of the human-scale mean and its interval.

    Args:
        y: Human scores of the labelled cases.
        yhat: Judge scores of the same cases, in the same order.
        yhat_unlabelled: Judge scores of the cases without a label.
        confidence: Two-sided confidence level.
        lam: The judge's weight: ``None`` tunes it (PPI++, :func:`ppi_lambda`), ``1`` is
            plain PPI, ``0`` the labels alone.
        bounds: The range the score cannot leave (``(0, 1)``): without any spread left to
            estimate, the interval is then the one valid for any variable on the bounds over
            the n labels, never the point; and where the judge carries nothing (λ = 0, or
            no spread) the labels' interval gets :func:`mean_ci`'s bounded widenings, so it
            never reads better than the labels all at their best value would.
        interval: ``"t"`` (variances of divisor n - 1 and N - 1, Student's quantile on n - 1
            degrees of freedom) or ``"normal"`` (``ppi_py``'s: divisors n and N, the normal
            quantile). With one judged-only case its variance is that of every judged case.

    Returns:
        The estimate; ``method`` names PPI++ or PPI, the interval, λ and the counts.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    _check_interval(interval)
    if lam is not None and not math.isfinite(lam):
        raise ValueError(f"lam must be finite, got {lam!r}")
    y_, f, fu = _pairs(y, yhat, yhat_unlabelled)
    n, big_n = int(y_.size), int(fu.size)
    bias = float(np.mean(f - y_)) if n else 0.0
    if n < 2 or big_n == 0:
        why = (
            "no labels" if n == 0 else ("one label" if n == 1 else "every judged case is labelled")
        )
        est = _labels_only(y_, confidence, bounds, f"labels only ({why})", interval)
        note = (
            f"{why}: the judge's scores cannot be corrected, so the interval is the labels' own"
            + (f"; {est.note}" if est.note else "")
        )
        q = _quantile(confidence, interval, max(n - 1, 1))
        return PPIResult(
            est.estimate,
            est.ci_low,
            est.ci_high,
            n,
            big_n,
            0.0,
            (est.ci_high - est.ci_low) / (2.0 * q),
            est.method,
            confidence,
            note,
            bias,
        )
    tuned = lam is None
    weight = _tuned_lambda(y_, f, fu) if lam is None else float(lam)
    rectifier = y_ - weight * f
    estimate = weight * float(fu.mean()) + float(rectifier.mean())
    ddof = 1 if interval == "t" else 0
    judged = fu if big_n > ddof else np.concatenate([f, fu])
    var_judge = weight * weight * float(np.var(judged, ddof=ddof))
    se = math.sqrt(var_judge / big_n + float(np.var(rectifier, ddof=ddof)) / n)
    name = "ppi++" if tuned else "ppi"
    method = f"{name} ({interval}, lambda={weight:.3g}; {n} labelled, {big_n} judged only)"
    notes = []
    if tuned and float(np.ptp(np.concatenate([f, fu]))) == 0.0:
        notes.append("the judge gave every case the same score, so only the labels inform")
    if se == 0.0:
        if bounds is None:
            notes.append("no spread to estimate and the measure is unbounded: the point")
            return PPIResult(
                estimate,
                estimate,
                estimate,
                n,
                big_n,
                weight,
                0.0,
                method,
                confidence,
                "; ".join(notes),
                bias,
            )
        lo, hi = _flat_bound(estimate, n, confidence, bounds)
        notes.append(f"neither the labels nor the judge vary: {_flat_note(n, bounds)}")
        return PPIResult(
            estimate,
            min(lo, estimate),
            max(hi, estimate),
            n,
            big_n,
            weight,
            0.0,
            method + " (no spread: bounded)",
            confidence,
            "; ".join(notes),
            bias,
        )
    h = _quantile(confidence, interval, n - 1) * se
    lo, hi = estimate - h, estimate + h
    if weight == 0.0 or float(np.ptp(np.concatenate([f, fu]))) == 0.0:
        # The judge carries nothing (no weight, or no spread): the interval is the labels'
        # own, and gets the labels' bounded widenings.
        lo, hi, more = _labels_widened(y_, lo, hi, confidence, bounds)
        notes += more
    return PPIResult(
        estimate,
        lo,
        hi,
        n,
        big_n,
        weight,
        se,
        method,
        confidence,
        "; ".join(notes) or None,
        bias,
    )


def ppi_labels_needed(
    y: Any,
    yhat: Any,
    yhat_unlabelled: Any,
    target_width: float,
    *,
    confidence: float = 0.95,
    interval: Interval = "t",
) -> LabelPlan:
    """How many of the judged cases must carry a label for a PPI++ interval this narrow.

    Labels are drawn from the cases the judge scored (``T = n + N`` of them): with ``m``
    labels the interval's width is, by the plug-in moments of the data now,

        w(m) = 2 q(m) √( k (σ²_Y − 2 λ c + λ² σ²_Ŷ) / m  +  λ² σ²_u / (T − m) ),
        λ = clip(c / ((1 + m / (T − m)) σ²_all), 0, 1),

    where ``σ²_Y``, ``c`` and ``σ²_Ŷ`` are the variance of the human scores, their covariance
    with the judge's and the judge's variance on the labelled cases (divisor n), ``σ²_all``
    the judge's variance over all of them (divisor T - 1), and, as :func:`ppi_mean_ci`
    computes them: for ``interval="t"``, ``k = n / (n - 1)``, ``σ²_u`` the judge's variance
    on the unlabelled cases with divisor N - 1 and ``q(m)`` Student's quantile on m - 1
    degrees of freedom; for ``"normal"``, ``k = 1``, divisor N and the normal quantile. At
    ``m = n`` this is the width :func:`ppi_mean_ci` reports, and at ``m = T`` (λ = 0) the
    labels-only width over every case. The smallest ``m ≥ n`` with ``w(m) ≤ target`` is
    returned (every m is tried: no monotonicity is assumed). The moments are those of the
    labels already there, so a plan from few labels is itself rough.

    Args:
        y: Human scores of the labelled cases.
        yhat: Judge scores of the same cases.
        yhat_unlabelled: Judge scores of the cases without a label.
        target_width: The interval width wanted (``ci_high - ci_low``).
        confidence: Two-sided confidence level.
        interval: ``"t"`` or ``"normal"``, as :func:`ppi_mean_ci`.

    Returns:
        The plan; ``labels_needed`` is ``None`` when even labelling every judged case would
        leave the interval wider than the target (``best_width`` says how narrow it gets).

    Raises:
        ValueError: with fewer than 2 labels (no variance to plan with) or a target that is
            not positive.
    """
    _check_confidence(confidence)
    _check_interval(interval)
    if not (math.isfinite(target_width) and target_width > 0.0):
        raise ValueError(f"target_width must be a positive number, got {target_width!r}")
    y_, f, fu = _pairs(y, yhat, yhat_unlabelled)
    n, big_n = int(y_.size), int(fu.size)
    if n < 2:
        raise ValueError("planning labels needs at least 2 labelled cases (for the variances)")
    total = n + big_n
    t_mode = interval == "t"
    k = n / (n - 1) if t_mode else 1.0
    var_y = float(np.var(y_))
    var_f = float(np.var(f))
    cov = float(np.mean((y_ - y_.mean()) * (f - f.mean())))
    ddof = 1 if t_mode else 0
    judged = fu if big_n > ddof else np.concatenate([f, fu])
    var_u = float(np.var(judged, ddof=ddof)) if big_n else 0.0
    var_all = float(np.var(np.concatenate([f, fu]), ddof=1)) if total > 1 else 0.0
    m = np.arange(n, total + 1, dtype=float)
    rest = total - m
    safe = np.where(rest > 0, rest, 1.0)
    if var_all > 0.0:
        lam = np.where(rest > 0, np.clip(cov / ((1.0 + m / safe) * var_all), 0.0, 1.0), 0.0)
    else:
        lam = np.zeros_like(m)
    judge_part = np.where(rest > 0, lam**2 * var_u / safe, 0.0)
    rect = k * np.maximum(var_y - 2.0 * lam * cov + lam**2 * var_f, 0.0)
    q = _t_quantiles(confidence, m - 1) if t_mode else _z(0.5 + confidence / 2.0)
    widths = 2.0 * q * np.sqrt(rect / m + judge_part)
    ok = np.nonzero(widths <= target_width * (1.0 + 1e-12))[0]
    return LabelPlan(
        labels=n,
        judged=total,
        width=float(widths[0]),
        target_width=float(target_width),
        labels_needed=int(m[ok[0]]) if ok.size else None,
        best_width=float(widths.min()),
        confidence=confidence,
    )
