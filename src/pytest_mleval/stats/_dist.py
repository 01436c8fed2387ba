"""The distribution functions the end of a run needs, in pure Python: the normal CDF and
quantile, Student's t CDF and quantile, and the binomial CDF at one half.

``scipy.special`` costs ~0.2 s to import (most of it ``scipy._lib``'s array-API layer), more
than every statistic of a 200-case run takes to compute, and a run needs only these few
functions. They match ``scipy.special`` (``ndtr``, ``ndtri``, ``stdtr``, ``stdtrit``,
``bdtr(k, n, 0.5)``) to about 1e-14 relative on the domain a run uses
(``tests/stats/test_dist.py`` checks grids against scipy); outside it (a t with more than a
million degrees of freedom, a binomial of more than 10,000 trials, a continued fraction that
does not converge) they call scipy, so no input gets a less accurate answer.

No numpy either: these are scalar functions, called a few times per metric.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

__all__ = ["bdtr_half", "ndtr", "ndtri", "stdtr", "stdtrit"]

_STD_NORMAL = NormalDist()
_EPS = 2.220446049250313e-16
_MAX_DF = 1e6
"""Above this many degrees of freedom the t functions call scipy (the continued fraction's
length grows with the square root of df; nothing in a run comes near)."""
_MAX_BINOMIAL = 10_000
"""Above this many trials the binomial CDF calls scipy (the exact sum grows with n^2 bits)."""
_LOG_SQRT_PI = 0.5 * math.log(math.pi)


def ndtr(x: float) -> float:
    """The standard normal CDF (``scipy.special.ndtr``)."""
    # As cephes: erf near 0, erfc in the tails (full relative accuracy in the lower tail).
    z = x * math.sqrt(0.5)
    if abs(z) < math.sqrt(0.5):
        return 0.5 + 0.5 * math.erf(z)
    y = 0.5 * math.erfc(abs(z))
    return 1.0 - y if z > 0 else y


def ndtri(p: float) -> float:
    """The standard normal quantile (``scipy.special.ndtri``): -inf at 0, inf at 1."""
    if p <= 0.0 or p >= 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        return math.nan
    # Wichura's AS241 (PPND16), relative error about 1e-16.
    return _STD_NORMAL.inv_cdf(p)


def _scipy_special() -> Any:
    from scipy import special

    return special


# --- Student's t -----------------------------------------------------------------------------


def _log_ratio_gamma_half(a: float) -> float:
    """log(Gamma(a + 1/2) / Gamma(a)) to ~1e-16 absolute for every a > 0.

    lgamma(a) - lgamma(a + 1/2) loses log(a) ulps to cancellation (1e-12 at a = 5,000); for
    large a the difference of the Stirling series is summed instead, every term O(1) or less.
    """
    if a < 16.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    # a ln(a + 1/2) - (a - 1/2) ln a - 1/2 = ln(a)/2 + [a log1p(1/(2a)) - 1/2], and the
    # Bernoulli terms B_2k / (2k (2k - 1)) [(a + 1/2)^(1-2k) - a^(1-2k)].
    h = 0.5 / a
    # a log1p(h) - 1/2 = sum_{j>=2} (-1)^(j+1) h^(j-1) / (2 j): summed directly, no
    # cancellation against the 1/2.
    s = 0.0
    term = 1.0
    for j in range(2, 40):
        term *= h
        piece = term / (2.0 * j)
        s += piece if j % 2 else -piece
        if piece < 1e-18:
            break
    b = a + 0.5
    bern = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)
    series = 0.0
    for k, b2k in enumerate(bern, start=1):
        p = 2 * k - 1
        series += b2k / (2 * k * p) * (b**-p - a**-p)
    return 0.5 * math.log(a) + s + series


def _log_beta_half(a: float) -> float:
    """log B(a, 1/2)."""
    return _LOG_SQRT_PI - _log_ratio_gamma_half(a)


def _betacf(a: float, b: float, x: float, y: float) -> float | None:
    """The continued fraction of the incomplete beta (modified Lentz) at ``x`` (``y`` = 1 - x,
    computed separately); ``None`` when it does not converge."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    # 1 - (a + b) x / (a + 1), from whichever of x and y avoids cancellation.
    d = 1.0 - qab * x / qap if x < 0.5 else (1.0 - b + qab * y) / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 20_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _EPS:
            return h
    return None


def _bgrat_half(a: float, x: float, y: float) -> float | None:
    """I_x(a, 1/2) for a >= 15 by the asymptotic expansion of DiDonato & Morris (TOMS 708,
    BGRAT) with b = 1/2, where the incomplete gamma Q(1/2, z) is erfc(sqrt(z)).

    The continued fraction is ill-conditioned for large a with x near 1 (a t tail with df in
    the thousands: 1e-12 to 1e-11 relative error); this expansion keeps ~1e-15 there.
    ``None`` when it cannot be computed (underflow, a sum that turns non-positive).
    """
    b, bm1 = 0.5, -0.5
    nu = a + 0.5 * bm1
    lnx = math.log1p(-y) if y <= 0.375 else math.log(x)
    z = -nu * lnx
    if z <= 0.0 or z > 700.0:
        return None
    # r = exp(-z) z^b / Gamma(b); u = r Gamma(a + b) / (Gamma(a) nu^b).
    r = math.sqrt(z / math.pi) * math.exp(a * lnx) * math.exp(0.5 * bm1 * lnx)
    u = r * math.exp(_log_ratio_gamma_half(a) - b * math.log(nu))
    if u == 0.0 or r == 0.0:
        return None
    q = math.erfc(math.sqrt(z))
    v = 0.25 / (nu * nu)
    t2 = 0.25 * lnx * lnx
    j = q / r
    total = j
    t = 1.0
    cn = 1.0
    n2 = 0.0
    cs: list[float] = []
    ds: list[float] = []
    tolerance = 15.0 * _EPS
    for n in range(1, 31):
        bp2n = b + n2
        j = (bp2n * (bp2n + 1.0) * j + (z + bp2n + 1.0) * t) * v
        n2 += 2.0
        t *= t2
        cn /= n2 * (n2 + 1.0)
        cs.append(cn)
        s = 0.0
        coef = b - n
        for i in range(1, n):
            s += coef * cs[i - 1] * ds[n - i - 1]
            coef += b
        ds.append(bm1 * cn + s / n)
        dj = ds[-1] * j
        total += dj
        if total <= 0.0:
            return None
        if abs(dj) <= tolerance * total:
            return u * total
    return u * total


def _t_tail(df: float, t: float) -> float | None:
    """P(T <= -|t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2); ``None`` when no method
    here converges."""
    a, b = 0.5 * df, 0.5
    t2 = t * t
    # x and 1 - x each from its own formula: neither is computed as one minus the other.
    x = df / (df + t2)
    y = t2 / (df + t2)
    if y == 0.0:
        return 0.5
    if x == 0.0:
        return 0.0
    if a >= 15.0 and y * a > 0.49 and y < 0.3:
        # The tail itself, as TOMS 708 (BRATIO) does for b <= 1 < 15 <= a between its
        # power series (y a <= 0.49) and x <= 0.7 (where the continued fraction is
        # well-conditioned).
        w = _bgrat_half(a, x, y)
        return None if w is None else 0.5 * w
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    front = math.exp(a * log_x + b * log_y - _log_beta_half(a))
    if x < (a + 1.0) / (a + b + 2.0):
        cf = _betacf(a, b, x, y)
        return None if cf is None else 0.5 * front * cf / a
    cf = _betacf(b, a, y, x)
    return None if cf is None else 0.5 * (1.0 - front * cf / b)


def _t_domain(df: float) -> bool:
    return 0.0 < df <= _MAX_DF


def stdtr(df: float, t: float) -> float:
    """Student's t CDF with ``df`` degrees of freedom at ``t`` (``scipy.special.stdtr``)."""
    if math.isnan(t) or math.isnan(df):
        return math.nan
    if math.isinf(t):
        return 0.0 if t < 0 else 1.0
    if t == 0.0 and df > 0:
        return 0.5
    tail = _t_tail(df, t) if _t_domain(df) else None
    if tail is None:
        return float(_scipy_special().stdtr(df, t))
    return tail if t < 0 else 1.0 - tail


def _t_pdf(df: float, t: float) -> float:
    return math.exp(
        -_log_beta_half(0.5 * df) - 0.5 * math.log(df) - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )


def _t_lower_quantile(df: float, q: float) -> float | None:
    """The t < 0 with P(T <= t) = q, for 0 < q < 1/2 (Newton on the CDF, bracketed)."""
    if df == 1.0:
        return -1.0 / math.tan(math.pi * q)  # Cauchy: tan(pi (q - 1/2)), exact form
    if df == 2.0:
        return (2.0 * q - 1.0) / math.sqrt(2.0 * q * (1.0 - q))
    z = ndtri(q)
    # Cornish-Fisher start (Abramowitz & Stegun 26.7.5): close for all but tiny df.
    z2 = z * z
    t = z * (
        1.0
        + (z2 + 1.0) / (4.0 * df)
        + (5.0 * z2 * z2 + 16.0 * z2 + 3.0) / (96.0 * df * df)
        + ((3.0 * z2 + 19.0) * z2 * z2 + 17.0 * z2 - 15.0) / (384.0 * df**3)
    )
    t = min(t, -1e-300)
    lo, hi = -math.inf, 0.0  # the root lies in (lo, hi)
    for _ in range(200):
        tail = _t_tail(df, t)
        if tail is None:
            return None
        f = tail - q
        if f == 0.0:
            return t
        if f > 0:
            hi = t
        else:
            lo = t
        pdf = _t_pdf(df, t)
        step = f / pdf if pdf > 0 else math.inf
        new = t - step
        if not (lo < new < hi) or not math.isfinite(new):
            # Outside the bracket: halve towards it instead (a heavy tail's flat density).
            new = 0.5 * (lo + hi) if math.isfinite(lo) else 2.0 * min(t, -1.0)
        if abs(new - t) <= 2.0 * _EPS * abs(new):
            return new
        t = new
    return None


def stdtrit(df: float, p: float) -> float:
    """Student's t quantile (``scipy.special.stdtrit``): the t with P(T <= t) = p."""
    if math.isnan(p) or math.isnan(df) or not 0.0 <= p <= 1.0:
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p == 0.5 and df > 0:
        return 0.0
    # The lower tail is solved; 1 - p is exact for p >= 1/2 (Sterbenz).
    q = p if p < 0.5 else 1.0 - p
    t = _t_lower_quantile(df, q) if _t_domain(df) else None
    if t is None:
        return float(_scipy_special().stdtrit(df, p))
    return t if p < 0.5 else -t


# --- the binomial at one half ------------------------------------------------------------------


def bdtr_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2) (``scipy.special.bdtr(k, n, 0.5)``).

    Summed exactly in integers, then divided once (Python rounds the quotient of two
    integers correctly), so the result is the correctly rounded probability.
    """
    if n < 0:
        return math.nan
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if n > _MAX_BINOMIAL:
        return float(_scipy_special().bdtr(k, n, 0.5))
    term = 1
    total = 1
    for i in range(1, k + 1):
        term = term * (n - i + 1) // i
        total += term
    return total / (1 << n)
