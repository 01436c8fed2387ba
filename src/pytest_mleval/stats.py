"""Pure statistics for eval results: intervals, paired tests, multiplicity, power.

numpy at module level; scipy only inside the functions that need a distribution. Every random
draw comes from ``numpy.random.default_rng(seed)``, so results are reproducible by seed.
Degenerate input (n=0, n=1, zero variance) gives defined numbers and says why in ``method``
or ``note``; nothing returns NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Estimate",
    "PairedResult",
    "average_repeats",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "clustered_mean_ci",
    "holm",
    "mcnemar_exact",
    "mean_ci",
    "min_detectable_effect",
    "noninferiority_pvalue",
    "paired_bootstrap_ci",
    "paired_test",
    "permutation_pvalue",
    "proportion_ci",
    "regression_detected",
    "required_n",
    "sign_test",
    "wilcoxon_pratt",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval."""

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


def _arr(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def average_repeats(
    keys: Sequence[Hashable], values: Sequence[float]
) -> tuple[list[Hashable], np.ndarray]:
    """Per-key means in first-seen order (repeats of a case averaged before any statistic)."""
    sums: dict[Hashable, list[float]] = {}
    for k, v in zip(keys, values, strict=True):
        sums.setdefault(k, []).append(float(v))
    return list(sums), np.array([sum(v) / len(v) for v in sums.values()])


def _t_quantile(confidence: float, df: int) -> float:
    from scipy import stats as st

    return float(st.t.ppf(0.5 + confidence / 2, df))


def _z(confidence: float) -> float:
    from scipy import stats as st

    return float(st.norm.ppf(0.5 + confidence / 2))


def _degenerate(x: np.ndarray, confidence: float, what: str) -> Estimate | None:
    if x.size == 0:
        return Estimate(
            0.0, 0.0, 0.0, 0, f"{what} (no data)", confidence, "no data: estimate set to 0"
        )
    m = float(x.mean())
    if x.size == 1:
        return Estimate(
            m,
            m,
            m,
            1,
            f"{what} (n=1: no interval)",
            confidence,
            "one case: the interval is the point",
        )
    if float(np.ptp(x)) == 0.0:
        return Estimate(
            m, m, m, int(x.size), f"{what} (zero variance)", confidence, "every value is identical"
        )
    return None


def mean_ci(
    values: Any,
    *,
    confidence: float = 0.95,
    method: str = "t",
    seed: int | None = None,
    n_resamples: int = 10_000,
) -> Estimate:
    """Mean with a t interval, or a BCa / percentile bootstrap interval."""
    x = _arr(values)
    degenerate = _degenerate(x, confidence, method)
    if degenerate is not None:
        return degenerate
    if method == "t":
        se = float(x.std(ddof=1) / math.sqrt(x.size))
        h = _t_quantile(confidence, x.size - 1) * se
        m = float(x.mean())
        return Estimate(m, m - h, m + h, int(x.size), "t", confidence)
    return bootstrap_ci(
        x, np.mean, method=method, confidence=confidence, seed=seed, n_resamples=n_resamples
    )


def proportion_ci(
    successes: int, n: int, *, confidence: float = 0.95, method: str = "wilson"
) -> Estimate:
    """A proportion with a Wilson score (default) or Clopper-Pearson interval."""
    if n <= 0:
        return Estimate(
            0.0, 0.0, 0.0, 0, f"{method} (no data)", confidence, "no data: estimate set to 0"
        )
    p = successes / n
    if method == "wilson":
        z = _z(confidence)
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        return Estimate(
            p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson", confidence
        )
    if method in ("clopper-pearson", "beta"):
        from scipy import stats as st

        alpha = 1 - confidence
        lo = 0.0 if successes == 0 else float(st.beta.ppf(alpha / 2, successes, n - successes + 1))
        hi = (
            1.0
            if successes == n
            else float(st.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
        )
        return Estimate(p, lo, hi, n, "clopper-pearson", confidence)
    raise ValueError(f"unknown proportion interval {method!r}")


def clustered_mean_ci(
    values: Any, clusters: Sequence[Hashable], *, confidence: float = 0.95
) -> Estimate:
    """Mean with a cluster-robust (CR1) standard error and t on C-1 degrees of freedom."""
    x = _arr(values)
    degenerate = _degenerate(x, confidence, "clustered t")
    if degenerate is not None:
        return degenerate
    labels = list(clusters)
    groups: dict[Hashable, list[int]] = {}
    for i, c in enumerate(labels):
        groups.setdefault(c, []).append(i)
    n, c = x.size, len(groups)
    if c < 2:
        return mean_ci(x, confidence=confidence)
    m = float(x.mean())
    resid = x - m
    scores = np.array([resid[idx].sum() for idx in groups.values()])
    # CR1 small-sample factor for an intercept-only model: C/(C-1) * (n-1)/(n-k), k=1.
    var = (c / (c - 1)) * float((scores**2).sum()) / (n * n)
    se = math.sqrt(var)
    h = _t_quantile(confidence, c - 1) * se
    return Estimate(m, m - h, m + h, n, f"clustered t (CR1, {c} clusters)", confidence)


def _resample_stats(data: np.ndarray, statistic: Callable[..., Any], idx: np.ndarray) -> np.ndarray:
    out = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        out[i] = float(statistic(data[idx[i]]))
    return out


def bootstrap_ci(
    data: Any,
    statistic: Callable[..., Any] = np.mean,
    *,
    method: str = "bca",
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
) -> Estimate:
    """Bootstrap interval of ``statistic`` (BCa or percentile) over the rows of ``data``."""
    x = np.asarray(data, dtype=float)
    n = x.shape[0] if x.ndim else 0
    point = float(statistic(x)) if n else 0.0
    if n < 2 or float(np.ptp(x)) == 0.0:
        why = "no data" if n == 0 else ("n=1" if n == 1 else "zero variance")
        return Estimate(point, point, point, n, f"{method} bootstrap ({why})", confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    if statistic is np.mean and x.ndim == 1:
        boots = x[idx].mean(axis=1)
    else:
        boots = _resample_stats(x, statistic, idx)
    alpha = 1 - confidence
    if method == "percentile":
        lo, hi = np.percentile(boots, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        return Estimate(point, float(lo), float(hi), n, "percentile bootstrap", confidence)
    if method != "bca":
        raise ValueError(f"unknown bootstrap method {method!r}")
    from scipy import stats as st

    prop = float(np.mean(boots < point)) + 0.5 * float(np.mean(boots == point))
    prop = min(max(prop, 1 / (2 * n_resamples)), 1 - 1 / (2 * n_resamples))
    z0 = float(st.norm.ppf(prop))
    jack = np.array([float(statistic(np.delete(x, i, axis=0))) for i in range(n)])
    d = jack.mean() - jack
    denom = 6.0 * float((d**2).sum()) ** 1.5
    a = float((d**3).sum()) / denom if denom > 0 else 0.0
    za = st.norm.ppf([alpha / 2, 1 - alpha / 2])
    adj = st.norm.cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
    lo, hi = np.percentile(boots, 100 * adj)
    return Estimate(point, float(lo), float(hi), n, "BCa bootstrap", confidence)


def cluster_bootstrap_ci(
    values: Any,
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
) -> Estimate:
    """Percentile interval of the mean, resampling whole clusters."""
    x = _arr(values)
    degenerate = _degenerate(x, confidence, "cluster bootstrap")
    if degenerate is not None:
        return degenerate
    groups: dict[Hashable, list[int]] = {}
    for i, c in enumerate(clusters):
        groups.setdefault(c, []).append(i)
    sums = np.array([x[idx].sum() for idx in groups.values()])
    sizes = np.array([len(idx) for idx in groups.values()], dtype=float)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(sums), size=(n_resamples, len(sums)))
    boots = sums[pick].sum(axis=1) / sizes[pick].sum(axis=1)
    alpha = 1 - confidence
    lo, hi = np.percentile(boots, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Estimate(
        float(x.mean()),
        float(lo),
        float(hi),
        int(x.size),
        f"cluster bootstrap ({len(sums)} clusters)",
        confidence,
    )


def permutation_pvalue(
    diffs: Any,
    *,
    seed: int | None = None,
    n_resamples: int = 10_000,
    alternative: str = "two-sided",
) -> float:
    """Sign-flip permutation p-value of the mean paired difference.

    Exact enumeration of all 2^n sign patterns when n <= 20, else Monte Carlo with
    p = (count + 1) / (R + 1).
    """
    d = _arr(diffs)
    n = d.size
    if n == 0 or not np.any(d):
        return 1.0
    observed = float(d.mean())

    def extreme(means: np.ndarray) -> np.ndarray:
        tol = 1e-12 * max(1.0, abs(observed))
        if alternative == "greater":
            return means >= observed - tol
        if alternative == "less":
            return means <= observed + tol
        out: np.ndarray = np.abs(means) >= abs(observed) - tol
        return out

    if n <= 20:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        means = (signs * d).mean(axis=1)
        return float(extreme(means).mean())
    rng = np.random.default_rng(seed)
    count = 0
    for start in range(0, n_resamples, 2000):
        m = min(2000, n_resamples - start)
        signs = rng.choice((-1.0, 1.0), size=(m, n))
        count += int(extreme((signs * d).mean(axis=1)).sum())
    return (count + 1) / (n_resamples + 1)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact (binomial) McNemar p-value from the discordant counts b and c."""
    if b + c == 0:
        return 1.0
    from scipy import stats as st

    return float(min(1.0, st.binomtest(min(b, c), b + c, 0.5).pvalue))


def sign_test(diffs: Any) -> float:
    """Exact two-sided sign test on the non-zero differences."""
    d = _arr(diffs)
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    if pos + neg == 0:
        return 1.0
    from scipy import stats as st

    return float(st.binomtest(pos, pos + neg, 0.5).pvalue)


def wilcoxon_pratt(diffs: Any) -> float:
    """Wilcoxon signed-rank p-value with Pratt's treatment of zero differences."""
    d = _arr(diffs)
    if d.size == 0 or not np.any(d):
        return 1.0
    from scipy import stats as st

    return float(st.wilcoxon(d, zero_method="pratt").pvalue)


def _t_interval(d: np.ndarray, confidence: float) -> tuple[float, float, float]:
    m = float(d.mean()) if d.size else 0.0
    if d.size < 2:
        return m, m, m
    sd = float(d.std(ddof=1))
    h = _t_quantile(confidence, d.size - 1) * sd / math.sqrt(d.size) if sd > 0 else 0.0
    return m, m - h, m + h


def paired_test(
    baseline: Any,
    candidate: Any,
    *,
    test: str = "permutation",
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 10_000,
) -> PairedResult:
    """Paired comparison: mean difference (candidate - baseline) with a t interval and a p-value.

    ``test``: permutation (sign-flip), wilcoxon (Pratt), sign, mcnemar (0/1 scores), t.
    """
    b, c = _arr(baseline), _arr(candidate)
    if b.size != c.size:
        raise ValueError("baseline and candidate must be paired (same length)")
    d = c - b
    n = int(d.size)
    diff, lo, hi = _t_interval(d, confidence)
    corr: float | None = None
    if n > 2 and float(b.std()) > 0 and float(c.std()) > 0:
        corr = float(np.corrcoef(b, c)[0, 1])
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    note = None
    if n == 0:
        return PairedResult(
            0.0, 0.0, 0.0, 1.0, 0, f"{test} (no pairs)", None, confidence, "no paired cases"
        )
    if not np.any(d):
        return PairedResult(
            0.0,
            0.0,
            0.0,
            1.0,
            n,
            f"{test} (no differences)",
            corr,
            confidence,
            "identical scores",
            0.0,
        )
    if test == "permutation":
        p = permutation_pvalue(d, seed=seed, n_resamples=n_resamples)
        method = (
            "sign-flip permutation (exact)"
            if n <= 20
            else f"sign-flip permutation ({n_resamples} resamples)"
        )
    elif test == "mcnemar":
        if not (np.isin(b, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all()):
            raise ValueError("mcnemar needs 0/1 scores")
        nb = int(((b == 1) & (c == 0)).sum())
        nc = int(((b == 0) & (c == 1)).sum())
        p = mcnemar_exact(nb, nc)
        method = f"exact McNemar ({nb} pass→fail, {nc} fail→pass)"
    elif test == "wilcoxon":
        p, method = wilcoxon_pratt(d), "Wilcoxon signed-rank (Pratt)"
    elif test == "sign":
        p, method = sign_test(d), "sign test"
    elif test == "t":
        if sd == 0:
            p = 0.0
            note = "constant non-zero difference"
        else:
            from scipy import stats as st

            p = float(st.ttest_1samp(d, 0.0).pvalue)
        method = "paired t"
    else:
        raise ValueError(f"unknown paired test {test!r}")
    if sd == 0:
        note = note or "every paired difference is identical: the interval is the point"
    return PairedResult(diff, lo, hi, float(p), n, method, corr, confidence, note, sd)


def paired_bootstrap_ci(
    baseline_items: Sequence[Any],
    candidate_items: Sequence[Any],
    statistic: Callable[[Sequence[Any]], float],
    *,
    confidence: float = 0.95,
    seed: int | None = None,
    n_resamples: int = 2_000,
) -> PairedResult:
    """Interval of statistic(candidate) - statistic(baseline), resampling cases jointly.

    For non-mean metrics such as corpus BLEU. The p-value is the two-sided bootstrap
    proportion of resampled differences on the far side of zero.
    """
    n = len(baseline_items)
    if n != len(candidate_items):
        raise ValueError("baseline and candidate must be paired (same length)")
    point = float(statistic(list(candidate_items))) - float(statistic(list(baseline_items)))
    if n < 2:
        return PairedResult(
            point, point, point, 1.0, n, "paired bootstrap (too few cases)", None, confidence
        )
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_resamples)
    for r in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        diffs[r] = float(statistic([candidate_items[i] for i in idx])) - float(
            statistic([baseline_items[i] for i in idx])
        )
    alpha = 1 - confidence
    lo, hi = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    p = min(1.0, 2 * min(float((diffs <= 0).mean()), float((diffs >= 0).mean())))
    return PairedResult(
        point, float(lo), float(hi), p, n, f"paired bootstrap ({n_resamples})", None, confidence
    )


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = _arr(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate)."""
    p = _arr(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out


def noninferiority_pvalue(diffs: Any, margin: float) -> float:
    """One-sided p-value of H0: mean difference >= -margin against H1: it is below -margin.

    A small p means a drop larger than the margin (a regression). Paired t on the
    differences; a constant difference gives 0 or 1 directly.
    """
    d = _arr(diffs)
    if d.size == 0:
        return 1.0
    shifted = d + margin
    mean = float(shifted.mean())
    if d.size < 2 or float(shifted.std(ddof=1)) == 0.0:
        return 0.0 if mean < 0 else 1.0
    from scipy import stats as st

    t = mean / (float(shifted.std(ddof=1)) / math.sqrt(d.size))
    return float(st.t.cdf(t, d.size - 1))


def regression_detected(diffs: Any, *, margin: float = 0.0, alpha: float = 0.05) -> bool:
    """The regression gate: a significant drop larger than the margin."""
    d = _arr(diffs)
    return bool(d.size and noninferiority_pvalue(d, margin) < alpha and float(d.mean()) < -margin)


def min_detectable_effect(
    n: int, *, sd_diff: float, alpha: float = 0.05, power: float = 0.8, two_sided: bool = True
) -> float:
    """Smallest mean paired difference detectable with this power at n cases (paired t)."""
    if n < 2:
        return math.inf
    from scipy import optimize

    def achieved(effect: float) -> float:
        return _power(effect / sd_diff, n, alpha, two_sided) - power

    lo, hi = sd_diff * 1e-6, sd_diff
    while achieved(hi) < 0:
        hi *= 2
    return float(optimize.brentq(achieved, lo, hi))


def _power(d: float, n: int, alpha: float, two_sided: bool) -> float:
    from scipy import stats as st

    df = n - 1
    nc = d * math.sqrt(n)
    if two_sided:
        crit = float(st.t.ppf(1 - alpha / 2, df))
        p = float(st.nct.sf(crit, df, nc) + st.nct.cdf(-crit, df, nc))
    else:
        crit = float(st.t.ppf(1 - alpha, df))
        p = float(st.nct.sf(crit, df, nc))
    if math.isnan(p):
        # The noncentral t can fail numerically far in its tails: the normal approximation
        # is accurate exactly there.
        z = float(st.norm.ppf(1 - alpha / 2 if two_sided else 1 - alpha))
        p = float(st.norm.sf(z - nc) + (st.norm.cdf(-z - nc) if two_sided else 0.0))
    return p


def required_n(
    effect: float,
    *,
    sd_diff: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> int:
    """Cases needed to detect a mean paired difference of ``effect`` (paired t)."""
    if effect == 0:
        raise ValueError("effect must be non-zero")
    if sd_diff == 0:
        return 2
    d = abs(effect) / sd_diff
    n = 2
    while _power(d, n, alpha, two_sided) < power:
        n = n * 2 if n < 1_000_000 else n + 1_000_000
        if n > 10**9:
            return n
    lo, hi = max(2, n // 2), n
    while lo < hi:
        mid = (lo + hi) // 2
        if _power(d, mid, alpha, two_sided) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo
