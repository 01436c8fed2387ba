"""Pure statistics for eval results: intervals, paired tests, multiplicity, power.

numpy at module level; ``scipy.special`` only inside the functions that need a distribution
(``scipy.stats`` costs ten times as much to import and is never needed). Every random draw
comes from ``numpy.random.default_rng(seed)``, so results are reproducible by seed; the
bootstrap draws exactly the indices ``scipy.stats.bootstrap`` draws from the same generator.
Degenerate input (n=0, n=1, zero variance, all-zero differences) gives defined numbers and
says why in ``method`` or ``note``; nothing returns NaN. Non-finite input is a ValueError.

No interval is narrower than the data justify: a bounded metric (``bounds=(low, high)``) whose
sample shows no spread gets an interval valid for any variable on those bounds (at a bound, the
Wilson interval of n passes in n), never zero width; a clustered interval is never narrower
than the unclustered one.

The regression gate and power analysis live in :mod:`pytest_mleval.stats.power` and are re-exported.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bootstrap import (
    _check_confidence,
    _codes,
    _correlation,
    _finite,
    bootstrap_ci,
    cluster_bootstrap_ci,
    paired_bootstrap_ci,
)
from .power import (
    constant_baseline_report,
    min_detectable_effect,
    min_detectable_effect_binary,
    min_detectable_effect_constant_baseline,
    noninferiority_pvalue,
    paired_proportion_ci,
    regression_detected,
    required_n,
    required_n_binary,
    required_n_constant_baseline,
)
from .signflip import signflip_pvalue, wilcoxon_pvalue

__all__ = [
    "Estimate",
    "PairedResult",
    "average_repeats",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "clustered_mean_ci",
    "clustered_proportion_ci",
    "constant_baseline_report",
    "holm",
    "mcnemar_exact",
    "mean_ci",
    "min_detectable_effect",
    "min_detectable_effect_binary",
    "min_detectable_effect_constant_baseline",
    "noninferiority_pvalue",
    "paired_bootstrap_ci",
    "paired_proportion_ci",
    "paired_test",
    "permutation_pvalue",
    "proportion_ci",
    "regression_detected",
    "required_n",
    "required_n_binary",
    "required_n_constant_baseline",
    "sign_test",
    "wilcoxon_pratt",
]


MIN_CLUSTERS = 5
"""Below this many clusters the between-cluster variance rests on 1-3 degrees of freedom: the
clustered intervals then use t on C-1 degrees of freedom throughout (wide), and say so."""


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


def _t_quantile(confidence: float, df: float) -> float:
    from scipy import special

    return float(special.stdtrit(df, 0.5 + confidence / 2.0))


def _z(p: float) -> float:
    from scipy import special

    return float(special.ndtri(p))


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


def _few_failures_bounds(passes: int, n: int, size: float, q: float) -> tuple[float, float]:
    """The pass-rate interval that few failures (or few passes) cannot rule out.

    A design effect is estimated from how the minority outcome clusters, and with few
    failures it cannot show the clustering there is: a suite that happens to miss the bad
    clusters has few failures *and* a small estimated design effect, so the CR1 interval is
    too narrow exactly where a pass rate near 100 % is reported (issue 13: ICC 0.3 at 90-97 %
    covered 88-92 %). What the data do bound is the intra-cluster correlation: each of the k
    failures has ``size - 1`` cluster mates, T = k (size - 1) chances to see a failure
    co-occur beyond chance, and with none seen the correlation can still be as large as the
    Wilson upper bound of 0 in T, rho = q^2 / (T + q^2) (the rule-of-three bound used for
    samples without spread). The lower bound is Wilson on n / (1 + (size - 1) rho), which
    fades as failures accumulate (k = 25 of 50 in clusters of 10: design effect 1.15); the
    upper bound is the same with the passes. ``size`` is the size-weighted mean cluster
    size, sum m_j^2 / n, the usual one for a design effect; the rule depends only on n,
    the cluster sizes and the number of failures, never on where they fall.

    A perfect suite is taken as one failure away (k = 1), and each bound is the extreme over
    all suites of the same design with at least as many passes (lower) or at most as many
    (upper): a perfect suite never gets a lower ``ci_low`` than one with failures, and a
    ``ci_low`` gate never passes a worse run and fails a better one on this account.
    """

    def deff(k: np.ndarray) -> np.ndarray:
        t = np.maximum(k, 1.0) * (size - 1.0)
        out: np.ndarray = 1.0 + (size - 1.0) * q * q / (t + q * q)
        return out

    def wilson(p: np.ndarray, n_eff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        denom = 1.0 + q * q / n_eff
        centre = (p + q * q / (2.0 * n_eff)) / denom
        half = q * np.sqrt(p * (1.0 - p) / n_eff + q * q / (4.0 * n_eff * n_eff)) / denom
        return np.minimum(np.maximum(0.0, centre - half), p), np.maximum(
            np.minimum(1.0, centre + half), p
        )

    fails = np.arange(n - passes + 1, dtype=float)
    lows, _ = wilson(1.0 - fails / n, n / deff(fails))
    wins = np.arange(passes + 1, dtype=float)
    _, highs = wilson(wins / n, n / deff(wins))
    return float(lows.min()), float(highs.max())


def _check_bounds(bounds: tuple[float, float] | None) -> None:
    if bounds is not None and not (
        math.isfinite(bounds[0]) and math.isfinite(bounds[1]) and bounds[0] < bounds[1]
    ):
        raise ValueError(f"bounds must be finite with low < high, got {bounds!r}")


def _flat_bound(
    v: float, n: float, confidence: float, bounds: tuple[float, float]
) -> tuple[float, float]:
    """An interval for the mean of a variable on ``bounds`` whose n draws all equal ``v``.

    Valid for any distribution on the bounds: the mean differs from v only through the share
    q of the distribution away from v, at most q (v - low) below and q (high - v) above, and
    n draws all at v bound q by the Wilson upper bound of 0 successes in n, z^2 / (n + z^2)
    (the "rule of three" family). At v = high this is the Wilson interval of n passes in n,
    so a score of 1 everywhere reads as a pass rate of 100 % does.
    """
    lo, hi = bounds
    v = min(hi, max(lo, v))
    z = _z(0.5 + confidence / 2.0)
    q = z * z / (n + z * z)
    return v - q * (v - lo), v + q * (hi - v)


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
        lo, hi = _flat_bound(m, x.size if n_eff is None else n_eff, confidence, bounds)
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
            interval of n passes in n).

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
        h = _t_quantile(confidence, x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
        return Estimate(m, m - h, m + h, int(x.size), "t", confidence)
    return bootstrap_ci(
        x, np.mean, method=method, confidence=confidence, seed=seed, n_resamples=n_resamples
    )


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


def _cluster_setup(
    values: Any,
    clusters: Sequence[Hashable],
    confidence: float,
    what: str,
    why_plain: str,
    bounds: tuple[float, float] | None = None,
) -> Estimate | tuple[np.ndarray, np.ndarray, int]:
    """Checked values with integer cluster codes, or the answer when there is nothing to cluster.

    Shared by the CR1 interval and the cluster bootstrap: degenerate input gives its defined
    estimate (the no-spread bound for a bounded metric), and a single cluster falls back to the
    plain t interval with a note.
    """
    _check_confidence(confidence)
    _check_bounds(bounds)
    x = _finite(values)
    labels = list(clusters)
    if len(labels) != x.size:
        raise ValueError("values and clusters must have the same length")
    codes, c = _codes(labels)
    n_eff = None
    if c >= 2 and x.size:
        # Identical values in clusters: n / the design effect one differing case could not
        # rule out, as for a perfect clustered pass rate (see _few_failures_bounds).
        sizes = np.bincount(codes, minlength=c).astype(float)
        size = float(sizes @ sizes) / x.size
        z = _z(0.5 + confidence / 2.0)
        n_eff = x.size / (1.0 + (size - 1.0) * z * z / (size - 1.0 + z * z))
    degenerate = _degenerate(x, confidence, what, bounds, n_eff)
    if degenerate is not None:
        return degenerate
    if c < 2:
        plain = mean_ci(x, confidence=confidence, bounds=bounds)
        note = f"one cluster: {why_plain}, plain t interval"
        return Estimate(plain.estimate, plain.ci_low, plain.ci_high, plain.n, "t", confidence, note)
    return x, codes, c


def _cluster_variances(x: np.ndarray, codes: np.ndarray, c: int) -> tuple[float, float]:
    """(CR1 variance, naive variance) of the mean.

    CR1 is statsmodels' OLS on an intercept with ``cov_type="cluster"``:
    C/(C-1) * sum_g (sum_{i in g} (x_i - mean))^2 / n^2; the naive one is s^2 / n.
    """
    n = x.size
    scores = np.bincount(codes, x - float(x.mean()), c)
    cr1 = (c / (c - 1.0)) * float(scores @ scores) / (n * n)
    naive = float(x.var(ddof=1)) / n if n > 1 else 0.0
    return cr1, naive


def _few_clusters_note(c: int) -> str:
    return (
        f"only {c} clusters (< {MIN_CLUSTERS}): the between-cluster variance rests on "
        f"C-1 = {c - 1} degrees of freedom, so every standard error gets the t quantile on "
        "C-1 df (wide); the interval may still understate strong clustering"
    )


def clustered_mean_ci(
    values: Any,
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Mean with a cluster-robust interval that is never narrower than the unclustered one.

    The half-width is the larger of the CR1 interval's (t on C-1 degrees of freedom, the
    interval of statsmodels OLS on an intercept with ``cov_type="cluster"``) and the plain t
    interval's: clusters that are more alike than chance (identical cluster means) make the
    CR1 variance small or zero, which is no evidence of precision. A bounded score
    (``bounds``) also gets each interval's Wilson form (:func:`_wilson_bound_variance`) where
    that is wider: near the bound it reaches further away from it, as a skewed bounded score
    needs.

    Args:
        values: Per-case scores.
        clusters: Cluster label of each case (any hashable).
        confidence: Two-sided confidence level.
        bounds: The metric's range (``(0, 1)`` for scores), or ``None`` when unbounded; see
            :func:`mean_ci`.

    Returns:
        The estimate; ``method`` says which interval won. With one cluster, the plain t
        interval; with fewer than :data:`MIN_CLUSTERS` clusters a note says the interval
        rests on few degrees of freedom.
    """
    setup = _cluster_setup(
        values, clusters, confidence, "clustered t", "no between-cluster spread", bounds
    )
    if isinstance(setup, Estimate):
        return setup
    x, codes, c = setup
    n = int(x.size)
    m = float(x.mean())
    cr1, naive = _cluster_variances(x, codes, c)
    few = c < MIN_CLUSTERS
    h_cr1 = _t_quantile(confidence, c - 1) * math.sqrt(cr1)
    # The few-cluster fallback: the naive SE gets the C-1 quantile too, since with so few
    # clusters a small CR1 variance is weak evidence that the clustering does not matter.
    h_naive = _t_quantile(confidence, c - 1 if few else n - 1) * math.sqrt(naive)
    notes = []
    if h_cr1 >= h_naive:
        h, method = h_cr1, f"clustered t (CR1, {c} clusters)"
    else:
        h, method = h_naive, f"clustered t (naive t wider than CR1, {c} clusters)"
        notes.append(
            "the cluster-robust interval was narrower than the unclustered one (clusters more "
            "alike than chance): the naive standard error is used"
        )
    lo, hi = m - h, m + h
    if bounds is not None:
        # A bounded score near its bound: each t interval also gets its Wilson form (same
        # variance, same quantile), which is wider on the side away from the bound; at
        # mid-range the two agree. ICC 0.3 scores of mean 0.97 covered 79-91 % with t alone.
        q_naive = _t_quantile(confidence, c - 1 if few else n - 1)
        wide = False
        for var, q in ((cr1, _t_quantile(confidence, c - 1)), (naive, q_naive)):
            w_lo, w_hi = _wilson_bound_variance(m, var, q, bounds)
            if w_lo < lo - 1e-15 or w_hi > hi + 1e-15:
                lo, hi, wide = min(lo, w_lo), max(hi, w_hi), True
        if wide:
            method = method[:-1] + ", Wilson form near the bound)"
            notes.append(
                "near the bound the t interval is too symmetric for a skewed bounded score: "
                "widened to the Wilson interval with the same variance and quantile"
            )
    if few:
        notes.append(_few_clusters_note(c))
    return Estimate(m, lo, hi, n, method, confidence, "; ".join(notes) or None)


def clustered_proportion_ci(
    outcomes: Any, clusters: Sequence[Hashable], *, confidence: float = 0.95
) -> Estimate:
    """Pass rate of clustered pass/fail outcomes: Wilson on a design-effect-adjusted n.

    The design effect is the ratio of the cluster-robust (CR1) variance of the pass rate to
    the binomial one, p (1 - p) / n; the interval is the Wilson interval on the effective
    sample size n / deff with a t quantile on C-1 degrees of freedom, or the plain Wilson
    interval on n when that is wider, so it is never narrower than the unclustered one (the
    effective n is never above n). Few failures (or passes) cannot show how they cluster, so
    the interval is also never narrower than Wilson on n over the design effect those few
    cannot rule out (:func:`_few_failures_bounds`: the Wilson upper bound of the
    intra-cluster correlation from the failures' cluster mates; it fades as failures
    accumulate). A perfect suite is treated as one failure away, and that bound is monotone:
    more passes never lower ``ci_low``. With fewer than :data:`MIN_CLUSTERS` clusters the t
    quantile on C-1 degrees of freedom applies even at design effect 1.

    Args:
        outcomes: Per-case 0/1 outcomes.
        clusters: Cluster label of each case (any hashable).
        confidence: Two-sided confidence level.

    Returns:
        The estimate; ``note`` gives the design effect and the effective n.
    """
    _check_confidence(confidence)
    x = _finite(outcomes, "outcomes")
    labels = list(clusters)
    if len(labels) != x.size:
        raise ValueError("outcomes and clusters must have the same length")
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("clustered_proportion_ci needs 0/1 outcomes")
    n = int(x.size)
    k = int(x.sum())
    plain = proportion_ci(k, n, confidence=confidence)
    if n == 0:
        return plain
    codes, c = _codes(labels)
    if c < 2:
        note = "one cluster: no between-cluster spread to estimate, plain Wilson interval"
        return Estimate(plain.estimate, plain.ci_low, plain.ci_high, n, "wilson", confidence, note)
    p = k / n
    cr1, _ = _cluster_variances(x, codes, c)
    binomial = p * (1.0 - p) / n
    notes = []
    few = c < MIN_CLUSTERS
    plain_text = "" if few else " (plain Wilson on n)"
    if binomial == 0.0:
        deff = 1.0
        notes.append(
            f"every case {'passed' if k == n else 'failed'}: the design effect cannot be "
            f"estimated from the data (1 for the CR1 part){plain_text}"
        )
    else:
        deff = max(1.0, cr1 / binomial)
    n_eff = n / deff
    lo, hi = plain.ci_low, plain.ci_high
    if deff > 1.0 or few:
        # With few clusters the C-1 quantile applies even at design effect 1 (see
        # clustered_mean_ci): the fallback when the clustering cannot be estimated well.
        c_lo, c_hi = _wilson(p, n_eff, _t_quantile(confidence, c - 1))
        lo, hi = min(lo, c_lo), max(hi, c_hi)
    # Few failures (or passes) cannot show their clustering: the design effect they cannot
    # rule out (see _few_failures_bounds). Chosen over a G* / Satterthwaite df from how
    # concentrated the failures are (one failure gives ~1.5 df: a t quantile of ~13, and a
    # 49/50 suite no narrower than [0.2, 1]) and over n_eff = clusters for a perfect suite
    # (valid for any correlation, but a perfect suite would then read worse than one with a
    # failure); this one is placement-free, so it is monotone in the passes by construction.
    sizes = np.bincount(codes, minlength=c).astype(float)
    f_lo, f_hi = _few_failures_bounds(k, n, float(sizes @ sizes) / n, _z(0.5 + confidence / 2.0))
    if f_lo < lo - 1e-15 or f_hi > hi + 1e-15:
        notes.append(
            f"widened to the design effect that {min(k, n - k)} "
            f"{'failures' if n - k <= k else 'passes'} cannot rule out (Wilson upper bound "
            "of the intra-cluster correlation from their cluster mates)"
        )
        lo, hi = min(lo, f_lo), max(hi, f_hi)
    if deff > 1.0:
        notes.append(
            f"design effect {deff:.2f} (cluster-robust over binomial variance): Wilson on "
            f"n_eff = {n_eff:.1f} of {n} cases with t on {c - 1} df"
        )
    elif binomial > 0.0:
        notes.append(
            "design effect 1: the cluster-robust variance is not above the binomial "
            f"one{plain_text}"
        )
    if few:
        notes.append(_few_clusters_note(c))
    method = f"wilson, clustered (design effect {deff:.2f}, {c} clusters)"
    return Estimate(p, lo, hi, n, method, confidence, "; ".join(notes))


# --- paired tests ----------------------------------------------------------------------------


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
    from scipy import special

    return float(special.bdtr(k, n, 0.5))


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
            from scipy import special

            tstat = diff / (sd / math.sqrt(n))
            p = float(2.0 * special.stdtr(n - 1, -abs(tstat)))
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
