"""Betting confidence sequences (issue 19): parity with ``confseq`` (the authors' package), a
closed form from the paper's definitions, and exact properties (nested, inside the bounds,
mirror-symmetric, rescaling, incremental = from the history, decisions = the capital at the
threshold). Coverage and savings are simulated in bench/stats_simulation.py, not here.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from pytest_mleval import stats
from pytest_mleval.stats import sequential as sq

BREAKS = 1000
STEP = 1.0 / BREAKS


@pytest.fixture(scope="module")
def confseq() -> ModuleType:
    # confseq 0.0.11 annotates with np.float_, removed in NumPy 2; the alias is needed only
    # while its modules are imported (the annotations are evaluated then), so it is removed
    # again rather than left on numpy for every other test.
    added = not hasattr(np, "float_")
    if added:
        np.float_ = np.float64  # type: ignore[attr-defined]
    try:
        import confseq.betting
        import confseq.betting_strategies
    finally:
        if added:
            del np.float_  # type: ignore[attr-defined]
    return confseq


def data(seed: int, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "binary":
        return (rng.random(n) < 0.7).astype(float)
    if kind == "u-shaped":
        return rng.beta(0.3, 0.3, n)
    if kind == "discrete":
        return rng.integers(0, 5, n) / 4.0
    return rng.beta(2.0, 5.0, n)


KINDS = ["beta", "binary", "u-shaped", "discrete"]


# --- parity with confseq -------------------------------------------------------------------


def _confseq_capital(
    confseq: ModuleType, x: np.ndarray, m: float, n: int | None, theta: int
) -> Any:
    lam = confseq.betting_strategies.lambda_predmix_eb
    return confseq.betting.betting_mart(
        x,
        m,
        alpha=0.05,
        lambdas_fn_positive=lambda y, _m: lam(y, alpha=0.025),
        lambdas_fn_negative=lambda y, _m: lam(y, alpha=0.025),
        N=n,
        theta=theta,
        trunc_scale=0.5,
        m_trunc=True,
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("population", [None, 500])
def test_capital_process_matches_confseq(
    confseq: ModuleType, seed: int, population: int | None
) -> None:
    """K+ and K- of the hedged process, bet by bet: confseq's betting_mart with theta = 1 (its
    positive process) and theta = 0 (negative), predictable plug-in bets at alpha / 2, c = 1/2."""
    x = data(seed, 300, KINDS[seed])
    for m in (0.05, 0.2, 0.5, 0.63, 0.9):
        plus, minus = stats.betting_log_capital(x, m, population=population)
        ref_plus = _confseq_capital(confseq, x, m, population, 1)
        ref_minus = _confseq_capital(confseq, x, m, population, 0)
        # confseq makes an impossible null (a finite population whose remaining values would
        # need a mean outside [0, 1] at the next draw) +inf in both processes; here only in the
        # one that rules it out (K+ for a null below what the seen values allow, K- above), and
        # one look earlier: from the values seen including the latest (confseq applies that
        # logical bound to the interval only). Wherever confseq's capital is finite and the
        # null still possible here, the two agree.
        possible = np.isfinite(ref_plus)
        assert np.array_equal(possible, np.isfinite(ref_minus))
        mine = np.isfinite(plus) & np.isfinite(minus)
        assert np.all(possible[mine])
        np.testing.assert_allclose(plus[mine], np.log(ref_plus[mine]), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(minus[mine], np.log(ref_minus[mine]), rtol=1e-10, atol=1e-10)
        if population is not None:
            s = np.cumsum(x)
            t = np.arange(1, x.size + 1)
            ruled_out = (population * m < s) | (population * m > population - t + s)
            assert np.array_equal(~mine, np.logical_or.accumulate(ruled_out))
            if m in (0.05, 0.9):
                assert ruled_out.any()  # the check covers impossible nulls too


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("population", [None, 400])
def test_intervals_match_confseq_hedged_cs_to_its_grid(
    confseq: ModuleType, seed: int, population: int | None
) -> None:
    """confseq's hedged_cs keeps the grid points k / breaks whose capital is below 1 / alpha and
    widens by one step, so its ends lie at most one step outside the exact ends found here:
    l_cs <= low <= l_cs + 1/breaks and u_cs - 1/breaks <= high <= u_cs, at every look."""
    n = 350
    x = data(seed, n, KINDS[seed % 4])
    low, high = stats.confidence_sequence(x, population=population)
    l_cs, u_cs = confseq.betting.hedged_cs(
        x, N=population, breaks=BREAKS, running_intersection=True
    )
    eps = 1e-9
    assert np.all(low >= l_cs - eps) and np.all(low <= l_cs + STEP + eps)
    assert np.all(high <= u_cs + eps) and np.all(high >= u_cs - STEP - eps)
    # Not trivially inside: the sequence shrank well away from [0, 1].
    assert high[-1] - low[-1] < 0.4


def test_paired_matches_confseq_on_rescaled_differences(confseq: ModuleType) -> None:
    rng = np.random.default_rng(7)
    q = rng.beta(2.0, 1.0, 400)
    b = (rng.random(400) < q).astype(float)
    c = (rng.random(400) < q * 0.85).astype(float)
    low, high = stats.paired_confidence_sequence(b, c)
    l_cs, u_cs = confseq.betting.hedged_cs((c - b + 1) / 2, breaks=BREAKS)
    eps = 1e-9
    assert np.all(low >= 2 * l_cs - 1 - eps) and np.all(low <= 2 * (l_cs + STEP) - 1 + eps)
    assert np.all(high <= 2 * u_cs - 1 + eps) and np.all(high >= 2 * (u_cs - STEP) - 1 - eps)


# --- a closed form from the paper's definitions ---------------------------------------------


def _paper_bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """Predictable plug-in bets written out from the paper (eq. 26 with its regularised mean
    and variance), independently of the module."""
    out = []
    mus, sq_sum = [], 0.0
    for t in range(1, x.size + 1):
        s2_prev = (0.25 + sq_sum) / t
        out.append(math.sqrt(2 * math.log(2 / alpha) / (s2_prev * t * math.log(1 + t))))
        mus.append((0.5 + x[:t].sum()) / (t + 1))
        sq_sum += (x[t - 1] - mus[-1]) ** 2
    return np.array(out)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_all_ones_closed_form(alpha: float) -> None:
    """t scores of 1: wherever the truncation c / m binds, K+_t(m) = ((1 + m) / (2 m))^t, so the
    lower end is 1 / (2 (2 / alpha)^(1/t) - 1); the upper end stays 1 (K- never grows)."""
    ones = np.ones(60)
    low, high = stats.confidence_sequence(ones, alpha=alpha)
    bets = _paper_bets(ones, alpha)
    checked = 0
    for t in range(1, 61):
        m = 1 / (2 * (2 / alpha) ** (1 / t) - 1)
        if np.all(bets[:t] >= 0.5 / m):  # the truncation binds at m for every bet so far
            assert low[t - 1] == pytest.approx(m, abs=1e-11)
            checked += 1
        assert high[t - 1] == 1.0
    assert checked > 40


def test_single_look_matches_its_definition() -> None:
    """One observation x: K+_1(m) = 1 + min(b_1, 1 / (2m)) (x - m); b_1 from s2_0 = 1/4."""
    alpha = 0.05
    b1 = math.sqrt(2 * math.log(2 / alpha) / (0.25 * math.log(2)))
    assert _paper_bets(np.array([1.0]), alpha)[0] == pytest.approx(b1)
    # 1 + b_1 < 2 / alpha: one case never excludes anything.
    assert stats.ConfidenceSequence(alpha=alpha).update(1.0) == (0.0, 1.0)
    plus, minus = stats.betting_log_capital([0.9], 0.2, alpha=alpha)
    assert plus[0] == pytest.approx(math.log(1 + min(b1, 0.5 / 0.2) * 0.7))
    assert minus[0] == pytest.approx(math.log(1 - min(b1, 0.5 / 0.8) * 0.7))


# --- exact properties ------------------------------------------------------------------------

scores = hs.lists(hs.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(scores)
def test_nested_inside_bounds_and_never_wider(x: list[float]) -> None:
    low, high = stats.confidence_sequence(x)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    assert np.all(low >= 0.0) and np.all(high <= 1.0) and np.all(low <= high)


@settings(max_examples=40, deadline=None)
@given(scores)
def test_mirror_symmetric(x: list[float]) -> None:
    """The sequence of 1 - x is 1 minus the sequence of x, ends swapped."""
    a = np.array(x)
    low, high = stats.confidence_sequence(a)
    m_low, m_high = stats.confidence_sequence(1.0 - a)
    np.testing.assert_allclose(m_low, 1.0 - high, atol=1e-9)
    np.testing.assert_allclose(m_high, 1.0 - low, atol=1e-9)


def test_symmetric_data_symmetric_interval() -> None:
    for x in (np.full(80, 0.5), np.tile([0.2, 0.8, 0.8, 0.2], 30)):
        low, high = stats.confidence_sequence(x)
        if x[0] == 0.5:
            np.testing.assert_allclose(low, 1.0 - high, atol=1e-12)
        mid = (low[-1] + high[-1]) / 2
        assert mid == pytest.approx(0.5, abs=0.01)


@settings(max_examples=30, deadline=None)
@given(scores, hs.floats(-5.0, 5.0), hs.floats(0.1, 10.0))
def test_bounds_are_rescaled(x: list[float], shift: float, width: float) -> None:
    a = np.array(x)
    low, high = stats.confidence_sequence(a)
    s_low, s_high = stats.confidence_sequence(shift + width * a, bounds=(shift, shift + width))
    np.testing.assert_allclose(s_low, shift + width * low, atol=1e-9 * width)
    np.testing.assert_allclose(s_high, shift + width * high, atol=1e-9 * width)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("population", [None, 250])
def test_incremental_equals_recomputed_history(seed: int, population: int | None) -> None:
    """Look by look (only the new look can move an end) = the running maxima of the capital
    over the whole history (sequential_mean_ci), at every prefix checked."""
    x = data(seed, 250, KINDS[seed % 4])
    cs = stats.ConfidenceSequence(population=population)
    for t in range(1, 251):
        got = cs.update(x[t - 1])
        if t % 25 == 0 or t < 5:
            est = stats.sequential_mean_ci(x[:t], population=population)
            assert got == pytest.approx((est.ci_low, est.ci_high), abs=1e-10)
            assert est.estimate == pytest.approx(x[:t].mean())
            assert est.n == t and "look" in est.method and "anytime-valid" in (est.note or "")


def test_another_alpha_reuses_the_bets_and_nests() -> None:
    x = data(3, 300, "beta")
    cs = stats.ConfidenceSequence(alpha=0.05)
    cs.update(x)
    wide, mine, narrow = cs.interval(0.01), cs.interval(), cs.interval(0.2)
    assert wide[0] < mine[0] < narrow[0] and narrow[1] < mine[1] < wide[1]
    # The same level through the from-history path gives the incremental answer.
    assert cs.interval(0.05 + 0.0) == mine
    direct = sq._fixed_interval(sq._unit(x, (0.0, 1.0), "x"), None, 0.5, 0.05)
    assert direct[:2] == pytest.approx(mine, abs=1e-10)


def test_shrinks_with_n() -> None:
    x = data(11, 4000, "binary")
    low, high = stats.confidence_sequence(x)
    width = high - low
    assert width[99] > width[999] > width[3999]
    # Roughly the rate of a fixed-n interval times a slowly growing factor: at 4,000 cases
    # well under 0.1 wide for a pass rate near 0.7 (a Wilson interval is 0.028).
    assert width[3999] < 0.08
    assert low[-1] <= x.mean() <= high[-1]


def test_finite_population_ends_on_its_mean() -> None:
    x = data(5, 200, "discrete")
    low, high = stats.confidence_sequence(x, population=200)
    assert low[-1] == high[-1] == pytest.approx(x.mean(), abs=1e-15)
    s = np.cumsum(x)
    t = np.arange(1, 201)
    # Never outside what the seen values imply about the population mean.
    assert np.all(low >= s / 200 - 1e-12) and np.all(high <= (200 - t + s) / 200 + 1e-12)
    # And tighter than the infinite-population sequence once a good share has been seen.
    i_low, i_high = stats.confidence_sequence(x)
    assert high[150] - low[150] < i_high[150] - i_low[150]
    with pytest.raises(ValueError, match="population 200 holds 0 more"):
        cs = stats.ConfidenceSequence(population=200)
        cs.update(x)
        cs.update(0.5)


@pytest.mark.parametrize("seed", range(20))
def test_finite_population_mean_is_never_ruled_out_by_rounding(seed: int) -> None:
    """The population's own mean as a float (S_N / N, an ulp off) is possible at every look,
    the last included; it was once ruled out at the last look by N * mean < S_N."""
    x = data(seed, 200, KINDS[seed % 4])
    plus, minus = stats.betting_log_capital(x, float(x.mean()), population=200)
    assert np.isfinite(plus).all() and np.isfinite(minus).all()
    # A mean one case away is ruled out by the end, on the right side.
    plus, minus = stats.betting_log_capital(x, float(x.mean()) - 0.5 / 200, population=200)
    assert plus[-1] == np.inf and np.isfinite(minus[-1])


def test_paired_is_the_rescaled_one_sample_sequence() -> None:
    rng = np.random.default_rng(2)
    b, c = rng.beta(5, 2, 150), rng.beta(4, 2, 150)
    low, high = stats.paired_confidence_sequence(b, c)
    z_low, z_high = stats.confidence_sequence((c - b + 1) / 2)
    np.testing.assert_allclose(low, 2 * z_low - 1, atol=1e-9)
    np.testing.assert_allclose(high, 2 * z_high - 1, atol=1e-9)
    pcs = stats.PairedConfidenceSequence()
    for i in range(150):
        pcs.update(b[i], c[i])
    assert pcs.interval() == pytest.approx((low[-1], high[-1]), abs=1e-12)
    assert pcs.n == 150 and pcs.mean == pytest.approx(float((c - b).mean()))
    res = stats.sequential_paired_test(b, c)
    assert (res.ci_low, res.ci_high) == pytest.approx((low[-1], high[-1]), abs=1e-10)
    assert res.diff == pytest.approx(float((c - b).mean())) and res.n == 150


@pytest.mark.parametrize("seed", range(10))
def test_gate_decisions_are_the_capital_at_the_threshold(seed: int) -> None:
    """The lower end passes a threshold at the first look where K+ at the threshold reaches
    2 / alpha, the upper end likewise with K-: the interval and the test agree."""
    x = data(seed, 300, KINDS[seed % 4])
    population = None if seed % 2 else 300
    low, high = stats.confidence_sequence(x, population=population)
    for thr in np.random.default_rng(seed).uniform(0.05, 0.95, 8):
        plus, minus = stats.betting_log_capital(x, thr, population=population)
        crit = math.log(2 / 0.05)
        above = np.maximum.accumulate(plus) >= crit
        below = np.maximum.accumulate(minus) >= crit
        near = (np.abs(low - thr) < 1e-9) | (np.abs(high - thr) < 1e-9)
        ok = ~near
        assert np.array_equal((low > thr)[ok], above[ok])
        assert np.array_equal((high < thr)[ok], below[ok])


@pytest.mark.parametrize("seed", range(6))
def test_anytime_p_value_agrees_with_the_interval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.beta(3, 1, 300)
    b = (rng.random(300) < q).astype(float)
    c = (rng.random(300) < q * (1 - 0.04 * seed)).astype(float)
    for alpha in (0.05, 0.1):
        res = stats.sequential_paired_test(b, c, confidence=1 - alpha)
        assert 0.0 < res.p_value <= 1.0
        assert (res.p_value <= alpha) == (not res.ci_low <= 0.0 <= res.ci_high)
    # A clear drop is detected; no change is not.
    big = stats.sequential_paired_test(b, (rng.random(300) < q * 0.6).astype(float))
    assert big.p_value < 0.01 and big.ci_high < 0
    same = stats.sequential_paired_test(b, b)
    assert same.p_value == 1.0 and same.ci_low < 0 < same.ci_high


def test_drift_crossing_is_reported_in_order() -> None:
    """Scores that change during the run (all pass, then all fail) push the ends past each
    other: the interval stays ordered and says so."""
    x = np.concatenate([np.ones(60), np.zeros(3000)])
    cs = stats.ConfidenceSequence()
    low, high = cs.update(x)
    assert cs.conflict and low <= high
    assert "not consistent" in (cs.estimate().note or "")
    assert not stats.ConfidenceSequence().conflict


def test_empty_and_invalid_input() -> None:
    cs = stats.ConfidenceSequence(bounds=(1.0, 5.0))
    assert cs.interval() == (1.0, 5.0) and cs.n == 0
    est = cs.estimate()
    assert (est.ci_low, est.ci_high, est.n) == (1.0, 5.0, 0) and est.note == "no data"
    assert stats.sequential_mean_ci([]).n == 0
    assert stats.sequential_paired_test([], []).p_value == 1.0
    with pytest.raises(ValueError, match="within bounds"):
        stats.ConfidenceSequence().update(1.5)
    with pytest.raises(ValueError, match="within bounds"):
        stats.PairedConfidenceSequence().update(0.5, -0.1)
    with pytest.raises(ValueError, match="finite"):
        stats.ConfidenceSequence().update(float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        stats.ConfidenceSequence(alpha=1.0)
    with pytest.raises(ValueError, match="population"):
        stats.ConfidenceSequence(population=0)
    with pytest.raises(ValueError, match="truncation"):
        stats.ConfidenceSequence(truncation=1.0)
    with pytest.raises(ValueError, match="paired"):
        stats.paired_confidence_sequence([0.1, 0.2], [0.3])
    # Rounding just outside the bounds is clipped, not an error.
    assert stats.ConfidenceSequence().update(1.0 + 1e-13)[1] == 1.0


# --- decisions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "threshold", "side", "want"),
    [
        ((0.81, 0.9), 0.8, "min", "pass"),
        ((0.8, 0.9), 0.8, "min", "pass"),
        ((0.8 - 1e-13, 0.9), 0.8, "min", "pass"),
        ((0.79, 0.9), 0.8, "min", "undecided"),
        ((0.6, 0.7999), 0.8, "min", "fail"),
        ((0.6, 0.8), 0.8, "min", "undecided"),
        ((0.1, 0.2), 0.25, "max", "pass"),
        ((0.1, 0.3), 0.25, "max", "undecided"),
        ((0.26, 0.3), 0.25, "max", "fail"),
        ((0.7, 0.7), 0.7, "min", "pass"),
    ],
)
def test_decide_gate(interval: tuple[float, float], threshold: float, side: Any, want: str) -> None:
    assert stats.decide_gate(interval, threshold, side) == want


def test_decide_gate_at_the_last_case_is_the_fixed_gate() -> None:
    x = data(9, 120, "binary")
    cs = stats.ConfidenceSequence(population=120)
    cs.update(x)
    for thr in (x.mean() - 0.01, x.mean(), x.mean() + 0.01):
        fixed = "pass" if x.mean() >= thr - 1e-12 else "fail"
        assert stats.decide_gate(cs.interval(), thr) == fixed
    with pytest.raises(ValueError, match="side"):
        stats.decide_gate((0.1, 0.2), 0.5, "above")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("interval", "margin", "want"),
    [
        ((-0.3, -0.1), 0.05, "regressed"),
        ((-0.3, -0.1), 0.0, "regressed"),
        ((-0.04, -0.01), 0.05, "worse within margin"),
        ((-0.04, 0.02), 0.05, "not worse"),
        ((0.01, 0.2), 0.05, "improved"),
        ((0.01, 0.2), 0.0, "improved"),
        ((-0.06, 0.02), 0.05, "undecided"),
        ((-0.1, -0.04), 0.05, "undecided"),
        ((-0.1, 0.1), 0.0, "undecided"),
        ((0.0, 0.1), 0.0, "not worse"),
    ],
)
def test_decide_regression(interval: tuple[float, float], margin: float, want: str) -> None:
    assert stats.decide_regression(interval, margin) == want


def test_decide_regression_rejects_a_negative_margin() -> None:
    with pytest.raises(ValueError, match="margin"):
        stats.decide_regression((0.0, 0.1), -0.01)


def test_doc_example() -> None:
    import doctest

    assert doctest.testmod(sq).failed == 0
    cs = stats.ConfidenceSequence(alpha=0.05)
    cs.update([1, 1, 0, 1, 1, 1, 1, 0, 1, 1])
    # Ten cases from an unbounded population decide nothing; the same ten as the whole suite
    # decide the suite's own mean.
    assert stats.decide_gate(cs.interval(), 0.5) == "undecided"
    assert cs.n == 10 and cs.mean == pytest.approx(0.8)
