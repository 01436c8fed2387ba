"""The pure-Python distributions (stats._dist) against scipy.special, and the end of a run's
statistics without scipy."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import pytest
from scipy import special

from pytest_mleval.stats import _dist

DFS = [0.5, 1, 1.5, 2, 2.7, 3, 4, 5, 7, 10, 14, 15, 17.3, 29, 30, 31, 50, 99, 150.5, 199, 500]
DFS += [999, 2000, 4999, 9999, 30_000, 99_999, 999_999]
PS = [1e-12, 1e-8, 1e-5, 1e-3, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5]
PS += [1 - p for p in PS[:-1]]
TS = [0.001, 0.1, 0.5, 1.0, 1.5, 1.7, 1.8, 1.96, 2.0, 2.5, 3.0, 5.0, 8.0, 20.0, 50.0]
TS += [-t for t in TS]


@pytest.mark.parametrize("df", DFS)
def test_t_cdf_matches_scipy(df: float) -> None:
    for t in TS:
        want = float(special.stdtr(df, t))
        if want < 1e-250:
            continue  # both underflow differently far out; nothing in a run reads there
        assert _dist.stdtr(df, t) == pytest.approx(want, rel=1e-12, abs=0), (df, t)
    assert _dist.stdtr(df, 0.0) == 0.5
    assert _dist.stdtr(df, math.inf) == 1.0 and _dist.stdtr(df, -math.inf) == 0.0


@pytest.mark.parametrize("df", DFS)
def test_t_quantile_matches_scipy(df: float) -> None:
    for p in PS:
        want = float(special.stdtrit(df, p))
        # Near the median t is near 0: the absolute error is what the CDF's rounding allows.
        assert _dist.stdtrit(df, p) == pytest.approx(want, rel=1e-12, abs=1e-14), (df, p)
        assert _dist.stdtr(df, _dist.stdtrit(df, p)) == pytest.approx(p, rel=1e-12)
    assert _dist.stdtrit(df, 0.5) == 0.0
    assert _dist.stdtrit(df, 0.0) == -math.inf and _dist.stdtrit(df, 1.0) == math.inf


def test_t_outside_the_checked_domain_is_scipy() -> None:
    for df in (2e6, 1e9):
        assert _dist.stdtrit(df, 0.975) == float(special.stdtrit(df, 0.975))
        assert _dist.stdtr(df, -2.5) == float(special.stdtr(df, -2.5))
    assert math.isnan(_dist.stdtrit(10, 1.5)) and math.isnan(_dist.stdtr(math.nan, 1.0))


def test_normal_matches_scipy() -> None:
    for p in [1e-300, 1e-100, 1e-12, 1e-5, 0.01, 0.025, 0.3333, 0.5, 0.8, 0.975, 1 - 1e-12]:
        assert _dist.ndtri(p) == pytest.approx(float(special.ndtri(p)), rel=1e-14), p
    assert _dist.ndtri(0.0) == -math.inf and _dist.ndtri(1.0) == math.inf
    for i in range(-3700, 801):
        x = i / 100
        assert _dist.ndtr(x) == pytest.approx(float(special.ndtr(x)), rel=1e-14), x


def test_binomial_half_is_exact() -> None:
    for n in [1, 2, 3, 10, 37, 100, 500, 1000]:
        for k in range(-1, n + 2):
            exact = float(Fraction(sum(math.comb(n, i) for i in range(0, min(k, n) + 1)), 2**n))
            assert _dist.bdtr_half(k, n) == exact, (k, n)
            # scipy's incomplete beta agrees to its own accuracy (1e-12 at n = 1000).
            want = float(special.bdtr(k, n, 0.5)) if 0 <= k < n else float(k >= n)
            assert _dist.bdtr_half(k, n) == pytest.approx(want, rel=1e-11, abs=1e-300)
    assert _dist.bdtr_half(5, 20_000) == float(special.bdtr(5, 20_000, 0.5))


def test_a_runs_statistics_import_no_scipy() -> None:
    # Every statistic the end of a run computes by default: intervals (t, Wilson, clustered,
    # bounded), the paired tests of a baseline comparison, the regression gate, the sign test
    # of a pairwise metric. scipy.special's import costs more than all of them (~0.2 s).
    code = """
import sys
import numpy as np
from pytest_mleval import stats
rng = np.random.default_rng(0)
x = rng.random(200)
stats.mean_ci(x, bounds=(0, 1)); stats.mean_ci(x)
stats.mean_ci(np.ones(50), bounds=(0, 1))
stats.proportion_ci(150, 200)
labels = [i // 10 for i in range(200)]
stats.clustered_mean_ci(x, labels, bounds=(0, 1))
stats.clustered_proportion_ci((x > 0.3).astype(float), labels)
b, c = (x > 0.4).astype(float), (x > 0.35).astype(float)
stats.paired_test(b, c, test="mcnemar", seed=0)
stats.paired_test(x, x * 0.9, test="permutation", seed=0, bounds=(-1, 1))
stats.paired_test(x, x * 0.9, test="t")
stats.paired_test(x, x * 0.9, test="wilcoxon")
stats.noninferiority_pvalue(c - b, 0.0)
stats.noninferiority_pvalue(x * 0.9 - x, 0.0)
stats.sign_test(x - 0.5)
stats.holm([0.01, 0.2])
stats.bootstrap_ci(x, np.mean, method="bca", seed=0, n_resamples=500)
print(sorted(m for m in sys.modules if m.split(".")[0] == "scipy"))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
