"""Anytime-valid confidence sequences for bounded means: stop a run as soon as the answer is known.

A confidence sequence holds the mean with probability ``1 - alpha`` at every look at once, so a
run may look after every case and stop the moment a gate or the regression verdict is decided
without inflating its error rate (a fixed-n interval looked at after every case would). This is
the betting confidence sequence of Waudby-Smith and Ramdas (2024): for a candidate mean ``m``, a
gambler who bets against ``m`` with predictable stakes grows her wealth (the capital process)
only if ``m`` is wrong; ``m`` leaves the sequence once the wealth reaches ``1 / alpha``, which
under the truth happens with probability at most ``alpha`` ever (Ville's inequality).

On observations in [0, 1] (other known bounds are rescaled), with the paper's hedged capital
process (its Theorem 3 with ``theta = 1/2``) and predictable plug-in bets (its eq. (26)):

- ``K+_t(m) = prod_i (1 + l+_i (x_i - mu_i))`` and ``K-_t(m) = prod_i (1 - l-_i (x_i - mu_i))``,
  ``l+_i = min(b_i, c / mu_i)``, ``l-_i = min(b_i, c / (1 - mu_i))``, ``c = 1/2`` (``truncation``);
- ``b_t = sqrt(2 log(2 / alpha) / (s2_{t-1} t log(1 + t)))`` with
  ``s2_t = (1/4 + sum_{i<=t} (x_i - xbar_i)^2) / (t + 1)`` and
  ``xbar_t = (1/2 + sum_{i<=t} x_i) / (t + 1)``;
- ``m`` is excluded at look t when ``max(K+_t(m), K-_t(m)) / 2 >= 1 / alpha``; the interval
  reported is the running intersection over all looks so far, so it never widens.

``mu_i = m`` for an infinite population (cases as draws from a larger distribution). With
``population=N`` the observations are the N values of a finite population seen in a uniformly
random order (a suite's cases in a seeded random order): then
``mu_i = (N m - S_{i-1}) / (N - i + 1)`` is the mean of the values not yet seen (the paper's
Section 5, sampling without replacement), the sequence also respects what the values seen
already imply (``S_t / N <= m <= (N - t + S_t) / N``) and it ends, at t = N, on the
population mean itself. Which to use: a gate on the suite's own
mean (``on: estimate``) asks about the finite population, a regression verdict or a ``ci_low``
gate about the distribution the cases come from.

Each factor of ``K+`` is non-increasing in ``m`` and each of ``K-`` non-decreasing, so the
sequence is an interval and its ends are roots, found here by bracketed root finding to 1e-12
(on the [0, 1] scale) rather than on a grid; the reported ends lie on the excluded side of
the roots, so the interval is never narrower than the exact one. Updates are incremental: the
running lower end only moves when the new look excludes it, which one evaluation of ``K+_t``
tells, so a look costs O(t) most of the time.

Pure numpy; no scipy on the run path. Checked against the ``confseq`` package (the authors'
implementation, ``confseq.betting.hedged_cs`` and ``betting_mart``) in
``tests/stats/test_sequential.py``: the capital processes agree to 1e-10, the intervals to
confseq's grid step. Where this module differs from confseq, deliberately: confseq keeps the
grid points ``k / breaks`` whose capital is at most ``1 / alpha`` and widens by one step, so
its ends lie up to ``1 / breaks`` outside the exact ends found here; for a finite population
it makes an impossible mean +inf in both capital processes, here only in the one on the side
that rules it out (the excluded means are the same); and where the two ends cross it reports
[0, 1] for that look (before the running intersection), here the crossed ends in order with
:attr:`ConfidenceSequence.conflict` set.

References:
    Waudby-Smith, I. and Ramdas, A. (2024). Estimating means of bounded random variables by
    betting. Journal of the Royal Statistical Society Series B, 86(1), 1-27.
    https://doi.org/10.1093/jrsssb/qkad009 (arXiv:2010.09686).
    Howard, S. R., Ramdas, A., McAuliffe, J. and Sekhon, J. (2021). Time-uniform, nonparametric,
    nonasymptotic confidence sequences. The Annals of Statistics, 49(2), 1055-1080.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from ._common import Estimate, PairedResult, _check_bounds, _correlation, _finite

__all__ = [
    "ConfidenceSequence",
    "PairedConfidenceSequence",
    "betting_log_capital",
    "confidence_sequence",
    "decide_gate",
    "decide_regression",
    "paired_confidence_sequence",
    "sequential_mean_ci",
    "sequential_paired_test",
]

METHOD = "betting confidence sequence (Waudby-Smith & Ramdas 2024)"
GateDecision = Literal["pass", "fail", "undecided"]
RegressionDecision = Literal[
    "regressed", "worse within margin", "improved", "not worse", "undecided"
]

# The paper's prior for the plug-in mean and variance: one fake observation of mean 1/2 and
# variance 1/4 (the largest on [0, 1]), so the first bets are cautious.
_PRIOR_MEAN = 0.5
_PRIOR_VAR = 0.25
# Weight of the upper and the lower capital process in the hedge (theta = 1/2: each side at
# alpha / 2, as for a two-sided interval).
_THETA = 0.5
# Ends are located to this width on the [0, 1] scale; a crossing of the two ends by less than
# this (rounding, e.g. at the last case of a finite population) is one point.
_XTOL = 1e-12
# Values this far outside the bounds (relative to their width) are rounding and clipped.
_SLACK = 1e-9
# Gates compare as results.aggregate does (value >= min - 1e-12).
_GATE_TOL = 1e-12


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_truncation(truncation: float) -> None:
    if not 0.0 < truncation < 1.0:
        raise ValueError(f"truncation must be in (0, 1), got {truncation!r}")


def _check_population(population: int | None) -> None:
    if population is not None and (
        isinstance(population, bool) or not isinstance(population, int) or population < 1
    ):
        raise ValueError(f"population must be a positive integer or None, got {population!r}")


def _unit(x: np.ndarray, bounds: tuple[float, float], what: str) -> np.ndarray:
    """``x`` on the [0, 1] scale of ``bounds``; rounding just outside is clipped, more raises."""
    lo, hi = bounds
    w = hi - lo
    z = (x - lo) / w
    if z.size and (float(z.min()) < -_SLACK or float(z.max()) > 1.0 + _SLACK):
        raise ValueError(f"{what} must lie within bounds [{lo:g}, {hi:g}]")
    return np.clip(z, 0.0, 1.0)


def _bet_scale(alpha: float) -> float:
    return 2.0 * math.log(1.0 / (_THETA * alpha))


def _bets(z: np.ndarray, alpha: float) -> np.ndarray:
    """Predictable plug-in bets along the last axis (each from the values before it)."""
    n = z.shape[-1]
    t = np.arange(1, n + 1, dtype=float)
    s = np.cumsum(z, axis=-1)
    xbar = np.minimum((_PRIOR_MEAN + s) / (t + 1.0), 1.0)
    s2 = (_PRIOR_VAR + np.cumsum((z - xbar) ** 2, axis=-1)) / (t + 1.0)
    prev = np.concatenate([np.full((*z.shape[:-1], 1), _PRIOR_VAR), s2[..., :-1]], axis=-1)
    out: np.ndarray = np.sqrt(_bet_scale(alpha) / (prev * t * np.log1p(t)))
    return out


def _log_factors(
    z: np.ndarray,
    bets: np.ndarray,
    mu: np.ndarray | float,
    c: float,
) -> np.ndarray:
    """log(1 + min(b, c / mu) (z - mu)) elementwise, mu in [0, 1] (mu = 0: no truncation)."""
    mu_a = np.asarray(mu, dtype=float)
    with np.errstate(divide="ignore"):
        cap = np.where(mu_a > 0.0, c / np.where(mu_a > 0.0, mu_a, 1.0), np.inf)
    out: np.ndarray = np.log1p(np.minimum(bets, cap) * (z - mu_a))
    return out


def _root(g: Callable[[float], float], a: float, b: float) -> float:
    """Lower end of ``{m in [a, b]: g(m) < 0}`` for a non-increasing ``g`` with g(a) >= 0 > g(b).

    Illinois (regula falsi with the stale end's value halved) for speed, bisection whenever the
    bracket fails to halve in two steps; returns the excluded end of a bracket of width <= 1e-12.
    """
    fa, fb = g(a), g(b)
    side = 0
    width = b - a
    steps = 0
    while b - a > _XTOL and steps < 200:
        steps += 1
        m = b - fb * (b - a) / (fb - fa) if fa != fb else 0.5 * (a + b)
        if steps % 2 == 0:
            if b - a > 0.5 * width:
                m = 0.5 * (a + b)
            width = b - a
        if not a < m < b:
            m = 0.5 * (a + b)
            if not a < m < b:
                break
        fm = g(m)
        if fm >= 0.0:
            a, fa = m, fm
            if side == 1:
                fb *= 0.5
            side = 1
        else:
            b, fb = m, fm
            if side == -1:
                fa *= 0.5
            side = -1
    return a


class _Side:
    """The running lower end of the sequence on [0, 1] data: the set the capital process ``K+``
    has not excluded. The upper end is the lower end of the mirrored data ``1 - x``."""

    def __init__(self, population: int | None, truncation: float) -> None:
        self.population = population
        self.c = truncation
        self.z = np.empty(64)
        self.sprev = np.empty(64)  # S_{i-1}: the sum before value i
        self.rest = np.empty(64)  # N - i + 1: the values left before value i
        self.t = 0
        self.total = 0.0
        self.low = 0.0

    def push(self, z: float) -> None:
        if self.t == self.z.size:
            for name in ("z", "sprev", "rest"):
                old = getattr(self, name)
                grown = np.empty(2 * old.size)
                grown[: old.size] = old
                setattr(self, name, grown)
        self.z[self.t] = z
        self.sprev[self.t] = self.total
        if self.population is not None:
            self.rest[self.t] = self.population - self.t
        self.t += 1
        self.total += z

    def load(self, z: np.ndarray) -> None:
        """The whole history at once (no per-look updates; see :meth:`recompute`)."""
        self.z = z.copy()
        self.sprev = np.cumsum(z) - z
        if self.population is not None:
            self.rest = self.population - np.arange(z.size, dtype=float)
        self.t = int(z.size)
        self.total = float(z.sum())

    def domain(self) -> tuple[float, float]:
        """Means the values seen so far allow: all of [0, 1], or for a finite population
        [S_t / N, (N - t + S_t) / N]."""
        n = self.population
        if n is None:
            return 0.0, 1.0
        return self.total / n, (n - self.t + self.total) / n

    def mu(self, m: float) -> np.ndarray | float:
        n = self.population
        if n is None:
            return m
        t = self.t
        mu: np.ndarray = np.clip((n * m - self.sprev[:t]) / self.rest[:t], 0.0, 1.0)
        return mu

    def log_capital(self, m: float, bets: np.ndarray) -> float:
        """log K+_t(m) at the latest look."""
        t = self.t
        return float(np.sum(_log_factors(self.z[:t], bets[:t], self.mu(m), self.c)))

    def log_running_max(self, m: float, bets: np.ndarray) -> float:
        """max over looks s <= t of log K+_s(m)."""
        t = self.t
        f = _log_factors(self.z[:t], bets[:t], self.mu(m), self.c)
        return float(np.max(np.cumsum(f)))

    def lowest(
        self, start: float, g: Callable[[float], float], domain: tuple[float, float]
    ) -> float:
        """The lowest m >= start not excluded by ``g`` (non-increasing, excluded where >= 0)."""
        a, b = max(start, domain[0]), domain[1]
        if a >= b or g(a) < 0.0:
            return a
        if g(b) >= 0.0:
            return b
        return _root(g, a, b)

    def advance(self, bets: np.ndarray, log_threshold: float) -> None:
        """The running intersection after the latest look: only this look's K+ can move it."""
        self.low = self.lowest(
            self.low, lambda m: self.log_capital(m, bets) - log_threshold, self.domain()
        )

    def recompute(self, bets: np.ndarray, log_threshold: float) -> float:
        """The running intersection from the whole history (another alpha than the bets')."""
        if self.t == 0:
            return 0.0
        return self.lowest(
            0.0, lambda m: self.log_running_max(m, bets) - log_threshold, self.domain()
        )


class ConfidenceSequence:
    """Betting confidence sequence for the mean of bounded observations, updated look by look.

    Valid at every look at once: with probability at least ``1 - alpha`` the mean lies in
    every interval this object ever reports, so a run may stop on any of them. The interval
    is the running intersection, so it never widens.

    Example:
        >>> cs = ConfidenceSequence(alpha=0.05, population=10)
        >>> low, high = cs.update([1, 1, 0, 1, 1, 1, 1, 0, 1, 1])  # one look per score
        >>> decide_gate((low, high), 0.8)
        'pass'
        >>> cs.estimate().ci_low == cs.estimate().ci_high == 0.8
        True

    Args:
        alpha: Error probability over all looks together (each end at ``alpha / 2``); the
            bets are tuned to it.
        bounds: The range the observations cannot leave (``(0, 1)`` for scores); other
            ranges are rescaled to [0, 1].
        population: None for draws from a distribution; N for the N values of a finite
            population seen in a uniformly random order (sampling without replacement),
            whose mean the sequence then covers and, after all N, equals.
        truncation: The paper's ``c`` in (0, 1): no bet risks more than this share of the
            capital (1/2, the paper's default, or 3/4).
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        bounds: tuple[float, float] = (0.0, 1.0),
        population: int | None = None,
        truncation: float = 0.5,
    ) -> None:
        _check_alpha(alpha)
        _check_bounds(bounds)
        _check_population(population)
        _check_truncation(truncation)
        self.alpha = float(alpha)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.population = population
        self.truncation = float(truncation)
        self._log_threshold = math.log(1.0 / (_THETA * self.alpha))
        self._low = _Side(population, truncation)
        self._high = _Side(population, truncation)  # on 1 - x
        self._bets = np.empty(64)
        self._sum = 0.0
        self._sq = 0.0

    @property
    def n(self) -> int:
        """Observations so far (looks)."""
        return self._low.t

    @property
    def mean(self) -> float:
        """Mean of the observations so far in their units (the low bound when there are none)."""
        lo, hi = self.bounds
        return lo + (hi - lo) * (self._sum / self.n if self.n else 0.0)

    def update(self, values: Any) -> tuple[float, float]:
        """Add one observation or several in order (one look each).

        Args:
            values: A number or a 1-D sequence, within ``bounds``.

        Returns:
            The interval after the last of them, as :meth:`interval`.

        Raises:
            ValueError: A value outside the bounds or not finite, or more values than the
                population holds.
        """
        z = _unit(_finite(values), self.bounds, "values")
        if self.population is not None and self.n + z.size > self.population:
            raise ValueError(
                f"population {self.population} holds {self.population - self.n} more values, "
                f"got {z.size}"
            )
        for v in z.tolist():
            self._push(v)
        return self.interval()

    def _push(self, z: float) -> None:
        t = self.n + 1
        if t > self._bets.size:
            grown = np.empty(2 * self._bets.size)
            grown[: self._bets.size] = self._bets
            self._bets = grown
        # The bet on value t uses only the values before it (predictable), as in _bets.
        s2_prev = (_PRIOR_VAR + self._sq) / t
        self._bets[t - 1] = math.sqrt(_bet_scale(self.alpha) / (s2_prev * t * math.log1p(t)))
        self._low.push(z)
        self._high.push(1.0 - z)
        self._sum += z
        xbar = min((_PRIOR_MEAN + self._sum) / (t + 1.0), 1.0)
        self._sq += (z - xbar) ** 2
        self._low.advance(self._bets, self._log_threshold)
        self._high.advance(self._bets, self._log_threshold)

    def _unit_interval(self, alpha: float | None) -> tuple[float, float, bool]:
        if alpha is None or alpha == self.alpha:
            lo, hi_m = self._low.low, self._high.low
        else:
            _check_alpha(alpha)
            thr = math.log(1.0 / (_THETA * alpha))
            lo = self._low.recompute(self._bets, thr)
            hi_m = self._high.recompute(self._bets, thr)
        hi = 1.0 - hi_m
        if self.population is not None and self.n == self.population:
            p = self._sum / self.population
            return p, p, False
        if lo <= hi:
            return lo, hi, False
        if lo - hi <= _XTOL:
            mid = 0.5 * (lo + hi)
            return mid, mid, False
        return hi, lo, True

    def interval(self, alpha: float | None = None) -> tuple[float, float]:
        """The running-intersection interval at the latest look, in the observations' units.

        Args:
            alpha: Error level; None for the one the bets were tuned to (computed
                incrementally). Another level reuses the same bets (still valid, computed
                from the whole history): a smaller alpha gives a wider interval.

        Returns:
            (low, high); the bounds before any observation. If the two ends ever cross (only
            when the data excluded the mean, e.g. scores that drift during a run),
            ``(high, low)`` in order and :attr:`conflict` is True.
        """
        lo, hi, _ = self._unit_interval(alpha)
        a, b = self.bounds
        w = b - a
        return a + w * lo, a + w * hi

    @property
    def conflict(self) -> bool:
        """Whether the lower end has passed the upper end (the data contradict a fixed mean)."""
        return self._unit_interval(None)[2]

    def estimate(self) -> Estimate:
        """The mean so far with the sequence's interval at the latest look.

        Returns:
            An :class:`Estimate` whose method names the confidence sequence and the look; the
            note says the interval is anytime-valid (wider than a fixed-n interval).
        """
        lo, hi = self.interval()
        n = self.n
        conf = 1.0 - self.alpha
        if n == 0:
            a, b = self.bounds
            return Estimate(min(max(0.0, a), b), lo, hi, 0, f"{METHOD} (no data)", conf, "no data")
        note = (
            f"anytime-valid: the confidence-sequence interval at look {n}, valid at every look "
            "(wider than a fixed-n interval on the same cases)"
        )
        if self.population is not None:
            note += f"; for the mean of a population of {self.population} in random order"
        if self.conflict:
            note += "; the ends crossed: the scores are not consistent with one mean"
        return Estimate(self.mean, lo, hi, n, f"{METHOD}, look {n}", conf, note)


class PairedConfidenceSequence:
    """Betting confidence sequence for the mean paired difference candidate - baseline.

    The differences of scores on ``bounds`` lie on ``(-(hi - lo), hi - lo)`` ([-1, 1] for
    scores in [0, 1]) and are rescaled to [0, 1] as ``(d + 1) / 2``; everything else is
    :class:`ConfidenceSequence`.

    Args:
        alpha: Error probability over all looks together.
        bounds: The range of each score (not of the difference).
        population: None, or the number of cases when the cases are seen in a uniformly
            random order and the mean difference over exactly these cases is wanted.
        truncation: See :class:`ConfidenceSequence`.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        bounds: tuple[float, float] = (0.0, 1.0),
        population: int | None = None,
        truncation: float = 0.5,
    ) -> None:
        _check_bounds(bounds)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        w = self.bounds[1] - self.bounds[0]
        self.sequence = ConfidenceSequence(
            alpha=alpha, bounds=(-w, w), population=population, truncation=truncation
        )

    @property
    def alpha(self) -> float:
        """The error level the bets are tuned to."""
        return self.sequence.alpha

    @property
    def n(self) -> int:
        """Pairs so far."""
        return self.sequence.n

    @property
    def mean(self) -> float:
        """Mean difference so far."""
        return self.sequence.mean if self.n else 0.0

    def update(self, baseline: Any, candidate: Any) -> tuple[float, float]:
        """Add one pair or several (same cases, same order; one look each).

        Args:
            baseline: The baseline's score(s), within ``bounds``.
            candidate: The candidate's score(s) on the same case(s).

        Returns:
            The interval of the mean difference after the last pair.
        """
        b = _unit(_finite(baseline, "baseline"), self.bounds, "baseline")
        c = _unit(_finite(candidate, "candidate"), self.bounds, "candidate")
        if b.size != c.size:
            raise ValueError("baseline and candidate must be paired (same length)")
        w = self.bounds[1] - self.bounds[0]
        return self.sequence.update((c - b) * w)

    def update_diff(self, diffs: Any) -> tuple[float, float]:
        """Add differences candidate - baseline directly (within +-(hi - lo)).

        Args:
            diffs: One difference or several, in order.

        Returns:
            The interval of the mean difference after the last one.
        """
        return self.sequence.update(diffs)

    def interval(self, alpha: float | None = None) -> tuple[float, float]:
        """The running-intersection interval of the mean difference (see
        :meth:`ConfidenceSequence.interval`).

        Args:
            alpha: None for the bets' level, or another level.

        Returns:
            (low, high) of candidate - baseline.
        """
        return self.sequence.interval(alpha)

    @property
    def conflict(self) -> bool:
        """Whether the two ends crossed."""
        return self.sequence.conflict


def confidence_sequence(
    values: Any,
    *,
    alpha: float = 0.05,
    bounds: tuple[float, float] = (0.0, 1.0),
    population: int | None = None,
    truncation: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The running intervals of a betting confidence sequence, one per look.

    Args:
        values: Observations in the order they arrive, within ``bounds``.
        alpha: Error probability over all looks together.
        bounds: Known range of the observations.
        population: None, or the finite population's size (see :class:`ConfidenceSequence`).
        truncation: The largest share of capital one bet risks.

    Returns:
        (low, high): arrays of the interval after each observation (running intersection).
    """
    cs = ConfidenceSequence(
        alpha=alpha, bounds=bounds, population=population, truncation=truncation
    )
    x = _finite(values)
    low, high = np.empty(x.size), np.empty(x.size)
    for i, v in enumerate(x.tolist()):
        low[i], high[i] = cs.update(v)
    return low, high


def paired_confidence_sequence(
    baseline: Any,
    candidate: Any,
    *,
    alpha: float = 0.05,
    bounds: tuple[float, float] = (0.0, 1.0),
    population: int | None = None,
    truncation: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The running intervals of the mean difference candidate - baseline, one per pair.

    Args:
        baseline: Per-case baseline scores, in the order the cases arrive.
        candidate: The candidate's scores on the same cases.
        alpha: Error probability over all looks together.
        bounds: The range of each score.
        population: None, or the number of cases (see :class:`PairedConfidenceSequence`).
        truncation: The largest share of capital one bet risks.

    Returns:
        (low, high): arrays of the interval after each pair.
    """
    b, c = _finite(baseline, "baseline"), _finite(candidate, "candidate")
    if b.size != c.size:
        raise ValueError("baseline and candidate must be paired (same length)")
    cs = PairedConfidenceSequence(
        alpha=alpha, bounds=bounds, population=population, truncation=truncation
    )
    low, high = np.empty(b.size), np.empty(b.size)
    for i in range(b.size):
        low[i], high[i] = cs.update(b[i], c[i])
    return low, high


def betting_log_capital(
    values: Any,
    null: float,
    *,
    alpha: float = 0.05,
    bounds: tuple[float, float] = (0.0, 1.0),
    population: int | None = None,
    truncation: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """log K+_t(null) and log K-_t(null) at every look: the two test martingales at one mean.

    The sequence excludes ``null`` from below (its lower end passes it) at the first look where
    ``max_s log K+_s(null) >= log(2 / alpha)``, from above likewise with ``K-``; so a gate
    with a fixed threshold is decided by these two numbers alone, and ``min(1, 1 / max_s
    max(K+_s, K-_s) / 2)`` is an anytime-valid p-value of the mean being ``null``. Vectorised:
    each row of a 2-D input is its own sequence (used by the simulations).

    Args:
        values: Observations (1-D), or sequences as rows (2-D), within ``bounds``.
        null: The mean tested, within ``bounds``.
        alpha: The level the bets are tuned to.
        bounds: Known range of the observations.
        population: None, or the finite population's size (every row then holds at most N).
        truncation: The largest share of capital one bet risks.

    Returns:
        (log K+, log K-) with the shape of ``values``. For a finite population, a null the
        values seen already rule out (``N null < S_t`` or ``N null > N - t + S_t`` on the
        [0, 1] scale) is +inf on the side that rules it out, from then on.
    """
    _check_alpha(alpha)
    _check_bounds(bounds)
    _check_population(population)
    _check_truncation(truncation)
    x = np.asarray(values, dtype=float)
    if x.ndim not in (1, 2) or not np.isfinite(x).all():
        raise ValueError("values must be a finite 1-D or 2-D array")
    z = _unit(x, bounds, "values")
    m = float(_unit(np.array([float(null)]), bounds, "null")[0])
    n = z.shape[-1]
    if population is not None and n > population:
        raise ValueError(f"population {population} holds fewer than {n} values")
    bets = _bets(z, alpha) if n else z.copy()
    if population is None:
        mu: np.ndarray | float = m
        below = above = np.zeros(z.shape, dtype=bool)
    else:
        i = np.arange(n, dtype=float)
        total = np.cumsum(z, axis=-1)
        mu = np.clip((population * m - (total - z)) / (population - i), 0.0, 1.0)
        # What the values seen so far imply (the sequence's logical bounds, value t included);
        # a sum's rounding is no evidence (the population's own mean, N * (S_N / N), can come
        # back an ulp away from S_N).
        slack = _XTOL * population
        below = population * m < total - slack
        above = population * m > population - (i + 1.0) + total + slack
    plus = np.cumsum(_log_factors(z, bets, mu, truncation), axis=-1)
    minus = np.cumsum(_log_factors(1.0 - z, bets, 1.0 - np.asarray(mu), truncation), axis=-1)
    if population is not None:
        # Once the seen values rule the null out, they always will (the bounds only tighten).
        plus[np.logical_or.accumulate(below, axis=-1)] = np.inf
        minus[np.logical_or.accumulate(above, axis=-1)] = np.inf
    return plus, minus


def _fixed_interval(
    z: np.ndarray, population: int | None, truncation: float, alpha: float
) -> tuple[float, float, bool]:
    """The unit-scale interval at the last look from the whole history (O(n) per evaluation):
    the running intersection recomputed from the running maxima of the capital, which is
    where the look-by-look updates arrive."""
    cs = ConfidenceSequence(alpha=alpha, population=population, truncation=truncation)
    bets = _bets(z, alpha)
    cs._low.load(z)
    cs._high.load(1.0 - z)
    cs._bets = bets
    cs._sum = float(z.sum())
    thr = math.log(1.0 / (_THETA * alpha))
    cs._low.low = cs._low.recompute(bets, thr)
    cs._high.low = cs._high.recompute(bets, thr)
    return cs._unit_interval(None)


def sequential_mean_ci(
    values: Any,
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
    population: int | None = None,
    truncation: float = 0.5,
) -> Estimate:
    """The mean with the confidence-sequence interval at the last look (all values seen).

    Equal (to 1e-12) to what :class:`ConfidenceSequence` reports after the same values in the
    same order, computed in O(n) per root-finding step: the interval a sequential run reports
    when it stops. Wider than :func:`mean_ci` on the same values, the price of being valid at
    every look.

    Args:
        values: Observations in the order they were seen, within ``bounds``.
        confidence: ``1 - alpha`` of the sequence (the bets are tuned to it).
        bounds: Known range of the observations.
        population: None, or the finite population's size.
        truncation: The largest share of capital one bet risks.

    Returns:
        An :class:`Estimate`; ``method`` names the sequence and the look, ``note`` says so.
    """
    _check_bounds(bounds)
    _check_population(population)
    _check_truncation(truncation)
    alpha = 1.0 - confidence
    _check_alpha(alpha)
    x = _finite(values)
    z = _unit(x, bounds, "values")
    if population is not None and z.size > population:
        raise ValueError(f"population {population} holds fewer than {z.size} values")
    n = int(z.size)
    lo_b, hi_b = bounds
    w = hi_b - lo_b
    if n == 0:
        cs = ConfidenceSequence(alpha=alpha, bounds=bounds, population=population)
        return cs.estimate()
    lo, hi, crossed = _fixed_interval(z, population, truncation, alpha)
    note = (
        f"anytime-valid: the confidence-sequence interval at look {n}, valid at every look "
        "(wider than a fixed-n interval on the same cases)"
    )
    if population is not None:
        note += f"; for the mean of a population of {population} in random order"
    if crossed:
        note += "; the ends crossed: the scores are not consistent with one mean"
    return Estimate(
        lo_b + w * float(z.mean()),
        lo_b + w * lo,
        lo_b + w * hi,
        n,
        f"{METHOD}, look {n}",
        confidence,
        note,
    )


def sequential_paired_test(
    baseline: Any,
    candidate: Any,
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
    population: int | None = None,
    truncation: float = 0.5,
) -> PairedResult:
    """Candidate - baseline with the confidence-sequence interval at the last pair and an
    anytime-valid p-value.

    The interval equals what :class:`PairedConfidenceSequence` reports after the same pairs;
    the p-value is ``min(1, 2 / max_s max(K+_s(0), K-_s(0)))`` for no difference, valid at
    every look and below ``1 - confidence`` exactly when the interval excludes 0.

    Args:
        baseline: Per-case baseline scores, in the order the cases were seen.
        candidate: The candidate's scores on the same cases.
        confidence: ``1 - alpha`` of the sequence.
        bounds: The range of each score.
        population: None, or the number of cases (finite population in random order).
        truncation: The largest share of capital one bet risks.

    Returns:
        A :class:`PairedResult`; ``method`` names the sequence and the look.
    """
    _check_bounds(bounds)
    alpha = 1.0 - confidence
    _check_alpha(alpha)
    b, c = _finite(baseline, "baseline"), _finite(candidate, "candidate")
    if b.size != c.size:
        raise ValueError("baseline and candidate must be paired (same length)")
    _unit(b, bounds, "baseline")
    _unit(c, bounds, "candidate")
    w = bounds[1] - bounds[0]
    d = c - b
    n = int(d.size)
    corr = _correlation(b, c)
    if n == 0:
        return PairedResult(
            0.0, -w, w, 1.0, 0, f"{METHOD} (no pairs)", None, confidence, "no paired cases"
        )
    est = sequential_mean_ci(
        d, confidence=confidence, bounds=(-w, w), population=population, truncation=truncation
    )
    plus, minus = betting_log_capital(
        d, 0.0, alpha=alpha, bounds=(-w, w), population=population, truncation=truncation
    )
    top = max(float(plus.max()), float(minus.max())) + math.log(_THETA)
    p = 1.0 if top <= 0.0 else math.exp(-top)
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    return PairedResult(
        est.estimate, est.ci_low, est.ci_high, p, n, est.method, corr, confidence, est.note, sd
    )


def decide_gate(
    interval: tuple[float, float], threshold: float, side: Literal["min", "max"] = "min"
) -> GateDecision:
    """Whether a gate on the mean is decided by a confidence-sequence interval.

    A ``min`` gate (mean >= threshold) passes once the whole interval is at or above the
    threshold and fails once it is all below; a ``max`` gate (mean <= threshold) the mirror.
    The comparison allows 1e-12 as the gates of :mod:`results.aggregate` do, so at the last
    case of a finite population (the interval is the mean) the decision is the fixed gate's.

    Args:
        interval: (low, high) from :meth:`ConfidenceSequence.interval`.
        threshold: The gate's ``min`` or ``max``.
        side: ``min`` or ``max``.

    Returns:
        ``pass``, ``fail`` or ``undecided``.
    """
    low, high = interval
    if side == "min":
        if low >= threshold - _GATE_TOL:
            return "pass"
        if high < threshold - _GATE_TOL:
            return "fail"
        return "undecided"
    if side == "max":
        if high <= threshold + _GATE_TOL:
            return "pass"
        if low > threshold + _GATE_TOL:
            return "fail"
        return "undecided"
    raise ValueError(f"side must be 'min' or 'max', got {side!r}")


def decide_regression(interval: tuple[float, float], margin: float = 0.0) -> RegressionDecision:
    """The regression verdict a confidence-sequence interval of candidate - baseline decides.

    Higher is better (for a lower-is-better measure pass the interval of baseline -
    candidate). In order: ``regressed`` when the whole interval is below ``-margin`` (the
    regression gate fails); ``improved`` when it is all above 0; ``worse within margin`` when
    it lies in [-margin, 0); ``not worse`` when its low end is at or above ``-margin``
    (non-inferior: the gate passes, whichever way the rest goes); else ``undecided``. Every
    answer but ``undecided`` settles the regression gate; with ``margin = 0`` and no true
    change only ``undecided`` is likely, so such a run goes to its last case.

    Args:
        interval: (low, high) of the mean difference candidate - baseline.
        margin: Drops up to this size are tolerated (>= 0).

    Returns:
        The decision.
    """
    if not margin >= 0.0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    low, high = interval
    if high < -margin:
        return "regressed"
    if low > 0.0:
        return "improved"
    if low >= -margin:
        return "worse within margin" if high < 0.0 else "not worse"
    return "undecided"
