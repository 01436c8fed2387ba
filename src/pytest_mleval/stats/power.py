"""The regression gate (non-inferiority) and its planning: power, sample size, detectable effect.

Pure functions over numbers and arrays. numpy at module level; the normal and t distributions
of the regression gate are pure Python (``_dist``); ``scipy.special`` (for the noncentral t of
the power functions) is imported inside the functions that need it.
:mod:`pytest_mleval.stats` re-exports everything public here.

Two models of a paired difference are used:

- continuous scores: the paired t test (noncentral t power, as statsmodels ``TTestPower``);
- pass/fail outcomes: the trinomial of per-case differences in {-1, 0, +1}, tested with
  Tango's score statistic (1998), whose variance is estimated under the null hypothesis and so
  stays valid with few discordant cases, where a t test on -1/0/+1 values is not.

One file (~620 lines) on purpose: each model's test, power and sample size share its
variance formulas, and splitting by task would put one formula in three places.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "constant_baseline_report",
    "min_detectable_effect",
    "min_detectable_effect_binary",
    "min_detectable_effect_constant_baseline",
    "noninferiority_pvalue",
    "paired_proportion_ci",
    "regression_detected",
    "required_n",
    "required_n_binary",
    "required_n_constant_baseline",
    "tango_score",
]


def _finite(values: Any, what: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(x).all():
        raise ValueError(f"{what} must be finite (no NaN or infinity)")
    return x


def _check_levels(alpha: float, power: float | None = None) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if power is not None and not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")


def _is_trinomial(d: np.ndarray) -> bool:
    return bool(d.size) and bool(np.isin(d, (-1.0, 0.0, 1.0)).all())


# --- Tango's score test for paired proportions --------------------------------------------


def tango_score(up: int, down: int, n: int, delta0: float) -> float:
    """Tango's score statistic for a paired difference of proportions.

    The difference is P(candidate passes, baseline fails) - P(baseline passes, candidate
    fails); ``up`` and ``down`` count those two kinds of discordant case among ``n`` pairs.
    The variance uses the restricted maximum-likelihood estimate under H0: difference =
    ``delta0`` (Tango 1998, eq. 4), so the statistic is defined even with no discordant case.

    Args:
        up: Cases that went from fail to pass.
        down: Cases that went from pass to fail.
        n: All paired cases.
        delta0: The difference under the null hypothesis, in (-1, 1).

    Returns:
        Z, approximately standard normal under H0 (large when the difference exceeds delta0).
        ``+inf``/``-inf`` when the restricted variance is zero and the data lie on one side.
    """
    if n <= 0:
        return 0.0
    if not -1.0 < delta0 < 1.0:
        raise ValueError(f"delta0 must be in (-1, 1), got {delta0!r}")
    # Tango's cells: b = first-yes/second-no counts the "+delta" direction, c the other one.
    b, c = up, down
    a2 = 2.0 * n
    b2 = -b - c + (2.0 * n - b + c) * delta0
    c2 = -c * delta0 * (1.0 - delta0)
    q = (math.sqrt(max(b2 * b2 - 4.0 * a2 * c2, 0.0)) - b2) / (2.0 * a2)
    var = n * (2.0 * q + delta0 * (1.0 - delta0))
    num = b - c - n * delta0
    if var <= 1e-300:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _ndtr(z: float) -> float:
    from ._dist import ndtr

    return ndtr(z)


def _z(p: float) -> float:
    from ._dist import ndtri

    return ndtri(p)


def paired_proportion_ci(
    baseline: Any, candidate: Any, *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Tango score interval for the paired difference of pass rates (candidate - baseline).

    Inverts the score test: the interval holds every delta0 that a two-sided test at level
    1 - confidence does not reject. It stays inside [-1, 1] and is not degenerate when no
    case changed, unlike a Wald or t interval on the -1/0/+1 differences.

    Args:
        baseline: Per-case 0/1 outcomes of the baseline.
        candidate: Per-case 0/1 outcomes of the candidate, same cases in the same order.
        confidence: Two-sided confidence level.

    Returns:
        (difference, ci_low, ci_high).
    """
    b, c = _finite(baseline, "baseline"), _finite(candidate, "candidate")
    if b.size != c.size:
        raise ValueError("baseline and candidate must be paired (same length)")
    if not (np.isin(b, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all()):
        raise ValueError("paired_proportion_ci needs 0/1 outcomes")
    return _tango_interval(
        int(((c == 1) & (b == 0)).sum()), int(((c == 0) & (b == 1)).sum()), b.size, confidence
    )


def _tango_interval(up: int, down: int, n: int, confidence: float) -> tuple[float, float, float]:
    if n == 0:
        return 0.0, 0.0, 0.0
    est = (up - down) / n
    z = _z(0.5 + confidence / 2)

    def root(target: float, lo: float, hi: float) -> float:
        # The score decreases in delta0: bisection is exact to machine precision in 60 steps.
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if tango_score(up, down, n, mid) > target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    edge = 1.0 - 1e-12
    lower = -1.0 if tango_score(up, down, n, -edge) <= z else root(z, -edge, est)
    upper = 1.0 if tango_score(up, down, n, edge) >= -z else root(-z, est, edge)
    return est, max(-1.0, min(lower, est)), min(1.0, max(upper, est))


# --- the regression gate ---------------------------------------------------------------------


def noninferiority_pvalue(diffs: Any, margin: float, *, method: str = "auto") -> float:
    """One-sided p-value of H0: mean difference >= -margin against H1: it is below -margin.

    A small p means a drop larger than the margin: a regression that is not noise.

    Args:
        diffs: Per-case differences, candidate - baseline (higher is better).
        margin: The largest drop that does not count as a regression (>= 0 in normal use).
        method: ``t`` (paired t on diffs + margin), ``score`` (Tango's score test; needs
            differences in {-1, 0, 1}, i.e. pass/fail outcomes) or ``auto`` (score for
            pass/fail differences, else t).

    Returns:
        The p-value in [0, 1]; 1.0 without data.
    """
    d = _finite(diffs, "diffs")
    if d.size == 0:
        return 1.0
    if method == "auto":
        method = "score" if _is_trinomial(d) else "t"
    if method == "score":
        if not _is_trinomial(d):
            raise ValueError("the score test needs pass/fail differences in {-1, 0, 1}")
        if margin >= 1.0:
            return 1.0
        if margin <= -1.0:
            return 0.0
        z = tango_score(int((d == 1).sum()), int((d == -1).sum()), d.size, -float(margin))
        return 0.0 if z == -math.inf else 1.0 if z == math.inf else _ndtr(z)
    if method != "t":
        raise ValueError(f"unknown non-inferiority method {method!r} (t, score, auto)")
    shifted = d + margin
    mean = float(shifted.mean())
    # A spread within rounding of the values' size is no spread (see stats.paired_test).
    constant = float(np.ptp(d)) <= 1e-12 * max(float(np.abs(d).max()), abs(margin))
    sd = 0.0 if d.size < 2 or constant else float(shifted.std(ddof=1))
    if sd == 0.0:
        # No spread: the data decide the question without sampling error.
        return 0.0 if mean < 0 else 1.0
    from ._dist import stdtr

    return stdtr(d.size - 1, mean / (sd / math.sqrt(d.size)))


def regression_detected(
    diffs: Any, *, margin: float = 0.0, alpha: float = 0.05, method: str = "auto"
) -> bool:
    """The regression gate: a significant drop larger than ``margin``.

    Fires only when the non-inferiority test rejects at ``alpha`` *and* the observed mean drop
    exceeds the margin, so noise alone (or a significant but tiny drop) never fails a build.

    Args:
        diffs: Per-case differences, candidate - baseline.
        margin: Drops up to this size are tolerated.
        alpha: One-sided significance level.
        method: See :func:`noninferiority_pvalue`.

    Returns:
        True when the candidate regressed beyond the margin.
    """
    _check_levels(alpha)
    d = _finite(diffs, "diffs")
    if d.size == 0:
        return False
    p = noninferiority_pvalue(d, margin, method=method)
    return bool(p < alpha and float(d.mean()) < -margin)


# --- power of the paired t test ----------------------------------------------------------------


def _t_power(d: float, n: float, alpha: float, two_sided: bool) -> float:
    """Power of the one-sample t test at standardised effect ``d`` with ``n`` cases."""
    from scipy import special

    df = n - 1.0
    nc = d * math.sqrt(n)
    if two_sided:
        crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))
        p = 1.0 - float(special.nctdtr(df, nc, crit)) + float(special.nctdtr(df, nc, -crit))
    else:
        crit = float(special.stdtrit(df, 1.0 - alpha))
        p = 1.0 - float(special.nctdtr(df, nc, crit))
    if not math.isfinite(p):
        # The noncentral t can fail far in its tails, exactly where the normal is accurate.
        z = _z(1.0 - alpha / 2.0 if two_sided else 1.0 - alpha)
        p = _ndtr(nc - z) + (_ndtr(-z - nc) if two_sided else 0.0)
    return min(1.0, max(0.0, p))


def _effective(effect: float, margin: float) -> float:
    eff = abs(effect) - margin
    if eff <= 0:
        raise ValueError(f"effect {effect!r} must exceed the margin {margin!r}")
    return eff


def required_n(
    effect: float,
    *,
    sd_diff: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    margin: float = 0.0,
) -> int:
    """Cases needed to detect a mean paired difference of ``effect`` (paired t test).

    Equals ``ceil`` of statsmodels ``TTestPower().solve_power(nobs=None, ...)``. For the
    regression gate pass ``margin`` and ``two_sided=False``: the gate tests the drop beyond it.

    Args:
        effect: The true mean difference to detect (sign ignored).
        sd_diff: Standard deviation of per-case differences.
        alpha: Significance level.
        power: Wanted probability of detecting the effect.
        two_sided: Two-sided test (default) or one-sided.
        margin: Non-inferiority margin subtracted from the effect.

    Returns:
        The smallest n (>= 2) with at least the wanted power.
    """
    _check_levels(alpha, power)
    eff = _effective(effect, margin)
    if sd_diff < 0:
        raise ValueError("sd_diff must be >= 0")
    if sd_diff == 0:
        return 2
    d = eff / sd_diff

    def enough(n: int) -> bool:
        return n >= 2 and _t_power(d, n, alpha, two_sided) >= power

    z = _z(1.0 - alpha / 2.0 if two_sided else 1.0 - alpha) + _z(power)
    # The normal approximation lands within a few cases of the t answer: gallop from it to
    # bracket the smallest sufficient n, then bisect (power grows with n).
    hi, step = max(2, math.ceil((z / d) ** 2)), 1
    while not enough(hi):
        hi, step = hi + step, step * 2
    lo, step = hi - 1, 1
    while enough(lo):
        hi, lo, step = lo, lo - step, step * 2
    lo = max(lo, 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def min_detectable_effect(
    n: int,
    *,
    sd_diff: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    margin: float = 0.0,
) -> float:
    """Smallest mean paired difference detectable with this power at ``n`` cases (paired t).

    Equals statsmodels ``TTestPower().solve_power(effect_size=None, ...) * sd_diff``.

    Args:
        n: Paired cases.
        sd_diff: Standard deviation of per-case differences.
        alpha: Significance level.
        power: Wanted probability of detection.
        two_sided: Two-sided test (default) or one-sided.
        margin: Non-inferiority margin added to the answer (the gate's view).

    Returns:
        The effect; ``inf`` when n < 2 (no test is possible), ``margin`` when sd_diff is 0.
    """
    _check_levels(alpha, power)
    if sd_diff < 0:
        raise ValueError("sd_diff must be >= 0")
    if n < 2:
        return math.inf
    if sd_diff == 0:
        return float(margin)
    lo, hi = 0.0, 1.0
    while _t_power(hi, n, alpha, two_sided) < power:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if _t_power(mid, n, alpha, two_sided) < power:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return 0.5 * (lo + hi) * sd_diff + margin


# --- power for pass/fail outcomes (McNemar-type, Connor 1987) --------------------------------


def required_n_binary(
    effect: float,
    *,
    discordant: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    margin: float = 0.0,
) -> int:
    """Cases needed to detect a change of ``effect`` in a paired pass rate (Connor 1987).

    n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 / delta^2 with psi the discordant
    proportion (cases whose outcome flips either way) and delta the effect beyond the margin.

    Args:
        effect: The change in pass rate to detect (sign ignored).
        discordant: Expected share of cases that flip between the runs; must be >= |effect|.
        alpha: Significance level.
        power: Wanted probability of detection.
        two_sided: Two-sided test (default) or one-sided (the gate: pass ``margin`` too).
        margin: Non-inferiority margin subtracted from the effect.

    Returns:
        The smallest n with the wanted power under the normal approximation.
    """
    _check_levels(alpha, power)
    delta = _effective(effect, margin)
    if not abs(effect) <= discordant <= 1.0:
        raise ValueError("discordant must lie in [|effect|, 1]")
    za = _z(1.0 - alpha / 2.0 if two_sided else 1.0 - alpha)
    zb = _z(power)
    n = (za * math.sqrt(discordant) + zb * math.sqrt(discordant - delta * delta)) ** 2
    return max(2, math.ceil(n / (delta * delta) - 1e-9))


def min_detectable_effect_binary(
    n: int,
    *,
    discordant: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    margin: float = 0.0,
) -> float:
    """Smallest paired pass-rate change detectable at ``n`` cases (inverse of Connor's formula).

    Args:
        n: Paired cases.
        discordant: Expected share of cases that flip between the runs.
        alpha: Significance level.
        power: Wanted probability of detection.
        two_sided: Two-sided test (default) or one-sided.
        margin: Non-inferiority margin added to the answer.

    Returns:
        The change in pass rate, at most ``discordant`` (+ margin); ``inf`` when n < 1.
    """
    _check_levels(alpha, power)
    if not 0.0 <= discordant <= 1.0:
        raise ValueError("discordant must lie in [0, 1]")
    if n < 1:
        return math.inf
    za = _z(1.0 - alpha / 2.0 if two_sided else 1.0 - alpha)
    zb = _z(power)
    a = za * math.sqrt(discordant)
    # sqrt(n) delta - a = zb sqrt(psi - delta^2), squared: a quadratic in delta.
    qa, qb, qc = n + zb * zb, -2.0 * a * math.sqrt(n), a * a - zb * zb * discordant
    disc = max(qb * qb - 4.0 * qa * qc, 0.0)
    # Below power 0.5, zb < 0 and the root with sqrt(n) delta < a is the one that was squared.
    delta = (-qb + math.copysign(math.sqrt(disc), zb)) / (2.0 * qa)
    return min(delta, discordant) + margin


# --- planning from a baseline without spread (a perfect pass rate, a constant score) ---------


def _check_constant(baseline: float, effect: float) -> float:
    if not 0.0 <= baseline <= 1.0:
        raise ValueError(f"baseline must lie in [0, 1], got {baseline!r}")
    delta = abs(effect)
    if delta == 0.0:
        raise ValueError("effect must be non-zero")
    if delta > baseline:
        raise ValueError(f"a baseline of {baseline:g} cannot drop by {delta:g} on [0, 1]")
    return delta


def _drop_variance(baseline: float, delta: float) -> float:
    """The largest variance of a paired difference when a constant ``baseline`` drops by delta.

    The difference (candidate - baseline) lies in [-baseline, 1 - baseline] with mean -delta,
    so its variance is at most (baseline - delta)(1 - baseline + delta) (Bhatia-Davis); at a
    perfect baseline that is the Bernoulli delta (1 - delta) of cases flipping to failing.
    """
    return (baseline - delta) * (1.0 - baseline + delta)


def required_n_constant_baseline(
    effect: float,
    *,
    baseline: float,
    binary: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> int:
    """Cases needed to detect a drop of ``effect`` from a baseline without spread.

    A perfect baseline (every case passes) or a constant score has no variance to plan with;
    the bound used instead holds for any metric on [0, 1]: for pass/fail outcomes a drop of
    delta from a perfect baseline flips exactly delta of the cases (Connor's formula with
    discordant share delta), and for scores the variance of the difference is at most
    (b - delta)(1 - b + delta) (paired t power at that standard deviation).

    Args:
        effect: The drop to detect (sign ignored).
        baseline: The baseline's constant value (its pass rate, or the score of every case).
        binary: Pass/fail outcomes (the baseline is then 0 or 1).
        alpha: Significance level.
        power: Wanted probability of detection.
        two_sided: Two-sided test (default) or one-sided.

    Returns:
        The smallest n with the wanted power.

    Raises:
        ValueError: the drop is impossible (larger than the baseline) or zero.
    """
    _check_levels(alpha, power)
    delta = _check_constant(baseline, effect)
    if binary:
        if baseline != 1.0:
            raise ValueError("a pass/fail baseline without spread that can drop passes everywhere")
        return required_n_binary(
            delta, discordant=delta, alpha=alpha, power=power, two_sided=two_sided
        )
    return required_n(
        delta,
        sd_diff=math.sqrt(_drop_variance(baseline, delta)),
        alpha=alpha,
        power=power,
        two_sided=two_sided,
    )


def min_detectable_effect_constant_baseline(
    n: int,
    *,
    baseline: float,
    binary: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
) -> float:
    """Smallest drop from a baseline without spread detectable at ``n`` cases.

    The inverse of :func:`required_n_constant_baseline` under the same variance bound (which
    grows with the drop, so the answer is found by bisection on the drop).

    Args:
        n: Paired cases.
        baseline: The baseline's constant value.
        binary: Pass/fail outcomes.
        alpha: Significance level.
        power: Wanted probability of detection.
        two_sided: Two-sided test (default) or one-sided.

    Returns:
        The drop; ``inf`` when no drop up to the baseline itself is detectable (n too small).
    """
    _check_levels(alpha, power)
    if not 0.0 < baseline <= 1.0:
        return math.inf
    if binary and baseline != 1.0:
        raise ValueError("a pass/fail baseline without spread that can drop passes everywhere")
    if n < 2:
        return math.inf

    def detectable(delta: float) -> bool:
        if binary:
            z = _z(1.0 - alpha / 2.0 if two_sided else 1.0 - alpha)
            zb = _z(power)
            need = (z * math.sqrt(delta) + zb * math.sqrt(delta - delta * delta)) ** 2
            return need / (delta * delta) <= n
        sd = math.sqrt(_drop_variance(baseline, delta))
        return sd == 0.0 or _t_power(delta / sd, n, alpha, two_sided) >= power

    if not detectable(baseline):
        return math.inf
    lo, hi = 0.0, baseline
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if detectable(mid):
            hi = mid
        else:
            lo = mid
    return hi


def constant_baseline_report(
    n: int,
    baseline: float,
    effect: float | None,
    *,
    binary: bool,
    alpha: float = 0.05,
    power: float = 0.8,
    raw: bool = False,
    pass_rate: bool = True,
) -> list[str]:
    """The lines ``mleval power`` prints for a baseline without spread (e.g. 100 % passing).

    Args:
        n: The baseline's cases.
        baseline: Its constant value (pass rate or score).
        effect: The drop to plan for, if given.
        binary: Pass/fail outcomes.
        alpha: Significance level.
        power: Wanted probability of detection.
        raw: An unbounded measure (cost, latency): no bound on its variance exists.
        pass_rate: The values are pass/fail verdicts; otherwise a metric's 0/1 scores, which
            are planned the same way but are not called passes (a metric without a
            threshold passes nothing).

    Returns:
        Indented lines: the bound used, the minimum detectable drop, the cases needed.
    """
    if raw:
        return [
            "  no spread in the baseline, and an unbounded measure has no variance bound: "
            "plan from a run whose values vary"
        ]
    if binary:
        every = (
            f"every case {'passes' if baseline else 'fails'}"
            if pass_rate
            else f"every score is {baseline:g}"
        )
        lines = [
            f"  no spread in the baseline ({every}): "
            "planning with the Bernoulli bound, a drop of d flips d of the cases "
            "(Connor 1987 at discordant share d)"
        ]
    else:
        lines = [
            "  no spread in the baseline: planning with the Bernoulli (Bhatia-Davis) bound "
            "for a score on [0, 1], sd(diff) <= sqrt((b - d)(1 - b + d)) for a drop d from b"
        ]
    if binary and baseline != 1.0:
        lines.append(f"  a baseline where {every} cannot drop: nothing to detect")
        return lines
    mde = min_detectable_effect_constant_baseline(
        n, baseline=baseline, binary=binary, alpha=alpha, power=power
    )
    at = f"at n={n} (alpha={alpha:g}, power={power:g})"
    if math.isinf(mde):
        lines.append(f"  minimum detectable effect {at}: none (no drop is detectable)")
    else:
        lines.append(f"  minimum detectable effect {at}: {mde:.4f}")
    if effect is None:
        return lines
    if abs(effect) > baseline or effect == 0:
        lines.append(
            f"  cases needed to detect {effect:g}: a baseline of {baseline:g} cannot drop so far"
        )
        return lines
    need = required_n_constant_baseline(
        effect, baseline=baseline, binary=binary, alpha=alpha, power=power
    )
    verdict = "enough" if need <= n else f"{need - n} more needed"
    lines.append(f"  cases needed to detect {effect:g}: {need} ({verdict})")
    return lines
