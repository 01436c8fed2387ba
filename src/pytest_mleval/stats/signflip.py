"""Null distributions of paired sign-flip statistics: exact where feasible, else Monte Carlo.

Under H0 (no difference) each paired difference is equally likely to carry either sign.
The sign-flip permutation test uses the sum of the differences; the Wilcoxon signed-rank
test uses the sum of their signed Pratt ranks. Both are enumerated exactly far beyond the
2^20 patterns of brute force:

- zero differences are dropped: their sign changes nothing;
- k equal magnitudes flip together as a*(2*Binomial(k, 1/2) - k), so pass/fail data of any
  size has a small exact distribution;
- the groups are split in two halves whose distributions meet in the middle (sorted
  cumulative sums and binary search), so about 2^36 sign patterns cost 2 x 2^18 states;
- signed-rank sums live on an integer lattice (doubled mid-ranks) and are convolved directly.

Monte Carlo draws 8 signs per random byte and looks their signed sum up in a per-byte table,
so a resample of n differences costs n/8 table look-ups rather than n multiply-adds.
"""

from __future__ import annotations

import math
import sys

import numpy as np

__all__ = ["signflip_pvalue", "wilcoxon_pvalue"]

_HALF_STATES = 1 << 18  # states per half of the meet-in-the-middle enumeration
_HEAVY = 32  # tied groups at least this large are drawn as one binomial in Monte Carlo
_CHUNK_ELEMENTS = 1 << 22
_WILCOXON_EXACT_COST = 60_000_000  # nonzero count x lattice size for the exact signed-rank DP
_ALTERNATIVES = ("two-sided", "greater", "less")
_LITTLE = sys.byteorder == "little"


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"unknown alternative {alternative!r} (two-sided, greater, less)")


def _binom_half_pmf(k: int) -> np.ndarray:
    """P(J = j) for J ~ Binomial(k, 1/2), j = 0..k, computed in logs (no overflow)."""
    j = np.arange(1, k + 1, dtype=float)
    logc = np.concatenate(([0.0], np.cumsum(np.log((k - j + 1) / j))))
    pmf: np.ndarray = np.exp(logc - k * math.log(2.0))
    return pmf


def _half(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted support and probabilities of sum_u a_u (2 J_u - k_u) over the given groups."""
    v, p = np.zeros(1), np.ones(1)
    for a, k in zip(values, counts, strict=True):
        gv = a * (2.0 * np.arange(k + 1) - k)
        v = (v[:, None] + gv[None, :]).ravel()
        p = (p[:, None] * _binom_half_pmf(int(k))[None, :]).ravel()
    order = np.argsort(v, kind="stable")
    return v[order], p[order]


def _split(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Two index sets whose state counts each fit the limit, or None (greedy balancing)."""
    sizes = np.log(counts.astype(float) + 1.0)
    limit = math.log(_HALF_STATES) + 1e-9
    if sizes.sum() > 2 * limit:
        return None
    halves: list[list[int]] = [[], []]
    load = [0.0, 0.0]
    for i in np.argsort(-sizes, kind="stable"):
        h = 0 if load[0] <= load[1] else 1
        halves[h].append(int(i))
        load[h] += float(sizes[i])
    if max(load) > limit:
        return None
    return np.array(halves[0], dtype=np.intp), np.array(halves[1], dtype=np.intp)


def _tail_pvalue(
    halves: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    observed: float,
    tol: float,
    alternative: str,
) -> float:
    """P(S >= obs), P(S <= obs) or P(|S| >= |obs|) for S = A + B, A and B independent."""
    (va, pa), (vb, pb) = halves
    head = np.concatenate(([0.0], np.cumsum(pb)))
    tail = np.concatenate((np.cumsum(pb[::-1])[::-1], [0.0]))

    def at_least(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = tail[np.searchsorted(vb, x, side="left")]
        return out

    def at_most(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = head[np.searchsorted(vb, x, side="right")]
        return out

    if alternative == "greater":
        prob = pa @ at_least(observed - tol - va)
    elif alternative == "less":
        prob = pa @ at_most(observed + tol - va)
    else:
        t = abs(observed)
        prob = pa @ (at_least(t - tol - va) + at_most(tol - t - va))
    return min(1.0, max(0.0, float(prob)))


def _byte_table(values: np.ndarray) -> np.ndarray:
    """table[g, b]: signed sum of values 8g..8g+7 when bit j of byte b gives the j-th sign."""
    padded = np.zeros(-(-values.size // 8) * 8)
    padded[: values.size] = values
    signs = ((np.arange(256)[:, None] >> np.arange(8)) & 1) * 2.0 - 1.0
    table: np.ndarray = padded.reshape(-1, 8) @ signs.T
    return table


def _monte_carlo(
    values: np.ndarray,
    counts: np.ndarray,
    observed: float,
    tol: float,
    alternative: str,
    seed: int | None,
    n_resamples: int,
) -> float:
    rng = np.random.default_rng(seed)
    heavy = counts >= _HEAVY
    hv, hk = values[heavy], counts[heavy]
    light = np.repeat(values[~heavy], counts[~heavy])
    table = _byte_table(light) if light.size else np.zeros((0, 256))
    groups = table.shape[0]
    flat = table.ravel()
    # Group-major layout: all rows of a chunk look up one group's 2 KiB table block together,
    # which stays in cache (row-major look-ups stride the whole table: 4x slower).
    offsets = (np.arange(groups, dtype=np.intp) * 256)[:, None]
    rows = max(1, _CHUNK_ELEMENTS // max(groups + hv.size, 1))
    idx = np.broadcast_to(offsets, (groups, min(rows, n_resamples))).copy()
    # The offsets are multiples of 256, so on little-endian machines a random byte written
    # into each index's lowest byte adds itself to the offset: no uint8 -> intp conversion.
    low = idx.view(np.uint8).reshape(groups, -1, 8)[:, :, 0] if _LITTLE else None
    extreme = 0
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        sums = np.zeros(b)
        if groups:
            draws = np.frombuffer(rng.bytes(b * groups), dtype=np.uint8).reshape(groups, b)
            if low is not None:
                low[:, :b] = draws
            else:
                np.add(draws, offsets, out=idx[:, :b])
            sums += np.take(flat, idx[:, :b]).sum(axis=0)
        if hv.size:
            sums += (2.0 * rng.binomial(hk, 0.5, size=(b, hk.size)) - hk) @ hv
        if alternative == "greater":
            extreme += int(np.count_nonzero(sums >= observed - tol))
        elif alternative == "less":
            extreme += int(np.count_nonzero(sums <= observed + tol))
        else:
            extreme += int(np.count_nonzero(np.abs(sums) >= abs(observed) - tol))
    return (extreme + 1.0) / (n_resamples + 1.0)


def signflip_pvalue(
    diffs: np.ndarray,
    *,
    seed: int | None = None,
    n_resamples: int = 10_000,
    alternative: str = "two-sided",
) -> tuple[float, bool]:
    """Sign-flip p-value of the mean of finite ``diffs``; returns (p, exact)."""
    _check_alternative(alternative)
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    d = diffs[diffs != 0]
    if d.size == 0:
        return 1.0, True
    observed = float(d.sum())
    values, counts = np.unique(np.abs(d), return_counts=True)
    # Sums of many terms carry rounding error; ties in the null distribution must still count.
    tol = 1e-10 * float(np.abs(d).sum())
    if alternative == "two-sided" and abs(observed) <= tol:
        return 1.0, True
    split = _split(counts)
    if split is not None:
        halves = (
            _half(values[split[0]], counts[split[0]]),
            _half(values[split[1]], counts[split[1]]),
        )
        return _tail_pvalue(halves, observed, tol, alternative), True
    p = _monte_carlo(values, counts, observed, tol, alternative, seed, n_resamples)
    return p, False


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    ends = np.concatenate((starts[1:], [s.size]))
    ranks = np.empty(s.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _signed_rank_exact(weights: np.ndarray, positive: int, alternative: str) -> float:
    """P-value of T = sum of positive doubled ranks under random signs (integer lattice DP)."""
    total = int(weights.sum())
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    top = 0
    for w in weights.tolist():
        w = int(w)
        new = 0.5 * dist[: top + w + 1]
        new[w:] += 0.5 * dist[: top + 1]
        dist[: top + w + 1] = new
        top += w
    k = np.arange(total + 1)
    if alternative == "greater":
        prob = dist[k >= positive].sum()
    elif alternative == "less":
        prob = dist[k <= positive].sum()
    else:
        prob = dist[np.abs(2 * k - total) >= abs(2 * positive - total)].sum()
    return min(1.0, max(0.0, float(prob)))


def wilcoxon_pvalue(
    diffs: np.ndarray, *, alternative: str = "two-sided", method: str = "auto"
) -> tuple[float, bool]:
    """Wilcoxon signed-rank (Pratt) p-value of finite ``diffs``; returns (p, exact)."""
    _check_alternative(alternative)
    if method not in ("auto", "exact", "approx"):
        raise ValueError(f"unknown method {method!r} (auto, exact, approx)")
    nonzero = diffs != 0
    if not nonzero.any():
        return 1.0, True
    ranks = _average_ranks(np.abs(diffs))  # Pratt: zeros take part in the ranking
    r, positive = ranks[nonzero], diffs[nonzero] > 0
    weights = np.rint(2.0 * r).astype(np.int64)  # mid-ranks are multiples of 1/2
    cost = r.size * int(weights.sum())
    if method == "exact" or (method == "auto" and cost <= _WILCOXON_EXACT_COST):
        return _signed_rank_exact(weights, int(weights[positive].sum()), alternative), True
    from ._dist import ndtr

    count, zeros = float(diffs.size), float(diffs.size - r.size)
    mean = count * (count + 1) / 4 - zeros * (zeros + 1) / 4
    var = count * (count + 1) * (2 * count + 1) - zeros * (zeros + 1) * (2 * zeros + 1)
    _, ties = np.unique(r, return_counts=True)  # tie correction over the non-zero values
    se = math.sqrt((var - float((ties**3 - ties).sum()) / 2) / 24)
    z = (float(r[positive].sum()) - mean) / se
    if alternative == "greater":
        return ndtr(-z), False
    if alternative == "less":
        return ndtr(z), False
    return min(1.0, 2.0 * ndtr(-abs(z))), False
