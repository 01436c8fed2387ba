"""Statistics: parity with scipy.stats and statsmodels on generated inputs, textbook answers,
and defined (never NaN) output on degenerate input."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import proportion_confint

from pytest_mleval import stats
from pytest_mleval.stats import clustered, power, signflip

SEEDS = range(12)


def samples(seed: int, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "beta":
        return rng.beta(2.0, 5.0, n)
    if kind == "skewed":
        return rng.exponential(1.0, n)
    if kind == "discrete":
        return rng.integers(0, 5, n) / 4.0
    return rng.normal(0.3, 1.0, n)


# --- intervals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_t_interval_matches_scipy(seed: int, confidence: float) -> None:
    x = samples(seed, 3 + 17 * seed, ["beta", "skewed", "discrete", "normal"][seed % 4])
    est = stats.mean_ci(x, confidence=confidence)
    ref = st.ttest_1samp(x, 0.0).confidence_interval(confidence)
    assert est.method == "t" and est.n == x.size
    assert est.estimate == pytest.approx(x.mean(), rel=1e-12)
    assert (est.ci_low, est.ci_high) == pytest.approx((ref.low, ref.high), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["bca", "percentile"])
@pytest.mark.parametrize("statistic", [np.mean, np.median, np.std])
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::scipy.stats.DegenerateDataWarning")
def test_bootstrap_reproduces_scipy_exactly(seed: int, method: str, statistic: object) -> None:
    x = samples(seed, 10 + 7 * seed, ["beta", "skewed", "discrete"][seed % 3])
    est = stats.bootstrap_ci(x, statistic, method=method, seed=seed, n_resamples=999)  # type: ignore[arg-type]
    ref = st.bootstrap(
        (x,),
        statistic,
        method="BCa" if method == "bca" else "percentile",
        n_resamples=999,
        rng=np.random.default_rng(seed),
    ).confidence_interval
    if np.isnan(ref.low):
        # scipy gives up when every jackknife value is equal (a median of tied scores); the
        # acceleration is then 0 (bias-corrected percentile), a defined interval.
        assert x.min() <= est.ci_low <= est.estimate <= est.ci_high <= x.max()
        return
    assert (est.ci_low, est.ci_high) == pytest.approx((ref.low, ref.high), rel=1e-12, abs=1e-14)


def test_bootstrap_chunking_draws_the_same_indices_as_one_draw() -> None:
    x = samples(1, 300, "beta")
    ref = st.bootstrap((x,), np.mean, method="BCa", n_resamples=5000, rng=np.random.default_rng(9))
    for batch in (None, 7, 1000, 4999):
        est = stats.bootstrap_ci(x, np.mean, seed=9, n_resamples=5000, batch=batch)
        assert (est.ci_low, est.ci_high) == pytest.approx(
            (ref.confidence_interval.low, ref.confidence_interval.high), rel=1e-12
        )


def test_bootstrap_paired_and_unpaired_samples_match_scipy() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(size=40)
    b = a + rng.normal(scale=0.5, size=40)

    def corr(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(st.pearsonr(x, y, axis=axis)[0])

    est = stats.bootstrap_ci((a, b), corr, seed=2, n_resamples=1999)
    ref = st.bootstrap(
        (a, b), corr, paired=True, method="BCa", n_resamples=1999, rng=np.random.default_rng(2)
    )
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(ref.confidence_interval), rel=1e-12)

    def mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(np.mean(y, axis=axis) - np.mean(x, axis=axis))

    c = rng.normal(size=25)
    est = stats.bootstrap_ci((a, c), mean_diff, paired=False, seed=4, n_resamples=1000, batch=250)
    ref = st.bootstrap(
        (a, c),
        mean_diff,
        paired=False,
        method="BCa",
        n_resamples=1000,
        batch=250,
        rng=np.random.default_rng(4),
    )
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(ref.confidence_interval), rel=1e-12)
    # A statistic without ``axis`` is called once per resample and gives the same answer.
    slow = stats.bootstrap_ci(
        (a, c), lambda x, y: y.mean() - x.mean(), paired=False, seed=4, n_resamples=1000, batch=250
    )
    assert (slow.ci_low, slow.ci_high) == pytest.approx((est.ci_low, est.ci_high), rel=1e-12)


def test_mean_ci_bootstrap_methods_are_bootstrap_ci() -> None:
    x = samples(3, 60, "skewed")
    for method in ("bca", "percentile"):
        a = stats.mean_ci(x, method=method, seed=1, n_resamples=2000)
        b = stats.bootstrap_ci(x, np.mean, method=method, seed=1, n_resamples=2000)
        assert a == b
        assert a.ci_low < a.estimate < a.ci_high


@pytest.mark.parametrize("n", [1, 2, 5, 13, 50, 263, 1000])
def test_proportion_intervals_match_statsmodels(n: int) -> None:
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
        for confidence in (0.9, 0.95):
            for ours, theirs in (("wilson", "wilson"), ("clopper-pearson", "beta")):
                est = stats.proportion_ci(k, n, confidence=confidence, method=ours)
                lo, hi = proportion_confint(k, n, alpha=1 - confidence, method=theirs)
                assert (est.ci_low, est.ci_high) == pytest.approx((lo, hi), abs=1e-12)
                assert est.ci_low <= est.estimate <= est.ci_high


def test_wilson_and_clopper_pearson_textbook_values() -> None:
    # Newcombe (1998), example: 81 of 263 -> Wilson 0.2553 to 0.3662.
    w = stats.proportion_ci(81, 263)
    assert (round(w.ci_low, 4), round(w.ci_high, 4)) == (0.2553, 0.3662)
    # The "rule of three" neighbourhood: 0 of 10, exact upper bound 0.3085.
    cp = stats.proportion_ci(0, 10, method="clopper-pearson")
    assert (cp.ci_low, round(cp.ci_high, 4)) == (0.0, 0.3085)
    all_pass = stats.proportion_ci(50, 50)
    assert all_pass.ci_high == 1.0 and 0.9 < all_pass.ci_low < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_clustered_se_matches_statsmodels_cluster_robust_ols(seed: int) -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    n_clusters = 3 + seed * 3
    labels = rng.integers(0, n_clusters, 20 + 15 * seed)
    effects = rng.normal(0, 0.3, n_clusters)
    x = effects[labels] + rng.normal(0.5, 0.4, labels.size)
    names = [f"c{v}" for v in labels]
    est = stats.clustered_mean_ci(x, names)
    c = len(set(names))
    fit = sm.OLS(x, np.ones(x.size)).fit(
        cov_type="cluster", cov_kwds={"groups": labels}, use_t=True
    )
    lo, hi = fit.conf_int(0.05)[0]
    codes = np.unique(labels, return_inverse=True)[1]
    cr1, _ = clustered._cluster_variances(x, codes, c)
    assert math.sqrt(cr1) == pytest.approx(fit.bse[0], rel=1e-10)
    # The interval is statsmodels' whenever it is wider than the naive t interval (it is for
    # these cluster effects); otherwise the naive one (tests/stats/test_stats_intervals.py).
    assert est.method == f"clustered t (CR1, {c} clusters)"
    assert (est.ci_low, est.ci_high) == pytest.approx((lo, hi), rel=1e-10)
    assert est.estimate == pytest.approx(fit.params[0], rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_cluster_bootstrap_is_the_paired_bootstrap_of_cluster_totals(
    seed: int, method: str
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 12 + seed, 150)
    x = rng.beta(2, 3, labels.size) + 0.1 * (labels % 3)
    est = stats.cluster_bootstrap_ci(x, labels.tolist(), seed=seed, n_resamples=2000, method=method)
    # Our clusters are numbered in first-seen order; scipy gets them in that order too.
    order = list(dict.fromkeys(labels.tolist()))
    sums = np.array([x[labels == g].sum() for g in order])
    sizes = np.array([(labels == g).sum() for g in order], dtype=float)

    def ratio(s: np.ndarray, m: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(s.sum(axis=axis) / m.sum(axis=axis))

    ref = st.bootstrap(
        (sums, sizes),
        ratio,
        paired=True,
        n_resamples=2000,
        rng=np.random.default_rng(seed),
        method="BCa" if method == "bca" else "percentile",
    )
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(ref.confidence_interval), rel=1e-12)


# --- paired tests ------------------------------------------------------------------------------


def signflip_reference(d: np.ndarray, alternative: str = "two-sided") -> float:
    res = st.permutation_test(
        (d,),
        lambda a, axis: np.mean(a, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative=alternative,
    )
    return float(res.pvalue)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_exact_signflip_matches_scipy_permutation_test(seed: int, alternative: str) -> None:
    rng = np.random.default_rng(seed)
    n = 4 + seed
    # Rounded values give ties and zeros, the hard case for exact enumeration.
    d = np.round(rng.normal(0.2, 1.0, n), 1 if seed % 2 else 3)
    p = stats.permutation_pvalue(d, alternative=alternative)
    assert p == pytest.approx(signflip_reference(d, alternative), rel=1e-9, abs=1e-12)


def test_exact_signflip_beyond_brute_force_agrees_with_enumeration() -> None:
    rng = np.random.default_rng(7)
    d = rng.normal(0.3, 1.0, 22)  # 2^22 sign patterns: meet in the middle, 2 x 2^11 states
    signs = ((np.arange(1 << 22)[:, None] >> np.arange(22)) & 1).astype(np.int8) * 2 - 1
    sums = signs @ d
    brute = float(np.mean(np.abs(sums) >= abs(d.sum()) - 1e-9))
    p, exact = signflip.signflip_pvalue(d)
    assert exact and p == pytest.approx(brute, rel=1e-9)


def test_signflip_of_pass_fail_differences_is_the_exact_sign_test_at_any_n() -> None:
    rng = np.random.default_rng(3)
    for n in (30, 500, 20_000):
        d = rng.choice([-1.0, 0.0, 0.0, 1.0], n, p=[0.3, 0.2, 0.2, 0.3])
        p, exact = signflip.signflip_pvalue(d)
        pos, neg = int((d > 0).sum()), int((d < 0).sum())
        assert exact
        assert p == pytest.approx(st.binomtest(pos, pos + neg).pvalue, rel=1e-8)


def test_monte_carlo_signflip_is_reproducible_and_close_to_the_truth() -> None:
    rng = np.random.default_rng(11)
    d = rng.normal(0.25, 1.0, 60)  # 2^60 patterns: Monte Carlo
    p1, exact = signflip.signflip_pvalue(d, seed=1, n_resamples=20_000)
    p2, _ = signflip.signflip_pvalue(d, seed=1, n_resamples=20_000)
    assert not exact and p1 == p2
    ref = st.permutation_test(
        (d,),
        lambda a, axis: np.mean(a, axis=axis),
        permutation_type="samples",
        n_resamples=200_000,
        rng=np.random.default_rng(0),
    ).pvalue
    se = math.sqrt(ref * (1 - ref) / 20_000)
    assert abs(p1 - ref) < 5 * se
    # p = (count + 1) / (R + 1): never zero.
    far = stats.permutation_pvalue(d + 5.0, seed=0, n_resamples=999)
    assert far == pytest.approx(1 / 1000)


def test_monte_carlo_byte_tables_do_not_depend_on_byte_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = np.random.default_rng(5).normal(0.1, 1.0, 3001)
    fast = signflip.signflip_pvalue(d, seed=4, n_resamples=3000)
    monkeypatch.setattr(signflip, "_LITTLE", False)
    assert signflip.signflip_pvalue(d, seed=4, n_resamples=3000) == fast


def test_monte_carlo_mixes_binomial_groups_and_byte_tables_correctly() -> None:
    rng = np.random.default_rng(2)
    # 40 heavy tied groups plus 50 distinct values: too many states for exact enumeration.
    d = np.concatenate([np.repeat(rng.uniform(0.1, 1, 40), 40), rng.normal(0, 1, 50)])
    d *= rng.choice([-1.0, 1.0], d.size)
    d += 0.02
    p, exact = signflip.signflip_pvalue(d, seed=3, n_resamples=40_000)
    assert not exact
    # The sign-flip sum has mean 0 and variance sum(d^2): compare with its normal tail.
    z = abs(d.sum()) / math.sqrt(float((d**2).sum()))
    assert p == pytest.approx(2 * st.norm.sf(z), abs=0.01)


@pytest.mark.parametrize("seed", SEEDS)
def test_wilcoxon_exact_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5 + 4 * seed  # up to 49: scipy's exact range
    d = rng.normal(0.3, 1.0, n)
    for alternative in ("two-sided", "greater", "less"):
        ref = st.wilcoxon(d, zero_method="pratt", method="exact", alternative=alternative).pvalue
        assert stats.wilcoxon_pratt(d, alternative=alternative) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_wilcoxon_with_ties_and_zeros_is_the_exact_conditional_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = rng.integers(-3, 5, 6 + seed % 8).astype(float)
    for alternative in ("two-sided", "greater", "less"):
        ref = st.wilcoxon(
            d,
            zero_method="pratt",
            alternative=alternative,
            method=st.PermutationMethod(n_resamples=np.inf),
        ).pvalue
        assert stats.wilcoxon_pratt(d, alternative=alternative) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_wilcoxon_normal_approximation_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = np.round(rng.normal(0.1, 1.0, 300 + 100 * seed), 1)  # ties and zeros
    for alternative in ("two-sided", "greater", "less"):
        ours = stats.wilcoxon_pratt(d, alternative=alternative, method="approx")
        ref = st.wilcoxon(
            d, zero_method="pratt", method="asymptotic", alternative=alternative
        ).pvalue
        assert ours == pytest.approx(ref, rel=1e-9)
    # The exact answer is close to the approximation at this size.
    assert stats.wilcoxon_pratt(d, method="exact") == pytest.approx(
        stats.wilcoxon_pratt(d, method="approx"), abs=0.01
    )


def test_sign_test_and_mcnemar_match_scipy_and_statsmodels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        b, c = (int(v) for v in rng.integers(0, 60, 2))
        if b + c == 0:
            continue
        ref = mcnemar([[10, b], [c, 10]], exact=True).pvalue
        assert stats.mcnemar_exact(b, c) == pytest.approx(ref, rel=1e-10)
        d = np.array([1.0] * c + [-1.0] * b + [0.0] * 7)
        assert stats.sign_test(d) == pytest.approx(st.binomtest(c, b + c).pvalue, rel=1e-10)
    # mid-p: twice the lower tail less half the point probability.
    mid = 2 * (st.binom.cdf(3, 15, 0.5) - 0.5 * st.binom.pmf(3, 15, 0.5))
    assert stats.mcnemar_exact(3, 12, mid_p=True) == pytest.approx(mid, rel=1e-12)
    assert stats.mcnemar_exact(0, 0) == 1.0 and stats.mcnemar_exact(5, 5) == 1.0


def test_paired_t_textbook_sleep_data() -> None:
    # Student (1908) / Cushny & Peebles: hours of extra sleep, drug 2 minus drug 1.
    d = np.array([1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4])
    res = stats.paired_test(np.zeros(10), d, test="t")
    assert res.diff == pytest.approx(1.58)
    assert (round(res.ci_low, 4), round(res.ci_high, 4)) == (0.7001, 2.4599)
    assert round(res.p_value, 6) == 0.002833
    assert res.sd_diff == pytest.approx(np.std(d, ddof=1))


@pytest.mark.parametrize("seed", SEEDS)
def test_paired_test_variants_agree_with_their_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 8 + 9 * seed
    base = rng.beta(2, 2, n)
    cand = np.clip(base + rng.normal(0.05, 0.1, n), 0, 1)
    t = stats.paired_test(base, cand, test="t")
    assert t.p_value == pytest.approx(st.ttest_rel(cand, base).pvalue, rel=1e-9)
    ci = st.ttest_rel(cand, base).confidence_interval()
    perm = stats.paired_test(base, cand, seed=1)
    assert (perm.ci_low, perm.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert perm.correlation == pytest.approx(np.corrcoef(base, cand)[0, 1])
    w = stats.paired_test(base, cand, test="wilcoxon")
    assert w.p_value == pytest.approx(stats.wilcoxon_pratt(cand - base))
    s = stats.paired_test(base, cand, test="sign")
    assert s.p_value == pytest.approx(stats.sign_test(cand - base))
    if n <= 20:
        assert perm.method == "sign-flip permutation (exact)"
        assert perm.p_value == pytest.approx(signflip_reference(cand - base), rel=1e-9)


def test_paired_mcnemar_uses_discordant_pairs_and_the_score_interval() -> None:
    base = np.array([1] * 60 + [0] * 40, dtype=float)
    cand = base.copy()
    cand[:15] = 0  # 15 pass -> fail
    cand[60:65] = 1  # 5 fail -> pass
    res = stats.paired_test(base, cand, test="mcnemar")
    assert res.p_value == pytest.approx(mcnemar([[45, 15], [5, 35]], exact=True).pvalue)
    assert "15 pass→fail, 5 fail→pass" in res.method and "McNemar" in res.method
    assert res.diff == pytest.approx(-0.10)
    assert -1 < res.ci_low < res.diff < res.ci_high < 0.05
    with pytest.raises(ValueError, match="0/1"):
        stats.paired_test(base, cand * 0.5, test="mcnemar")


# --- paired bootstrap -------------------------------------------------------------------------


def test_paired_bootstrap_of_the_mean_is_the_bootstrap_of_differences() -> None:
    rng = np.random.default_rng(4)
    base = rng.beta(3, 2, 150)
    cand = np.clip(base + rng.normal(0.02, 0.1, 150), 0, 1)
    for method in ("percentile", "bca"):
        res = stats.paired_bootstrap_ci(
            base, cand, np.mean, seed=8, n_resamples=3000, method=method
        )
        ref = st.bootstrap(
            (base, cand),
            lambda b, c, axis: np.mean(c - b, axis=axis),
            paired=True,
            n_resamples=3000,
            rng=np.random.default_rng(8),
            method="BCa" if method == "bca" else "percentile",
        ).confidence_interval
        assert (res.ci_low, res.ci_high) == pytest.approx((ref.low, ref.high), rel=1e-10)
        assert res.diff == pytest.approx(float(np.mean(cand - base)))
        assert res.sd_diff == pytest.approx(float(np.std(cand - base, ddof=1)))


def test_paired_bootstrap_object_items_match_the_vectorised_path() -> None:
    rng = np.random.default_rng(6)
    n = 80
    # Corpus-level accuracy from per-case (correct, total) sufficient statistics.
    base = np.column_stack([rng.integers(0, 6, n), np.full(n, 5)]).astype(float)
    cand = np.column_stack([np.minimum(base[:, 0] + rng.integers(-1, 3, n), 5), np.full(n, 5)])

    def acc(rows: np.ndarray, axis: int = 0) -> np.ndarray:
        sums = rows.sum(axis=axis)
        return np.asarray(sums[..., 0] / sums[..., 1])

    fast = stats.paired_bootstrap_ci(base, cand, acc, seed=2, n_resamples=800, method="bca")
    items_b = [f"{int(r[0])}/{int(r[1])}" for r in base]  # strings: the slow path
    items_c = [f"{int(r[0])}/{int(r[1])}" for r in cand]

    def acc_items(items: list[str]) -> float:
        pairs = [tuple(map(int, s.split("/"))) for s in items]
        return sum(p[0] for p in pairs) / sum(p[1] for p in pairs)

    slow = stats.paired_bootstrap_ci(
        items_b, items_c, acc_items, seed=2, n_resamples=800, method="bca"
    )
    assert slow.diff == pytest.approx(fast.diff)
    assert (slow.ci_low, slow.ci_high, slow.p_value) == pytest.approx(
        (fast.ci_low, fast.ci_high, fast.p_value), rel=1e-10
    )
    # The centred bootstrap p-value, computed by hand from the same draws.
    draws = np.random.default_rng(2).integers(0, n, (800, n))
    boot = np.array([acc(cand[i]) - acc(base[i]) for i in draws])
    extreme = np.count_nonzero(np.abs(boot - fast.diff) >= abs(fast.diff) - 1e-12)
    assert fast.p_value == pytest.approx((extreme + 1) / 801)


# --- multiplicity ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_holm_and_bh_match_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.2, 1 + seed * 3)
    p[: seed // 3] = p[-1]  # ties
    assert stats.holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-12)
    assert stats.benjamini_hochberg(p) == pytest.approx(
        multipletests(p, method="fdr_bh")[1], rel=1e-12
    )


def test_holm_textbook_example() -> None:
    assert stats.holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([]).size == 0
    with pytest.raises(ValueError):
        stats.holm([0.5, 1.5])


# --- power and the regression gate -------------------------------------------------------------


@pytest.mark.parametrize("two_sided", [True, False])
@pytest.mark.parametrize("effect", [0.03, 0.1, 0.25, 0.8])
def test_power_matches_statsmodels_ttestpower(two_sided: bool, effect: float) -> None:
    alt = "two-sided" if two_sided else "larger"
    for sd, alpha, pw in ((0.2, 0.05, 0.8), (0.35, 0.01, 0.9)):
        nobs = TTestPower().solve_power(
            effect_size=effect / sd, alpha=alpha, power=pw, alternative=alt
        )
        n = stats.required_n(effect, sd_diff=sd, alpha=alpha, power=pw, two_sided=two_sided)
        assert n == max(2, math.ceil(nobs))
        for cases in (5, 40, 900):
            es = TTestPower().solve_power(nobs=cases, alpha=alpha, power=pw, alternative=alt)
            mde = stats.min_detectable_effect(
                cases, sd_diff=sd, alpha=alpha, power=pw, two_sided=two_sided
            )
            # statsmodels' root finder stops ~1e-6 short; ours solves to machine precision, as
            # statsmodels' own power function confirms.
            assert mde == pytest.approx(es * sd, rel=1e-5)
            achieved = TTestPower().power(
                effect_size=mde / sd, nobs=cases, alpha=alpha, alternative=alt
            )
            assert achieved == pytest.approx(pw, abs=1e-12)


def test_power_edges() -> None:
    assert stats.min_detectable_effect(1, sd_diff=0.3) == math.inf
    assert stats.min_detectable_effect(100, sd_diff=0.0) == 0.0
    assert stats.required_n(0.1, sd_diff=0.0) == 2
    with pytest.raises(ValueError):
        stats.required_n(0.0, sd_diff=0.1)
    with pytest.raises(ValueError):
        stats.required_n(0.1, sd_diff=0.1, margin=0.2)
    one = stats.required_n(0.1, sd_diff=0.3, two_sided=False, margin=0.02)
    assert one == stats.required_n(0.08, sd_diff=0.3, two_sided=False)


def test_binary_power_is_connors_formula_and_its_inverse() -> None:
    za, zb = st.norm.ppf(0.975), st.norm.ppf(0.8)
    psi, delta = 0.25, 0.1
    expected = math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2)
    n = stats.required_n_binary(delta, discordant=psi)
    assert n == expected == 194
    mde = stats.min_detectable_effect_binary(n, discordant=psi)
    assert mde <= delta and mde == pytest.approx(delta, rel=0.01)
    low = stats.min_detectable_effect_binary(n, discordant=psi, power=0.3)
    assert low < mde


def test_tango_score_reduces_to_mcnemar_and_uses_the_restricted_mle() -> None:
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(1)
    for _ in range(20):
        up, down = (int(v) for v in rng.integers(0, 30, 2))
        n = up + down + int(rng.integers(1, 100))
        if up + down:
            assert power.tango_score(up, down, n, 0.0) == pytest.approx(
                (up - down) / math.sqrt(up + down)
            )
        delta0 = float(rng.uniform(-0.2, 0.0))

        # Maximise the trinomial likelihood with P(up) - P(down) = delta0 numerically.
        def nll(
            q: float, up: int = up, down: int = down, n: int = n, delta0: float = delta0
        ) -> float:
            pu, pd = q + delta0, q
            return -(
                up * math.log(pu) + down * math.log(pd) + (n - up - down) * math.log(1 - pu - pd)
            )

        q = minimize_scalar(
            nll,
            bounds=(-delta0 + 1e-12, (1 - delta0) / 2 - 1e-12),
            method="bounded",
            options={"xatol": 1e-12},
        ).x
        z_num = (up - down - n * delta0) / math.sqrt(n * (2 * q + delta0 * (1 - delta0)))
        assert power.tango_score(up, down, n, delta0) == pytest.approx(z_num, rel=1e-5)


def test_tango_interval_inverts_the_score_test() -> None:
    z = st.norm.ppf(0.975)
    for up, down, n in ((5, 15, 100), (0, 0, 50), (0, 3, 10), (12, 2, 40)):
        est, lo, hi = power._tango_interval(up, down, n, 0.95)
        assert lo <= est <= hi and lo >= -1 and hi <= 1
        if lo > -1:
            assert power.tango_score(up, down, n, lo) == pytest.approx(z, abs=1e-6)
        if hi < 1:
            assert power.tango_score(up, down, n, hi) == pytest.approx(-z, abs=1e-6)
    _, lo, hi = power._tango_interval(0, 0, 50, 0.95)
    assert lo < 0 < hi  # no discordant case still gives an honest interval


@pytest.mark.parametrize("seed", SEEDS)
def test_noninferiority_t_matches_one_sided_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = rng.normal(-0.03, 0.15, 30 + 10 * seed)
    ref = st.ttest_1samp(d + 0.02, 0.0, alternative="less").pvalue
    assert stats.noninferiority_pvalue(d, 0.02) == pytest.approx(ref, rel=1e-9)
    assert stats.regression_detected(d, margin=0.02) == (ref < 0.05 and d.mean() < -0.02)


def test_noninferiority_of_pass_fail_uses_the_score_test() -> None:
    d = np.array([-1.0] * 30 + [1.0] * 8 + [0.0] * 162)  # n=200, drop of 0.11
    p = stats.noninferiority_pvalue(d, 0.02)
    assert p == pytest.approx(st.norm.cdf(power.tango_score(8, 30, 200, -0.02)))
    assert p < 0.05 and stats.regression_detected(d, margin=0.02)
    assert stats.noninferiority_pvalue(d, 0.02, method="t") != p
    assert stats.noninferiority_pvalue(np.zeros(50), 0.02) > 0.5
    assert not stats.regression_detected(np.zeros(50), margin=0.0)
    # A significant drop smaller than the margin is not a regression.
    small = np.array([-1.0] * 40 + [0.0] * 960)
    assert not stats.regression_detected(small, margin=0.05)


# --- degenerate input: defined, never NaN ------------------------------------------------------


def test_degenerate_estimates_say_why() -> None:
    e = stats.mean_ci([])
    assert (
        (e.estimate, e.ci_low, e.ci_high, e.n) == (0.0, 0.0, 0.0, 0)
        and e.note
        and "no data" in e.method
    )
    one = stats.mean_ci([0.7])
    assert (one.ci_low, one.ci_high) == (0.7, 0.7) and "n=1" in one.method
    flat = stats.mean_ci([0.5] * 9)
    assert flat.method == "t (zero variance)" and flat.ci_low == flat.ci_high == 0.5
    assert stats.bootstrap_ci([0.5] * 9).ci_high == 0.5
    assert stats.proportion_ci(0, 0).note
    w1 = stats.proportion_ci(1, 1)
    assert w1.note and 0 < w1.ci_low < 1 and w1.ci_high == 1.0
    c = stats.clustered_mean_ci([0.1, 0.2, 0.4], ["a", "a", "a"])
    assert c.method == "t" and c.note and "one cluster" in c.note
    assert stats.cluster_bootstrap_ci([0.1, 0.2, 0.4], ["a", "a", "a"]).note
    r = stats.paired_test([], [])
    assert (r.p_value, r.n) == (1.0, 0)
    same = stats.paired_test([0.2, 0.5, 0.9], [0.2, 0.5, 0.9])
    assert same.p_value == 1.0 and same.note
    assert stats.permutation_pvalue(np.zeros(100)) == 1.0
    assert stats.wilcoxon_pratt(np.zeros(5)) == 1.0 and stats.sign_test([0, 0]) == 1.0
    shift = stats.paired_test([0.1, 0.2, 0.3], [0.2, 0.3, 0.4], test="t")
    assert (
        shift.p_value == 0.0 and shift.note and shift.ci_low == shift.ci_high == pytest.approx(0.1)
    )
    assert stats.paired_bootstrap_ci([0.3], [0.5], np.mean).diff == pytest.approx(0.2)
    with pytest.raises(ValueError, match="finite"):
        stats.mean_ci([0.1, float("nan")])


finite = hs.floats(-5, 5, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(hs.lists(finite, max_size=12), hs.lists(finite, max_size=12))
def test_nothing_returns_nan(xs: list[float], ys: list[float]) -> None:
    n = min(len(xs), len(ys))
    b, c = np.round(np.array(xs[:n]), 1), np.round(np.array(ys[:n]), 1)
    numbers: list[float] = []
    for method in ("t", "bca", "percentile"):
        e = stats.mean_ci(c, method=method, seed=0, n_resamples=200)
        numbers += [e.estimate, e.ci_low, e.ci_high]
        assert e.ci_low <= e.estimate <= e.ci_high
    for test in ("permutation", "wilcoxon", "sign", "t"):
        r = stats.paired_test(b, c, test=test, seed=0, n_resamples=200)
        numbers += [r.diff, r.ci_low, r.ci_high, r.p_value, r.sd_diff]
        assert 0.0 <= r.p_value <= 1.0
    binary_b, binary_c = (b > 0).astype(float), (c > 0).astype(float)
    r = stats.paired_test(binary_b, binary_c, test="mcnemar")
    numbers += [r.diff, r.ci_low, r.ci_high, r.p_value]
    numbers.append(stats.noninferiority_pvalue(c - b, 0.05))
    numbers.append(stats.noninferiority_pvalue(binary_c - binary_b, 0.05))
    e = stats.proportion_ci(int(binary_c.sum()), n)
    numbers += [e.estimate, e.ci_low, e.ci_high]
    if n:
        e = stats.clustered_mean_ci(c, [i % 3 for i in range(n)])
        numbers += [e.estimate, e.ci_low, e.ci_high]
        e = stats.clustered_proportion_ci(binary_c, [i % 3 for i in range(n)])
        numbers += [e.estimate, e.ci_low, e.ci_high]
        e = stats.mean_ci(np.clip(c, 0, 1), bounds=(0.0, 1.0))
        numbers += [e.estimate, e.ci_low, e.ci_high]
    assert all(math.isfinite(v) for v in numbers)


def test_average_repeats_keeps_first_seen_order() -> None:
    keys, means = stats.average_repeats(["b", "a", "b", ("c", 1), "a"], [1.0, 0.0, 0.0, 0.5, 1.0])
    assert keys == ["b", "a", ("c", 1)]
    assert means.tolist() == [0.5, 0.5, 0.5]
    assert stats.average_repeats([], [])[1].size == 0


def test_results_do_not_depend_on_the_order_of_cases() -> None:
    rng = np.random.default_rng(0)
    base, cand = rng.beta(2, 2, 18), rng.beta(2.3, 2, 18)
    perm = rng.permutation(18)
    for test in ("permutation", "wilcoxon", "sign", "t"):
        a = stats.paired_test(base, cand, test=test)
        b = stats.paired_test(base[perm], cand[perm], test=test)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
    assert list(itertools.islice(stats.holm([0.2, 0.01]), 2)) == pytest.approx([0.2, 0.02])


def test_importing_stats_does_not_import_scipy() -> None:
    code = "import sys, pytest_mleval.stats; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
