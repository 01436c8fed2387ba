"""Paired preferences: win rates with Wilson intervals and the Bradley-Terry model.

A comparison of ``i`` with ``j`` is won by ``i`` with probability
``exp(s_i) / (exp(s_i) + exp(s_j))``; the log-strengths ``s`` are fitted by maximum likelihood
(damped Newton steps on the concave log-likelihood, which converge to its maximum) and centred
so that their mean is 0. Ties count as half a win for each side, so wins may be fractional.

The maximum-likelihood strengths exist only when every variant has both won and lost against
the others in the sense of Zermelo and Ford (the directed graph "``i`` won something against
``j``" is strongly connected). A variant that never loses would have an infinite strength, so
where the MLE does not exist the fit adds :data:`FALLBACK_PRIOR` virtual comparisons to every
compared pair, split evenly (one virtual tie), and says so: that strength is then a finite
understatement, never reported as a measured value without the note. The same rule is applied
to every bootstrap resample, so the interval is the interval of one well-defined estimator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._common import Estimate, _check_confidence, _finite, _wilson, _z

__all__ = [
    "FALLBACK_PRIOR",
    "BradleyTerryResult",
    "bradley_terry_ci",
    "bradley_terry_exists",
    "bradley_terry_fit",
    "win_rate_ci",
]

FALLBACK_PRIOR = 1.0
"""Virtual comparisons added to each compared pair (half won by each side: one virtual tie)
when the maximum-likelihood strengths do not exist."""


def win_rate_ci(scores: Sequence[float], *, confidence: float = 0.95) -> Estimate:
    """The win rate of one side over comparisons scored 1 (won), 0.5 (tie) or 0 (lost).

    The estimate is the mean score (ties count half); the interval is Wilson's score interval
    of that proportion on ``len(scores)`` comparisons (what ``statsmodels``'
    ``proportion_confint(sum, n, method="wilson")`` gives for the fractional count). Scores may
    be averages over a case's repeats, so that the interval counts cases, not repeats.

    Args:
        scores: One score in [0, 1] per comparison.
        confidence: Two-sided confidence level.

    Returns:
        The estimate (``n`` comparisons); no comparison gives 0.5 on [0, 1], with the note.

    Raises:
        ValueError: a score outside [0, 1], or not finite.
    """
    _check_confidence(confidence)
    x = _finite(scores, "scores")
    if ((x < 0.0) | (x > 1.0)).any():
        raise ValueError("win scores must lie in [0, 1]")
    n = int(x.size)
    if n == 0:
        return Estimate(0.5, 0.0, 1.0, 0, "wilson (no data)", confidence, "no comparisons")
    p = float(x.mean())
    lo, hi = _wilson(p, n, _z(0.5 + confidence / 2.0))
    note = "one comparison: the interval is wide by design" if n == 1 else None
    return Estimate(p, lo, hi, n, "wilson", confidence, note)


def _matrix(wins: object) -> np.ndarray:
    w = np.array(wins, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"wins must be a square matrix, got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("wins must be finite and non-negative")
    np.fill_diagonal(w, 0.0)
    return w


def _reaches_all(adjacency: np.ndarray) -> bool:
    """Whether every node reaches node 0 and node 0 reaches every node (k is small)."""
    k = adjacency.shape[0]
    for a in (adjacency, adjacency.T):
        seen = {0}
        todo = [0]
        while todo:
            i = todo.pop()
            for j in np.flatnonzero(a[i]):
                if int(j) not in seen:
                    seen.add(int(j))
                    todo.append(int(j))
        if len(seen) < k:
            return False
    return True


def bradley_terry_exists(wins: object) -> bool:
    """Whether the maximum-likelihood Bradley-Terry strengths of ``wins`` are finite.

    Args:
        wins: ``wins[i][j]``: comparisons ``i`` won against ``j`` (ties as half to each).

    Returns:
        True when the graph "``i`` won against ``j``" is strongly connected (Zermelo, Ford).
    """
    w = _matrix(wins)
    return w.shape[0] <= 1 or _reaches_all(w > 0)


def bradley_terry_fit(
    wins: object, *, prior: float = 0.0, tol: float = 1e-10, max_iter: int = 500
) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry log-strengths, centred at 0.

    Args:
        wins: ``wins[i][j]``: comparisons ``i`` won against ``j`` (ties as half to each; the
            diagonal is ignored).
        prior: Virtual comparisons added to every compared pair, half won by each side (a
            penalty that keeps the strengths finite; 0: the plain MLE).
        tol: Convergence: the largest Newton step, in log-strength.
        max_iter: Newton steps at most.

    Returns:
        The log-strengths, mean 0.

    Raises:
        ValueError: some variants are never compared with the others (their strengths are not
            comparable), or the MLE does not exist and ``prior`` is 0 (see
            :func:`bradley_terry_exists`).
    """
    w = _matrix(wins)
    k = w.shape[0]
    if k <= 1:
        return np.zeros(k)
    n = w + w.T
    if not _reaches_all(n > 0):
        raise ValueError("some variants are never compared with the others")
    if prior < 0 or not math.isfinite(prior):
        raise ValueError(f"prior must be finite and non-negative, got {prior!r}")
    if prior > 0:
        w = w + np.where(n > 0, prior / 2.0, 0.0)
        n = w + w.T
    elif not _reaches_all(w > 0):
        raise ValueError(
            "the maximum-likelihood strengths do not exist (a variant never lost or never "
            "won against the others): give a prior"
        )
    total = w.sum(axis=1)

    def loglik(s: np.ndarray) -> float:
        d = s[:, None] - s[None, :]
        # w_ij * log sigma(s_i - s_j), with log sigma(x) = -log(1 + e^-x) computed stably.
        return float(-(w * np.logaddexp(0.0, -d)).sum())

    s = np.zeros(k)
    current = loglik(s)
    for _ in range(max_iter):
        d = s[:, None] - s[None, :]
        p = 0.5 * (1.0 + np.tanh(d / 2.0))  # sigma(s_i - s_j), stable for large |d|
        grad = total - (n * p).sum(axis=1)
        weight = n * p * (1.0 - p)
        hess = np.diag(weight.sum(axis=1)) - weight  # minus the Hessian: a Laplacian
        # The strengths are identified up to a constant: the last one is held at 0.
        step = np.zeros(k)
        step[:-1] = np.linalg.solve(hess[:-1, :-1], grad[:-1])
        t = 1.0
        while True:
            trial = s + t * step
            value = loglik(trial)
            if value >= current - 1e-15 * abs(current) or t < 1e-10:
                break
            t /= 2.0
        s, current = trial, value
        if float(np.max(np.abs(t * step))) < tol:
            break
    centred: np.ndarray = s - s.mean()
    return centred


def _fit(w: np.ndarray) -> tuple[np.ndarray, bool]:
    """The estimator: the MLE where it exists, else the fit with :data:`FALLBACK_PRIOR`."""
    if _reaches_all(w > 0):
        return bradley_terry_fit(w), True
    return bradley_terry_fit(w, prior=FALLBACK_PRIOR), False


@dataclass(frozen=True)
class BradleyTerryResult:
    """Bradley-Terry strengths with case-bootstrap percentile intervals."""

    strengths: np.ndarray
    """Log-strengths, mean 0."""
    ci_low: np.ndarray
    """Lower bounds."""
    ci_high: np.ndarray
    """Upper bounds."""
    n: int
    """Cases."""
    confidence: float
    """Two-sided confidence level of the intervals."""
    mle: bool
    """Whether ``strengths`` is the plain MLE (False: fitted with :data:`FALLBACK_PRIOR`)."""
    regularised_resamples: int = 0
    """Bootstrap resamples whose MLE did not exist (fitted with the prior too)."""
    unplaced_resamples: int = 0
    """Bootstrap resamples left out: some variants were never compared with the rest in them."""


def bradley_terry_ci(
    case_wins: object,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> BradleyTerryResult:
    """Bradley-Terry strengths of judgements grouped by case, with case-bootstrap intervals.

    Cases are resampled with replacement (every comparison of a case travels with it, so
    judgements of one case are never treated as independent); each resample is fitted by the
    same rule as the data (the MLE, or the :data:`FALLBACK_PRIOR` fit where it does not exist)
    and the intervals are the percentiles of the centred strengths.

    Args:
        case_wins: Shape ``(cases, k, k)``: per case, ``[i][j]`` the (fractional) wins of ``i``
            over ``j``.
        confidence: Two-sided confidence level.
        seed: Seed of ``numpy.random.default_rng``.
        n_resamples: Bootstrap resamples.

    Returns:
        The strengths, their bounds, and whether the prior was needed.

    Raises:
        ValueError: bad shapes or values, or variants never compared with the others.
    """
    _check_confidence(confidence)
    x = np.asarray(case_wins, dtype=float)
    if x.ndim != 3 or x.shape[1] != x.shape[2] or x.shape[0] == 0:
        raise ValueError(f"case_wins must have shape (cases, k, k), got {x.shape}")
    if not np.isfinite(x).all() or (x < 0).any():
        raise ValueError("case_wins must be finite and non-negative")
    cases, k = x.shape[0], x.shape[1]
    strengths, mle = _fit(x.sum(axis=0))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, cases, size=(n_resamples, cases))
    counts = np.zeros((n_resamples, cases))
    np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1.0)
    totals = (counts @ x.reshape(cases, k * k)).reshape(n_resamples, k, k)
    draws = []
    regularised = unplaced = 0
    for b in range(n_resamples):
        try:
            fitted, exact = _fit(totals[b])
        except ValueError:
            # The resample left out every comparison between two groups of variants (a pair
            # judged in few cases): their strengths are not comparable in it, so it is left
            # out and counted.
            unplaced += 1
            continue
        draws.append(fitted)
        regularised += not exact
    if not draws:
        raise ValueError("no bootstrap resample compares every variant with the others")
    alpha = 1.0 - confidence
    low = np.quantile(np.array(draws), alpha / 2.0, axis=0)
    high = np.quantile(np.array(draws), 1.0 - alpha / 2.0, axis=0)
    # A percentile interval always holds the point estimate it is reported with.
    return BradleyTerryResult(
        strengths=strengths,
        ci_low=np.minimum(low, strengths),
        ci_high=np.maximum(high, strengths),
        n=cases,
        confidence=confidence,
        mle=mle,
        regularised_resamples=regularised,
        unplaced_resamples=unplaced,
    )
